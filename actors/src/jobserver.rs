//! cargo's jobserver, handed on to the compilers the server runs for one client.
//!
//! cargo gives rustc its jobserver as two inherited pipe descriptors named in
//! `CARGO_MAKEFLAGS`; rustc takes a token from it for every codegen thread beyond its first. A
//! rustc the server starts has none of the client's descriptors, so it would make a jobserver
//! of its own with a token per CPU: two compiles of a `cargo build -j2` would then run four
//! codegen threads on two cores (a cold build 5 % slower here, `bench/README.md`). So the
//! client passes the two descriptors over the Unix socket with its request
//! (`src/cli/jobserver.rs`, `passed_fds.rs`), and every process run for that request inherits
//! them at the server's numbers, with `CARGO_MAKEFLAGS` saying so (`sys::inheriting`).
//!
//! Only pipes are taken, and only when the request's `CARGO_MAKEFLAGS` names descriptors;
//! otherwise the variable is dropped as before (`request_env::drop_inherited_jobserver`). The
//! descriptors are close-on-exec in the server, so no other client's compile inherits them, and
//! they are closed when the request's last process is done. Work after the reply runs without
//! them (`Services::detached`): cargo may have finished and closed its end by then.

use crate::flow::request_env;
use sccache_core::jobserver;
use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// A client's jobserver, open in the server.
#[derive(Debug)]
pub struct Jobserver {
    read: OwnedFd,
    write: OwnedFd,
    /// `CARGO_MAKEFLAGS` as the client had it, naming the descriptors' numbers here.
    value: OsString,
}

impl Jobserver {
    /// The jobserver a client passed (`passed`: its read and write ends, in that order) for a
    /// request with environment `env`; `None` (and the descriptors closed) unless both are
    /// pipes and the request's `CARGO_MAKEFLAGS` names descriptors.
    pub fn from_passed(passed: Vec<OwnedFd>, env: &[(OsString, OsString)]) -> Option<Jobserver> {
        let [read, write]: [OwnedFd; 2] = passed.try_into().ok()?;
        if !jobserver::is_pipe(&read) || !jobserver::is_pipe(&write) {
            return None;
        }
        let value = request_env::lookup(env, jobserver::CARGO_VAR)?.as_bytes();
        if !jobserver::names_descriptors(value) {
            return None;
        }
        let value = jobserver::with_descriptors(value, read.as_raw_fd(), write.as_raw_fd());
        Some(Jobserver {
            read,
            write,
            value: OsString::from_vec(value),
        })
    }

    /// The variable a process run with this jobserver gets.
    pub fn variable(&self) -> (&'static str, &OsString) {
        (jobserver::CARGO_VAR, &self.value)
    }

    /// The descriptors a process run with this jobserver inherits, at these numbers.
    pub fn descriptors(&self) -> [RawFd; 2] {
        [self.read.as_raw_fd(), self.write.as_raw_fd()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(value: &str) -> Vec<(OsString, OsString)> {
        vec![("CARGO_MAKEFLAGS".into(), value.into())]
    }

    fn pipe() -> Vec<OwnedFd> {
        let (read, write) = std::io::pipe().unwrap();
        vec![read.into(), write.into()]
    }

    #[test]
    fn cargos_pipe_is_renamed_to_the_servers_numbers() {
        let passed = pipe();
        let numbers: Vec<RawFd> = passed.iter().map(AsRawFd::as_raw_fd).collect();
        let jobserver =
            Jobserver::from_passed(passed, &env("-j --jobserver-fds=6,7 --jobserver-auth=6,7"))
                .unwrap();
        let (name, value) = jobserver.variable();
        assert_eq!(name, "CARGO_MAKEFLAGS");
        let expected = format!(
            "-j --jobserver-fds={0},{1} --jobserver-auth={0},{1}",
            numbers[0], numbers[1]
        );
        assert_eq!(value, &OsString::from(expected));
        assert_eq!(jobserver.descriptors().to_vec(), numbers);
    }

    #[test]
    fn anything_but_two_pipes_and_a_descriptor_setting_is_refused() {
        let setting = env("-j --jobserver-auth=6,7");
        assert!(Jobserver::from_passed(pipe(), &[]).is_none());
        assert!(Jobserver::from_passed(pipe(), &env("-j --jobserver-auth=fifo:/tmp/f")).is_none());
        assert!(Jobserver::from_passed(pipe().into_iter().take(1).collect(), &setting).is_none());
        let file: OwnedFd = tempfile::tempfile().unwrap().into();
        let (read, _) = std::io::pipe().unwrap();
        assert!(Jobserver::from_passed(vec![read.into(), file], &setting).is_none());
    }
}
