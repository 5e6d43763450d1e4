//! The server's `unsafe` calls: registering a descriptor with tokio's reactor, and setting a
//! child's umask, and letting it inherit a client's jobserver, between fork and exec.
//!
//! tokio 1.54 made `AsyncFd` registration `unsafe` (its safe constructors are deprecated as
//! unsound: `AsRawFd` does not promise the descriptor stays open), and nothing else in tokio
//! waits on an arbitrary descriptor's readiness. A command has no umask setting, and the
//! server's own umask is shared by all its threads, so a child that must create files under
//! a client's umask sets it itself (`pre_exec`). Everything else the server asks of the
//! system goes through `rustix` or std.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Registers `descriptor` with this thread's reactor, to be woken when it is readable.
pub fn readable(descriptor: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the AsyncFd owns the OwnedFd, which keeps the descriptor open, naming the same
    // open file, for as long as the AsyncFd lives; nothing else closes it.
    let registered = unsafe { AsyncFd::register_with_interest(descriptor, Interest::READABLE) };
    registered.map_err(io::Error::from)
}

/// Makes `command`'s process run under `umask` (the client's), which it sets between fork and
/// exec. This makes tokio fork instead of `posix_spawn`, so it is only for a umask that
/// differs from the server's own.
pub fn with_umask(command: &mut tokio::process::Command, umask: u32) {
    let mask = rustix::fs::Mode::from_raw_mode(umask & 0o777);
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // calls are allowed; it makes one, umask(2) (rustix's wrapper is a bare system call that
    // neither allocates nor takes a lock), and touches no other state.
    unsafe {
        command.pre_exec(move || {
            rustix::process::umask(mask);
            Ok(())
        });
    }
}

/// Makes `command`'s process inherit `descriptors` at their numbers: they stay close-on-exec in
/// the server (so no other child inherits them) and lose that flag in this child between fork
/// and exec. The caller keeps them open until the process is spawned. This makes tokio fork
/// instead of `posix_spawn`.
pub fn inheriting(command: &mut tokio::process::Command, descriptors: [RawFd; 2]) {
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // calls are allowed; it makes two fcntl(2) calls (rustix's wrappers are bare system calls
    // that neither allocate nor take a lock). The descriptors are open in the child, which got
    // a copy of the server's table while the caller held them open; an error (which would mean
    // one is not) is reported and the spawn fails.
    unsafe {
        command.pre_exec(move || {
            for descriptor in descriptors {
                let descriptor = BorrowedFd::borrow_raw(descriptor);
                rustix::io::fcntl_setfd(descriptor, rustix::io::FdFlags::empty())?;
            }
            Ok(())
        });
    }
}
