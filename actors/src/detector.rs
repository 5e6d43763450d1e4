//! The detector: which compiler an executable is, and its identity for the key.
//!
//! It probes an executable once (gcc or clang by what its preprocessor defines, rustc by
//! `-vV`) and remembers the answer per path and `FileStamp` (inode, size, modification and change times),
//! so a rebuilt or upgraded compiler is probed again. Concurrent requests for the same compiler share one
//! probe. The identity is a digest of the executable, its version text and, for rustc, the
//! sysroot's libraries.
//!
//! On the event loop it only stats files (the compiler named, and for rustc the toolchain's
//! selectors and files, all metadata a compile's own path lookups keep cached); the probes'
//! own files are written, read and listed on the blocking pool.

use crate::dispatcher::{ProcessOutput, Run};
use crate::file_stamp::{stamp, unchanged, FileStamp, PathStamp};
use crate::flow::request_env::{for_probe, lookup as env_value};
use crate::hasher::DigestFiles;
use crate::remembered::Remembered;
use actix::prelude::*;
use futures::future::FutureExt;
use sccache_core::compiler::CompilerKind;
use sccache_core::hash_key::CompilerIdentity;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What the detector knows of a compiler.
#[derive(Debug, Clone)]
pub struct CompilerInfo {
    pub kind: CompilerKind,
    pub identity: CompilerIdentity,
    /// The first line of the version text, for logs.
    pub version: String,
    /// The files the identity was taken from, as they stood (a toolchain's real rustc and
    /// libraries, which `rustup update` replaces behind an unchanged proxy). A remembered probe
    /// whose files changed is probed again.
    pub files: Vec<PathStamp>,
    /// rustc's sysroot and host, where a link finds the target's libraries and rustc's own
    /// linker.
    pub rust: Option<Box<RustToolchain>>,
}

/// What rustc says of its toolchain.
#[derive(Debug, Clone)]
pub struct RustToolchain {
    /// `--print sysroot`.
    pub sysroot: PathBuf,
    /// The `host:` line of `-vV`.
    pub host: Option<String>,
    /// What `-vV` printed, when it printed nothing on stderr: cargo asks for it through the
    /// wrapper at the start of every build, and the answer is this probe's (`flow::dispatch`).
    pub verbose_version: Option<Vec<u8>>,
}

