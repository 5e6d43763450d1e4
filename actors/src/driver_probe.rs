//! The driver prober: what a gcc/clang driver runs and reads for a compile, for the key.
//!
//! The driver named on the command line is not what compiles: it runs `cc1`/`cc1plus` (gcc)
//! or its real binary (clang, behind any wrapper script), and `as`, found through `-B`,
//! `COMPILER_PATH`, `GCC_EXEC_PREFIX` and `PATH`; clang reads configuration files beside
//! itself; `-march=native` becomes this CPU's flags. The prober asks the driver itself with a
//! dry run (`-###`, `DryRun` in sccache-core), digests every program and configuration file it
//! names, and hands back one digest for the key (`hash_key::driver_digest`).
//!
//! A dry run is remembered per driver, language, driver arguments and the environment that
//! steers the search, and is only as good as the files it found: each request stats them
//! again, and also the places searched before them (a new `as` earlier on `PATH` is run
//! instead), so a replaced program is probed again. A hit runs no process: stats only, on the
//! event loop, as the detector does. The probe's files are written, and the programs found,
//! on the blocking pool.

use crate::dispatcher::Run;
use crate::file_stamp::{stamp, unchanged, PathStamp};
use crate::flow::request_env::{for_probe, lookup as env_value};
use crate::hasher::DigestFiles;
use crate::script_env;
use actix::prelude::*;
use futures::future::FutureExt;
use sccache_core::compiler::gcc::{program_dirs, DryRun};
use sccache_core::hash_key;
use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Variables that change where the driver finds its programs or what it passes them.
const PROBE_ENV_VARS: &[&str] = &[
    "PATH",
    "COMPILER_PATH",
    "GCC_EXEC_PREFIX",
    "CCC_OVERRIDE_OPTIONS",
    "CLANG_CONFIG_FILE_SYSTEM_DIR",
    "CLANG_CONFIG_FILE_USER_DIR",
    "LANG",
    "LC_ALL",
    "LC_MESSAGES",
    // gcc reads a `specs` file from the first of its startfile directories holding one, and
    // `LIBRARY_PATH`'s are among them.
    "LIBRARY_PATH",
];

/// What the driver at `exe` runs for a compile of `language` with `driver_args`, as the client
/// would run it from `cwd` with `env`. Answers the digest for `CompilerIdentity::with_driver`,
/// or why it is unknown (the compile is then not cached).
#[derive(Message, Clone)]
#[rtype(result = "Result<[u8; 32], String>")]
pub struct ProbeDriver {
    pub exe: OsString,
    pub cwd: OsString,
    pub env: Vec<(OsString, OsString)>,
    pub driver_args: Vec<OsString>,
    pub language: &'static str,
}

/// A dry run's digest and the files it depends on, as they stood.
#[derive(Clone)]
struct Resolved {
    digest: [u8; 32],
    files: Vec<PathStamp>,
    /// For a driver that is a script, the environment it ran in (`script_env`).
    script_env: Option<u64>,
}

/// Everything a dry run depends on besides the files it names.
#[derive(Clone, PartialEq, Eq, Hash)]
struct ProbeKey {
    exe: OsString,
    language: &'static str,
    driver_args: Vec<OsString>,
    env: Vec<Option<OsString>>,
    /// Only when a search path is relative to it.
    cwd: Option<OsString>,
    /// For a known wrapper, the environment (`script_env::Wrappers`).
    wrapper_env: Option<u64>,
}

