//! Which failed rustc compiles may be cached: those whose every error is one the key decides
//! whatever else is on disk.
//!
//! A build script probes the compiler for unstable features by compiling a small file with a
//! `#![feature(...)]` attribute (proc-macro2, anyhow, thiserror do this through
//! `RUSTC_WRAPPER`), on every build, and on a stable compiler the probe fails with E0554
//! (`#![feature]` may not be used on the stable release channel). That error depends on the
//! compiler's channel (its identity), `RUSTC_BOOTSTRAP` (in every rust key), `-Z` options
//! (the command line) and the source's attributes (the dep-info's files): nothing the key
//! lacks. rustc goes on past it, so the dep-info the compile wrote lists every file its
//! expansion read.
//!
//! Any other error may come from something the dep-info does not list (a `mod` file or a
//! crate not found, an unreadable `include_str!`, a linker, memory), so a failure is cached
//! only when E0554 is its only error, in rustc's human format without colour (the only one
//! read here), with rustc's error exit status. Everything else fails again by compiling, as
//! before.

/// rustc's exit status for a compile that reported errors.
const ERRORS_REPORTED: i32 = 1;

/// The error a failure may be cached for.
const CACHEABLE_ERROR: &str = "error[E0554]: ";

/// rustc's closing line after errors (`error: aborting due to 1 previous error`).
const ABORTING: &str = "error: aborting due to ";

/// Why a failed compile may not be cached, or `Ok` when it may: `exit_code` is the compile's
/// exit status, `error_format` its `--error-format` value.
pub fn cacheable_failure(
    exit_code: i32,
    stderr: &[u8],
    error_format: Option<&str>,
) -> Result<(), &'static str> {
    if exit_code != ERRORS_REPORTED {
        return Err("failed with an unexpected exit status");
    }
    if !matches!(error_format, None | Some("human")) {
        return Err("failed, errors not in plain human format");
    }
    // Colour (`--color=always`): an escape sequence could hide an error line's start from the
    // reading below.
    if stderr.contains(&0x1b) {
        return Err("failed, errors not in plain human format");
    }
    let text = std::str::from_utf8(stderr).map_err(|_| "failed, errors not UTF-8")?;
    let mut cacheable = 0;
    for line in text.lines().filter(|line| line.starts_with("error")) {
        if line.starts_with(CACHEABLE_ERROR) {
            cacheable += 1;
        } else if !line.starts_with(ABORTING) {
            return Err("failed with an error the key may not decide");
        }
    }
    if cacheable == 0 {
        return Err("failed with an error the key may not decide");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROBE: &str = "error[E0554]: `#![feature]` may not be used on the stable release channel
 --> src/nightly.rs:5:33
  |
5 | #![cfg_attr(anyhow_build_probe, feature(error_generic_member_access))]
  |                                 ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^

error: aborting due to 1 previous error

For more information about this error, try `rustc --explain E0554`.
";

    #[test]
    fn a_stable_compilers_feature_probe_may_be_cached() {
        assert_eq!(cacheable_failure(1, PROBE.as_bytes(), None), Ok(()));
        assert_eq!(
            cacheable_failure(1, PROBE.as_bytes(), Some("human")),
            Ok(())
        );
        // Warnings beside it change nothing.
        let warned = format!("warning: unused variable: `x`\n{PROBE}");
        assert_eq!(cacheable_failure(1, warned.as_bytes(), None), Ok(()));
    }

    #[test]
    fn any_other_error_beside_it_is_refused() {
        for other in [
            "error[E0583]: file not found for module `a`\n",
            "error[E0463]: can't find crate for `serde`\n",
            "error: couldn't read `src/x.txt`: No such file or directory (os error 2)\n",
            "error: linking with `cc` failed: exit status: 1\n",
            "error: internal compiler error: unexpected panic\n",
        ] {
            let both = format!("{other}{PROBE}");
            assert!(
                cacheable_failure(1, both.as_bytes(), None).is_err(),
                "{other}"
            );
        }
    }

    #[test]
    fn no_error_read_or_another_status_or_format_is_refused() {
        assert!(cacheable_failure(1, b"", None).is_err());
        assert!(cacheable_failure(1, b"error: aborting due to 1 previous error\n", None).is_err());
        assert!(cacheable_failure(101, PROBE.as_bytes(), None).is_err());
        assert!(cacheable_failure(1, PROBE.as_bytes(), Some("json")).is_err());
        assert!(cacheable_failure(1, PROBE.as_bytes(), Some("short")).is_err());
        let coloured = format!("\x1b[1m\x1b[91merror[E0583]\x1b[0m: file not found\n{PROBE}");
        assert!(cacheable_failure(1, coloured.as_bytes(), None).is_err());
        assert!(cacheable_failure(1, b"error[E0554]: \xff\n", None).is_err());
    }
}
