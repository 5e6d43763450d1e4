//! The rustc family, as cargo drives it through `RUSTC_WRAPPER`: reading its command line, and
//! its key, by direct mode (`rust_direct`: a manifest, or the dep-info the compile itself
//! writes) or from what a dep-info-only run of rustc says the compile reads.
//!
//! ```text
//! Hasher      --DigestFiles-->  `--extern` crates, `-l static=` libraries
//! rust_direct::look_up          a hit, or a compile keyed afterwards; else:
//! Dispatcher  --Run(--emit=dep-info, private out dir)-->  the source files and env-deps
//! Hasher      --DigestFiles-->  `--extern` crates, `-l static=` libraries
//! rust_link   (a bin, proc-macro, dylib, cdylib)  the linker and what the link reads
//! rust_direct::look_up          a hit, or a compile keyed afterwards; else:
//! Dispatcher  --Run(--emit=dep-info, private out dir)-->  the source files and env-deps
//!             (a linking compile's also lists the crates it loads: `rust_link`)
//! Hasher      --DigestFiles-->  sources
//! (hash_key::rust_key)          the key
//! ```
//!
//! The output directory is kept out of entries by `out_dir::OutDir`. This decides nothing
//! about what goes into a key (that is `hash_key::rust_key`), and every failure before the
//! compile ends in running rustc uncached, so that the user sees rustc's own errors.

use crate::detector::CompilerInfo;
use crate::flow::anchor_dirs;
use crate::flow::family::{EarlyRestore, EntryAdapter, Family, Keyed};
use crate::flow::loaded_objects::{self, LoadLog};
use crate::flow::out_dir::OutDir;
use crate::flow::read_since::{ReadFiles, ReadSince};
use crate::flow::request_env::lookup as env_value;
use crate::flow::rust_direct::{self, Compile, Crates, ListCrates, ListWhen, Looked};
use crate::flow::rust_link;
use crate::flow::services::Services;
use crate::flow::settled_path::Anchors;
use crate::flow::started::Started;
use crate::hasher::DigestFiles;
use crate::native_cpus::NativeQuery;
use crate::outputs::OutputFile;
use futures::future::FutureExt;
use sccache_core::compiler::rust::{self, DepInfo, RustCompilation};
use sccache_core::compiler::Parsed;
use sccache_core::hash_key::{self, RustInputs};
use sccache_core::protocol::CompileRequest;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A rustc compile, as its command line asks for it.
pub struct Rustc {
    compilation: RustCompilation,
}

impl Family for Rustc {
    fn accept(request: &mut CompileRequest) -> Parsed<Self> {
        if crate::flow::request_env::is_set(request, "RUSTC_LOG") {
            // rustc's own tracing on stderr, of whatever the compile does: a hit would print
            // none of it (or another compile's).
            return Parsed::NotCacheable("RUSTC_LOG".into());
        }
        match rust::parse(&request.args, Path::new(&request.cwd)) {
            Parsed::Cacheable(compilation) => Parsed::Cacheable(Rustc { compilation }),
            Parsed::NotCacheable(reason) => Parsed::NotCacheable(reason),
            Parsed::NotCompilation => Parsed::NotCompilation,
        }
    }

    /// rustc's command line names `-L` directories that the parser searches for static
    /// libraries; a rustc compile takes long enough that the blocking pool's hop is nothing.
    fn accept_reads_files(_request: &CompileRequest) -> bool {
        true
    }

    fn targets(&self, request: &CompileRequest) -> Vec<OutputFile> {
        let out_dir = Path::new(&request.cwd).join(&self.compilation.out_dir);
        self.compilation
            .outputs
            .iter()
            .map(|name| OutputFile {
                name: name.to_string_lossy().into_owned(),
                path: out_dir.join(name),
            })
            .collect()
    }

    fn adapter<'a>(&'a self, request: &'a CompileRequest) -> Box<dyn EntryAdapter + 'a> {
        Box::new(OutDir::new(&self.compilation, &request.env))
    }

    fn stats_kind(&self) -> Option<String> {
        Some(self.compilation.stats_kind().to_owned())
    }

