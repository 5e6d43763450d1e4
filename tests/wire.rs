//! What travels between client and server: output far over the frame limit arrives whole
//! (in chunks) and is counted once.

use crate::harness::{assert_success, compile_through_wrapper, count, fixture, Server};

/// A "gcc" that prints `seq 1 9000000` (about 68 MiB, more than a frame may hold) on stderr
/// when it compiles, and is gcc otherwise (probes, the preprocessor).
const LOUD_GCC: &str = r#"#!/bin/sh
case " $* " in
  *" -E "*) ;;
  *" -c "*) seq 1 9000000 >&2;;
esac
exec gcc "$@"
"#;

fn expected_stderr() -> Vec<u8> {
    (1..=9_000_000u32)
        .flat_map(|number| format!("{number}\n").into_bytes())
        .collect()
}

#[test]
fn output_over_the_frame_limit_arrives_whole_and_is_compiled_once() {
    let server = Server::start();
    let dir = fixture("c");
    let expected = expected_stderr();
    assert!(expected.len() > sccache_core::framing::MAX_FRAME_LEN);

    let first = compile_through_wrapper(&server, dir.path(), LOUD_GCC, &[]);
    assert_success(&first, "wrap/gcc printing 68 MiB");
    assert!(first.stderr == expected, "the miss's stderr differs");
    let stats = server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
    assert_eq!(count(&stats, "compile_requests"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 1, "{stats:#}");

    let second = compile_through_wrapper(&server, dir.path(), LOUD_GCC, &[]);
    assert_success(&second, "wrap/gcc again");
    assert!(second.stderr == expected, "the hit's stderr differs");
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 1, "{stats:#}");
    assert_eq!(count(&stats, "compile_requests"), 2, "{stats:#}");
}
