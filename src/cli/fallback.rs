//! Ending a compile the way the compiler would have: run it locally with this process's stdio,
//! or replay a result the server sent; then exit with the compiler's code or die by its signal.
//!
//! Invariant: whatever happens to the server, the user's build sees the compiler's own output
//! and status. This module prints nothing of its own except when the compiler cannot be run.

use sccache_core::protocol::CompileFinished;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus};

/// The exit code when the compiler could not be run at all.
const CANNOT_RUN: i32 = 2;

/// Runs the compiler here, with inherited stdin/stdout/stderr, working directory and
/// environment, and returns the code this process should exit with (after dying by the
/// compiler's signal if one ended it).
pub fn run_locally(exe: &Path, args: &[OsString]) -> i32 {
    match Command::new(exe).args(args).status() {
        Ok(status) => exit_code(status),
        Err(error) => {
            eprintln!("sccache: cannot run compiler {}: {error}", exe.display());
            CANNOT_RUN
        }
    }
}

/// Writes the server's result to this process's stdout and stderr, byte for byte, and returns
/// the code to exit with (after dying by the compiler's signal if one ended it).
pub fn replay(finished: CompileFinished) -> i32 {
    // A closed stdout or stderr must not change the compile's status: the compiler itself
    // would not have failed differently, so write errors are ignored.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(&finished.stdout);
    let _ = stdout.flush();
    drop(stdout);
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(&finished.stderr);
    let _ = stderr.flush();
    drop(stderr);
    match (finished.signal, finished.exit_code) {
        (Some(signal), _) => die_by_signal(signal),
        (None, Some(code)) => code,
        // Neither a code nor a signal: the compile did not succeed in any known way.
        (None, None) => 1,
    }
}

fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => die_by_signal(signal),
        (None, None) => 1,
    }
}

/// Ends this process by `signal`, as the compiler ended, so a parent such as make sees the same
/// termination. Returns the shell's convention `128 + signal` if the process survives (the
/// signal was not one that kills, or is out of range).
pub fn die_by_signal(signal: i32) -> i32 {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    if (1..=64).contains(&signal) {
        crate::sys::raise_with_default_action(signal);
    }
    128_i32.saturating_add(signal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_run_returns_the_compilers_exit_code() {
        let code = run_locally(Path::new("/bin/sh"), &["-c".into(), "exit 7".into()]);
        assert_eq!(code, 7);
    }

    #[test]
    fn a_missing_compiler_is_reported_not_panicked() {
        assert_eq!(run_locally(Path::new("/nonexistent/cc"), &[]), CANNOT_RUN);
    }

    #[test]
    fn replay_returns_the_exit_code() {
        let finished = CompileFinished {
            exit_code: Some(3),
            ..CompileFinished::default()
        };
        assert_eq!(replay(finished), 3);
    }
}
