//! Whether a driver or linker is a wrapper (a script, or a program that runs the real driver),
//! and the environment its probe ran in. A driver's remembered dry run is keyed by the
//! variables gcc and clang read (`PATH`, `COMPILER_PATH`, ...), but a wrapper may read any
//! variable (`exec gcc $CC_EXTRA "$@"`, `exec ${REAL_CC:-gcc} "$@"`, a compiled one with
//! `getenv`): its dry run holds only for the environment it ran in, the jobserver's variables
//! and make's nesting depth aside (a new pipe every build).

use crate::remembered::Remembered;
use futures::future::{BoxFuture, LocalBoxFuture};
use sccache_core::compiler::gcc::DryRun;
use sccache_core::jobserver;
use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Whether the file at `path` is a script (starts with `#!`); not when it cannot be read.
fn is_script(path: &Path) -> bool {
    let mut start = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut start))
        .is_ok_and(|()| &start == b"#!")
}

/// Whether the program at `exe` (run as `exe`, from `cwd` with `path_dirs` as its `PATH`) is a
/// wrapper, by what its dry run says: a script; a gcc whose `COLLECT_GCC` (the name it was
/// run by) is another program; a clang whose `InstalledDir` (the directory of the name it was
/// run by) is not `exe`'s; or a
/// driver that says neither. A wrapper that runs gcc under its own name is not seen.
pub fn is_wrapper(exe: &Path, dry_run: &DryRun, cwd: &Path, path_dirs: &[PathBuf]) -> bool {
    if is_script(exe) {
        return true;
    }
    let Ok(real) = std::fs::canonicalize(exe) else {
        return true;
    };
    let same = |path: &Path| std::fs::canonicalize(path).is_ok_and(|other| other == real);
    if let Some(name) = &dry_run.invoked_as {
        let name = Path::new(name);
        if name.as_os_str().as_bytes().contains(&b'/') {
            return !same(&cwd.join(name));
        }
        let found = path_dirs
            .iter()
            .map(|dir| dir.join(name))
            .find(|path| path.is_file());
        return !found.is_some_and(|path| same(&path));
    }
    if let Some(dir) = &dry_run.installed_dir {
        // The directory of the name clang was run by (links not followed).
        let installed = std::fs::canonicalize(cwd.join(dir));
        let ran_from = exe
            .parent()
            .map(|parent| std::fs::canonicalize(cwd.join(parent)));
        return !matches!((installed, ran_from), (Ok(a), Some(Ok(b))) if a == b);
    }
    true
}

/// The programs a prober found to be wrappers, so that their probes are remembered per
/// environment (part of the key) rather than made again whenever the environment differs from
/// the last request's: cargo gives each crate its own `CARGO_*` variables. Held by one actor
/// and the futures it runs, on its thread.
#[derive(Clone, Default)]
struct Wrappers(std::rc::Rc<std::cell::RefCell<std::collections::HashSet<OsString>>>);

/// How many wrappers a prober remembers (then it forgets them all and learns them again).
const WRAPPERS_LIMIT: usize = 256;

impl Wrappers {
    /// The fingerprint of `env` for a key of `program`'s probe, when it is a known wrapper.
    fn environment(&self, program: &OsString, env: &[(OsString, OsString)]) -> Option<u64> {
        self.0.borrow().contains(program).then(|| fingerprint(env))
    }

    /// `program` is a wrapper.
    fn learn(&self, program: &OsString) {
        let mut known = self.0.borrow_mut();
        if known.len() >= WRAPPERS_LIMIT && !known.contains(program) {
            known.clear();
        }
        known.insert(program.clone());
    }
}

/// An answer a wrapper-aware prober remembers: the environment its probe ran in, when the
/// program proved a wrapper (`fingerprint`), else `None`.
pub trait RanIn {
    fn ran_in(&self) -> Option<u64>;
}

/// A prober's remembered probes (the driver's and the linker's), with the wrapper handling
/// both share: a known wrapper's probes are remembered per environment (`in_key`), an answer
/// that ran in another one is stale (`ran_elsewhere`), and a request that joined a probe made
/// for another environment at the same time gets one of its own.
pub struct WrapperProbes<K, R> {
    known: Remembered<K, R>,
    wrappers: Wrappers,
}

