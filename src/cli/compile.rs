//! Compile mode: resolve the compiler, ask the server to run it through the cache, and end the
//! way the compiler would have, by the server's result or by running the compiler here.
//!
//! Invariant: the user's build never depends on the server. Any trouble reaching or hearing
//! from it ends in a local compile, with one warning line when the server misbehaved and none
//! when it merely declined. Invariant: the compiler never runs here after the server sent a
//! result (`CompileFinished`), so a compile is not run twice.

use crate::client::{
    response_name, version_mismatch_message, ClientError, Connection, ServerAddress,
};
use crate::fallback;
use crate::resolve::{own_exe, resolve_compiler, Resolution};
use crate::spawn::connect_or_start;
use sccache_core::protocol::{
    CompileFinished, CompileRequest, OutputStream, Request, Response, SILENCE_LIMIT,
};
use std::ffi::OsString;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Exit code when the compiler cannot be found, as sccache exits.
const NOT_FOUND: i32 = 2;

/// What the server made of a compile.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The server's result, to replay.
    Finished(CompileFinished),
    /// Run the compiler here; warn with the message first when there is one.
    Local(Option<String>),
}

/// The program `compiler` names (from `cwd`, or on `PATH`); `None`, said on stderr, when
/// there is none or it is sccache itself.
fn found_compiler(compiler: &OsString, cwd: &Path) -> Option<PathBuf> {
    let path_var = std::env::var_os("PATH");
    match resolve_compiler(compiler, cwd, path_var.as_deref(), own_exe()) {
        Resolution::Found(exe) => Some(exe),
        Resolution::NotFound => {
            eprintln!(
                "sccache: cannot find compiler \"{}\"",
                compiler.to_string_lossy()
            );
            None
        }
        Resolution::IsSelf(path) => {
            eprintln!(
                "sccache: {} is sccache itself, not a compiler",
                path.display()
            );
            None
        }
    }
}

/// Runs `compiler args` through the cache and returns the exit code.
pub fn run(compiler: OsString, args: Vec<OsString>) -> anyhow::Result<i32> {
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(error) => {
            // Deleted, or longer than a path may be: the server could not find the compile's
            // files, but the compiler, run here, reaches them by relative names as ever.
            log::debug!("cannot read the current directory ({error}): compiling here");
            let Some(exe) = found_compiler(&compiler, Path::new(".")) else {
                return Ok(NOT_FOUND);
            };
            return Ok(fallback::run_locally(&exe, &args));
        }
    };
    let Some(exe) = found_compiler(&compiler, &cwd) else {
        return Ok(NOT_FOUND);
    };
    // Asked only of a command line that reads stdin.
    let stdin_is_null = args.iter().any(|arg| arg == "-") && crate::local_inputs::stdin_is_null();
    if crate::local_inputs::reason_to_compile_here(&args, &cwd, stdin_is_null).is_some() {
        // The server would read its own stdin or descriptors, or wait on a FIFO holding one
        // of its compile slots: this process compiles it, silently (the build's output stays
        // the compiler's own) and uncounted by the server.
        return Ok(fallback::run_locally(&exe, &args));
    }
    let request = CompileRequest {
        exe: exe.clone().into_os_string(),
        cwd: cwd.into_os_string(),
        args: args.clone(),
        env: std::env::vars_os().collect(),
        stderr_is_terminal: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        umask: own_umask(),
        stdin_is_null,
    };
    // Before the connection is opened: the descriptors cargo's setting names are inherited ones.
    let jobserver = crate::jobserver::inherited(&request.env);
    match through_server(
        request,
        jobserver.as_ref().map_or(&[][..], |pair| &pair[..]),
    ) {
        Outcome::Finished(finished) => Ok(fallback::replay(finished)),
        Outcome::Local(warning) => {
            if let Some(warning) = warning {
                eprintln!("sccache: {warning}");
            }
            Ok(fallback::run_locally(&exe, &args))
        }
    }
}

/// This process's umask. Setting it is the only way to read it besides a file read of
/// /proc/self/status; it is put back at once, and the client runs no other thread that could
/// create a file in between.
fn own_umask() -> u32 {
    use rustix::fs::Mode;
    let umask = rustix::process::umask(Mode::from_raw_mode(0o022));
    rustix::process::umask(umask);
    umask.as_raw_mode()
}