    /// Direct mode first (`rust_direct`): a manifest's record that holds gives the key with no
    /// rustc process; a direct miss compiles at once and is keyed from the dep-info the
    /// compile writes. Otherwise (`SCCACHE_DIRECT=false`, `SCCACHE_RECACHE`, no dep-info
    /// asked for, a read-only cache) a dep-info run lists the sources first.
    async fn key(
        &self,
        services: &Services,
        info: &CompilerInfo,
        request: &CompileRequest,
        early: Option<EarlyRestore<'_>>,
    ) -> Keyed {
        let compilation = &self.compilation;
        let started = Instant::now();
        let Some(restore) = early.filter(|_| services.direct) else {
            // No direct mode: the dep-info run goes beside the libraries' digests.
            let (inputs, dep_info) = futures::join!(
                library_inputs(services, info, compilation, request),
                read_dep_info(services, compilation, request, DepInfoRun::BeforeTheCompile),
            );
            return key_from_dep_info(services, info, compilation, request, inputs, dep_info).await;
        };
        // A link's inputs but the crates only a dep-info lists: in the manifest key.
        let scope = link_scope(info, compilation);
        let (inputs, link) = futures::join!(
            library_inputs(services, info, compilation, request),
            rust_link::for_compile(services, info, compilation, &[], request, scope),
        );
        let mut inputs = match (inputs, link) {
            (Ok(inputs), Ok(link)) => RustInputs { link, ..inputs },
            (Err(reason), _) | (_, Err(reason)) => return Keyed::Refused(reason),
        };
        let compile = Compile {
            identity: &info.identity,
            compilation,
            request,
            inputs: &inputs,
            crates: compilation.link.is_some().then(|| Crates {
                list: list_crates(services, info, compilation, request, scope),
                when: list_when(compilation, &request.args, scope),
                linked: (scope == rust_link::Scope::Listed)
                    .then(|| linked_files(services, info, compilation, request)),
            }),
        };
        let label = info.kind.stats_label(None);
        match rust_direct::look_up(services, compile, restore, &label).await {
            Looked::Hit(keyed) => return keyed,
            Looked::Miss(Some((later, added))) => return Keyed::AfterCompile(later, added),
            Looked::Miss(None) => {}
        }
        let dep_info =
            read_dep_info(services, compilation, request, DepInfoRun::BeforeTheCompile).await;
        log::debug!(
            "rust compile of {}: direct lookup and dep-info run {:?}",
            compilation.crate_name,
            started.elapsed()
        );
        inputs.link = None;
        key_from_dep_info(services, info, compilation, request, Ok(inputs), dep_info).await
    }
}

/// How rust direct mode keys a link's files: `Scope::Listed` (the searched directories'
/// listings before the compile, the files the link read after it, from the command rustc
/// prints with `--print link-args=FILE`) when rustc can print it to a file (1.80 on), the
/// compile links once (one linked crate type), for Linux, with no link arguments of the
/// user's (a driver flag such as `-fopenmp` makes the driver read files no printed command
/// names); else `Scope::Every`.
fn link_scope(info: &CompilerInfo, compilation: &RustCompilation) -> rust_link::Scope {
    let Some(spec) = &compilation.link else {
        return rust_link::Scope::Every;
    };
    let links = compilation
        .crate_types
        .iter()
        .filter(|kind| rust::LINKED_CRATE_TYPES.contains(&kind.as_str()))
        .count();
    let linux = compilation
        .target
        .as_deref()
        .or_else(|| info.rust.as_ref().and_then(|rust| rust.host.as_deref()))
        .is_some_and(|target| target.contains("linux"));
    if links == 1 && linux && spec.link_args.is_empty() && prints_to_file(&info.version) {
        rust_link::Scope::Listed
    } else {
        rust_link::Scope::Every
    }
}

/// When a linking compile's crates are listed (`rust_direct::ListWhen`): never when the
/// command rustc prints names them all (`Scope::Listed` and
/// `RustCompilation::links_every_crate`); beside the compile when it may load a crate by a
/// flag (`rust_link::names_extern`); else after it, if a file it read spells `extern`.
fn list_when(
    compilation: &RustCompilation,
    args: &[OsString],
    scope: rust_link::Scope,
) -> ListWhen {
    if scope == rust_link::Scope::Listed && compilation.links_every_crate() {
        ListWhen::Printed
    } else if rust_link::names_extern(args) {
        ListWhen::Beside
    } else {
        ListWhen::After
    }
}

/// Whether rustc's version line (`rustc 1.95.0 (...)`) says it takes `--print KIND=PATH`.
fn prints_to_file(version: &str) -> bool {
    let mut numbers = version
        .strip_prefix("rustc ")
        .unwrap_or_default()
        .split(['.', '-', ' '])
        .map(str::parse::<u32>);
    matches!(
        (numbers.next(), numbers.next()),
        (Some(Ok(major)), Some(Ok(minor))) if (major, minor) >= (1, 80)
    )
}

