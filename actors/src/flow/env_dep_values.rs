//! Keeping the values of a crate's env-deps out of its stored `.d` file.
//!
//! rustc writes `# env-dep:NAME=VALUE` into the dep-info for every variable the crate reads
//! with `env!`/`option_env!`, and cargo reads those lines back. The value may be a secret that
//! no output holds (`option_env!("DEPLOY_TOKEN").is_some()`), and an entry goes to every
//! backend. A stored `.d` holds a placeholder for each value the compile's environment had;
//! a hit writes the value back from its own environment. The key holds every env-dep's value
//! (`hash_key::rust_key`), so a hit's environment has the very values the compile had.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// Stands for a value in a stored `.d`. It holds a NUL, which no environment value can.
const VALUE_PLACEHOLDER: &[u8] = b"\0sccache-env-value\0";

const ENV_DEP: &[u8] = b"# env-dep:";

/// `data` (a `.d` file) with each env-dep's value that is `env`'s value of that variable, as
/// rustc escapes it, replaced by the placeholder. A value that is not `env`'s (none should be)
/// is kept.
pub fn strip(data: &[u8], env: &[(OsString, OsString)]) -> Vec<u8> {
    rewrite(data, |name, value| {
        let current = escaped(lookup(env, name)?)?;
        (value == current.as_slice()).then(|| VALUE_PLACEHOLDER.to_vec())
    })
}

/// `data` (a stored `.d` file) with each placeholder replaced by `env`'s value of its
/// variable, escaped as rustc does (empty should it be unset, which the key rules out).
pub fn refill(data: &[u8], env: &[(OsString, OsString)]) -> Vec<u8> {
    rewrite(data, |name, value| {
        (value == VALUE_PLACEHOLDER)
            .then(|| lookup(env, name).and_then(escaped).unwrap_or_default())
    })
}

/// Rewrites the value of every `# env-dep:NAME=VALUE` line for which `new` gives one.
fn rewrite(data: &[u8], new: impl Fn(&[u8], &[u8]) -> Option<Vec<u8>>) -> Vec<u8> {
    let mut result = Vec::with_capacity(data.len());
    for line in data.split_inclusive(|&byte| byte == b'\n') {
        let (text, end) = match line.strip_suffix(b"\n") {
            Some(text) => (text, &b"\n"[..]),
            None => (line, &b""[..]),
        };
        let replaced = text.strip_prefix(ENV_DEP).and_then(|rest| {
            let at = rest.iter().position(|&byte| byte == b'=')?;
            let (name, value) = (&rest[..at], &rest[at + 1..]);
            new(name, value).map(|value| (name, value))
        });
        match replaced {
            Some((name, value)) => {
                result.extend_from_slice(ENV_DEP);
                result.extend_from_slice(name);
                result.push(b'=');
                result.extend_from_slice(&value);
                result.extend_from_slice(end);
            }
            None => result.extend_from_slice(line),
        }
    }
    result
}

/// The value of the variable whose name rustc wrote as `escaped` in `env` (one setting per
/// name: `request_env::keep_first_settings`).
fn lookup<'a>(env: &'a [(OsString, OsString)], escaped: &[u8]) -> Option<&'a OsStr> {
    let name = sccache_core::compiler::rust::unescape_env_dep(std::str::from_utf8(escaped).ok()?)?;
    env.iter()
        .rev()
        .find(|(key, _)| key.as_bytes() == name.as_bytes())
        .map(|(_, value)| value.as_os_str())
}

/// A value as rustc writes it into a dep-info (`escape_dep_env`: newline, carriage return and
/// backslash escaped); `None` when it is not UTF-8, which rustc does not read as a value.
fn escaped(value: &OsStr) -> Option<Vec<u8>> {
    let value = value.to_str()?;
    let mut escaped = Vec::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'\n' => escaped.extend_from_slice(br"\n"),
            b'\r' => escaped.extend_from_slice(br"\r"),
            b'\\' => escaped.extend_from_slice(br"\\"),
            _ => escaped.push(byte),
        }
    }
    Some(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(name, value)| (name.into(), value.into()))
            .collect()
    }

    const DEP_INFO: &[u8] = b"out/libx.rlib: src/lib.rs\n\nsrc/lib.rs:\n\n\
        # env-dep:TOKEN=s3cr3t\\nline\n# env-dep:UNSET\n# env-dep:OTHER=kept";

    #[test]
    fn a_value_is_kept_out_of_the_stored_file_and_written_back_on_a_hit() {
        let compile = env(&[("TOKEN", "s3cr3t\nline"), ("OTHER", "elsewhere")]);
        let stored = strip(DEP_INFO, &compile);
        assert!(!stored.windows(6).any(|w| w == b"s3cr3t"));
        // A value that is not the environment's stays, as does an unset variable's line.
        assert!(stored.ends_with(b"# env-dep:UNSET\n# env-dep:OTHER=kept"));
        assert_eq!(refill(&stored, &compile), DEP_INFO);
    }
}