/// Sends `request` (with `descriptors`, cargo's jobserver, over a Unix socket) and waits for
/// its answer.
fn through_server(request: CompileRequest, descriptors: &[BorrowedFd<'_>]) -> Outcome {
    let address = match ServerAddress::from_env() {
        Ok(address) => address,
        Err(error) => return warn_local(format!("{error}; compiling locally")),
    };
    let mut connection = match connect_or_start(&address) {
        Ok(connection) => connection,
        Err(error) => {
            return warn_local(format!(
                "server failed to start: {error}; compiling locally"
            ))
        }
    };
    log::debug!(
        "compile of {:?} sent to the server on {address}",
        request.exe
    );
    if let Err(error) = connection.send_passing(Request::Compile(request), descriptors) {
        return warn_local(format!("{error}; compiling locally"));
    }
    let outcome = await_result(&mut connection, SILENCE_LIMIT);
    match &outcome {
        Outcome::Finished(finished) => log::debug!(
            "the server ran it: exit code {:?}, signal {:?}",
            finished.exit_code,
            finished.signal
        ),
        Outcome::Local(why) => log::debug!("compiling locally: {why:?}"),
    }
    outcome
}

/// Reads the server's answers to a compile. A compile may take minutes, and the server says
/// every `KEEPALIVE` that it is still under way: a server that says nothing for
/// `SILENCE_LIMIT` (stopped, deadlocked) is given up on, as one that dies and closes the
/// connection is, and the compile runs here (the server interrupts its own when it notices the
/// client gone). `silence_limit` is `SILENCE_LIMIT` but in tests.
fn await_result(connection: &mut Connection, silence_limit: Duration) -> Outcome {
    connection.set_silence_limit(silence_limit);
    let mut started = false;
    // Output that came in chunks ahead of the `CompileFinished` carrying the rest. It is
    // replayed only with the result: the connection may still break, and then the compile
    // runs here and prints its own.
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    loop {
        let response = match connection.receive() {
            Ok(response) => response,
            Err(ClientError::Io(error))
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return warn_local(give_up_on_a_silent_server(connection, silence_limit));
            }
            Err(error) => return warn_local(format!("{error}; compiling locally")),
        };
        match response {
            Response::CompileStarted if !started => started = true,
            Response::Working => {}
            Response::Output { stream, bytes } if started => match stream {
                OutputStream::Stdout => stdout.extend_from_slice(&bytes),
                OutputStream::Stderr => stderr.extend_from_slice(&bytes),
            },
            Response::CompileFinished(mut finished) => {
                stdout.append(&mut finished.stdout);
                stderr.append(&mut finished.stderr);
                finished.stdout = stdout;
                finished.stderr = stderr;
                return Outcome::Finished(finished);
            }
            Response::UnhandledCompile | Response::UnsupportedCompiler(_) if !started => {
                return Outcome::Local(None)
            }
            Response::VersionMismatch {
                server_version,
                protocol,
            } => return warn_local(version_mismatch_message(&server_version, protocol)),
            Response::Refused(message) => {
                return warn_local(format!(
                    "the server refused the compile ({message}); compiling locally"
                ))
            }
            other => {
                return warn_local(format!(
                    "the server answered {} to a compile; compiling locally",
                    response_name(&other)
                ))
            }
        }
    }
}

/// A server silent for `silence_limit` (stopped, deadlocked) is killed when the kernel tells
/// its process (`Connection::server_pid`): it would otherwise compile on, and write the
/// outputs later over what the build wrote since; its watcher (`reaper`) then interrupts its
/// compiles, and the next client starts a new server. A moment is left for that before the
/// compile runs here. The warning to print.
fn give_up_on_a_silent_server(connection: &Connection, silence_limit: Duration) -> String {
    let stopped = match connection.server_pid() {
        Some(pid) => match rustix::process::kill_process(pid, rustix::process::Signal::KILL) {
            Ok(()) => {
                std::thread::sleep(Duration::from_millis(300));
                "; it was killed"
            }
            Err(_) => "",
        },
        None => "",
    };
    format!("the server said nothing for {silence_limit:?} (stopped or stuck){stopped}; compiling locally")
}

