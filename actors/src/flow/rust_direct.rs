//! Direct mode for the rustc family: a hit found from a manifest without starting rustc; and
//! on a miss, the compile at once, its key found afterwards from the dep-info it wrote, and
//! the manifest's update after the reply.
//!
//! ```text
//! rust_manifest_key ─Lookup─▶ storage ─CheckRustManifest─▶ Hasher (stamps, digests, env)
//!     ─▶ look_up_early(result key): a hit is restored by the shared steps, no process runs
//! otherwise Keyed::AfterCompile: the shared steps run rustc, then
//!     read its dep-info ─DigestDepInfo─▶ Hasher ─▶ rust_key ─▶ Store(result)
//!     and after the reply Store(manifest key, manifest with the new record first)
//! a compile that links (the link's inputs are in the manifest key), where the command rustc
//!     prints names every crate it loads beyond the externs (`ListWhen::Printed`): the files
//!     that command names ─DigestCrates─▶ Hasher ─▶ rust_key, no listing; otherwise beside
//!     the compile, ListCrates (a -Zbinary-dep-depinfo dep-info run) ─DigestCrates─▶ Hasher
//!     ─▶ rust_key ─▶ Store(result), then Store(manifest, the record with the crates loaded);
//!     without `--extern`, after the compile and only if a file it read spells `extern`
//!     (else it loaded the sysroot's crates alone, which the link's inputs hold)
//! ```
//!
//! Why a rust direct hit is never stale is argued in docs/ARCHITECTURE.md ("Rust direct
//! mode"); the file checks are in `rust_manifest_files.rs`, the keys in `hash_key`.

use crate::flow::family::{
    Added, EarlyRestore, Ended, FollowUp, KeyAfterCompile, Keyed, LateKey, Unkeyed,
};
use crate::flow::loaded_objects::{self, LoadLog, Loaded};
use crate::flow::read_since::{ReadFiles, ReadSince};
use crate::flow::rust_link;
use crate::flow::services::Services;
use crate::flow::settled_path::Anchors;
use crate::flow::started::Started;
use crate::flow::steps::look_up_early;
use crate::rust_manifest_files::{
    CheckRustManifest, DepInfoRead, DigestCrates, DigestDepInfo, RustChecked,
    CHANGED_DURING_COMPILE,
};
use crate::storage::{LookupResult, Store};
use sccache_core::compiler::rust::{cacheable_failure, parse_dep_info, DepInfo, RustCompilation};
use sccache_core::direct::rust::{crate_search_digest, env_deps, RustManifest, RustRecorded};
use sccache_core::direct::ReadFile;
use sccache_core::hash_key::{self, CacheKey, CompilerIdentity, LinkInputs, RustInputs};
use sccache_core::protocol::CompileRequest;
use sccache_core::stats::{Event, StatsLabel};
use std::collections::{BTreeMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What the direct lookup found.
pub enum Looked {
    /// A result restored without rustc.
    Hit(Keyed),
    /// A miss: the compile runs at once, with these arguments and variables added, and is
    /// keyed afterwards (`Keyed::AfterCompile`); `None` when direct mode cannot record this
    /// compile (the dep-info run's path then).
    Miss(Option<(KeyAfterCompile, Added)>),
}

/// What a compile is, beyond its dep-info: everything the manifest key and the result key
/// share.
pub struct Compile<'a> {
    pub identity: &'a CompilerIdentity,
    pub compilation: &'a RustCompilation,
    pub request: &'a CompileRequest,
    /// The externs', static libraries' digests, what `native` means and, for a compile that
    /// links, the link's inputs but the crates only a dep-info lists; no sources yet.
    pub inputs: &'a RustInputs,
    /// For a compile that links: how to list the crates it loads.
    pub crates: Option<Crates>,
}

/// How a linking compile's crates are listed.
pub struct Crates {
    pub list: ListCrates,
    pub when: ListWhen,
    /// In `rust_link::Scope::Listed`: how the files the link read are found from the command
    /// rustc prints (`--print link-args=FILE`, added to the compile).
    pub linked: Option<LinkedFiles>,
}