impl ProbeKey {
    fn of(request: &ProbeDriver) -> ProbeKey {
        let env: Vec<Option<OsString>> = PROBE_ENV_VARS
            .iter()
            .map(|name| env_value(&request.env, name).map(OsStr::to_owned))
            .collect();
        let relative = |path: &[u8]| !path.starts_with(b"/");
        let relative_search = program_dirs(&request.driver_args)
            .iter()
            .any(|dir| relative(dir.as_bytes()))
            || ["PATH", "COMPILER_PATH", "LIBRARY_PATH"]
                .into_iter()
                .filter_map(|name| env_value(&request.env, name))
                .any(|list| list.as_bytes().split(|byte| *byte == b':').any(relative));
        ProbeKey {
            exe: request.exe.clone(),
            language: request.language,
            driver_args: request.driver_args.clone(),
            env,
            cwd: relative_search.then(|| request.cwd.clone()),
            wrapper_env: None,
        }
    }
}

/// The probing actor.
pub struct DriverProber {
    run: Recipient<Run>,
    digest: Recipient<DigestFiles>,
    known: script_env::WrapperProbes<ProbeKey, Resolved>,
}

impl DriverProber {
    pub fn new(run: Recipient<Run>, digest: Recipient<DigestFiles>) -> Self {
        DriverProber {
            run,
            digest,
            known: script_env::WrapperProbes::new(KNOWN_DRY_RUNS_LIMIT),
        }
    }
}

impl Actor for DriverProber {
    type Context = Context<Self>;
}

const KNOWN_DRY_RUNS_LIMIT: usize = 1024;

impl Handler<ProbeDriver> for DriverProber {
    type Result = ResponseFuture<Result<[u8; 32], String>>;

    fn handle(&mut self, request: ProbeDriver, _: &mut Context<Self>) -> Self::Result {
        let key = ProbeKey::of(&request);
        // A program replaced since (or one put earlier on the search path) needs a new dry
        // run, and so does one that failed (a spawn refused under load is not a verdict).
        let (run, digest) = (self.run.clone(), self.digest.clone());
        let (exe, env) = (request.exe.clone(), request.env.clone());
        let answer = self.known.answer(
            key,
            |key, wrapper_env| ProbeKey { wrapper_env, ..key },
            &exe,
            &env,
            |resolved| unchanged(&resolved.files),
            move || probe(run.clone(), digest.clone(), request.clone()).boxed(),
        );
        Box::pin(async move { answer.await.map(|resolved| resolved.digest) })
    }
}

impl script_env::RanIn for Resolved {
    fn ran_in(&self) -> Option<u64> {
        self.script_env
    }
}

/// A private directory with the dry run's (empty) input: clang wants its input to exist.
fn make_probe_dir() -> Result<(tempfile::TempDir, PathBuf), String> {
    let dir = crate::private_dir::make("sccache-driver")
        .map_err(|error| format!("cannot create a probe directory: {error}"))?;
    let input = dir.path().join("probe");
    std::fs::write(&input, b"").map_err(|error| format!("cannot write a probe: {error}"))?;
    Ok((dir, input))
}