/// The files a linking compile's link read, from the command rustc printed
/// (`rust_direct::LinkedFiles`, `rust_link::linked_files`).
fn linked_files(
    services: &Services,
    info: &CompilerInfo,
    compilation: &RustCompilation,
    request: &CompileRequest,
) -> rust_direct::LinkedFiles {
    let (services, info, compilation, request) = (
        services.detached(),
        info.clone(),
        compilation.clone(),
        request.clone(),
    );
    Box::new(move |text| {
        Box::pin(async move {
            rust_link::linked_files(&services, &info, &compilation, &request, text).await
        })
    })
}

/// How a linking compile's crates are listed (`rust_direct::ListCrates`): with `true`, a
/// dep-info run that lists them (less the sysroot's), and the link's inputs with them; with
/// `false`, the link's inputs alone, found again; by `scope`.
fn list_crates(
    services: &Services,
    info: &CompilerInfo,
    compilation: &RustCompilation,
    request: &CompileRequest,
    scope: rust_link::Scope,
) -> ListCrates {
    let (services, info, compilation, request) = (
        services.detached(),
        info.clone(),
        compilation.clone(),
        request.clone(),
    );
    Box::new(move |list| {
        Box::pin(async move {
            if !list {
                let link =
                    rust_link::for_compile(&services, &info, &compilation, &[], &request, scope)
                        .await?;
                return Ok((None, link));
            }
            let run = DepInfoRun::BesideTheCompile;
            let mut dep_info = read_dep_info(&services, &compilation, &request, run)
                .await?
                .info;
            dep_info.files = rust_link::without_sysroot_crates(
                &info,
                &compilation,
                dep_info.files,
                Path::new(&request.cwd),
            );
            let crate_files = rust_link::crate_files(&dep_info.files);
            let link = rust_link::for_compile(
                &services,
                &info,
                &compilation,
                &crate_files,
                &request,
                scope,
            )
            .await?;
            Ok((Some(dep_info), link))
        })
    })
}

/// The inputs of the key that do not come from the dep-info: the externs' and static
/// libraries' digests and, with `-C target-cpu=native`, what `native` means. An error is the
/// reason the compile is not cacheable.
async fn library_inputs(
    services: &Services,
    info: &CompilerInfo,
    compilation: &RustCompilation,
    request: &CompileRequest,
) -> Result<RustInputs, &'static str> {
    let mut inputs = digest_libraries(services, compilation, request)
        .await
        .ok_or("unreadable input")?;
    if compilation.native_cpu {
        let native = native_cpu(services, info, compilation, request)
            .await
            .ok_or("-C target-cpu=native unresolved")?;
        inputs.native_cpu = Some(native);
    }
    Ok(inputs)
}

/// The key from a dep-info run's sources and env-deps and the other inputs.
async fn key_from_dep_info(
    services: &Services,
    info: &CompilerInfo,
    compilation: &RustCompilation,
    request: &CompileRequest,
    inputs: Result<RustInputs, &'static str>,
    dep_info: Result<DepInfoRead, &'static str>,
) -> Keyed {
    let started = Instant::now();
    let DepInfoRead {
        info: dep_info,
        loaded,
        started: started_reading,
        anchors,
    } = match dep_info {
        Ok(dep_info) => dep_info,
        Err(reason) => return Keyed::Refused(reason),
    };
    let mut inputs = match inputs {
        Ok(inputs) => inputs,
        Err(reason) => return Keyed::Refused(reason),
    };
    let cwd = Path::new(&request.cwd);
    let read_files = ReadFiles {
        paths: dep_info
            .files
            .iter()
            .chain(&loaded)
            .map(|file| cwd.join(file))
            .collect(),
        markers_in: None,
    };
    let read = ReadSince::new(started_reading, read_files, cwd).with_anchors(anchors);
    let mut dep_info = dep_info;
    if compilation.link.is_some() {
        dep_info.files = rust_link::without_sysroot_crates(info, compilation, dep_info.files, cwd);
    }
    let crate_files = rust_link::crate_files(&dep_info.files);
    // A link's inputs are found while the sources are digested.
    let link = rust_link::for_compile(
        services,
        info,
        compilation,
        &crate_files,
        request,
        rust_link::Scope::Every,
    );
    let (sources, loaded_digests, link) = futures::join!(
        digest_sources(services, cwd, &dep_info.files),
        digest_sources(services, cwd, &loaded),
        link
    );
    let (Some(sources), Some(loaded_digests)) = (sources, loaded_digests) else {
        return Keyed::Refused("unreadable input");
    };
    inputs.loaded = loaded
        .iter()
        .map(|name| loaded_objects::key_name(name).to_owned())
        .zip(loaded_digests)
        .collect();
    if let Some(reason) = reads_unseen_files(cwd, &dep_info.files, &crate_files).await {
        return Keyed::Refused(reason);
    }
    match link {
        Ok(link) => inputs.link = link,
        Err(reason) => return Keyed::Refused(reason),
    }
    // A library that came and went in a searched directory during the compile is in no key.
    let searched = inputs.link.iter().flat_map(|link| &link.searched);
    let read = read.with_dirs(searched.map(PathBuf::from).collect());
    inputs.sources = dep_info.files.into_iter().zip(sources).collect();
    inputs.env_deps = dep_info
        .env_deps
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    if let Some(reason) = crate::flow::request_env::reads_changed_vars(&inputs.env_deps) {
        return Keyed::Refused(reason);
    }
    let key = hash_key::rust_key(
        &info.identity,
        compilation,
        &request.cwd,
        &request.env,
        &inputs,
    );
    log::debug!(
        "rust compile of {}: key {key} (sources' digests {:?})",
        compilation.crate_name,
        started.elapsed()
    );
    Keyed::Key {
        key,
        early: None,
        scratch: None,
        read: Some(Box::new(read)),
        follow_up: None,
    }
}

