//! Inputs the server cannot see as the client does (issue 16, item 10): the client's stdin, its
//! descriptors, a FIFO. Each must compile as plain gcc would, and none may hold one of the
//! server's compile slots.

use crate::harness::{
    assert_same_file, assert_success, compile_by_hand, fixture, gcc_path, read, request, run,
    sccache_bin, Server,
};
use sccache_core::protocol::Response;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status();
    assert!(status.is_ok_and(|status| status.success()), "mkfifo failed");
}

/// Writes `text` into the FIFO at `path` from a thread (the open waits for a reader).
fn feed(path: &Path, text: Vec<u8>) -> std::thread::JoinHandle<()> {
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = std::fs::write(&path, text);
    })
}

#[test]
fn a_source_on_stdin_compiles_as_plain_gcc_does() {
    let server = Server::start();
    let dir = fixture("c");
    let source = || std::fs::File::open(dir.path().join("util.c")).unwrap();
    let plain = run(Command::new("gcc")
        .current_dir(dir.path())
        .args(["-I.", "-x", "c", "-c", "/dev/stdin", "-o", "plain.o"])
        .stdin(source()));
    assert_success(&plain, "plain gcc from /dev/stdin");
    for (input, object) in [("/dev/stdin", "stdin.o"), ("-", "dash.o")] {
        let output = run(server
            .command(sccache_bin())
            .current_dir(dir.path())
            .args(["gcc", "-I.", "-x", "c", "-c", input, "-o", object])
            .stdin(source()));
        assert_success(&output, input);
        if input == "/dev/stdin" {
            assert_same_file(&dir.path().join(object), &dir.path().join("plain.o"));
        }
        assert!(read(&dir.path().join(object)).len() > 500, "{input}: empty");
    }
}

#[test]
fn fifo_sources_compile_and_never_hold_the_servers_slots() {
    let server = Server::start_with(&[("SCCACHE_JOBS", "2")]);
    let dir = fixture("c");
    let text = read(&dir.path().join("util.c"));
    // One FIFO compile, fed from a thread, as plain gcc would do it.
    let fifo = dir.path().join("fifo.c");
    mkfifo(&fifo);
    let writer = feed(&fifo, text.clone());
    let plain = run(Command::new("gcc")
        .current_dir(dir.path())
        .args(["-c", "fifo.c", "-o", "plain.o"]));
    assert_success(&plain, "plain gcc of a FIFO");
    writer.join().unwrap_or_default();
    let writer = feed(&fifo, text.clone());
    let output = server.compile(dir.path(), "gcc", &["-c", "fifo.c", "-o", "fifo.o"]);
    assert_success(&output, "sccache gcc of a FIFO");
    writer.join().unwrap_or_default();
    assert_same_file(&dir.path().join("fifo.o"), &dir.path().join("plain.o"));

    // Two FIFO compiles nobody writes to yet, as many as the server has slots.
    let mut waiting = Vec::new();
    for name in ["wait1.c", "wait2.c"] {
        mkfifo(&dir.path().join(name));
        let child = server
            .command(sccache_bin())
            .current_dir(dir.path())
            .args(["gcc", "-c", name, "-o", "/dev/null"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        waiting.push((name, child));
    }
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    for _ in 0..2 {
        let output = server.compile(dir.path(), "gcc", &["-c", "util.c", "-o", "util.o"]);
        assert_success(&output, "an ordinary compile beside waiting FIFOs");
    }
    let took = started.elapsed();
    for (name, mut child) in waiting {
        feed(&dir.path().join(name), text.clone())
            .join()
            .unwrap_or_default();
        assert!(child.wait().unwrap().success(), "{name}");
    }
    assert!(took < Duration::from_secs(10), "blocked for {took:?}");
}

#[test]
fn an_old_client_cannot_hang_the_server_with_a_fifo() {
    let server = Server::start();
    let dir = fixture("c");
    mkfifo(&dir.path().join("fifo.c"));
    let args = ["-c", "fifo.c", "-o", "fifo.o"];
    let responses = compile_by_hand(
        &server,
        request(
            gcc_path(),
            dir.path().as_os_str().to_owned(),
            args.iter().map(Into::into).collect(),
        ),
    );
    assert!(
        matches!(responses.as_slice(), [Response::UnhandledCompile]),
        "{responses:?}"
    );
    // `/dev/stdin` by hand: the server's own stdin is not the client's.
    let args = ["-x", "c", "-c", "/dev/stdin", "-o", "stdin.o"];
    let responses = compile_by_hand(
        &server,
        request(
            gcc_path(),
            dir.path().as_os_str().to_owned(),
            args.iter().map(Into::into).collect(),
        ),
    );
    assert!(
        matches!(responses.as_slice(), [Response::UnhandledCompile]),
        "{responses:?}"
    );
}
