//! The system-level steps that neither std nor rustix offers safely: running code in the
//! child between fork and exec (to give the daemon its own session from its first
//! instruction), restoring signals' default actions (in order to die by one, and in the
//! daemon, so that the compilers it runs can be interrupted), and borrowing a descriptor this
//! process inherited by its number (a jobserver's).
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

/// Restores the default action of the signals that interrupt a compile (SIGINT, SIGTERM,
/// SIGHUP), which the daemon may have inherited as ignored (a build started in the background
/// by a shell ignores SIGINT). Only an explicit kill reaches the daemon, in a session of its
/// own, so this changes nothing for it; it matters for the compilers it runs, which inherit
/// the actions.
pub fn restore_interrupt_actions() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installing the default action for a valid signal number runs no handler
        // and touches no Rust state.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
        }
    }
}

/// Closes every descriptor above stderr that this process inherited: the daemon outlives the
/// client that started it, and a descriptor it kept (a pipe a build's output goes to, as in
/// `make 2>&1 | tee log`, a jobserver, a lock) would keep whoever waits on its other end
/// waiting until the server exits. Call it first thing, before this process opens anything.
pub fn close_inherited_descriptors() {
    let inherited: Vec<i32> = match std::fs::read_dir("/proc/self/fd") {
        // Collected whole first: the listing's own descriptor is closed when it is dropped.
        Ok(listing) => listing
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
            .collect(),
        // Without /proc: the descriptors a default limit allows.
        Err(_) => (3..1024).collect(),
    };
    for descriptor in inherited.into_iter().filter(|&descriptor| descriptor > 2) {
        // SAFETY: this runs at the daemon's start, before it opens anything: no Rust object
        // owns or uses any descriptor above 2, so closing them invalidates nothing. The
        // listing's own descriptor is already closed; closing it again fails harmlessly
        // (EBADF), as does closing a number that is not open. (libc's close reports that;
        // rustix's treats it as a bug.)
        unsafe {
            libc::close(descriptor);
        }
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

/// The descriptor numbered `number` that this process inherited, when it is open.
pub fn inherited_descriptor(
    number: std::os::fd::RawFd,
) -> Option<std::os::fd::BorrowedFd<'static>> {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    if number < 0 || unsafe { libc::fcntl(number, libc::F_GETFD) } == -1 {
        return None;
    }
    // SAFETY: the descriptor is open (just checked). The client closes only descriptors it
    // opened itself, and it asks for inherited ones before opening any it later closes, so
    // this one stays open, naming the same file, for the rest of the process.
    Some(unsafe { std::os::fd::BorrowedFd::borrow_raw(number) })
}
