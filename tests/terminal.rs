//! Diagnostics on a terminal: gcc and clang colour them when stderr is a terminal, so a client
//! on one must get colours from a compile the server ran and from the cache, and a client on a
//! pipe must not.

use crate::harness::{compile_by_hand, count, fixture, gcc_path, request, Server};
use sccache_core::protocol::Response;
use std::ffi::OsString;

#[test]
fn a_client_on_a_terminal_gets_coloured_diagnostics_from_the_compile_and_from_the_cache() {
    let server = Server::start();
    let dir = fixture("c");
    let cwd = dir.path().as_os_str().to_owned();
    let warn = |terminal: bool| {
        let mut compile = request(
            gcc_path(),
            cwd.clone(),
            ["-Wall", "-c", "warn.c", "-o", "warn.o"]
                .map(OsString::from)
                .to_vec(),
        );
        compile.stderr_is_terminal = terminal;
        match compile_by_hand(&server, compile).last() {
            Some(Response::CompileFinished(finished)) => {
                assert_eq!(finished.exit_code, Some(0));
                finished.stderr.clone()
            }
            other => panic!("unexpected answer {other:?}"),
        }
    };
    let coloured = warn(true);
    assert!(coloured.contains(&0x1b), "no colour for a terminal");
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    assert_eq!(warn(true), coloured, "the hit replays the colours");
    assert_eq!(count(&server.stats(), "cache_hits.counts.C/C++"), 1);
    let plain = warn(false);
    assert!(!plain.contains(&0x1b), "colour sent to a pipe");
    assert!(String::from_utf8_lossy(&plain).contains("never_used"));
}