/// Why a source of `files` (the crates and proc-macro libraries among them aside) may make
/// the compile read a file no dep-info lists: the assembler's (`direct::rust::
/// may_assemble_files`), or a library named `+verbatim` (`may_link_any_file`: this way of
/// keying sees no link command); one that cannot be read counts.
async fn reads_unseen_files(
    cwd: &Path,
    files: &[String],
    crates: &[PathBuf],
) -> Option<&'static str> {
    let sources: Vec<PathBuf> = files
        .iter()
        .map(PathBuf::from)
        .filter(|file| !crates.contains(file))
        .filter(|file| !file.extension().is_some_and(|e| e == "so" || e == "dylib"))
        .map(|file| cwd.join(file))
        .collect();
    use crate::rust_manifest_files::{ASSEMBLER_READS, VERBATIM_LIBRARY};
    use sccache_core::direct::rust::{may_assemble_files, may_link_any_file};
    tokio::task::spawn_blocking(move || {
        sources
            .iter()
            .find_map(|path| match crate::file_system::read_regular(path) {
                Err(_) => Some(ASSEMBLER_READS),
                Ok(bytes) if may_assemble_files(&bytes) => Some(ASSEMBLER_READS),
                Ok(bytes) if may_link_any_file(&bytes) => Some(VERBATIM_LIBRARY),
                Ok(_) => None,
            })
    })
    .await
    .unwrap_or(Some(ASSEMBLER_READS))
}

/// Where a dep-info run goes: before its compile, in the dispatcher's pool as the compile
/// will; or beside a compile that is running or has just run (a crate listing, which its
/// reply waits for), in the pool for those (`Services::run_beside_a_compile`).
#[derive(Clone, Copy)]
enum DepInfoRun {
    BeforeTheCompile,
    BesideTheCompile,
}

/// Why a dep-info run gave no dep-info (its errors are for the real compile to show).
const DEP_INFO_RUN_FAILED: &str = "dep-info run failed";

/// What a dep-info run found.
struct DepInfoRead {
    info: DepInfo,
    /// The objects rustc loaded (`loaded_objects`: its proc macros and the libraries they
    /// need), as the loader named them.
    loaded: Vec<String>,
    /// When rustc started reading (the directory's making, by the file system's clock).
    started: Started,
    anchors: Anchors,
}

