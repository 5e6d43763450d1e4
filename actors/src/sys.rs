//! The server's one `unsafe` call: registering a descriptor with tokio's reactor.
//!
//! tokio 1.54 made `AsyncFd` registration `unsafe` (its safe constructors are deprecated as
//! unsound: `AsRawFd` does not promise the descriptor stays open), and nothing else in tokio
//! waits on an arbitrary descriptor's readiness. Everything else the server asks of the
//! system goes through `rustix` or std.

use std::io;
use std::os::fd::OwnedFd;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Registers `descriptor` with this thread's reactor, to be woken when it is readable.
pub fn readable(descriptor: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the AsyncFd owns the OwnedFd, which keeps the descriptor open, naming the same
    // open file, for as long as the AsyncFd lives; nothing else closes it.
    let registered = unsafe { AsyncFd::register_with_interest(descriptor, Interest::READABLE) };
    registered.map_err(io::Error::from)
}