async fn probe(
    run: Recipient<Run>,
    digest: Recipient<DigestFiles>,
    request: ProbeDriver,
) -> Result<Resolved, String> {
    let (dir, input) = tokio::task::spawn_blocking(make_probe_dir)
        .await
        .map_err(|error| format!("cannot write a probe: {error}"))??;
    let dir_path = dir.path().as_os_str().to_owned();
    let mut args = request.driver_args.clone();
    args.extend(["-###", "-x", request.language, "-c"].map(OsString::from));
    args.push(input.into_os_string());
    args.push("-o".into());
    args.push(dir.path().join("probe.o").into_os_string());
    // gcc names its temporary files after TMPDIR; in the probe's directory they are recognised
    // and taken out of the text.
    let mut env: Vec<(OsString, OsString)> = for_probe(&request.env)
        .into_iter()
        .filter(|(name, _)| name != "TMPDIR")
        .collect();
    env.push(("TMPDIR".into(), dir_path.clone()));
    let output = run
        .send(Run::new(
            request.exe.clone(),
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
        return Err(format!("{:?} -### failed", request.exe));
    }
    let dry_run = DryRun::read(&output.stderr, &dir_path, &request.cwd);
    let text = dry_run.text.clone();
    let clang_dirs = with_parents(&dry_run.system_dirs);
    let startfile_dirs = match clang_dirs.is_empty() {
        true => startfile_dirs(&run, &request).await,
        false => Vec::new(),
    };
    let (files, stamps, script_env) = tokio::task::spawn_blocking(move || {
        let cwd = Path::new(&request.cwd);
        let script_env = script_env::is_wrapper(
            &cwd.join(&request.exe),
            &dry_run,
            cwd,
            &dirs_of(&request, "PATH"),
        )
        .then(|| script_env::fingerprint(&request.env));
        let (files, mut stamps) = resolve(&dry_run, &request)?;
        // clang puts some system directories on the search list only if they exist (a
        // multiarch directory, the C++ library of the newest GCC installation it finds under
        // `lib/gcc/<triple>/`): one made later changes the list, so the dry run is made again
        // when any of the listed directories or their parents changes.
        stamps.extend(clang_dirs.into_iter().map(stamp));
        // gcc reads a `specs` file from the first of its startfile directories that has one
        // (its own library directory among them): one put there later changes what the
        // driver does, so the dry run is made again.
        stamps.extend(startfile_dirs.iter().map(|dir| stamp(dir.join("specs"))));
        Ok::<_, String>((files, stamps, script_env))
    })
    .await
    .map_err(|error| format!("cannot find the driver's programs: {error}"))??;
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
        digest: hash_key::driver_digest(&text, &named),
        files: stamps,
        script_env,
    })
}

/// Every directory of clang's listed system include directories and every directory above
/// each (by name as clang spelled it, `..` included).
fn with_parents(dirs: &[OsString]) -> BTreeSet<PathBuf> {
    let mut all = BTreeSet::new();
    for dir in dirs {
        let mut dir = Some(Path::new(dir));
        while let Some(path) = dir.filter(|path| !path.as_os_str().is_empty()) {
            all.insert(path.to_path_buf());
            dir = path.parent();
        }
    }
    all
}

/// The driver's startfile directories (the `libraries: =` line of `-print-search-dirs`, run with
/// the request's driver arguments), relative ones joined to the working directory; none when
/// the driver does not say.
async fn startfile_dirs(run: &Recipient<Run>, request: &ProbeDriver) -> Vec<PathBuf> {
    let mut args = request.driver_args.clone();
    args.push("-print-search-dirs".into());
    let output = run
        .send(Run::new(
            request.exe.clone(),
            args,
            request.cwd.clone(),
            for_probe(&request.env),
        ))
        .await;
    let Ok(Ok(output)) = output else {
        return Vec::new();
    };
    let cwd = Path::new(&request.cwd);
    output
        .stdout
        .split(|byte| *byte == b'\n')
        .find_map(|line| line.strip_prefix(b"libraries: ="))
        .map(|list| {
            list.split(|byte| *byte == b':')
                .filter(|dir| !dir.is_empty())
                .map(|dir| cwd.join(OsStr::from_bytes(dir)))
                .collect()
        })
        .unwrap_or_default()
}

/// The directories of a `:`-separated list variable of the request's environment, relative
/// ones joined to its working directory (an empty entry is the working directory itself).
fn dirs_of(request: &ProbeDriver, name: &str) -> Vec<PathBuf> {
    let cwd = Path::new(&request.cwd);
    env_value(&request.env, name)
        .map(|list| {
            list.as_bytes()
                .split(|byte| *byte == b':')
                .map(|dir| cwd.join(OsStr::from_bytes(dir)))
                .collect()
        })
        .unwrap_or_default()
}

