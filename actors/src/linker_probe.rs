//! The linker prober: who links a rustc compile, for its key, and where that linker looks for
//! libraries.
//!
//! rustc links by running a C driver (`cc` unless `-C linker=` names another program), which
//! runs `collect2`/`ld` (or the `ld.lld`, `ld.gold`... a `-fuse-ld=` asks for) with start files
//! (`crt1.o`, `crtbeginS.o`) and its own library directories. The prober finds the linker on
//! `PATH`, asks it for a dry run (`<linker> -### probe -o probe.out`), and digests the linker,
//! every program and configuration file the dry run names (as the C driver prober does, with
//! its `resolve`), every file its commands name (start files, the LTO plugin), and the linkers
//! the driver may run in its place, found in its program directories and on `PATH`. It hands
//! back that digest and the library directories the dry run lists (`LIBRARY_PATH=`, `-L`),
//! with those GNU ld searches by itself: its default script's `SEARCH_DIR`s (`/usr/local/lib`,
//! `/lib64`...), which no dry run names, read from `--verbose` of every `ld`/`ld.bfd` found,
//! under its `--print-sysroot`.
//! A linker that cannot be found or answers no dry run cannot be identified: the compile is
//! then not cached.
//!
//! Remembered per linker and search environment with the stamps of every file it depends on
//! and of each place searched before them, as `driver_probe` does: a hit runs no process.

use crate::dispatcher::Run;
use crate::driver_probe::{resolve, ProbeDriver};
use crate::file_stamp::{stamp, unchanged, PathStamp};
use crate::flow::request_env::{for_probe, lookup as env_value};
use crate::hasher::DigestFiles;
use crate::script_env;
use actix::prelude::*;
use futures::future::FutureExt;
use sccache_core::compiler::gcc::DryRun;
use sccache_core::hash_key;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Variables that change which linker runs, where it looks, or what its driver passes on.
const PROBE_ENV_VARS: &[&str] = &[
    "PATH",
    "COMPILER_PATH",
    "GCC_EXEC_PREFIX",
    "LIBRARY_PATH",
    "LPATH",
    "CCC_OVERRIDE_OPTIONS",
    "LANG",
    "LC_ALL",
];

/// The linkers a driver may run for a link besides what its dry run names: its default `ld`
/// and those `-fuse-ld=` picks (rustc asks for `lld` on some targets).
const LINKER_PROGRAMS: &[&str] = &["ld", "real-ld", "ld.bfd", "ld.gold", "ld.lld", "ld.mold"];

/// Who links, as the client would run it from `cwd` with `env`.
#[derive(Message, Clone)]
#[rtype(result = "Result<LinkerFound, String>")]
pub struct ProbeLinker {
    /// The linker as `-C linker=` names it, or `cc`.
    pub linker: OsString,
    pub cwd: OsString,
    pub env: Vec<(OsString, OsString)>,
    /// A `-fuse-ld=NAME` the link arguments ask for: `ld.NAME` is digested too.
    pub fuse_ld: Option<String>,
}

/// The linker's identity and its own library directories.
#[derive(Clone, Debug)]
pub struct LinkerFound {
    pub digest: [u8; 32],
    pub library_dirs: Vec<PathBuf>,
    /// The libraries its dry run's commands link by name (`-lgcc`, `-lc`: the driver's own).
    pub default_libs: Vec<OsString>,
}

#[derive(Clone)]
struct Resolved {
    found: LinkerFound,
    stamps: Vec<PathStamp>,
    /// For a linker that is a script, the environment it ran in (`script_env`).
    script_env: Option<u64>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct ProbeKey {
    linker: OsString,
    fuse_ld: Option<String>,
    env: Vec<Option<OsString>>,
    cwd: OsString,
    /// For a known wrapper, the environment (`script_env::Wrappers`).
    wrapper_env: Option<u64>,
}

/// The probing actor.
pub struct LinkerProber {
    run: Recipient<Run>,
    digest: Recipient<DigestFiles>,
    known: script_env::WrapperProbes<ProbeKey, Resolved>,
}

impl LinkerProber {
    pub fn new(run: Recipient<Run>, digest: Recipient<DigestFiles>) -> Self {
        LinkerProber {
            run,
            digest,
            known: script_env::WrapperProbes::new(KNOWN_LINKERS_LIMIT),
        }
    }
}

impl Actor for LinkerProber {
    type Context = Context<Self>;
}

const KNOWN_LINKERS_LIMIT: usize = 256;

impl Handler<ProbeLinker> for LinkerProber {
    type Result = ResponseFuture<Result<LinkerFound, String>>;

