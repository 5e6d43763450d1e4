//! The rustc family, as cargo drives it through `RUSTC_WRAPPER`: reading its command line, and
//! its key from what a dep-info-only run of rustc says the compile reads.
//!
//! ```text
//! Dispatcher  --Run(--emit=dep-info, private out dir)-->  the source files and env-deps
//!             (a linking compile's also lists the crates it loads: `rust_link`)
//! Hasher      --DigestKnownFiles-->  sources, `--extern` crates, `-l static=` libraries
//! rust_link   (a bin, proc-macro, dylib, cdylib)  the linker and what the link reads
//! (hash_key::rust_key)          the key
//! ```
//!
//! The output directory is kept out of entries by `out_dir::OutDir`. This decides nothing
//! about what goes into a key (that is `hash_key::rust_key`), and every failure before the
//! compile ends in running rustc uncached, so that the user sees rustc's own errors.

use crate::detector::CompilerInfo;
use crate::flow::family::{EarlyRestore, EntryAdapter, Family, Keyed};
use crate::flow::out_dir::OutDir;
use crate::flow::read_since::{ReadFiles, ReadSince, Started};
use crate::flow::rust_link;
use crate::flow::services::Services;
use crate::linker_probe::DigestKnownFiles;
use crate::outputs::OutputFile;
use sccache_core::compiler::rust::{self, DepInfo, RustCompilation};
use sccache_core::compiler::Parsed;
use sccache_core::hash_key::{self, RustInputs};
use sccache_core::protocol::CompileRequest;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A rustc compile, as its command line asks for it.
pub struct Rustc {
    compilation: RustCompilation,
}

impl Family for Rustc {
    fn accept(request: &mut CompileRequest) -> Parsed<Self> {
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

    fn adapter(&self) -> Box<dyn EntryAdapter + '_> {
        Box::new(OutDir::new(&self.compilation))
    }

    fn stats_kind(&self) -> Option<String> {
        Some(self.compilation.stats_kind().to_owned())
    }

    /// rustc learns nothing early: the key needs every source's digest first.
    async fn key(
        &self,
        services: &Services,
        info: &CompilerInfo,
        request: &CompileRequest,
        _early: Option<EarlyRestore<'_>>,
    ) -> Keyed {
        let compilation = &self.compilation;
        let started = Instant::now();
        let Some((dep_info, started_reading)) = read_dep_info(services, compilation, request).await
        else {
            return Keyed::Refused("dep-info run failed");
        };
        let dep_info_time = started.elapsed();
        let cwd = Path::new(&request.cwd);
        let read_files = ReadFiles {
            paths: dep_info.files.iter().map(|file| cwd.join(file)).collect(),
            markers_in: None,
        };
        let read = ReadSince::new(started_reading, read_files, cwd);
        let crate_files = rust_link::crate_files(&dep_info.files);
        // A link's inputs are found while the sources are digested.
        let link = rust_link::for_compile(services, info, compilation, &crate_files, request);
        let (inputs, link) = futures::join!(
            digest_inputs(services, compilation, request, dep_info),
            link
        );
        let Some(mut inputs) = inputs else {
            return Keyed::Refused("unreadable input");
        };
        match link {
            Ok(link) => inputs.link = link,
            Err(reason) => return Keyed::Refused(reason),
        }
        if compilation.native_cpu {
            match native_cpu(services, compilation, request).await {
                Some(native) => inputs.native_cpu = Some(native),
                None => return Keyed::Refused("-C target-cpu=native unresolved"),
            }
        }
        let key = hash_key::rust_key(
            &info.identity,
            compilation,
            &request.cwd,
            &request.env,
            &inputs,
        );
        log::debug!(
            "rust compile of {}: key {key} (dep-info run {dep_info_time:?}, digests {:?})",
            compilation.crate_name,
            started.elapsed() - dep_info_time
        );
        Keyed::Key {
            key,
            early: None,
            scratch: None,
            read: Some(Box::new(read)),
            follow_up: None,
        }
    }
}