/// Runs rustc for the dep-info alone, in a private directory, and reads it, with the objects
/// it loaded (before the compile: the key's; beside it, none). An error is why that failed:
/// the real compile will then show what is wrong.
async fn read_dep_info(
    services: &Services,
    compilation: &RustCompilation,
    request: &CompileRequest,
    run: DepInfoRun,
) -> Result<DepInfoRead, &'static str> {
    let dir = match private_dir().await {
        Ok(dir) => DepInfoDir(Some(dir)),
        Err(error) => {
            log::warn!("cannot create a directory for the dep-info run: {error}");
            return Err(DEP_INFO_RUN_FAILED);
        }
    };
    // A listing beside a compile needs no log: the compile's own names what it loaded.
    let loads = match run {
        DepInfoRun::BeforeTheCompile => Some(LoadLog::make(&request.env).await?),
        DepInfoRun::BesideTheCompile => None,
    };
    // A stat of a directory just made in the temporary directory, a metadata call.
    let started = Started::at(dir.path());
    let anchors = anchor_dirs::rust(compilation, request);
    let mut args = rust::dep_info_args(&request.args, dir.path().as_os_str());
    let mut request = request.clone();
    request.env.extend(loads.iter().flat_map(LoadLog::env));
    if compilation.link.is_some() {
        let (arg, variable) = rust_link::crate_listing_args();
        args.push(arg);
        request.env.push(variable);
    }
    let request = &request;
    let output = match run {
        DepInfoRun::BeforeTheCompile => services.run(&request.exe, args, request).await,
        DepInfoRun::BesideTheCompile => {
            services
                .run_beside_a_compile(&request.exe, args, request)
                .await
        }
    };
    match output {
        Ok(output) if output.success() => {}
        Ok(_) => return Err(DEP_INFO_RUN_FAILED),
        Err(error) => {
            log::warn!("cannot run rustc for the dep-info: {error}");
            return Err(DEP_INFO_RUN_FAILED);
        }
    }
    let path = dir.path().join(dep_info_name(compilation));
    let info = match tokio::fs::read(&path).await {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => match rust::parse_dep_info(&text) {
                Ok(info) => info,
                Err(reason) => {
                    log::info!("dep-info {}: {reason}", path.display());
                    return Err(DEP_INFO_RUN_FAILED);
                }
            },
            Err(_) => {
                log::info!("dep-info {} is not UTF-8", path.display());
                return Err(DEP_INFO_RUN_FAILED);
            }
        },
        Err(error) => {
            log::warn!("rustc wrote no dep-info at {}: {error}", path.display());
            return Err(DEP_INFO_RUN_FAILED);
        }
    };
    let loaded = match loads {
        Some(loads) => loads.read().await?.all().cloned().collect(),
        None => Vec::new(),
    };
    Ok(DepInfoRead {
        info,
        loaded,
        started,
        anchors,
    })
}

/// Creates the dep-info run's directory on the blocking pool: the event loop does not wait on
/// the file system.
async fn private_dir() -> std::io::Result<tempfile::TempDir> {
    tokio::task::spawn_blocking(|| crate::private_dir::make("sccache-dep-info"))
        .await
        .unwrap_or_else(|error| Err(std::io::Error::other(error)))
}

/// The dep-info run's directory, removed on the blocking pool when dropped (removing a
/// directory tree is file-system work the event loop does not wait on).
struct DepInfoDir(Option<tempfile::TempDir>);

impl DepInfoDir {
    fn path(&self) -> &Path {
        self.0
            .as_ref()
            .map_or(Path::new(""), tempfile::TempDir::path)
    }
}

impl Drop for DepInfoDir {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            tokio::task::spawn_blocking(move || drop(dir));
        }
    }
}

/// The name rustc gives the dep-info file of this compile.
fn dep_info_name(compilation: &RustCompilation) -> String {
    format!("{}{}.d", compilation.crate_name, compilation.extra_filename)
}

/// Digests the `--extern` crates and static libraries on the hasher's threads (through the
/// digest memo): the inputs
/// the manifest key and the result key share. The sources and env-deps are left empty.
async fn digest_libraries(
    services: &Services,
    compilation: &RustCompilation,
    request: &CompileRequest,
) -> Option<RustInputs> {
    let cwd = Path::new(&request.cwd);
    let library_paths: Vec<PathBuf> = compilation
        .externs
        .iter()
        .map(|(_, path)| cwd.join(path))
        .chain(compilation.static_libs.iter().map(|path| cwd.join(path)))
        .collect();
    let mut libraries = digest(services, library_paths).await?;
    let static_libs = libraries.split_off(compilation.externs.len().min(libraries.len()));
    Some(RustInputs {
        externs: compilation
            .externs
            .iter()
            .map(|(name, _)| name.clone())
            .zip(libraries)
            .collect(),
        static_libs,
        ..RustInputs::default()
    })
}

