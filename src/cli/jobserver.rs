//! The client's half of handing cargo's jobserver to the server (`actors/src/jobserver.rs`
//! says why): the two pipe descriptors `CARGO_MAKEFLAGS` names, when this process has them
//! open, to be passed over the Unix socket with the compile request.
//!
//! Only cargo's variable: rustc is the compiler that takes tokens for threads of its own (gcc
//! reads make's only for `-flto=jobserver` at a link, which is never cached). A descriptor
//! that is closed or not a pipe (a stale setting, a build tool that closed it) passes nothing,
//! and the server drops the variable as it always did.

use sccache_core::jobserver;
use std::ffi::OsString;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;

/// The read and write ends of cargo's jobserver named in `env` (this process's environment),
/// when both are open pipes here.
pub fn inherited(env: &[(OsString, OsString)]) -> Option<[BorrowedFd<'static>; 2]> {
    let (_, value) = env
        .iter()
        .rev()
        .find(|(name, _)| name == jobserver::CARGO_VAR)?;
    let (read, write) = jobserver::descriptors(value.as_bytes())?;
    let pipe =
        |number| crate::sys::inherited_descriptor(number).filter(|fd| jobserver::is_pipe(fd));
    Some([pipe(read)?, pipe(write)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn setting(read: i32, write: i32) -> Vec<(OsString, OsString)> {
        let value = format!("-j --jobserver-fds={read},{write} --jobserver-auth={read},{write}");
        vec![("CARGO_MAKEFLAGS".into(), value.into())]
    }

    #[test]
    fn an_open_pipe_is_found_and_anything_else_is_not() {
        let (read, write) = std::io::pipe().unwrap();
        let found = inherited(&setting(read.as_raw_fd(), write.as_raw_fd())).unwrap();
        assert_eq!(found[0].as_raw_fd(), read.as_raw_fd());
        assert_eq!(found[1].as_raw_fd(), write.as_raw_fd());
        let file = tempfile::tempfile().unwrap();
        assert!(inherited(&setting(read.as_raw_fd(), file.as_raw_fd())).is_none());
        assert!(inherited(&setting(read.as_raw_fd(), 999_999)).is_none());
        assert!(inherited(&[]).is_none());
    }
}