/// rustup's home: `RUSTUP_HOME`, else `~/.rustup`.
fn rustup_home(env: &[(OsString, OsString)]) -> Option<PathBuf> {
    env_value(env, "RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| env_value(env, "HOME").map(|home| Path::new(home).join(".rustup")))
}

/// The variable with which rustc prints another version text (`rust_query` answers no `-vV`
/// that has it).
pub const VERSION_OVERRIDE: &str = "RUSTC_OVERRIDE_VERSION_STRING";

/// The files by which rustup chooses a toolchain for `cwd`: `rust-toolchain(.toml)` in it and
/// every directory above, and rustup's settings (default toolchain, directory overrides).
/// Their stamps are part of the probe's key, so choosing another toolchain is seen at once.
fn toolchain_selectors(cwd: &Path, env: &[(OsString, OsString)]) -> Vec<PathStamp> {
    let mut files: Vec<PathStamp> = cwd
        .ancestors()
        .flat_map(|dir| ["rust-toolchain", "rust-toolchain.toml"].map(|name| dir.join(name)))
        .map(stamp)
        .collect();
    if let Some(rustup_home) = rustup_home(env) {
        files.push(stamp(rustup_home.join("settings.toml")));
    }
    files
}

/// Identifies the compiler at `exe`, as the client would run it from `cwd` with `env`.
#[derive(Message, Clone)]
#[rtype(result = "Result<Option<CompilerInfo>, String>")]
pub struct Detect {
    pub exe: OsString,
    pub cwd: OsString,
    pub env: Vec<(OsString, OsString)>,
}

/// The detecting actor.
pub struct Detector {
    run: Recipient<Run>,
    digest: Recipient<DigestFiles>,
    known: Remembered<ProbeKey, Option<CompilerInfo>>,
}

/// A compiler as it stands on disk. For rustc the directory and toolchain override count too,
/// because a rustup proxy picks the toolchain per directory.
#[derive(Clone, PartialEq, Eq, Hash)]
struct ProbeKey {
    exe: OsString,
    stamp: FileStamp,
    rustup_scope: Option<RustupScope>,
}

/// What decides which toolchain a rustup proxy runs for a request.
#[derive(Clone, PartialEq, Eq, Hash)]
struct RustupScope {
    cwd: OsString,
    toolchain_variable: Option<OsString>,
    rustup_home: Option<OsString>,
    selectors: Vec<PathStamp>,
    /// Where a toolchain named by path (`RUSTUP_TOOLCHAIN=/opt/tc`) leads, links resolved: a
    /// link pointed at another toolchain is another probe.
    toolchain_target: Option<PathBuf>,
    /// rustup's `toolchains` directory, whose entries a `rustup toolchain link` makes links
    /// (pointed elsewhere, the entry is made again and the directory's times move).
    toolchains: Option<PathStamp>,
}

impl RustupScope {
    /// A toolchain named by `RUSTUP_TOOLCHAIN` (which rustup sets for everything cargo runs
    /// under it) beats every toolchain file and directory override: then the directory does
    /// not count, and a build's crates, each compiled in its own directory, share one probe.
    /// Not when the variable is a relative path, which is found from the directory.
    fn of(request: &Detect) -> RustupScope {
        let toolchain_variable =
            env_value(&request.env, "RUSTUP_TOOLCHAIN").filter(|value| !value.is_empty());
        let named = toolchain_variable.is_some_and(|value| {
            let value = Path::new(value);
            value.is_absolute() || value.components().count() == 1
        });
        RustupScope {
            cwd: if named {
                OsString::new()
            } else {
                request.cwd.clone()
            },
            toolchain_variable: toolchain_variable.map(OsStr::to_owned),
            rustup_home: env_value(&request.env, "RUSTUP_HOME").map(OsStr::to_owned),
            selectors: if named {
                Vec::new()
            } else {
                toolchain_selectors(Path::new(&request.cwd), &request.env)
            },
            toolchain_target: toolchain_variable
                .filter(|value| value.as_bytes().contains(&b'/'))
                .and_then(|value| std::fs::canonicalize(Path::new(&request.cwd).join(value)).ok()),
            toolchains: rustup_home(&request.env).map(|home| stamp(home.join("toolchains"))),
        }
    }
}

impl Detector {
    pub fn new(run: Recipient<Run>, digest: Recipient<DigestFiles>) -> Self {
        Detector {
            run,
            digest,
            known: Remembered::new(KNOWN_COMPILERS_LIMIT),
        }
    }
}

impl Actor for Detector {
    type Context = Context<Self>;
}

const KNOWN_COMPILERS_LIMIT: usize = 256;

impl Handler<Detect> for Detector {
    type Result = ResponseFuture<Result<Option<CompilerInfo>, String>>;

    fn handle(&mut self, request: Detect, _: &mut Context<Self>) -> Self::Result {
        let metadata = match std::fs::metadata(&request.exe) {
            Ok(metadata) if metadata.is_file() => metadata,
            Ok(_) => return Box::pin(async { Ok(None) }),
            Err(error) => {
                let message = format!("{:?}: {error}", request.exe);
                return Box::pin(async move { Err(message) });
            }
        };
        let looks_like_rustc = file_name_starts_with(&request.exe, "rustc");
        let key = ProbeKey {
            exe: request.exe.clone(),
            stamp: FileStamp::of(&metadata),
            rustup_scope: looks_like_rustc.then(|| RustupScope::of(&request)),
        };
        // A toolchain updated in place behind the same proxy is probed again, and so is a
        // probe that failed (a spawn refused under load must not make a compiler unsupported
        // for good).
        let stale =
            |info: &Option<CompilerInfo>| info.as_ref().is_some_and(|info| !unchanged(&info.files));
        let (run, digest) = (self.run.clone(), self.digest.clone());
        let probe = self.known.get_or_probe(key, stale, || {
            probe(run, digest, request, looks_like_rustc).boxed()
        });
        Box::pin(probe)
    }
}

fn file_name_starts_with(exe: &OsStr, prefix: &str) -> bool {
    Path::new(exe)
        .file_name()
        .and_then(OsStr::to_str)
        .is_some_and(|name| name.starts_with(prefix))
}

async fn probe(
    run: Recipient<Run>,
    digest: Recipient<DigestFiles>,
    request: Detect,
    looks_like_rustc: bool,
) -> Result<Option<CompilerInfo>, String> {
    let runner = Runner {
        run: &run,
        request: &request,
    };
    if looks_like_rustc {
        if let Some(info) = probe_rustc(&runner, &digest).await? {
            return Ok(Some(info));
        }
    }
    probe_c(&runner, &digest).await
}

/// Runs probes as the client would run the compiler.
struct Runner<'a> {
    run: &'a Recipient<Run>,
    request: &'a Detect,
}