/// Digests the sources a dep-info run listed, on the hasher's threads. Through the digest
/// memo: a linked crate's dep-info lists the sysroot's crates too (a hundred megabytes), read
/// once per server, then known by their stamps.
async fn digest_sources(
    services: &Services,
    cwd: &Path,
    files: &[String],
) -> Option<Vec<[u8; 32]>> {
    digest(services, files.iter().map(|file| cwd.join(file)).collect()).await
}

async fn digest(services: &Services, paths: Vec<PathBuf>) -> Option<Vec<[u8; 32]>> {
    match services.digest.send(DigestFiles { paths }).await {
        Ok(Ok(digests)) => Some(digests),
        Ok(Err(error)) => {
            log::info!("cannot digest an input of the compile: {error}");
            None
        }
        Err(error) => {
            log::warn!("hasher unavailable: {error}");
            None
        }
    }
}

/// What `-C target-cpu=native` means on this machine, as this rustc says: the CPU it picks
/// (`--print target-cpus` names it) and the features that come with it (`--print cfg`).
/// Asked once per toolchain and target (`NativeCpus`). `None` when rustc cannot tell.
async fn native_cpu(
    services: &Services,
    info: &CompilerInfo,
    compilation: &RustCompilation,
    request: &CompileRequest,
) -> Option<Vec<u8>> {
    let target_is_file = compilation
        .target
        .as_deref()
        .is_some_and(|target| target.ends_with(".json") || target.contains('/'));
    let query = NativeQuery {
        toolchain: info.identity.digest,
        exe: request.exe.clone(),
        target: compilation.target.clone(),
        target_path: env_value(&request.env, "RUST_TARGET_PATH").map(ToOwned::to_owned),
        cwd: target_is_file.then(|| request.cwd.clone()),
    };
    // Asked once for everyone who needs it, by a process no single client's leaving stops.
    let (services, target, request) = (
        services.detached(),
        compilation.target.clone(),
        request.clone(),
    );
    let probe = services.native_cpus.clone().probe(query, move || {
        async move { ask_native_cpu(&services, target.as_deref(), &request).await }.boxed()
    })?;
    probe.await.ok()
}

/// Runs rustc to say what `native` means (`native_cpu`).
async fn ask_native_cpu(
    services: &Services,
    target: Option<&str>,
    request: &CompileRequest,
) -> Result<Vec<u8>, String> {
    let mut args: Vec<std::ffi::OsString> = [
        "-C",
        "target-cpu=native",
        "--print",
        "target-cpus",
        "--print",
        "cfg",
    ]
    .map(Into::into)
    .to_vec();
    if let Some(target) = target {
        args.extend(["--target".into(), target.into()]);
    }
    match services.run(&request.exe, args, request).await {
        Ok(output) if output.success() => Ok(output.stdout),
        Ok(output) => {
            let error = String::from_utf8_lossy(&output.stderr).into_owned();
            log::info!("rustc cannot say what target-cpu=native is: {error}");
            Err(error)
        }
        Err(error) => {
            log::warn!("cannot run rustc for target-cpu=native: {error}");
            Err(error.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_that_may_load_a_crate_is_seen() {
        let args = |words: &[&str]| -> Vec<std::ffi::OsString> {
            words.iter().map(|word| word.into()).collect()
        };
        assert!(!rust_link::names_extern(&args(&[
            "--crate-name",
            "build_script_build",
            "build.rs"
        ])));
        assert!(rust_link::names_extern(&args(&[
            "--extern",
            "serde=/t/libserde.rlib"
        ])));
        assert!(rust_link::names_extern(&args(&["--extern", "proc_macro"])));
        assert!(rust_link::names_extern(&args(&["--extern=serde"])));
        assert!(rust_link::names_extern(&args(&["-Z", "unstable-options"])));
        assert!(rust_link::names_extern(&args(&["-Zcrate-attr=feature(x)"])));
        // A value that merely mentions the word is no flag.
        assert!(!rust_link::names_extern(&args(&[
            "--cfg",
            "feature=\"extern\""
        ])));
    }

    #[test]
    fn rustc_prints_to_a_file_from_1_80() {
        assert!(prints_to_file("rustc 1.95.0 (59807616e 2026-04-14)"));
        assert!(prints_to_file("rustc 1.80.0-nightly (abc 2024-05-01)"));
        assert!(prints_to_file("rustc 2.0.0"));
        assert!(!prints_to_file("rustc 1.79.0 (129f3b996 2024-06-10)"));
        assert!(!prints_to_file("rustc 1.9.0"));
        assert!(!prints_to_file("clang version 18"));
        assert!(!prints_to_file(""));
    }
}