fn warn_local(message: String) -> Outcome {
    Outcome::Local(Some(message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sccache_core::framing::write_frame;
    use sccache_core::protocol::encode;
    use std::net::{Ipv4Addr, TcpListener};

    /// A fake server that answers any request with `frames` (raw), then closes.
    fn answer_with(frames: Vec<Vec<u8>>) -> Outcome {
        answer_then_hold(frames, std::time::Duration::ZERO)
    }

    /// The same server, holding the connection open for `hold` before it closes it; the
    /// client gives up after half a second of silence.
    fn answer_then_hold(frames: Vec<Vec<u8>>, hold: std::time::Duration) -> Outcome {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // The handshake, as a server holding the (empty) token answers it.
            let hello = sccache_core::framing::read_frame(&mut stream).unwrap();
            let hello = sccache_core::protocol::decode_envelope(&hello).unwrap();
            let Request::Hello { nonce: client } = hello.request else {
                panic!("{hello:?}")
            };
            let nonce = vec![7; sccache_core::handshake::NONCE_LEN];
            let proof = sccache_core::handshake::server_proof("", &client, &nonce);
            write_frame(&mut stream, &frame(Response::Challenge { nonce, proof })).unwrap();
            let _ = sccache_core::framing::read_frame(&mut stream).unwrap();
            for frame in frames {
                write_frame(&mut stream, &frame).unwrap();
            }
            std::thread::sleep(hold);
        });
        let mut connection =
            Connection::open(&crate::client::tests::tcp_address(port, "")).unwrap();
        connection.send(Request::GetStats).unwrap();
        let outcome = await_result(&mut connection, std::time::Duration::from_millis(500));
        server.join().unwrap();
        outcome
    }

    fn frame(response: Response) -> Vec<u8> {
        encode(&response).unwrap()
    }

    #[test]
    fn started_then_finished_is_replayed() {
        let finished = CompileFinished {
            exit_code: Some(0),
            stdout: b"out".to_vec(),
            ..CompileFinished::default()
        };
        assert_eq!(
            answer_with(vec![
                frame(Response::CompileStarted),
                frame(Response::CompileFinished(finished.clone()))
            ]),
            Outcome::Finished(finished)
        );
    }

    #[test]
    fn output_in_chunks_is_put_back_together() {
        let finished = CompileFinished {
            exit_code: Some(1),
            stdout: vec![b'o'; 3 * sccache_core::protocol::OUTPUT_CHUNK / 2],
            stderr: (0..5 * sccache_core::protocol::OUTPUT_CHUNK / 2)
                .map(|index| index as u8)
                .collect(),
            ..CompileFinished::default()
        };
        let mut frames = vec![frame(Response::CompileStarted)];
        frames.extend(sccache_core::protocol::finished_in_frames(finished.clone()).map(frame));
        assert!(frames.len() > 3);
        assert_eq!(answer_with(frames), Outcome::Finished(finished));
    }

    /// A compile under way for long: the server's `Working` frames are skipped.
    #[test]
    fn working_frames_are_skipped() {
        let finished = CompileFinished {
            exit_code: Some(0),
            ..CompileFinished::default()
        };
        assert_eq!(
            answer_with(vec![
                frame(Response::Working),
                frame(Response::Working),
                frame(Response::CompileFinished(finished.clone()))
            ]),
            Outcome::Finished(finished)
        );
    }

    /// A server that stops talking without closing the connection (SIGSTOP, a deadlock) is
    /// given up on after the silence limit: the compile runs here.
    #[test]
    fn a_silent_server_is_given_up_on() {
        let hold = std::time::Duration::from_secs(3);
        match answer_then_hold(vec![frame(Response::Working)], hold) {
            Outcome::Local(Some(warning)) => {
                assert!(warning.contains("said nothing"), "{warning}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unhandled_compiles_locally_without_a_warning() {
        assert_eq!(
            answer_with(vec![frame(Response::UnhandledCompile)]),
            Outcome::Local(None)
        );
        assert_eq!(
            answer_with(vec![frame(Response::UnsupportedCompiler("ld".into()))]),
            Outcome::Local(None)
        );
    }

    #[test]
    fn death_after_start_compiles_locally_with_a_warning() {
        match answer_with(vec![frame(Response::CompileStarted)]) {
            Outcome::Local(Some(warning)) => {
                assert!(warning.contains("closed the connection"), "{warning}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_compiles_locally_with_a_warning() {
        match answer_with(vec![vec![0xc1, 0xc1]]) {
            Outcome::Local(Some(warning)) => assert!(warning.contains("garbage"), "{warning}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_wrong_credential_compiles_locally_with_a_warning() {
        match answer_with(vec![frame(Response::Refused("wrong credential".into()))]) {
            Outcome::Local(Some(warning)) => {
                assert!(warning.contains("wrong credential"), "{warning}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn version_mismatch_warns_with_the_remedy() {
        match answer_with(vec![frame(Response::VersionMismatch {
            server_version: "0.0.1".into(),
            protocol: 99,
        })]) {
            Outcome::Local(Some(warning)) => {
                assert!(warning.contains("--stop-server"), "{warning}")
            }
            other => panic!("{other:?}"),
        }
    }
}