    fn handle(&mut self, request: ProbeLinker, _: &mut Context<Self>) -> Self::Result {
        let key = ProbeKey {
            linker: request.linker.clone(),
            fuse_ld: request.fuse_ld.clone(),
            env: PROBE_ENV_VARS
                .iter()
                .map(|name| env_value(&request.env, name).map(OsStr::to_owned))
                .collect(),
            // A build's crates each link from their own directory: one probe serves them all
            // unless the answer can depend on the directory.
            cwd: if depends_on_cwd(&request) {
                request.cwd.clone()
            } else {
                OsString::new()
            },
            wrapper_env: None,
        };
        let (run, digest) = (self.run.clone(), self.digest.clone());
        let (linker, env) = (request.linker.clone(), request.env.clone());
        let answer = self.known.answer(
            key,
            |key, wrapper_env| ProbeKey { wrapper_env, ..key },
            &linker,
            &env,
            |resolved| unchanged(&resolved.stamps),
            move || probe(run.clone(), digest.clone(), request.clone()).boxed(),
        );
        Box::pin(async move { answer.await.map(|resolved| resolved.found) })
    }
}

impl script_env::RanIn for Resolved {
    fn ran_in(&self) -> Option<u64> {
        self.script_env
    }
}

/// Whether the probe's answer may depend on the directory it runs in: a relative linker or
/// `-fuse-ld=` path, a relative or empty (the current directory) entry in a search list the
/// driver reads, a relative `GCC_EXEC_PREFIX`, or clang's `CCC_OVERRIDE_OPTIONS`, which may add
/// any argument. Otherwise every path the probe finds or reads is absolute.
fn depends_on_cwd(request: &ProbeLinker) -> bool {
    let relative_path = |path: &[u8]| path.contains(&b'/') && !path.starts_with(b"/");
    let relative_entry = |name: &str| {
        env_value(&request.env, name).is_some_and(|list| {
            list.as_bytes()
                .split(|byte| *byte == b':')
                .any(|dir| !dir.starts_with(b"/"))
        })
    };
    relative_path(request.linker.as_bytes())
        || request
            .fuse_ld
            .as_deref()
            .is_some_and(|name| relative_path(name.as_bytes()))
        || ["PATH", "COMPILER_PATH", "LIBRARY_PATH", "LPATH"]
            .into_iter()
            .any(relative_entry)
        || env_value(&request.env, "GCC_EXEC_PREFIX")
            .is_some_and(|prefix| !prefix.as_bytes().starts_with(b"/"))
        || env_value(&request.env, "CCC_OVERRIDE_OPTIONS").is_some()
}

/// The directories of a `:`-separated search list, relative ones from `cwd`; an empty entry
/// is `cwd` itself (as `execvp` and gcc take one in `PATH` and `LIBRARY_PATH`: a `LIBRARY_PATH`
/// of `:/opt/lib`, from `$LIBRARY_PATH:/opt/lib` with nothing set, searches the working
/// directory).
pub fn search_list(list: Option<&OsStr>, cwd: &Path) -> Vec<PathBuf> {
    list.map(|list| {
        list.as_bytes()
            .split(|byte| *byte == b':')
            .map(|dir| match dir.is_empty() {
                true => cwd.to_path_buf(),
                false => cwd.join(OsStr::from_bytes(dir)),
            })
            .collect()
    })
    .unwrap_or_default()
}

/// Finds `program` the way `execvp` does: as a path when it has a `/`, else in `path_dirs`.
/// Also the stamps of the places searched before it (a program put there later runs instead).
fn find_program(
    program: &OsStr,
    cwd: &Path,
    path_dirs: &[PathBuf],
) -> (Option<PathBuf>, Vec<PathStamp>) {
    if program.as_bytes().contains(&b'/') {
        let path = cwd.join(program);
        let found = path.is_file().then(|| path.clone());
        return (found, vec![stamp(path)]);
    }
    let mut stamps = Vec::new();
    for dir in path_dirs {
        let path = dir.join(program);
        stamps.push(stamp(path.clone()));
        if path.is_file() {
            return (Some(path), stamps);
        }
    }
    (None, stamps)
}

/// What a link dry run's text names besides its programs: the library directories
/// (`LIBRARY_PATH=`, `-L` words), the files its commands read (absolute objects and
/// libraries: start files, the LTO plugin) and the libraries they name (`-lNAME`).
fn read_link_dry_run(output: &[u8], cwd: &Path) -> (Vec<PathBuf>, Vec<PathBuf>, Vec<OsString>) {
    let (mut dirs, mut files, mut libs) = (Vec::new(), Vec::new(), Vec::new());
    for line in output.split(|byte| *byte == b'\n') {
        if let Some(list) = line.strip_prefix(b"LIBRARY_PATH=") {
            // Relative entries (`./` for an empty one of the user's) are the working
            // directory's.
            dirs.extend(search_list(Some(OsStr::from_bytes(list)), cwd));
        } else if let Some(command) = line.strip_prefix(b" ") {
            for word in command.split(|byte| *byte == b' ') {
                let word = word.strip_prefix(b"\"").unwrap_or(word);
                let word = word.strip_suffix(b"\"").unwrap_or(word);
                if let Some(dir) = word.strip_prefix(b"-L").filter(|d| !d.is_empty()) {
                    dirs.push(cwd.join(OsStr::from_bytes(dir)));
                } else if let Some(name) = word.strip_prefix(b"-l").filter(|n| !n.is_empty()) {
                    libs.push(OsStr::from_bytes(name).to_owned());
                } else if word.starts_with(b"/")
                    && [&b".o"[..], b".so", b".a"]
                        .iter()
                        .any(|e| word.ends_with(e))
                {
                    files.push(PathBuf::from(OsStr::from_bytes(word)));
                }
            }
        }
    }
    (dirs, files, libs)
}

async fn probe(
    run: Recipient<Run>,
    digest: Recipient<DigestFiles>,
    request: ProbeLinker,
) -> Result<Resolved, String> {
    let cwd = PathBuf::from(&request.cwd);
    let path_dirs = search_list(env_value(&request.env, "PATH"), &cwd);
    let (linker, mut stamps) = {
        let (linker, path, dirs) = (request.linker.clone(), cwd.clone(), path_dirs.clone());
        tokio::task::spawn_blocking(move || find_program(&linker, &path, &dirs))
            .await
            .map_err(|error| error.to_string())?
    };
    let linker = linker.ok_or_else(|| format!("linker {:?} not found", request.linker))?;
    let dir = tokio::task::spawn_blocking(|| crate::private_dir::make("sccache-linker"))
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| format!("cannot create a probe directory: {error}"))?;
    let dir_path = dir.path().as_os_str().to_owned();
    let args = vec![
        OsString::from("-###"),
        dir.path().join("probe").into_os_string(),
        "-o".into(),
        dir.path().join("probe.out").into_os_string(),
    ];
    let mut env: Vec<(OsString, OsString)> = for_probe(&request.env)
        .into_iter()
        .filter(|(name, _)| name != "TMPDIR")
        .collect();
    env.push(("TMPDIR".into(), dir_path.clone()));
    let output = run
        .send(Run::new(
            linker.clone().into_os_string(),
            args,
            request.cwd.clone(),
            env,
        ))
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| error.to_string());
    tokio::task::spawn_blocking(move || drop(dir));
    let output = output?;
    if !output.success() {
        return Err(format!("{linker:?} -### failed"));
    }
    let dry_run = DryRun::read(&output.stderr, &dir_path, &request.cwd);
    let text = dry_run.text.clone();
    let driver = ProbeDriver {
        exe: linker.into_os_string(),
        cwd: request.cwd.clone(),
        env: request.env.clone(),
        driver_args: Vec::new(),
        language: "none",
    };
    let stderr = output.stderr;
    let fuse_ld = request.fuse_ld.clone();
    let (files, more_stamps, mut library_dirs, default_libs, script_env) =
        tokio::task::spawn_blocking(move || {
            let cwd = Path::new(&driver.cwd);
            let path_dirs = search_list(env_value(&driver.env, "PATH"), cwd);
            let script_env =
                script_env::is_wrapper(Path::new(&driver.exe), &dry_run, cwd, &path_dirs)
                    .then(|| script_env::fingerprint(&driver.env));
            let (mut files, mut stamps) = resolve(&dry_run, &driver)?;
            // The linker itself (a wrapper script's text is its identity too).
            files.insert(0, PathBuf::from(&driver.exe));
            let (library_dirs, named, default_libs) =
                read_link_dry_run(&stderr, Path::new(&driver.cwd));
            for file in named.into_iter().filter(|file| file.is_file()) {
                stamps.push(stamp(file.clone()));
                files.push(file);
            }
            // The linkers the driver may run in place of the one its dry run names.
            let cwd = Path::new(&driver.cwd);
            let program_dirs: Vec<PathBuf> = dry_run
                .search_dirs
                .iter()
                .map(|dir| cwd.join(dir))
                .chain(search_list(env_value(&driver.env, "PATH"), cwd))
                .collect();
            let extra = fuse_ld.map(|name| format!("ld.{name}"));
            for name in LINKER_PROGRAMS.iter().copied().chain(extra.as_deref()) {
                let (found, searched) = find_program(OsStr::new(name), cwd, &program_dirs);
                stamps.extend(searched);
                files.extend(found);
            }
            Ok::<_, String>((files, stamps, library_dirs, default_libs, script_env))
        })
        .await
        .map_err(|error| error.to_string())??;
    stamps.extend(more_stamps);
    // gcc reads a `specs` file in its startfile directories: one put there later changes what
    // the driver does, so the probe is made again.
    stamps.extend(library_dirs.iter().map(|dir| stamp(dir.join("specs"))));
    // GNU ld's own search directories (a library `make install` put in `/usr/local/lib` is
    // found there with no `-L`).
    for program in files.iter().filter(|file| may_be_gnu_ld(file)) {
        let ask = |flag: &str| {
            run.send(Run::new(
                program.clone().into_os_string(),
                vec![flag.into()],
                request.cwd.clone(),
                for_probe(&request.env),
            ))
        };
        let (verbose, sysroot) = futures::join!(ask("--verbose"), ask("--print-sysroot"));
        if let (Ok(Ok(verbose)), Ok(Ok(sysroot))) = (verbose, sysroot) {
            if verbose.success() {
                library_dirs.extend(default_search_dirs(&verbose.stdout, &sysroot.stdout));
            }
        }
    }
    let digests = digest
        .send(DigestFiles {
            paths: files.clone(),
        })
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| error.to_string())?;
    let named: Vec<(&OsStr, [u8; 32])> = files
        .iter()
        .map(|path| path.as_os_str())
        .zip(digests)
        .collect();
    Ok(Resolved {
        found: LinkerFound {
            digest: hash_key::driver_digest(&text, &named),
            library_dirs,
            default_libs,
        },
        stamps,
        script_env,
    })
}