impl<K: Eq + Hash, R: Clone + RanIn + Send + Sync + 'static> WrapperProbes<K, R> {
    pub fn new(limit: usize) -> Self {
        WrapperProbes {
            known: Remembered::new(limit),
            wrappers: Wrappers::default(),
        }
    }

    /// The answer for `program` run in `env`: remembered under `key` (its environment part
    /// set by `with_env`), made again by `probe` when `holds` says the files it was taken from
    /// changed or it ran in another environment.
    pub fn answer(
        &mut self,
        key: K,
        with_env: impl FnOnce(K, Option<u64>) -> K,
        program: &OsString,
        env: &[(OsString, OsString)],
        holds: impl FnOnce(&R) -> bool,
        probe: impl Fn() -> BoxFuture<'static, Result<R, String>> + 'static,
    ) -> LocalBoxFuture<'static, Result<R, String>> {
        let first = self.known.answer(&key).map(RanIn::ran_in);
        let key = with_env(key, in_key(self.wrappers.environment(program, env), first));
        let stale = |answer: &R| !holds(answer) || ran_elsewhere(answer.ran_in(), env);
        let shared = self.known.get_or_probe(key, stale, &probe);
        let (wrappers, program, env) = (self.wrappers.clone(), program.clone(), env.to_vec());
        Box::pin(async move {
            let answer = shared.await?;
            if answer.ran_in().is_some() {
                wrappers.learn(&program);
            }
            if ran_elsewhere(answer.ran_in(), &env) {
                // Joined a probe made for a request of another environment at the same time.
                return probe().await;
            }
            Ok(answer)
        })
    }
}

/// The environment part of a wrapper's probe key: `fingerprint` (`Wrappers::environment`),
/// unless the wrapper's first probe, remembered before it was known for one (without an
/// environment in its key), ran in that very environment (`first`, its answer's
/// fingerprint) and so serves it.
fn in_key(fingerprint: Option<u64>, first: Option<Option<u64>>) -> Option<u64> {
    fingerprint.filter(|fingerprint| first != Some(Some(*fingerprint)))
}

/// Whether a probe that ran in the environment `ran_in` (a wrapper's; `None` for any other
/// program) does not hold for `env`.
fn ran_elsewhere(ran_in: Option<u64>, env: &[(OsString, OsString)]) -> bool {
    ran_in.is_some_and(|ran_in| ran_in != fingerprint(env))
}

/// A fingerprint of `env` as a script sees it: every variable in order of name, but the
/// jobserver's and `MAKELEVEL`. For this server's memory only.
pub fn fingerprint(env: &[(OsString, OsString)]) -> u64 {
    let mut pairs: Vec<&(OsString, OsString)> = env
        .iter()
        .filter(|(name, _)| name != "MAKELEVEL" && !jobserver::VARS.iter().any(|var| name == var))
        .collect();
    pairs.sort();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    pairs.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dry run of `exe` on an empty C file, as the driver prober reads it.
    fn dry_run(exe: &Path, dir: &Path) -> DryRun {
        std::fs::write(dir.join("p.c"), "").unwrap();
        let output = std::process::Command::new(exe)
            .args(["-###", "-c", "p.c", "-o", "p.o"])
            .current_dir(dir)
            .output()
            .unwrap();
        DryRun::read(&output.stderr, dir.as_os_str(), dir.as_os_str())
    }

    #[test]
    fn the_real_drivers_are_no_wrappers_and_a_script_that_runs_one_is() {
        let dir = tempfile::tempdir().unwrap();
        let path_dirs: Vec<PathBuf> =
            std::env::split_paths(&std::env::var_os("PATH").unwrap()).collect();
        let find = |name: &str| path_dirs.iter().map(|d| d.join(name)).find(|p| p.is_file());
        for name in ["gcc", "cc", "clang"] {
            let Some(exe) = find(name) else { continue };
            let run = dry_run(&exe, dir.path());
            assert!(
                !is_wrapper(&exe, &run, dir.path(), &path_dirs),
                "{exe:?}: {run:?}"
            );
        }
        let script = dir.path().join("mycc");
        std::fs::write(&script, "#!/bin/sh\nexec gcc \"$@\"\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let run = dry_run(&script, dir.path());
        assert!(is_wrapper(&script, &run, dir.path(), &path_dirs));
    }

    #[test]
    fn a_script_is_told_by_its_first_bytes_and_its_environment_by_every_variable() {
        let dir = tempfile::tempdir().unwrap();
        let (script, binary) = (dir.path().join("cc"), dir.path().join("gcc"));
        std::fs::write(&script, "#!/bin/sh\nexec gcc \"$@\"\n").unwrap();
        std::fs::write(&binary, b"\x7fELF").unwrap();
        assert!(is_script(&script) && !is_script(&binary) && !is_script(&dir.path().join("no")));
        let env = |pairs: &[(&str, &str)]| -> Vec<(OsString, OsString)> {
            pairs.iter().map(|(n, v)| (n.into(), v.into())).collect()
        };
        let base = fingerprint(&env(&[("CC_EXTRA", "-O2"), ("PATH", "/bin")]));
        assert_eq!(
            base,
            fingerprint(&env(&[("PATH", "/bin"), ("CC_EXTRA", "-O2")]))
        );
        assert_ne!(
            base,
            fingerprint(&env(&[("CC_EXTRA", "-O0"), ("PATH", "/bin")]))
        );
        let with_make = env(&[
            ("CC_EXTRA", "-O2"),
            ("PATH", "/bin"),
            ("MAKEFLAGS", "-j2 --jobserver-auth=3,4"),
        ]);
        assert_eq!(base, fingerprint(&with_make));
    }
}
