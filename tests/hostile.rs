//! Hostile input against a running server: random bytes, truncated frames, a frame claiming
//! 4 GiB, and well-formed requests with absurd contents (a huge argument list, non-UTF-8 paths,
//! an executable that does not exist). Each must end in a closed connection or an answer, with
//! the server still serving others and its memory bounded.

use crate::harness::{
    assert_success, compile_by_hand, connect, count, fixture, gcc_path, receive, request, token,
    Server,
};
use sccache_core::protocol::{Request, Response};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::ffi::OsStringExt;
use std::time::Duration;

/// Sends raw bytes and reads until the server closes or answers; returns whether it closed
/// within the timeout.
fn send_raw(server: &Server, bytes: &[u8]) -> bool {
    let mut stream = connect(server);
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap_or_default();
    // The server may close before all is written; that is one of the right answers.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).is_ok()
}

/// The server's resident memory in KiB, from /proc.
fn resident_kib(pid: u64) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A small deterministic generator, so a failure replays the same bytes.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u8 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u8
    }
}

fn assert_still_serving(server: &Server) {
    let dir = fixture("c");
    let output = server.compile(dir.path(), "gcc", &["-c", "util.c", "-o", "util.o"]);
    assert_success(&output, "a compile after hostile input");
    assert!(dir.path().join("util.o").exists());
}

#[test]
fn random_bytes_truncated_frames_and_huge_claims_close_only_their_connection() {
    let server = Server::start();
    let pid = server.stats()["pid"].as_u64().unwrap_or(0);
    let mut random = Lcg(0x5eed);
    for round in 0..40 {
        let length = 1 + (round * 37) % 700;
        let bytes: Vec<u8> = (0..length).map(|_| random.next()).collect();
        assert!(
            send_raw(&server, &bytes),
            "round {round}: the server kept a garbage connection open"
        );
    }
    // A frame that says 100 bytes and sends 10, then closes.
    assert!(send_raw(
        &server,
        &[0, 0, 0, 100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    ));
    // A frame claiming 4 GiB, and one just over the limit, followed by a little data.
    assert!(send_raw(&server, &[0xff, 0xff, 0xff, 0xff, 0, 0, 0]));
    let over = (sccache_core::framing::MAX_FRAME_LEN as u32 + 1).to_be_bytes();
    assert!(send_raw(&server, &[&over[..], &[1, 2, 3][..]].concat()));
    // Requests are small: a frame just over their own limit is refused as well.
    let over = (sccache_core::framing::MAX_REQUEST_LEN as u32 + 1).to_be_bytes();
    assert!(send_raw(&server, &[&over[..], &[1, 2, 3][..]].concat()));
    // Many half-open connections at once, dropped without a word.
    let idle: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut stream = connect(&server);
            let _ = stream.write_all(&[0, 0, 1]);
            stream
        })
        .collect();
    drop(idle);
    assert_still_serving(&server);
    let memory = resident_kib(pid);
    assert!(
        memory < 200 * 1024,
        "server holds {memory} KiB after hostile input"
    );
}

#[test]
fn absurd_requests_are_answered_and_the_server_keeps_serving() {
    let server = Server::start();
    let pid = server.stats()["pid"].as_u64().unwrap_or(0);
    let dir = fixture("c");
    let cwd = dir.path().as_os_str().to_owned();

    // An executable that does not exist: not a compiler the server knows.
    let answer = compile_by_hand(
        &server,
        request("/nonexistent/cc".into(), cwd.clone(), vec!["-c".into()]),
    );
    assert!(
        matches!(answer.as_slice(), [Response::UnsupportedCompiler(_)]),
        "{answer:?}"
    );

    // Non-UTF-8 executable, directory and arguments.
    let bad = |bytes: &[u8]| OsString::from_vec(bytes.to_vec());
    let answer = compile_by_hand(
        &server,
        request(bad(b"/tmp/\xff\xfe"), bad(b"/\xff"), vec![bad(b"\xfe.c")]),
    );
    assert_eq!(answer.len(), 1, "{answer:?}");
    let answer = compile_by_hand(
        &server,
        request(
            gcc_path(),
            cwd.clone(),
            vec!["-c".into(), bad(b"\xff\xfe.c"), "-o".into(), bad(b"\xfe.o")],
        ),
    );
    match answer.last() {
        Some(Response::CompileFinished(finished)) => assert_ne!(finished.exit_code, Some(0)),
        Some(Response::UnhandledCompile) => {}
        other => panic!("unexpected answer {other:?}"),
    }

    // A huge argument list: the compile cannot even start (the kernel refuses the command
    // line), which must come back as a failed compile, not a dead server.
    let mut args: Vec<OsString> = vec!["-c".into(), "util.c".into(), "-o".into(), "util.o".into()];
    args.extend((0..200_000).map(|index| OsString::from(format!("-DHOSTILE_{index}=1"))));
    let answer = compile_by_hand(&server, request(gcc_path(), cwd.clone(), args));
    assert!(
        matches!(
            answer.last(),
            Some(Response::CompileFinished(_)) | Some(Response::UnhandledCompile)
        ),
        "{answer:?}"
    );

    assert_still_serving(&server);
    let stats = server.stats();
    assert!(count(&stats, "compile_requests") >= 5, "{stats:#}");
    let memory = resident_kib(pid);
    assert!(
        memory < 300 * 1024,
        "server holds {memory} KiB after absurd requests"
    );
}

#[test]
fn many_connections_sending_large_requests_share_one_memory_budget() {
    // Each connection announces a request just under the request limit and sends all of it
    // but its last byte, then waits: without a bound over all connections the server would
    // hold every one of them.
    let server = Server::start();
    let pid = server.stats()["pid"].as_u64().unwrap_or(0);
    let length = sccache_core::framing::MAX_REQUEST_LEN - 1;
    let body = vec![0x90u8; length - 1];
    let mut held = Vec::new();
    let mut closed = 0;
    for _ in 0..40 {
        let mut stream = connect(&server);
        let sent = stream
            .write_all(&(length as u32).to_be_bytes())
            .and_then(|()| stream.write_all(&body));
        match sent {
            Ok(()) => held.push(stream),
            Err(_) => closed += 1,
        }
    }
    let memory = resident_kib(pid);
    assert!(
        memory < 400 * 1024,
        "server holds {memory} KiB for 40 partial requests of 16 MiB"
    );
    // Those over the budget (256 MiB: 15 of these) were closed before they were read.
    assert!(closed >= 20, "only {closed} of 40 connections were refused");
    // Once they go, the budget is free again.
    drop(held);
    assert_still_serving(&server);
}

#[test]
fn a_client_of_another_version_is_told_so_and_can_still_stop_the_server() {
    let server = Server::start();
    let future = sccache_core::protocol::PROTOCOL_VERSION + 1;
    let send_as_future = |request: Request| {
        let mut stream = connect(&server);
        let payload = sccache_core::protocol::encode(&(future, token(&server), request))
            .unwrap_or_else(|error| panic!("{error}"));
        sccache_core::framing::write_frame(&mut stream, &payload)
            .unwrap_or_else(|error| panic!("{error}"));
        receive(&mut stream)
    };
    match send_as_future(Request::GetStats) {
        Some(Response::VersionMismatch { protocol, .. }) => {
            assert_eq!(protocol, sccache_core::protocol::PROTOCOL_VERSION)
        }
        other => panic!("expected a version mismatch, got {other:?}"),
    }
    assert!(matches!(
        send_as_future(Request::Shutdown),
        Some(Response::ShuttingDown(_))
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", server.port)).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