/// Whether the linker program at `path` may be GNU ld (`ld`, `ld.bfd`, `real-ld`): its
/// `--verbose` names its default search directories.
fn may_be_gnu_ld(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name == "ld" || name == "ld.bfd" || name == "real-ld")
}

/// The `SEARCH_DIR("...")` directories of GNU ld's default script (its `--verbose`), a leading
/// `=` under `sysroot` (its `--print-sysroot`, empty for none).
fn default_search_dirs(verbose: &[u8], sysroot: &[u8]) -> Vec<PathBuf> {
    let sysroot = sysroot.trim_ascii();
    let mut dirs = Vec::new();
    let mut rest = verbose;
    while let Some(at) = rest
        .windows(12)
        .position(|window| window == b"SEARCH_DIR(\"")
    {
        rest = &rest[at + 12..];
        let Some(end) = rest.iter().position(|&byte| byte == b'"') else {
            break;
        };
        let dir = &rest[..end];
        let dir = match dir.strip_prefix(b"=") {
            Some(under) => [sysroot, under].concat(),
            None => dir.to_vec(),
        };
        dirs.push(PathBuf::from(OsString::from_vec(dir)));
        rest = &rest[end..];
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_depends_on_the_directory_only_through_relative_paths() {
        let request = |linker: &str, env: &[(&str, &str)], fuse_ld: Option<&str>| ProbeLinker {
            linker: linker.into(),
            cwd: "/work".into(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            fuse_ld: fuse_ld.map(Into::into),
        };
        let absolute_path = [("PATH", "/usr/local/bin:/usr/bin")];
        assert!(!depends_on_cwd(&request("cc", &absolute_path, None)));
        assert!(!depends_on_cwd(&request(
            "/usr/bin/cc",
            &absolute_path,
            Some("lld")
        )));
        assert!(depends_on_cwd(&request(
            "./cc-wrapper",
            &absolute_path,
            None
        )));
        assert!(depends_on_cwd(&request(
            "cc",
            &absolute_path,
            Some("./ld.mine")
        )));
        assert!(depends_on_cwd(&request(
            "cc",
            &[("PATH", "bin:/usr/bin")],
            None
        )));
        // An empty entry is the current directory.
        assert!(depends_on_cwd(&request(
            "cc",
            &[("PATH", "/usr/bin::/bin")],
            None
        )));
        assert!(depends_on_cwd(&request(
            "cc",
            &[("PATH", "/usr/bin"), ("LIBRARY_PATH", "lib")],
            None
        )));
        assert!(depends_on_cwd(&request(
            "cc",
            &[("PATH", "/usr/bin"), ("GCC_EXEC_PREFIX", "gcc/")],
            None
        )));
        assert!(depends_on_cwd(&request(
            "cc",
            &[("PATH", "/usr/bin"), ("CCC_OVERRIDE_OPTIONS", "+-v")],
            None
        )));
    }

    #[test]
    fn gnu_ld_s_own_search_directories_are_read_under_its_sysroot() {
        let verbose = b"GNU ld (GNU Binutils) 2.40\n==========\nSEARCH_DIR(\"=/usr/local/lib/x86_64-linux-gnu\"); SEARCH_DIR(\"=/lib64\"); SEARCH_DIR(\"/opt/lib\");\nSECTIONS\n";
        assert_eq!(
            default_search_dirs(verbose, b"\n"),
            ["/usr/local/lib/x86_64-linux-gnu", "/lib64", "/opt/lib"].map(PathBuf::from)
        );
        assert_eq!(
            default_search_dirs(verbose, b"/sysroot\n")[..2],
            ["/sysroot/usr/local/lib/x86_64-linux-gnu", "/sysroot/lib64"].map(PathBuf::from)
        );
        assert!(may_be_gnu_ld(Path::new("/usr/bin/ld")));
        assert!(!may_be_gnu_ld(Path::new("/usr/bin/ld.lld")));
    }

    #[test]
    fn a_link_dry_run_gives_its_library_directories_and_start_files() {
        let output = b"LIBRARY_PATH=/usr/lib/gcc/12/:/lib/x86_64-linux-gnu/\n \
            /usr/lib/gcc/12/collect2 -plugin /usr/lib/gcc/12/liblto_plugin.so \
            \"-plugin-opt=-pass-through=-lgcc\" /usr/lib/x86_64-linux-gnu/Scrt1.o \
            -L/usr/lib/gcc/12 /tmp/p/probe -lgcc\n";
        let (dirs, files, libs) = read_link_dry_run(output, Path::new("/w"));
        assert_eq!(
            dirs,
            [
                "/usr/lib/gcc/12/",
                "/lib/x86_64-linux-gnu/",
                "/usr/lib/gcc/12"
            ]
            .map(PathBuf::from)
        );
        assert_eq!(
            files,
            [
                "/usr/lib/gcc/12/liblto_plugin.so",
                "/usr/lib/x86_64-linux-gnu/Scrt1.o"
            ]
            .map(PathBuf::from)
        );
        assert_eq!(libs, [OsString::from("gcc")]);
        // An empty entry of the user's `LIBRARY_PATH` is the working directory (gcc prints it
        // as `./`), and so is a relative `-L`.
        let (dirs, _, _) = read_link_dry_run(
            b"LIBRARY_PATH=/usr/lib/gcc/12/:./\n ld -L.\n",
            Path::new("/w"),
        );
        assert_eq!(
            dirs,
            ["/usr/lib/gcc/12/", "/w/./", "/w/."].map(PathBuf::from)
        );
        assert_eq!(
            search_list(Some(OsStr::new(":/opt/lib")), Path::new("/w")),
            ["/w", "/opt/lib"].map(PathBuf::from)
        );
    }
}