impl Runner<'_> {
    async fn output(&self, exe: &OsStr, args: &[&OsStr]) -> Result<ProcessOutput, String> {
        self.run
            .send(Run::new(
                exe.to_owned(),
                args.iter().map(|arg| arg.to_os_string()).collect(),
                self.request.cwd.clone(),
                // rustc's own override of its version text (the compile keys take the variable
                // itself): the probe's `-vV` is the toolchain's, whoever asked first.
                for_probe(&self.request.env)
                    .into_iter()
                    .filter(|(name, _)| name != VERSION_OVERRIDE)
                    .collect(),
            ))
            .await
            .map_err(|error| error.to_string())?
            .map_err(|error| error.to_string())
    }
}

async fn digest_files(
    digest: &Recipient<DigestFiles>,
    paths: Vec<PathBuf>,
) -> Result<Vec<[u8; 32]>, String> {
    digest
        .send(DigestFiles { paths })
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| error.to_string())
}

const C_PROBE: &str = "#if defined(__clang__)\n__sccache_compiler_is clang\n#elif defined(__GNUC__)\n__sccache_compiler_is gcc\n#else\n__sccache_compiler_is unknown\n#endif\n";

/// A private directory holding the C probe's source, and the source's path.
fn write_c_probe() -> Result<(tempfile::TempDir, PathBuf), String> {
    let dir = crate::private_dir::make("sccache-probe")
        .map_err(|error| format!("cannot create a probe directory: {error}"))?;
    let source = dir.path().join("probe.c");
    std::fs::write(&source, C_PROBE).map_err(|error| format!("cannot write a probe: {error}"))?;
    Ok((dir, source))
}

async fn probe_c(
    runner: &Runner<'_>,
    digest: &Recipient<DigestFiles>,
) -> Result<Option<CompilerInfo>, String> {
    // The probe's file is written on the blocking pool: the event loop does not wait on the
    // file system for more than a stat.
    let (dir, source) = tokio::task::spawn_blocking(write_c_probe)
        .await
        .map_err(|error| format!("cannot write a probe: {error}"))??;
    let exe = runner.request.exe.as_os_str();
    // The version and the digest are asked for beside the probe (a new server's first
    // compiles wait for all three), and dropped when the probe says it is no C compiler.
    let (probe_args, version_args) = (
        [OsStr::new("-E"), source.as_os_str()],
        [OsStr::new("--version")],
    );
    let (output, version, digests) = futures::join!(
        runner.output(exe, &probe_args),
        runner.output(exe, &version_args),
        digest_files(digest, vec![PathBuf::from(exe)]),
    );
    // Removed on the blocking pool, as it was written.
    tokio::task::spawn_blocking(move || drop(dir));
    let output = output?;
    if !output.success() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let kind = match text
        .lines()
        .find_map(|line| line.trim().strip_prefix("__sccache_compiler_is "))
    {
        Some("gcc") => CompilerKind::Gcc,
        Some("clang") => CompilerKind::Clang,
        _ => return Ok(None),
    };
    let (version, digests) = (version?, digests?);
    let binary_digest = digests.first().copied().unwrap_or_default();
    // A driver behaves by the name it is run as (clang and clang++ are one binary), so the
    // name is part of who compiled.
    let name = Path::new(exe).file_name().unwrap_or_default().as_bytes();
    Ok(Some(CompilerInfo {
        kind,
        identity: CompilerIdentity::new(kind, &binary_digest, &version.stdout, name),
        version: first_line(&version.stdout),
        files: Vec::new(),
        rust: None,
    }))
}