/// When a linking compile's crates are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListWhen {
    /// Beside the compile (it has a `--extern`).
    Beside,
    /// After it, and only when a file it read spells `extern`
    /// (`direct::rust::mentions_extern`): else it loaded the sysroot's crates alone.
    After,
    /// Never: the command rustc prints names every crate the link reads beyond those the
    /// key holds already (`RustCompilation::links_every_crate`, in `Scope::Listed`), and
    /// those join the record as files the link read. A proc macro is not expanded a second
    /// time beside the compile.
    Printed,
}

/// The files a link read, from the text of the command rustc printed
/// (`rust_link::linked_files`), or why they cannot be had.
pub type LinkedFiles = Box<
    dyn FnOnce(
        Vec<u8>,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Vec<PathBuf>, &'static str>>>,
    >,
>;

/// Lists the crates a linking compile loads (given `true`): a `-Zbinary-dep-depinfo` dep-info
/// run's listing without the sysroot's crates (`rust_link::without_sysroot_crates`), and the
/// link's inputs found with those crates (`rust_link::for_compile`), or why not. Given
/// `false`, the link's inputs alone, found again.
pub type ListCrates = Box<
    dyn FnOnce(
        bool,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                Output = Result<(Option<DepInfo>, Option<LinkInputs>), &'static str>,
            >,
        >,
    >,
>;

/// Looks the compile up by its manifest. Counts a direct hit or miss, or why direct mode does
/// not apply.
pub async fn look_up(
    services: &Services,
    compile: Compile<'_>,
    restore: EarlyRestore<'_>,
    label: &StatsLabel,
) -> Looked {
    let Compile {
        identity,
        compilation,
        request,
        inputs,
        crates,
    } = compile;
    let Some(dep_info) = &compilation.dep_info else {
        // Without a dep-info of its own the compile says nothing about what it read.
        services.record(Event::NotDirect("no --emit=dep-info".into()));
        return Looked::Miss(None);
    };
    let manifest_key =
        hash_key::rust_manifest_key(identity, compilation, &request.cwd, &request.env, inputs);
    if services.rust_unrecorded.contains(&manifest_key) {
        // Its last direct miss could not be recorded (`Later::with_loaded`): the dep-info
        // run's key can hit.
        services.record(Event::NotDirect("not recordable before".into()));
        return Looked::Miss(None);
    }
    let manifest = fetch(services, manifest_key, label).await;
    // Before the check and the compile: a file changed since then keeps a result out of the
    // cache and out of the manifest. By the file system's clock: a build script's output,
    // written just before, is not taken for a change.
    let started = Started::file_clock_now();
    let cwd = PathBuf::from(&request.cwd);
    let (holding, manifest) = check(services, manifest, &cwd, request, compilation).await;
    if let Some(holding) = holding {
        let key = CacheKey(holding.result);
        let lookup = look_up_early(services, key, restore).await;
        if matches!(lookup.fetched, Ok(LookupResult::Hit(_))) {
            services.record(Event::DirectHit);
            log::debug!("{}: rust direct hit {key}", compilation.crate_name);
            let files = ReadFiles {
                paths: holding.files,
                markers_in: None,
            };
            let read = ReadSince::new(started, files, &cwd);
            return Looked::Hit(Keyed::direct_hit(key, lookup, read));
        }
        // The result is gone (evicted) or unreadable: the compile stores it again.
        let _ = services.account(lookup.fetched, label);
    }
    services.record(Event::DirectMiss);
    if !services.storage.writable {
        // A read-only cache takes no result and no manifest; the dep-info run's key may still
        // find a result there.
        return Looked::Miss(None);
    }
    let (crates, link_args) = match crates {
        Some(Crates {
            list,
            when,
            linked: Some(linked),
        }) => match printed_link_command() {
            Some(path) => (Some((list, when)), Some((path, linked))),
            // Without it the files the link read cannot be known: the dep-info run's key.
            None => return Looked::Miss(None),
        },
        // Only the printed command names the crates.
        Some(Crates {
            when: ListWhen::Printed,
            ..
        }) => return Looked::Miss(None),
        Some(Crates { list, when, .. }) => (Some((list, when)), None),
        None => (None, None),
    };
    // What the compile loads (its proc macros) is known from the loader's log only: without
    // one, the dep-info run's path, which refuses for the same reason.
    let Ok(loads) = LoadLog::make(&request.env).await else {
        return Looked::Miss(None);
    };
    let loader_env = loads.env();
    let added = match &link_args {
        Some((path, _)) => {
            let mut print = OsString::from("link-args=");
            print.push(path.as_os_str());
            vec![OsString::from("--print"), print]
        }
        None => Vec::new(),
    };
    let out_dir = Path::new(&request.cwd).join(&compilation.out_dir);
    let dep_info = out_dir.join(dep_info);
    // One stat, on a miss: a failed compile's dep-info is taken only if it is new.
    let dep_info_was_there = std::fs::symlink_metadata(&dep_info).is_ok();
    // The compile begins after this: a start later than the coarse clock's where the kernel
    // can tell (cargo hard-links the `.rlib` of a crate it just finished into `target/debug`
    // right before starting this one, which would look like a change during the compile).
    let started = Started::fresh();
    let anchors = crate::flow::anchor_dirs::rust(compilation, request);
    let later = Later {
        services: services.clone(),
        identity: *identity,
        compilation: compilation.clone(),
        cwd,
        env: request.env.clone(),
        inputs: inputs.clone(),
        dep_info,
        dep_info_was_there,
        out_dir,
        started,
        anchors,
        manifest,
        manifest_key,
        // Started now when it is needed, so that it runs beside the compile and the key is
        // known at the reply.
        crates: crates.map(|(list, when)| match when {
            ListWhen::Beside => Listed::Beside(actix_rt::spawn(list(true))),
            ListWhen::After => Listed::After(list),
            ListWhen::Printed => Listed::Printed(list),
        }),
        link_args,
        names_extern: rust_link::names_extern(&request.args),
        loads: Some(loads),
    };
    let added = Added {
        args: added,
        env: loader_env,
    };
    Looked::Miss(Some((
        Box::new(move |ended| Box::pin(later.key(ended))),
        added,
    )))
}

/// A private file for rustc to print its link command to, removed when dropped.
fn printed_link_command() -> Option<tempfile::TempPath> {
    match tempfile::Builder::new().prefix("sccache-link").tempfile() {
        Ok(file) => Some(file.into_temp_path()),
        Err(error) => {
            log::warn!("cannot make a file for the link command: {error}");
            None
        }
    }
}

/// The manifest under `manifest_key`, or an empty one.
async fn fetch(services: &Services, manifest_key: CacheKey, label: &StatsLabel) -> RustManifest {
    services
        .fetch_manifest(manifest_key, label, RustManifest::from_entry)
        .await
        .map(|(manifest, _)| manifest)
        .unwrap_or_default()
}

/// The newest record of `manifest` that holds, checked on the hasher's threads, and the
/// manifest back.
async fn check(
    services: &Services,
    manifest: RustManifest,
    cwd: &Path,
    request: &CompileRequest,
    compilation: &RustCompilation,
) -> (Option<crate::manifest_files::Holding>, RustManifest) {
    if manifest.results.is_empty() {
        return (None, manifest);
    }
    let message = CheckRustManifest {
        manifest,
        cwd: cwd.to_path_buf(),
        env: request.env.clone(),
        crate_search: compilation.crate_search.clone(),
    };
    match services.check_rust_manifest.send(message).await {
        Ok(RustChecked { holding, manifest }) => (holding, manifest),
        Err(error) => {
            log::warn!("hasher unavailable: {error}");
            (None, RustManifest::default())
        }
    }
}

/// What keying a compile after it ran needs.
struct Later {
    services: Services,
    identity: CompilerIdentity,
    compilation: RustCompilation,
    cwd: PathBuf,
    env: Vec<(OsString, OsString)>,
    inputs: RustInputs,
    /// The dep-info file the compile writes, and whether a file was there before it ran.
    dep_info: PathBuf,
    dep_info_was_there: bool,
    /// Where the compile writes its outputs.
    out_dir: PathBuf,
    started: Started,
    /// Directories whose identity was taken before the compile (`settled_path`).
    anchors: Anchors,
    manifest: RustManifest,
    manifest_key: CacheKey,
    /// A linking compile's crate listing.
    crates: Option<Listed>,
    /// In `rust_link::Scope::Listed`: where rustc prints the link command, and how the files
    /// it read are found from it.
    link_args: Option<(tempfile::TempPath, LinkedFiles)>,
    /// Whether the command line names a crate to load (`rust_link::names_extern`).
    names_extern: bool,
    /// The loader's log of the compile (`loaded_objects`), taken when it is read.
    loads: Option<LoadLog>,
}

/// The crate listing of a linking compile, under way.
type Listing = tokio::task::JoinHandle<Result<(Option<DepInfo>, Option<LinkInputs>), &'static str>>;

/// A linking compile's crate listing: started beside the compile, left for after it, or
/// none (`ListWhen::Printed`: the link's inputs are found again, without crates).
enum Listed {
    Beside(Listing),
    After(ListCrates),
    Printed(ListCrates),
}

impl Later {
    /// The result's key from the dep-info the compile wrote (the recipe of the dep-info
    /// run's key, so both find the same entries), and the manifest's update to follow. A
    /// failed compile is keyed only if `failure_kept` lets it.
    async fn key(mut self, ended: Ended) -> Result<LateKey, Unkeyed> {
        if let Ended::Failed { exit_code, stderr } = &ended {
            self.failure_kept(*exit_code, stderr)
                .map_err(Unkeyed::FailureKept)?;
        }
        let bytes = tokio::fs::read(&self.dep_info)
            .await
            .map_err(|_| Unkeyed::Refused("compile wrote no dep-info"))?;
        let text = String::from_utf8(bytes).map_err(|_| Unkeyed::Refused("dep-info not UTF-8"))?;
        let dep_info = parse_dep_info(&text).map_err(Unkeyed::Refused)?;
        let message = DigestDepInfo {
            files: dep_info.files.clone(),
            cwd: self.cwd.clone(),
            started: self.started,
            anchors: self.anchors.clone(),
            scan_extern: matches!(self.crates, Some(Listed::After(_))),
            verbatim_followed: self.link_args.is_some(),
        };
        let DepInfoRead {
            digests,
            recorded,
            extern_mentioned,
        } = match self.services.digest_dep_info.send(message).await {
            Ok(Ok(read)) => read,
            Ok(Err(reason)) if reason == CHANGED_DURING_COMPILE => {
                return Err(Unkeyed::InputChanged)
            }
            Ok(Err(reason)) => return Err(Unkeyed::Refused(reason)),
            Err(_) => return Err(Unkeyed::Refused("hasher unavailable")),
        };
        let names: Vec<String> = dep_info
            .env_deps
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        if let Some(reason) = crate::flow::request_env::reads_changed_vars(&names) {
            return Err(Unkeyed::Refused(reason));
        }
        let loads = self
            .loads
            .take()
            .ok_or(Unkeyed::Refused(loaded_objects::UNKNOWN));
        let loaded = loads?.read().await.map_err(Unkeyed::Refused)?;
        let mut recorded = recorded.map(|mut recorded| {
            recorded.env = env_deps(&names, &self.env);
            recorded
        });
        if let Err(reason) = &recorded {
            self.services.record(Event::NotDirect((*reason).to_owned()));
        }
        let mut later = self;
        later.inputs.sources = dep_info.files.into_iter().zip(digests).collect();
        later.inputs.env_deps = names;
        let linked = match later.link_args.take() {
            Some((path, linked)) => link_read(path, linked).await?,
            None => Vec::new(),
        };
        match later.crates.take() {
            None => {}
            // A compile that links: its key needs the crates it loaded, which the dep-info run
            // started beside the compile lists. The key is found before the reply, so a build
            // that removes the target directory right after (`cargo clean`) loses no result.
            Some(Listed::Beside(listing)) => {
                later.with_crates(listing, linked, &mut recorded).await?;
            }
            // No `--extern`, and a file read spells `extern`: listed now. Crates found by
            // search alone are not recorded: the manifest key holds the directories searched
            // for crates only for a command line that names one (`rust_link::names_extern`),
            // so such a record could be checked in another target directory's place.
            Some(Listed::After(list)) if extern_mentioned => {
                let listing = actix_rt::spawn(list(true));
                let loaded = later.with_crates(listing, linked, &mut recorded).await?;
                if loaded > 0 {
                    later.found_without_extern(&mut recorded);
                }
            }
            // No `--extern` and no `extern crate`: it loaded the sysroot's crates alone. Or
            // the printed command names every crate the link read.
            Some(Listed::After(list) | Listed::Printed(list)) => {
                later
                    .without_crates(list(false), linked, &mut recorded)
                    .await?;
            }
        }
        later.with_loaded(loaded, &mut recorded).await?;
        let key = later.result_key();
        let follow_up = match recorded {
            Ok(mut recorded) => {
                recorded.result = key.0;
                Some(record(
                    later.services,
                    later.manifest,
                    later.manifest_key,
                    recorded,
                ))
            }
            Err(_) => None,
        };
        Ok(LateKey::Now { key, follow_up })
    }

    /// Why a failed compile is not stored, or `Ok` when it may be: its errors are all decided
    /// by the key (`cacheable_failure`), it links nothing, and what it wrote is certainly
    /// its own: a dep-info where none was before, and none of its other outputs (so that the
    /// entry's files, those there now, are the compile's, and a replay leaves the rest alone
    /// as the failure did).
    fn failure_kept(&self, exit_code: i32, stderr: &[u8]) -> Result<(), &'static str> {
        cacheable_failure(exit_code, stderr, self.compilation.error_format.as_deref())?;
        if self.crates.is_some() {
            return Err("failed, a compile that links");
        }
        if self.dep_info_was_there {
            return Err("failed, its dep-info may be an earlier compile's");
        }
        let other_output = self
            .compilation
            .outputs
            .iter()
            .map(|name| self.out_dir.join(name))
            .filter(|path| *path != self.dep_info)
            .any(|path| std::fs::symlink_metadata(path).is_ok());
        if other_output {
            return Err("failed beside outputs it may not have written");
        }
        Ok(())
    }

    /// The result's key, by `rust_key`'s recipe, from the inputs gathered so far.
    fn result_key(&self) -> CacheKey {
        hash_key::rust_key(
            &self.identity,
            &self.compilation,
            self.cwd.as_os_str(),
            &self.env,
            &self.inputs,
        )
    }

    /// The inputs of a linking compile that loaded the sysroot's crates alone, or whose
    /// printed link command names every crate it loaded (`ListWhen::Printed`): its link's
    /// inputs found again must be the lookup's (nothing changed since); the files the link
    /// read (`linked`, in `Scope::Listed`) join them and the record.
    async fn without_crates(
        &mut self,
        link_now: impl std::future::Future<
            Output = Result<(Option<DepInfo>, Option<LinkInputs>), &'static str>,
        >,
        linked: Vec<String>,
        recorded: &mut Result<RustRecorded, &'static str>,
    ) -> Result<(), Unkeyed> {
        let (_, link_now) = link_now.await.map_err(Unkeyed::Refused)?;
        if self.inputs.link != link_now || !self.searched_settled() {
            // A library or the linker changed since the manifest's key was taken.
            return Err(Unkeyed::InputChanged);
        }
        if !linked.is_empty() {
            let read = self.digest_crates(linked).await?;
            add_link_files(&mut self.inputs.link, &read);
            if let Ok(recorded) = recorded {
                recorded.crates = read;
            }
        }
        Ok(())
    }

    /// The objects the compile loaded (`loaded_objects`: its proc macros and the libraries
    /// they need) join the key, by file name and digest, settled before the compile began.
    /// The record takes the opened ones among its crates, spelled the way the compile found
    /// each (`loaded_objects::spelled`), by stamp and digest, with the digest of its crate
    /// search directories. A compile no record can replay (a library the loader found by its
    /// own search; an object the compile did not find through its search directories or
    /// externs; one found by search alone, without `--extern`: `found_without_extern`) is
    /// stored unrecorded, and its manifest key remembered (`Services::rust_unrecorded`), so
    /// that its next compile takes the dep-info run's path, whose key can hit.
    async fn with_loaded(
        &mut self,
        loaded: Loaded,
        recorded: &mut Result<RustRecorded, &'static str>,
    ) -> Result<(), Unkeyed> {
        if loaded.opened.is_empty() && loaded.needed.is_empty() {
            return Ok(());
        }
        let search = &self.compilation.crate_search;
        let (names, unrecorded) = if loaded.needed.is_empty() {
            let externs: Vec<OsString> = self
                .compilation
                .externs
                .iter()
                .map(|(_, path)| path.clone())
                .collect();
            let spelled: Option<Vec<String>> = loaded
                .opened
                .iter()
                .map(|name| loaded_objects::spelled(name, search, &externs, &self.cwd))
                .collect();
            match spelled {
                Some(spelled) => (spelled, None),
                None => (loaded.opened, Some(loaded_objects::OUTSIDE_SEARCH)),
            }
        } else {
            let all = loaded.all().cloned().collect();
            (all, Some(loaded_objects::NEEDS_LIBRARY_UNRECORDED))
        };
        let read = self.digest_crates(names).await?;
        self.inputs.loaded = read
            .iter()
            .map(|file| {
                let name = String::from_utf8_lossy(&file.name);
                (loaded_objects::key_name(&name).to_owned(), file.digest)
            })
            .collect();
        if let Some(reason) = unrecorded {
            if recorded.is_ok() {
                self.services.record(Event::NotDirect(reason.to_owned()));
                *recorded = Err(reason);
            }
            self.services.rust_unrecorded.insert(&self.manifest_key);
            return Ok(());
        }
        if !self.names_extern {
            self.found_without_extern(recorded);
        }
        if let Ok(recorded) = recorded {
            recorded.crates.extend(read);
            recorded.crate_search = Some(crate_search_digest(&self.compilation.crate_search));
        }
        Ok(())
    }

    /// Leaves the compile unrecorded: it loaded a crate found by search alone, and the
    /// manifest key holds the directories searched for crates only for a command line that
    /// names one (`rust_link::names_extern`), so its record could be checked in another
    /// target directory's place.
    fn found_without_extern(&self, recorded: &mut Result<RustRecorded, &'static str>) {
        if recorded.is_ok() {
            let reason = "crates found without --extern";
            self.services.record(Event::NotDirect(reason.to_owned()));
            *recorded = Err(reason);
        }
    }

    /// Whether no directory the link searched changed since the compile began: a library that
    /// came and went while it ran (linked, then gone) would be in no key.
    fn searched_settled(&self) -> bool {
        let searched = self.inputs.link.iter().flat_map(|link| &link.searched);
        let dirs: Vec<PathBuf> = searched.map(PathBuf::from).collect();
        crate::flow::read_since::dirs_settled(self.started, &dirs, &self.cwd, &self.anchors)
    }

    /// `files` (crates, or files a link read) by stamp and digest, each settled before the
    /// compile began.
    async fn digest_crates(&self, files: Vec<String>) -> Result<Vec<ReadFile>, Unkeyed> {
        let message = DigestCrates {
            files,
            cwd: self.cwd.clone(),
            started: self.started,
            anchors: self.anchors.clone(),
        };
        match self.services.digest_crates.send(message).await {
            Ok(Ok(read)) => Ok(read),
            Ok(Err(reason)) if reason == CHANGED_DURING_COMPILE => Err(Unkeyed::InputChanged),
            Ok(Err(reason)) => Err(Unkeyed::Refused(reason)),
            Err(_) => Err(Unkeyed::Refused("hasher unavailable")),
        }
    }

    /// A linking compile's inputs for its result key: the crates a dep-info run lists (the files of cargo's
    /// dep-info and crates only, each settled before the compile began) join the sources, and
    /// the `.rlib` beside each `.rmeta` the link's files, as the dep-info run's recipe has
    /// them; the link's inputs found again must be those (nothing changed since the key was
    /// looked up). The crates go into the record. How many crates beyond the sysroot's the
    /// listing found.
    async fn with_crates(
        &mut self,
        list: Listing,
        linked: Vec<String>,
        recorded: &mut Result<RustRecorded, &'static str>,
    ) -> Result<usize, Unkeyed> {
        let (listed, link_now) = list
            .await
            .map_err(|_| Unkeyed::Refused("crate listing lost"))?
            .map_err(Unkeyed::Refused)?;
        let listed = listed.ok_or(Unkeyed::Refused("crate listing lost"))?;
        let read: HashSet<&str> = self
            .inputs
            .sources
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        let listed_names: HashSet<&str> = listed.files.iter().map(String::as_str).collect();
        if read.iter().any(|name| !listed_names.contains(name)) {
            // The listing lacks a file the compile read: something changed since.
            return Err(Unkeyed::InputChanged);
        }
        let mut crates: Vec<String> = listed
            .files
            .iter()
            .filter(|name| !read.contains(name.as_str()))
            .cloned()
            .collect();
        if crates.iter().any(|name| !rust_link::is_crate(name)) {
            return Err(Unkeyed::InputChanged);
        }
        if listed.env_deps.len() != self.inputs.env_deps.len() {
            return Err(Unkeyed::InputChanged);
        }
        let loaded = crates.len();
        // The `.rlib` a link takes for a crate whose metadata was read (`rust_link`'s rule).
        let beside: Vec<String> = rust_link::crate_files(&crates)
            .into_iter()
            .filter(|file| file.extension().is_some_and(|e| e == "rmeta"))
            .map(|file| self.cwd.join(file).with_extension("rlib"))
            .filter(|rlib| rlib.is_file())
            .map(|rlib| rlib.to_string_lossy().into_owned())
            .collect();
        crates.extend(beside);
        let besides = crates.len();
        crates.extend(linked);
        let read_crates = self.digest_crates(crates).await?;
        let mut link = self.inputs.link.clone();
        add_link_files(&mut link, &read_crates[loaded..besides]);
        if link != link_now || !self.searched_settled() {
            // A library or the linker changed since the manifest's key was taken.
            return Err(Unkeyed::InputChanged);
        }
        // The files the link read (`Scope::Listed`) are known only now.
        add_link_files(&mut link, &read_crates[besides..]);
        self.inputs.link = link;
        self.inputs
            .sources
            .extend(read_crates[..loaded].iter().map(|file| {
                (
                    String::from_utf8_lossy(&file.name).into_owned(),
                    file.digest,
                )
            }));
        if let Ok(recorded) = recorded {
            recorded.crates = read_crates;
        }
        Ok(loaded)
    }
}

/// Adds `files` to a link's files, each once, sorted.
fn add_link_files(link: &mut Option<LinkInputs>, read: &[ReadFile]) {
    let Some(link) = link else {
        return;
    };
    let mut files: BTreeMap<PathBuf, [u8; 32]> = link
        .files
        .drain(..)
        .map(|(name, digest)| (PathBuf::from(name), digest))
        .collect();
    for file in read {
        files.insert(PathBuf::from(OsStr::from_bytes(&file.name)), file.digest);
    }
    link.files = files
        .into_iter()
        .map(|(path, digest)| (path.into_os_string(), digest))
        .collect();
}

/// The files the link read, from the command rustc printed to `path` (`LinkedFiles`), as
/// names (a name that is no UTF-8 is a refusal: records keep names as text).
async fn link_read(path: tempfile::TempPath, linked: LinkedFiles) -> Result<Vec<String>, Unkeyed> {
    let text = tokio::fs::read(&path)
        .await
        .map_err(|_| Unkeyed::Refused("link: no link command printed"))?;
    drop(path);
    let files = linked(text).await.map_err(Unkeyed::Refused)?;
    files
        .into_iter()
        .map(|file| {
            file.into_os_string()
                .into_string()
                .map_err(|_| Unkeyed::Refused("link: a file name not UTF-8"))
        })
        .collect()
}

/// The work, after the reply, that stores the manifest with `recorded` first.
fn record(
    services: Services,
    manifest: RustManifest,
    manifest_key: CacheKey,
    recorded: RustRecorded,
) -> FollowUp {
    Box::pin(async move {
        match manifest.with(recorded).to_entry() {
            Ok(entry) => services.storage.store.do_send(Store {
                key: manifest_key,
                entry,
            }),
            Err(error) => log::warn!("{error}"),
        }
    })
}
