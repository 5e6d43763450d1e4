//! The two system-level steps that neither std nor rustix offers safely: running code in the
//! child between fork and exec (to give the daemon its own session from its first
//! instruction), and restoring a signal's default action in order to die by it.
//!
//! Boundary: apart from `process_start` (start-up code that must stay raw), this is the only
//! module of the binary with `unsafe`; every other system call goes through rustix or std.
//! Each block here says why it is sound. This module decides nothing: callers choose when.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes `command`'s child leave this process's session (setsid) before it execs, so the
/// terminal's Ctrl-C and hang-up never reach it, not even while it starts. Its failure (the
/// child already leads a session) is harmless and ignored.
pub fn in_own_session(command: &mut Command) -> &mut Command {
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe work is allowed. rustix's setsid is a single system call that
    // allocates nothing, takes no lock and touches no memory of the parent's.
    unsafe {
        command.pre_exec(|| {
            let _ = rustix::process::setsid();
            Ok(())
        })
    }
}

/// Raises `signal` at this thread with its default action restored and the signal unblocked,
/// so that a signal that kills ends the process as the compiler ended. Returns if the process
/// survives it (a signal whose default action is to be ignored).
pub fn raise_with_default_action(signal: i32) {
    // SAFETY: the calls take a signal number (the caller checked its range) and a signal set
    // that lives on this stack for the duration of the calls; they touch no Rust state, and
    // the action installed is the default one, so no handler can run Rust code.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}
