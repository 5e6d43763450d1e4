//! Whether a driver or linker is a script, and the environment its probe ran in. A program's
//! remembered dry run is keyed by the variables the compiler drivers read (`PATH`,
//! `COMPILER_PATH`, ...), but a script may read any variable (`exec gcc $CC_EXTRA "$@"`,
//! `exec ${REAL_CC:-gcc} "$@"`): its dry run holds only for the environment it ran in, the
//! jobserver's variables and make's nesting depth aside (a new pipe every build).

use sccache_core::jobserver;
use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::Path;

/// Whether the file at `path` is a script (starts with `#!`); not when it cannot be read.
pub fn is_script(path: &Path) -> bool {
    let mut start = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut start))
        .is_ok_and(|()| &start == b"#!")
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