/// The files a dry run runs or reads (to digest), and the stamps to check on every request:
/// the driver, its directory (where clang looks for configuration files), each program and
/// every place searched before it, `specs` in `-B` and `LIBRARY_PATH` directories,
/// configuration files.
pub(crate) fn resolve(
    dry_run: &DryRun,
    request: &ProbeDriver,
) -> Result<(Vec<PathBuf>, Vec<PathStamp>), String> {
    let cwd = Path::new(&request.cwd);
    let exe = cwd.join(&request.exe);
    let path_dirs = dirs_of(request, "PATH");
    let b_dirs: Vec<PathBuf> = program_dirs(&request.driver_args)
        .iter()
        .map(|dir| cwd.join(dir))
        .collect();
    let search_dirs: Vec<PathBuf> = dry_run
        .search_dirs
        .iter()
        .map(|dir| cwd.join(dir))
        .collect();
    let mut files = Vec::new();
    let mut stamps = vec![stamp(exe.clone())];
    stamps.extend(exe.parent().map(|dir| stamp(dir.to_path_buf())));
    for program in &dry_run.programs {
        let name = Path::new(program)
            .file_name()
            .ok_or_else(|| format!("the driver runs {program:?}"))?;
        let found = if program.as_bytes().contains(&b'/') {
            Some(cwd.join(program))
        } else {
            path_dirs
                .iter()
                .map(|dir| dir.join(program))
                .find(|path| path.is_file())
        };
        let found = found.ok_or_else(|| format!("the driver runs {program:?}, not on PATH"))?;
        // Where the driver or `execvp` looks before: a program put there later runs instead.
        for dir in b_dirs.iter().chain(&search_dirs).chain(&path_dirs) {
            if Some(dir.as_path()) == found.parent() {
                break;
            }
            stamps.push(stamp(dir.join(name)));
        }
        stamps.push(stamp(found.clone()));
        files.push(found);
    }
    stamps.extend(b_dirs.iter().map(|dir| stamp(dir.join("specs"))));
    let library_dirs = dirs_of(request, "LIBRARY_PATH");
    stamps.extend(library_dirs.iter().map(|dir| stamp(dir.join("specs"))));
    for file in &dry_run.config_files {
        let path = cwd.join(file);
        stamps.push(stamp(path.clone()));
        files.push(path);
    }
    Ok((files, stamps))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(env: &[(&str, &str)], driver_args: &[&str]) -> ProbeDriver {
        ProbeDriver {
            exe: "/usr/bin/gcc".into(),
            cwd: "/work".into(),
            env: env.iter().map(|(k, v)| (k.into(), v.into())).collect(),
            driver_args: driver_args.iter().map(OsString::from).collect(),
            language: "c",
        }
    }

    #[test]
    fn the_cwd_counts_only_for_a_relative_search_path() {
        assert!(ProbeKey::of(&request(&[("PATH", "/usr/bin")], &[]))
            .cwd
            .is_none());
        assert!(ProbeKey::of(&request(&[("PATH", "bin:/usr/bin")], &[]))
            .cwd
            .is_some());
        assert!(ProbeKey::of(&request(&[], &["-Btools"])).cwd.is_some());
        assert!(ProbeKey::of(&request(&[], &["-B/opt/tools"])).cwd.is_none());
    }

    #[test]
    fn a_bare_program_is_found_on_path_and_the_places_before_it_are_watched() {
        let root = tempfile::tempdir().unwrap();
        let (early, late) = (root.path().join("early"), root.path().join("late"));
        std::fs::create_dir_all(&early).unwrap();
        std::fs::create_dir_all(&late).unwrap();
        std::fs::write(late.join("as"), b"").unwrap();
        let path = format!("{}:{}", early.display(), late.display());
        let dry_run = DryRun {
            programs: vec!["as".into()],
            ..DryRun::default()
        };
        let (files, stamps) = resolve(&dry_run, &request(&[("PATH", &path)], &[])).unwrap();
        assert_eq!(files, vec![late.join("as")]);
        assert!(stamps.contains(&(early.join("as"), None)));
        assert!(unchanged(&stamps));
        std::fs::write(early.join("as"), b"").unwrap();
        assert!(!unchanged(&stamps));
    }
}