/// Runs rustc for the dep-info alone, in a private directory, and reads it, with when rustc
/// started reading (the directory's making, by the file system's clock). `None` when that
/// fails for any reason: the real compile will then show what is wrong.
async fn read_dep_info(
    services: &Services,
    compilation: &RustCompilation,
    request: &CompileRequest,
) -> Option<(DepInfo, Started)> {
    let dir = match private_dir().await {
        Ok(dir) => DepInfoDir(Some(dir)),
        Err(error) => {
            log::warn!("cannot create a directory for the dep-info run: {error}");
            return None;
        }
    };
    // A stat of a directory just made in the temporary directory, a metadata call.
    let started = Started::at(dir.path());
    let mut args = rust::dep_info_args(&request.args, dir.path().as_os_str());
    let mut listing = None;
    if compilation.link.is_some() {
        let (arg, variable) = rust_link::crate_listing_args();
        args.push(arg);
        let mut request = request.clone();
        request.env.push(variable);
        listing = Some(request);
    }
    let output = services
        .run(&request.exe, args, listing.as_ref().unwrap_or(request))
        .await;
    match output {
        Ok(output) if output.success() => {}
        Ok(_) => return None,
        Err(error) => {
            log::warn!("cannot run rustc for the dep-info: {error}");
            return None;
        }
    }
    let path = dir.path().join(dep_info_name(compilation));
    match tokio::fs::read(&path).await {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some((rust::parse_dep_info(&text), started)),
            Err(_) => {
                log::info!("dep-info {} is not UTF-8", path.display());
                None
            }
        },
        Err(error) => {
            log::warn!("rustc wrote no dep-info at {}: {error}", path.display());
            None
        }
    }
}

/// Creates the dep-info run's directory on the blocking pool: the event loop does not wait on
/// the file system.
async fn private_dir() -> std::io::Result<tempfile::TempDir> {
    tokio::task::spawn_blocking(|| {
        tempfile::Builder::new()
            .prefix("sccache-dep-info")
            .tempdir()
    })
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

/// Digests every file the compile reads, on the hasher's threads: the sources in one message
/// and the crates and libraries in another, so both threads work.
async fn digest_inputs(
    services: &Services,
    compilation: &RustCompilation,
    request: &CompileRequest,
    dep_info: DepInfo,
) -> Option<RustInputs> {
    let cwd = Path::new(&request.cwd);
    let source_paths: Vec<PathBuf> = dep_info.files.iter().map(|f| cwd.join(f)).collect();
    let library_paths: Vec<PathBuf> = compilation
        .externs
        .iter()
        .map(|(_, path)| cwd.join(path))
        .chain(compilation.static_libs.iter().map(|path| cwd.join(path)))
        .collect();
    // Through the digest memo: a linked crate's dep-info lists the sysroot's crates too (a
    // hundred megabytes), read once per server, then known by their stamps.
    let (sources, libraries) = futures::join!(
        services.digest_known.send(DigestKnownFiles {
            paths: source_paths
        }),
        services.digest_known.send(DigestKnownFiles {
            paths: library_paths
        }),
    );
    let (sources, mut libraries) = match (sources, libraries) {
        (Ok(Ok(sources)), Ok(Ok(libraries))) => (sources, libraries),
        (Ok(Err(error)), _) | (_, Ok(Err(error))) => {
            log::info!("cannot digest an input of the compile: {error}");
            return None;
        }
        (Err(error), _) | (_, Err(error)) => {
            log::warn!("hasher unavailable: {error}");
            return None;
        }
    };
    let static_libs = libraries.split_off(compilation.externs.len().min(libraries.len()));
    Some(RustInputs {
        sources: dep_info.files.into_iter().zip(sources).collect(),
        externs: compilation
            .externs
            .iter()
            .map(|(name, _)| name.clone())
            .zip(libraries)
            .collect(),
        static_libs,
        env_deps: dep_info
            .env_deps
            .into_iter()
            .map(|(name, _)| name)
            .collect(),
        native_cpu: None,
        link: None,
    })
}

/// What `-C target-cpu=native` means on this machine, as this rustc says: the CPU it picks
/// (`--print target-cpus` names it) and the features that come with it (`--print cfg`).
/// `None` when rustc cannot tell.
async fn native_cpu(
    services: &Services,
    compilation: &RustCompilation,
    request: &CompileRequest,
) -> Option<Vec<u8>> {
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
    if let Some(target) = &compilation.target {
        args.extend(["--target".into(), target.into()]);
    }
    match services.run(&request.exe, args, request).await {
        Ok(output) if output.success() => Some(output.stdout),
        Ok(output) => {
            log::info!(
                "rustc cannot say what target-cpu=native is: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            None
        }
        Err(error) => {
            log::warn!("cannot run rustc for target-cpu=native: {error}");
            None
        }
    }
}