async fn probe_rustc(
    runner: &Runner<'_>,
    digest: &Recipient<DigestFiles>,
) -> Result<Option<CompilerInfo>, String> {
    let exe = runner.request.exe.as_os_str();
    // A rustup proxy answers for the toolchain chosen for this directory; the sysroot names
    // that toolchain's real files, which are what the identity must cover. Both asked at once:
    // a new server's first compiles wait for them.
    let (version_args, sysroot_args) = (
        [OsStr::new("-vV")],
        [OsStr::new("--print"), OsStr::new("sysroot")],
    );
    let (version, sysroot) = futures::join!(
        runner.output(exe, &version_args),
        runner.output(exe, &sysroot_args),
    );
    let version = version?;
    if !version.success() || !version.stdout.starts_with(b"rustc ") {
        return Ok(None);
    }
    let sysroot = sysroot?;
    if !sysroot.success() {
        return Ok(None);
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim().to_owned());
    let run = Path::new(&runner.request.cwd).join(exe);
    let host = String::from_utf8_lossy(&version.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned);
    let root = sysroot.clone();
    // Listing the toolchain's files reads directories: on the blocking pool.
    let (files, stamps) = tokio::task::spawn_blocking(move || toolchain_files(&root, run))
        .await
        .map_err(|error| format!("cannot list the toolchain's files: {error}"))?;
    let digests = digest_files(digest, files).await?;
    let binary_digest = digests.first().copied().unwrap_or_default();
    let extra: Vec<u8> = digests.iter().skip(1).flatten().copied().collect();
    Ok(Some(CompilerInfo {
        kind: CompilerKind::Rustc,
        identity: CompilerIdentity::new(
            CompilerKind::Rustc,
            &binary_digest,
            &version.stdout,
            &extra,
        ),
        version: first_line(&version.stdout),
        files: stamps,
        rust: Some(Box::new(RustToolchain {
            sysroot,
            host,
            verbose_version: version.stderr.is_empty().then(|| version.stdout.clone()),
        })),
    }))
}

/// The files that make a toolchain (its real rustc, or the program run when there is none,
/// then its libraries, then the program run when it is neither that rustc nor a rustup proxy:
/// a wrapper script named `rustc-*` may add flags or change the environment, and its text must
/// be in the key), and their stamps as they stand now.
fn toolchain_files(sysroot: &Path, run: PathBuf) -> (Vec<PathBuf>, Vec<PathStamp>) {
    let real_rustc = sysroot.join("bin").join("rustc");
    let has_real = real_rustc.is_file();
    let wrapper = has_real && !same_file(&run, &real_rustc) && !is_rustup_proxy(&run);
    let mut files = vec![if has_real { real_rustc } else { run.clone() }];
    files.extend(sysroot_libraries(sysroot));
    if wrapper {
        files.push(run);
    }
    let stamps = files.iter().cloned().map(stamp).collect();
    (files, stamps)
}

/// Whether two paths name one file (links followed).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Whether `program` is rustup's proxy (`~/.cargo/bin/rustc`: a link, hard or symbolic, to
/// `rustup`), which runs the toolchain's real rustc unchanged. Left out of the identity, so a
/// rustup update does not change every key, and machines with other rustup versions share
/// entries.
fn is_rustup_proxy(program: &Path) -> bool {
    let resolved = std::fs::canonicalize(program).unwrap_or_else(|_| program.to_path_buf());
    let named_rustup = |path: &Path| {
        path.file_name()
            .is_some_and(|name| name == "rustup" || name == "rustup-init")
    };
    named_rustup(&resolved)
        || program
            .parent()
            .is_some_and(|dir| same_file(program, &dir.join("rustup")))
}

