//! A build interrupted mid-compile: make is stopped with Ctrl-C and the sccache clients under it
//! die with it. The server must interrupt what they asked for, as the terminal would have
//! interrupted a compiler run by hand, and never write their files afterwards: the next build
//! may already have written newer ones, and an older object with a newer time would never be
//! rebuilt.

use crate::harness::{
    compile_by_hand, connect, count, fixture, read, request, send, token, write_script, Server,
};
use sccache_core::protocol::{Request, Response};
use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

/// Where a held compiler waits.
#[derive(Clone, Copy, PartialEq)]
enum Hold {
    /// In the process the server started.
    InTheLeader,
    /// In a background job of it, which SIGINT does not stop (a non-interactive shell's
    /// background jobs ignore it), the leader waiting for the job.
    InABackgroundJob,
}

/// A gcc that, for the compile proper (of `hello.o`), says it started and then waits (as
/// `hold` says) for a `release` file before compiling; every other run (the probes, the
/// preprocessor) is gcc's.
fn held_compiler(dir: &Path, hold: Hold) -> OsString {
    let gcc = crate::harness::gcc_path();
    let gcc = gcc.to_string_lossy();
    let held = format!(
        "touch started\n\
         i=0\n\
         while [ ! -e release ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done\n\
         exec {gcc} \"$@\""
    );
    let compile = match hold {
        Hold::InTheLeader => held,
        Hold::InABackgroundJob => format!("( {held} ) &\nwait $!"),
    };
    let script = format!(
        "#!/bin/sh\n\
         case \" $* \" in *\" -o hello.o \"*)\n{compile}\nexit $?;;\nesac\n\
         exec {gcc} \"$@\"\n"
    );
    let path = dir.join("held-gcc");
    write_script(&path, &script);
    path.into_os_string()
}

fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `held-gcc -c hello.c -o hello.o` (`held_compiler`) in `dir` to `server` and waits until the compile
/// proper has started (and holds); the client's connection, and the request to send again.
fn start_held_compile(
    server: &Server,
    dir: &Path,
    hold: Hold,
) -> (std::net::TcpStream, sccache_core::protocol::CompileRequest) {
    let exe = held_compiler(dir, hold);
    let args: Vec<OsString> = ["-c", "hello.c", "-o", "hello.o"]
        .map(OsString::from)
        .to_vec();
    let compile = request(exe, dir.as_os_str().to_owned(), args);
    let mut stream = connect(server);
    send(
        &mut stream,
        &token(server),
        Request::Compile(compile.clone()),
    )
    .unwrap_or_else(|error| panic!("cannot send: {error}"));
    wait_for_file(&dir.join("started"));
    (stream, compile)
}

#[test]
fn an_abandoned_compile_is_interrupted_and_never_overwrites_a_newer_output() {
    let server = Server::start();
    let dir = fixture("c");
    let (stream, compile) = start_held_compile(&server, dir.path(), Hold::InTheLeader);
    // The client dies (make was interrupted), and the next build writes a newer object.
    drop(stream);
    let newer = b"the next build's object".to_vec();
    std::fs::write(dir.path().join("hello.o"), &newer).unwrap();
    // The abandoned compile ends, interrupted: counted as a failed compile, with no write.
    let stats = server.wait_for_stats(|stats| count(stats, "compile_fails") == 1);
    assert_eq!(count(&stats, "cache_writes"), 0, "{stats:#}");
    // The compile's processes have exited (the dispatcher waits for them before it counts);
    // were one still waiting, this would let it compile over the newer object.
    std::fs::write(dir.path().join("release"), b"").unwrap();
    assert_eq!(read(&dir.path().join("hello.o")), newer);

    // A client that stays gets its compile as usual.
    std::fs::remove_file(dir.path().join("hello.o")).unwrap();
    let responses = compile_by_hand(&server, compile);
    assert!(
        matches!(responses.last(), Some(Response::CompileFinished(finished)) if finished.exit_code == Some(0)),
        "{responses:?}"
    );
    assert!(dir.path().join("hello.o").exists());
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
}

/// The server itself dies without a word (SIGKILL, as the OOM killer ends it) while a compile
/// runs, and its client with it: the compile's processes, in a group of their own, are
/// interrupted by the server's watcher (`reaper`), so the held compile never writes
/// `hello.o` over what the next build wrote.
///
/// Also when the compiler runs in a background job of a wrapper whose shell waits for it: the
/// interrupt ends the shell, the group's leader, and the job, which ignores it, is killed when
/// the grace period is over (the release comes after that).
#[test]
fn a_compile_whose_server_is_killed_never_writes_its_output_afterwards() {
    for (hold, release_after) in [(Hold::InTheLeader, 0), (Hold::InABackgroundJob, 3500)] {
        let server = Server::start();
        let dir = fixture("c");
        let (stream, _) = start_held_compile(&server, dir.path(), hold);
        crate::harness::kill_hard(server.stats()["pid"].as_u64().unwrap_or(0));
        drop(stream);
        let newer = b"the next build's object".to_vec();
        std::fs::write(dir.path().join("hello.o"), &newer).unwrap();
        // Were the held compiler still waiting, this would let it compile over the newer
        // object; the watcher interrupts it at once, and kills it within its grace period.
        std::thread::sleep(Duration::from_millis(release_after));
        std::fs::write(dir.path().join("release"), b"").unwrap();
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(read(&dir.path().join("hello.o")), newer);
    }
}
