//! What travels between client and server: output far over the frame limit arrives whole
//! (in chunks) and is counted once, and over TCP nothing secret goes to a listener that does
//! not hold the user's token, while `--stop-server` can still stop an older server of this
//! user's.

use crate::harness::{
    assert_success, compile_through_wrapper, count, fixture, run, sccache_bin, Server,
};
use sccache_core::framing::{read_frame, write_frame};
use sccache_core::protocol::{encode, Response};
use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

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

#[test]
fn a_listener_without_the_token_gets_neither_it_nor_the_environment() {
    // Someone listens on the port first, as another account could before the server starts.
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap_or_else(|error| panic!("{error}"));
    let mut server = Server::configured(std::env::temp_dir().join("sccache-never"), &[], None);
    server.port = listener
        .local_addr()
        .unwrap_or_else(|error| panic!("{error}"))
        .port();
    let received = std::thread::spawn(move || {
        let mut heard = Vec::new();
        // The client's connection, answered with nothing but silence until the client gives
        // up (a listener that closed at once would only be the easier case).
        if let Ok((mut stream, _)) = listener.accept() {
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap_or_else(|error| panic!("{error}"));
            let mut buffer = [0u8; 65536];
            while let Ok(read) = stream.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                heard.extend_from_slice(&buffer[..read]);
            }
        }
        heard
    });
    let dir = fixture("c");
    let marker = "marker-value-7f3a9c";
    let started = std::time::Instant::now();
    let output = run(server
        .command(sccache_bin())
        .current_dir(dir.path())
        .env("SCCACHE_TEST_MARKER", marker)
        .args(["gcc", "-c", "util.c", "-o", "util.o"]));
    assert_success(&output, "a compile facing a foreign listener");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "the client hung"
    );
    let warning = String::from_utf8_lossy(&output.stderr);
    assert!(warning.contains("compiling locally"), "{warning}");
    assert!(dir.path().join("util.o").exists());
    let heard = received.join().unwrap_or_default();
    let token = crate::harness::token(&server);
    let contains = |needle: &[u8]| heard.windows(needle.len()).any(|window| window == needle);
    assert!(!token.is_empty());
    assert!(!contains(token.as_bytes()), "the token was sent");
    assert!(!contains(marker.as_bytes()), "the environment was sent");
    assert!(!contains(b"util.c"), "the command line was sent");
}

#[test]
fn stop_server_stops_an_older_server_of_this_user_over_tcp() {
    // A server of protocol 2 answers the handshake with a version mismatch and closes; it
    // still obeys a `Shutdown` carrying the token itself, which may go to a listener of this
    // user (this test's own).
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap_or_else(|error| panic!("{error}"));
    let mut server = Server::configured(std::env::temp_dir().join("sccache-never"), &[], None);
    server.port = listener
        .local_addr()
        .unwrap_or_else(|error| panic!("{error}"))
        .port();
    let old_server = std::thread::spawn(move || {
        let mismatch = Response::VersionMismatch {
            server_version: "0.0.1".into(),
            protocol: 2,
        };
        let (mut first, _) = listener.accept().unwrap_or_else(|error| panic!("{error}"));
        read_frame(&mut first).unwrap_or_else(|error| panic!("{error}"));
        write_frame(&mut first, &encode(&mismatch).unwrap_or_default())
            .unwrap_or_else(|error| panic!("{error}"));
        drop(first);
        let (mut second, _) = listener.accept().unwrap_or_else(|error| panic!("{error}"));
        let frame = read_frame(&mut second).unwrap_or_else(|error| panic!("{error}"));
        let token = sccache_core::protocol::shutdown_of_any_version(&frame);
        let stopping = Response::ShuttingDown(Box::default());
        write_frame(&mut second, &encode(&stopping).unwrap_or_default())
            .unwrap_or_else(|error| panic!("{error}"));
        token
    });
    let output = server.stop();
    let token = old_server.join().unwrap_or_default();
    assert_success(&output, "sccache --stop-server facing a protocol-2 server");
    assert_eq!(token, Some(crate::harness::token(&server)));
}

/// A compile that takes longer than the keep-alive period: the server says every few seconds
/// that it is under way (so a client can tell a stopped server from a long compile), then
/// answers.
#[test]
fn a_long_compile_is_kept_alive_until_its_answer() {
    let server = Server::start();
    let dir = fixture("c");
    let slow = dir.path().join("slow-gcc");
    let gcc = crate::harness::gcc_path();
    crate::harness::write_script(
        &slow,
        &format!(
            "#!/bin/sh\ncase \" $* \" in *\" -o hello.o \"*) sleep 7;; esac\nexec {} \"$@\"\n",
            gcc.to_string_lossy()
        ),
    );
    let args = ["-c", "hello.c", "-o", "hello.o"].map(Into::into).to_vec();
    let request = crate::harness::request(slow.into(), dir.path().into(), args);
    let responses = crate::harness::compile_by_hand(&server, request);
    assert!(
        responses.iter().any(|r| matches!(r, Response::Working)),
        "{responses:?}"
    );
    assert!(
        matches!(responses.last(), Some(Response::CompileFinished(f)) if f.exit_code == Some(0)),
        "{responses:?}"
    );
}
