//! The process's start, done here instead of by Rust's runtime (the binary is `#![no_main]`).
//!
//! Every compile of a build runs this binary once, so its start is on the path of every hit.
//! Rust's runtime setup costs a measurable part of a hit (bench/README.md), most of it finding the main thread's
//! stack bounds for the stack-overflow message (glibc reads all of `/proc/self/maps` for that)
//! and installing that handler. This module keeps the two parts of that setup that change what
//! the program does, and leaves the rest:
//! - standard descriptors 0-2 that are closed are opened on `/dev/null`, so that a socket or
//!   file this process opens never becomes "stdout" (a build tool may start us with them
//!   closed);
//! - `SIGPIPE` is ignored, so writing to a closed pipe or socket is an `EPIPE` error the code
//!   handles rather than death.
//!
//! Left out: the stack-overflow message (an overflow is still a crash, reported as `SIGSEGV`)
//! and the main thread's name in panic messages. Arguments and the environment need no setup
//! (glibc hands them to std itself; elsewhere the binary keeps Rust's entry point). A panic
//! still prints its message and exits 101, as `main.rs` catches it where the runtime would.

use std::os::raw::c_int;

/// Prepares the process as described in the module documentation. Call it first thing.
pub fn prepare() {
    open_missing_standard_descriptors();
    // SAFETY: setting a signal's disposition to "ignore" has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// Opens `/dev/null` on each of descriptors 0-2 that is closed, lowest first, as the runtime
/// does. Aborts if that fails: running on with a hole there is worse.
fn open_missing_standard_descriptors() {
    let mut descriptors = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: the pointer and the count describe the array; a zero timeout does not block.
    let polled = unsafe { libc::poll(descriptors.as_mut_ptr(), 3, 0) };
    let closed = |descriptor: &libc::pollfd| {
        if polled >= 0 {
            descriptor.revents & libc::POLLNVAL != 0
        } else {
            // SAFETY: F_GETFD only reads the descriptor's flags.
            let flags = unsafe { libc::fcntl(descriptor.fd, libc::F_GETFD) };
            flags == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
        }
    };
    for descriptor in descriptors.iter().filter(|descriptor| closed(descriptor)) {
        // SAFETY: the path is a NUL-terminated string. open returns the lowest free number,
        // which is this closed one since lower ones are open by now.
        let opened: c_int = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        if opened != descriptor.fd {
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `fd` is open on the null device.
    fn is_dev_null(fd: c_int) -> bool {
        let mut open = std::mem::MaybeUninit::<libc::stat>::uninit();
        let mut null = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: both pointers are to stat buffers for the calls to fill; the path is a
        // NUL-terminated literal. Each is read only after its call succeeded.
        unsafe {
            libc::fstat(fd, open.as_mut_ptr()) == 0
                && libc::stat(c"/dev/null".as_ptr(), null.as_mut_ptr()) == 0
                && open.assume_init().st_rdev == null.assume_init().st_rdev
                && open.assume_init().st_mode & libc::S_IFMT == libc::S_IFCHR
        }
    }

    fn sigpipe_ignored() -> bool {
        let mut action = std::mem::MaybeUninit::<libc::sigaction>::uninit();
        // SAFETY: a null new action only reads the current one into `action`.
        unsafe {
            libc::sigaction(libc::SIGPIPE, std::ptr::null(), action.as_mut_ptr()) == 0
                && action.assume_init().sa_sigaction == libc::SIG_IGN
        }
    }

    #[test]
    fn closed_standard_descriptors_get_the_null_device_and_sigpipe_is_ignored() {
        // In a child, so the test runner keeps its own descriptors and signals. The child
        // only makes system calls (no allocation): the runner has other threads.
        // SAFETY: see above; the child ends with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            // SAFETY: closing descriptors this child owns; restoring SIGPIPE's default.
            unsafe {
                libc::close(0);
                libc::close(2);
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            }
            let stdout_was_null = is_dev_null(1);
            prepare();
            let ok = is_dev_null(0) && is_dev_null(2) && is_dev_null(1) == stdout_was_null;
            // SAFETY: ends the child without running the runner's exit handlers.
            unsafe { libc::_exit(if ok && sigpipe_ignored() { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked; `status` receives its status.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "status {status}"
        );
    }
}
