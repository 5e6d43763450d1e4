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
//! ```
//!
//! Why a rust direct hit is never stale is argued in docs/ARCHITECTURE.md ("Rust direct
//! mode"); the file checks are in `rust_manifest_files.rs`, the keys in `hash_key`.

use crate::flow::family::{EarlyRestore, FollowUp, KeyAfterCompile, Keyed, LateKey, Unkeyed};
use crate::flow::read_since::{ReadFiles, ReadSince, Started};
use crate::flow::services::Services;
use crate::flow::steps::look_up_early;
use crate::rust_manifest_files::{
    CheckRustManifest, DepInfoRead, DigestDepInfo, RustChecked, CHANGED_DURING_COMPILE,
};
use crate::storage::{LookupResult, Store};
use sccache_core::compiler::rust::{parse_dep_info, RustCompilation};
use sccache_core::direct::rust::{env_deps, RustManifest, RustRecorded};
use sccache_core::hash_key::{self, CacheKey, CompilerIdentity, RustInputs};
use sccache_core::protocol::CompileRequest;
use sccache_core::stats::{Event, StatsLabel};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What the direct lookup found.
pub enum Looked {
    /// A result restored without rustc.
    Hit(Keyed),
    /// A miss: the compile runs at once and is keyed afterwards (`Keyed::AfterCompile`);
    /// `None` when direct mode cannot record this compile (the dep-info run's path then).
    Miss(Option<KeyAfterCompile>),
}

/// What a compile is, beyond its dep-info: everything the manifest key and the result key
/// share.
pub struct Compile<'a> {
    pub identity: &'a CompilerIdentity,
    pub compilation: &'a RustCompilation,
    pub request: &'a CompileRequest,
    /// The externs', static libraries' digests and what `native` means; no sources yet.
    pub inputs: &'a RustInputs,
}

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
    } = compile;
    let Some(dep_info) = &compilation.dep_info else {
        // Without a dep-info of its own the compile says nothing about what it read.
        services.record(Event::NotDirect("no --emit=dep-info".into()));
        return Looked::Miss(None);
    };
    let manifest_key =
        hash_key::rust_manifest_key(identity, compilation, &request.cwd, &request.env, inputs);
    let manifest = fetch(services, manifest_key, label).await;
    // Before the check and the compile: a file changed since then keeps a result out of the
    // cache and out of the manifest. By the file system's clock: a build script's output,
    // written just before, is not taken for a change.
    let started = Started::file_clock_now();
    let cwd = PathBuf::from(&request.cwd);
    let (holding, manifest) = check(services, manifest, &cwd, &request.env).await;
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
            return Looked::Hit(Keyed::Key {
                key,
                early: Some(lookup),
                scratch: None,
                read: Some(Box::new(ReadSince::new(started, files, &cwd))),
                follow_up: None,
            });
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
    let later = Later {
        services: services.clone(),
        identity: *identity,
        compilation: compilation.clone(),
        cwd,
        env: request.env.clone(),
        inputs: inputs.clone(),
        dep_info: Path::new(&request.cwd)
            .join(&compilation.out_dir)
            .join(dep_info),
        started,
        manifest,
        manifest_key,
    };
    Looked::Miss(Some(Box::new(move || Box::pin(later.key()))))
}

/// The manifest under `manifest_key`, or an empty one.
async fn fetch(services: &Services, manifest_key: CacheKey, label: &StatsLabel) -> RustManifest {
    match services.fetch(manifest_key).await {
        Ok(LookupResult::Hit(entry)) => match RustManifest::from_entry(&entry) {
            Ok(manifest) => manifest,
            Err(error) => {
                // Whole as an entry, unreadable as a manifest: counted, and replaced by the
                // record this compile makes.
                log::warn!("manifest {manifest_key}: {error}");
                services.record(Event::Corrupt);
                RustManifest::default()
            }
        },
        other => {
            // A miss, or a failure the lookup counts.
            let _ = services.account(other, label);
            RustManifest::default()
        }
    }
}

/// The newest record of `manifest` that holds, checked on the hasher's threads, and the
/// manifest back.
async fn check(
    services: &Services,
    manifest: RustManifest,
    cwd: &Path,
    env: &[(OsString, OsString)],
) -> (Option<crate::manifest_files::Holding>, RustManifest) {
    if manifest.results.is_empty() {
        return (None, manifest);
    }
    let message = CheckRustManifest {
        manifest,
        cwd: cwd.to_path_buf(),
        env: env.to_vec(),
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
    /// The dep-info file the compile writes.
    dep_info: PathBuf,
    started: Started,
    manifest: RustManifest,
    manifest_key: CacheKey,
}

impl Later {
    /// The result's key from the dep-info the compile wrote (the recipe of the dep-info
    /// run's key, so both find the same entries), and the manifest's update to follow.
    async fn key(self) -> Result<LateKey, Unkeyed> {
        let bytes = tokio::fs::read(&self.dep_info)
            .await
            .map_err(|_| Unkeyed::Refused("compile wrote no dep-info"))?;
        let text = String::from_utf8(bytes).map_err(|_| Unkeyed::Refused("dep-info not UTF-8"))?;
        let dep_info = parse_dep_info(&text);
        let message = DigestDepInfo {
            files: dep_info.files.clone(),
            cwd: self.cwd.clone(),
            started: self.started,
        };
        let DepInfoRead { digests, recorded } =
            match self.services.digest_dep_info.send(message).await {
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
        let mut inputs = self.inputs;
        inputs.sources = dep_info.files.into_iter().zip(digests).collect();
        inputs.env_deps = names.clone();
        let key = hash_key::rust_key(
            &self.identity,
            &self.compilation,
            self.cwd.as_os_str(),
            &self.env,
            &inputs,
        );
        let follow_up = match recorded {
            Ok(mut recorded) => {
                recorded.env = env_deps(&names, &self.env);
                recorded.result = key.0;
                Some(record(
                    self.services,
                    self.manifest,
                    self.manifest_key,
                    recorded,
                ))
            }
            Err(reason) => {
                self.services.record(Event::NotDirect(reason.to_owned()));
                None
            }
        };
        Ok(LateKey { key, follow_up })
    }
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