/// The shared libraries of a toolchain (`lib/*.so`: rustc_driver, std), which decide the output
/// as much as the `rustc` binary does. Sorted, so the identity does not depend on directory
/// order.
fn sysroot_libraries(sysroot: &Path) -> Vec<PathBuf> {
    let mut libraries: Vec<PathBuf> = std::fs::read_dir(sysroot.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension().is_some_and(|extension| extension == "so") && path.is_file()
        })
        .collect();
    libraries.sort();
    libraries
}

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toolchain_file_anywhere_above_changes_the_selectors() {
        let root = tempfile::tempdir().unwrap();
        let cwd = root.path().join("workspace/crate");
        std::fs::create_dir_all(&cwd).unwrap();
        let env = vec![("HOME".into(), root.path().as_os_str().to_owned())];
        let before = toolchain_selectors(&cwd, &env);
        std::fs::write(
            root.path().join("workspace/rust-toolchain.toml"),
            "[toolchain]\nchannel = \"nightly\"\n",
        )
        .unwrap();
        assert_ne!(before, toolchain_selectors(&cwd, &env));
        let with_file = toolchain_selectors(&cwd, &env);
        std::fs::create_dir_all(root.path().join(".rustup")).unwrap();
        std::fs::write(
            root.path().join(".rustup/settings.toml"),
            "default = \"beta\"\n",
        )
        .unwrap();
        assert_ne!(with_file, toolchain_selectors(&cwd, &env));
    }

    #[test]
    fn a_named_toolchain_is_one_scope_whatever_the_directory() {
        let root = tempfile::tempdir().unwrap();
        let request = |cwd: &str, toolchain: Option<&str>| {
            let mut env = vec![("HOME".into(), root.path().as_os_str().to_owned())];
            if let Some(toolchain) = toolchain {
                env.push(("RUSTUP_TOOLCHAIN".into(), toolchain.into()));
            }
            Detect {
                exe: "rustc".into(),
                cwd: root.path().join(cwd).into_os_string(),
                env,
            }
        };
        let scope = |cwd, toolchain| RustupScope::of(&request(cwd, toolchain));
        // As cargo runs every crate under rustup: one probe for the build.
        assert!(scope("a", Some("stable")) == scope("b", Some("stable")));
        assert!(scope("a", Some("stable")) != scope("a", Some("nightly")));
        // A directory's toolchain file or override counts when nothing names the toolchain,
        // and a relative toolchain path is found from the directory.
        assert!(scope("a", None) != scope("b", None));
        assert!(scope("a", Some("tc/custom")) != scope("b", Some("tc/custom")));
    }

    #[test]
    fn a_toolchain_link_pointed_elsewhere_is_another_scope() {
        let root = tempfile::tempdir().unwrap();
        for dir in ["nightly", "stable", ".rustup/toolchains"] {
            std::fs::create_dir_all(root.path().join(dir)).unwrap();
        }
        let link = root.path().join("tc");
        let env = |toolchain: &Path| {
            vec![
                ("HOME".into(), root.path().as_os_str().to_owned()),
                ("RUSTUP_TOOLCHAIN".into(), toolchain.as_os_str().to_owned()),
            ]
        };
        let scope = |toolchain: &Path| {
            RustupScope::of(&Detect {
                exe: "rustc".into(),
                cwd: root.path().as_os_str().to_owned(),
                env: env(toolchain),
            })
        };
        std::os::unix::fs::symlink(root.path().join("nightly"), &link).unwrap();
        let before = scope(&link);
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink(root.path().join("stable"), &link).unwrap();
        assert!(
            before != scope(&link),
            "RUSTUP_TOOLCHAIN's path leads elsewhere"
        );
        // A toolchain `rustup toolchain link` made, pointed elsewhere under the same name.
        let named = scope(Path::new("mine"));
        let linked = root.path().join(".rustup/toolchains/mine");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::os::unix::fs::symlink(root.path().join("stable"), &linked).unwrap();
        assert!(
            named != scope(Path::new("mine")),
            "rustup's toolchains changed"
        );
    }

    #[test]
    fn a_replaced_toolchain_file_is_seen() {
        let root = tempfile::tempdir().unwrap();
        let library = root.path().join("librustc_driver.so");
        std::fs::write(&library, b"old").unwrap();
        let files = vec![stamp(library.clone())];
        assert!(unchanged(&files));
        std::fs::write(&library, b"the new toolchain").unwrap();
        assert!(!unchanged(&files));
    }
}
