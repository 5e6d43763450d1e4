//! Starting the background server: spawn this binary as a daemon and wait until it says it is
//! listening (or why it is not) on a private Unix socket.
//!
//! The notify protocol is one message on `SCCACHE_STARTUP_NOTIFY`: a status byte (`Status`),
//! for a failure followed by a UTF-8 message, then end of stream. `server_entry` is the other
//! side.
//!
//! Invariant: when many clients start a server at once (`make -j32` on a cold machine), all but
//! one lose the race for the endpoint (port or Unix socket); a loser reports `Status::Taken`,
//! and its client waits for the endpoint instead of failing, so the build ends with one server
//! and every compile served. The daemon inherits this client's environment, so it chooses the
//! same endpoint. This module never runs a compile and never waits on the daemon after it is
//! ready (the daemon outlives the client).

use crate::client::{Connection, ServerAddress};
use mio::net::UnixListener;
use mio::{Events, Interest, Poll, Token};
use std::fmt;
use std::io::{self, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a new server may take to report, unless the config file's
/// `server_startup_timeout_ms` says otherwise; sccache's own default.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the endpoint when another client's server won the race to bind it.
const RACE_WAIT: Duration = Duration::from_secs(5);
/// How often to look whether the child died without reporting.
const CHILD_CHECK_INTERVAL: Duration = Duration::from_millis(100);
/// The longest status message read; a server's error text is a line or two.
const MAX_STATUS_BYTES: usize = 64 * 1024;

/// The variable that makes this binary run as the server.
pub const START_SERVER_VAR: &str = "SCCACHE_START_SERVER";
/// The variable that makes the server read its remote cache once before it reports ready (an
/// explicit `--start-server`, which fails on a cache it cannot use).
pub const CHECK_STORAGE_VAR: &str = "SCCACHE_CHECK_STORAGE";
/// The variable naming the socket the server reports its status on.
pub const NOTIFY_VAR: &str = "SCCACHE_STARTUP_NOTIFY";
/// Status byte: the server is listening.
pub const STATUS_READY: u8 = 0;
/// Status byte: the server failed; a UTF-8 message follows.
pub const STATUS_FAILED: u8 = 1;
/// Status byte: another server holds the endpoint (it won the race to start); a UTF-8 message
/// follows.
pub const STATUS_TAKEN: u8 = 2;

/// Why a server could not be started.
#[derive(Debug)]
pub enum StartError {
    /// The server reported a failure (its message).
    Failed(String),
    /// The server did not report within this time.
    TimedOut(Duration),
    /// The server exited without reporting.
    Exited(ExitStatus),
    /// The client could not prepare or spawn it.
    Setup(String, io::Error),
    /// It reported ready, yet its endpoint does not accept connections.
    Unreachable(String, io::Error),
    /// The endpoint may not be used: the socket is another user's.
    Forbidden(String, io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Failed(message) => write!(formatter, "{message}"),
            StartError::TimedOut(timeout) => write!(
                formatter,
                "it did not report within {} ms",
                timeout.as_millis()
            ),
            StartError::Exited(status) => {
                write!(formatter, "it exited ({status}) before it was ready")
            }
            StartError::Setup(what, error) => write!(formatter, "{what}: {error}"),
            StartError::Forbidden(endpoint, error) => {
                write!(formatter, "cannot use {endpoint}: {error}")
            }
            StartError::Unreachable(endpoint, error) => {
                write!(
                    formatter,
                    "it started, but {endpoint} refuses connections: {error}"
                )
            }
        }
    }
}

impl std::error::Error for StartError {}

/// What the server reports on the startup socket.
#[derive(Debug, PartialEq, Eq)]
pub enum Status {
    /// It is listening.
    Ready,
    /// It could not start (why).
    Failed(String),
    /// Another server holds the endpoint, so this one does not serve (the message, should
    /// that server not answer either).
    Taken(String),
}

impl Status {
    /// The bytes sent on the startup socket.
    pub fn encode(&self) -> Vec<u8> {
        let (byte, text) = match self {
            Status::Ready => (STATUS_READY, ""),
            Status::Failed(text) => (STATUS_FAILED, text.as_str()),
            Status::Taken(text) => (STATUS_TAKEN, text.as_str()),
        };
        let mut message = Vec::with_capacity(1 + text.len());
        message.push(byte);
        message.extend_from_slice(text.as_bytes());
        message
    }

    /// The status in the bytes received; anything unexpected is a failure.
    fn decode(received: &[u8]) -> Status {
        let text = |message: &[u8]| String::from_utf8_lossy(message).trim_end().to_owned();
        match received.split_first() {
            Some((&STATUS_READY, _)) => Status::Ready,
            Some((&STATUS_FAILED, message)) => Status::Failed(text(message)),
            Some((&STATUS_TAKEN, message)) => Status::Taken(text(message)),
            Some((other, _)) => Status::Failed(format!("unknown startup status byte {other}")),
            None => Status::Failed("it closed the startup socket without a status".to_owned()),
        }
    }
}

/// Connects to the server at `address`, starting one first if none answers. A server started
/// here does not check its remote cache first: a compile falls back, it does not fail.
pub fn connect_or_start(address: &ServerAddress) -> Result<Connection, StartError> {
    match Connection::open(address) {
        Ok(connection) => return Ok(connection),
        // Someone else's socket is in the way; starting a server would only find it in use.
        Err(error) if error.kind() == io::ErrorKind::PermissionDenied => {
            return Err(StartError::Forbidden(address.to_string(), error))
        }
        Err(_) => {}
    }
    start_server(address, false)?;
    Connection::open(address).map_err(|error| StartError::Unreachable(address.to_string(), error))
}

/// Starts a server for `address` and returns once one is listening there: the new one, or
/// another client's that won the race for the endpoint. With `check_storage` the new server
/// reads its remote cache once first and fails if it cannot (an explicit `--start-server`).
pub fn start_server(address: &ServerAddress, check_storage: bool) -> Result<(), StartError> {
    let setup = |what: &str| {
        let what = what.to_owned();
        move |error| StartError::Setup(what, error)
    };
    let directory = sccache_actors::private_dir::make("sccache-notify")
        .map_err(setup("cannot create a directory for the startup socket"))?;
    let socket_path = directory.path().join("notify.sock");
    let mut listener =
        UnixListener::bind(&socket_path).map_err(setup("cannot create the startup socket"))?;
    let mut child =
        spawn_daemon(&socket_path, check_storage).map_err(setup("cannot spawn the server"))?;
    let timeout = sccache_core::config::startup_timeout(&|name| std::env::var(name).ok())
        .unwrap_or(STARTUP_TIMEOUT);
    match wait_for_status(&mut listener, &mut child, timeout)? {
        Status::Ready => Ok(()),
        Status::Taken(message) => {
            reap_soon(&mut child);
            if wait_for_server(address, RACE_WAIT) {
                Ok(())
            } else {
                Err(StartError::Failed(message))
            }
        }
        Status::Failed(message) => {
            reap_soon(&mut child);
            Err(StartError::Failed(message))
        }
    }
}

/// Spawns this binary as the server, detached: no stdio, its own session (so the terminal's
/// Ctrl-C and hang-up reach the build, not the server), not waited for.
fn spawn_daemon(socket_path: &Path, check_storage: bool) -> io::Result<Child> {
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    if check_storage {
        command.env(CHECK_STORAGE_VAR, "1");
    } else {
        command.env_remove(CHECK_STORAGE_VAR);
    }
    command
        .env(START_SERVER_VAR, "1")
        .env(NOTIFY_VAR, socket_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    crate::sys::in_own_session(&mut command).spawn()
}

/// Waits up to `timeout` for the child to connect to `listener` and report, noticing early if
/// the child dies without a word.
fn wait_for_status(
    listener: &mut UnixListener,
    child: &mut Child,
    timeout: Duration,
) -> Result<Status, StartError> {
    const LISTENER: Token = Token(0);
    const STREAM: Token = Token(1);
    let io_error = |what: &'static str| move |error| StartError::Setup(what.to_owned(), error);
    let mut poll = Poll::new().map_err(io_error("cannot wait for the server"))?;
    poll.registry()
        .register(listener, LISTENER, Interest::READABLE)
        .map_err(io_error("cannot wait for the server"))?;
    let deadline = Instant::now() + timeout;
    let mut events = Events::with_capacity(4);
    let mut stream: Option<mio::net::UnixStream> = None;
    let mut received = Vec::new();
    let mut exited: Option<ExitStatus> = None;
    loop {
        if stream.is_none() {
            match listener.accept() {
                Ok((mut accepted, _)) => {
                    poll.registry()
                        .register(&mut accepted, STREAM, Interest::READABLE)
                        .map_err(io_error("cannot read the server's status"))?;
                    stream = Some(accepted);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(io_error("cannot accept the server's status")(error)),
            }
        }
        if let Some(open) = stream.as_mut() {
            // Readiness is edge-triggered: read until the socket has nothing more for now.
            let mut buffer = [0u8; 4096];
            loop {
                match open.read(&mut buffer) {
                    Ok(0) => return Ok(Status::decode(&received)),
                    Ok(count) => {
                        received.extend_from_slice(&buffer[..count]);
                        if received.len() > MAX_STATUS_BYTES {
                            return Ok(Status::decode(&received));
                        }
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => return Err(io_error("cannot read the server's status")(error)),
                }
            }
        } else if let Some(status) = exited {
            // The child had exited before the last accept, which found no connection: it
            // will never report.
            return Err(StartError::Exited(status));
        } else if let Ok(Some(status)) = child.try_wait() {
            // Look once more for a connection it made just before exiting.
            exited = Some(status);
            continue;
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(StartError::TimedOut(timeout));
        }
        let wait = (deadline - now).min(CHILD_CHECK_INTERVAL);
        match poll.poll(&mut events, Some(wait)) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(io_error("cannot wait for the server")(error)),
        }
    }
}

/// Polls the endpoint until a server accepts there, for up to `limit`.
pub fn wait_for_server(address: &ServerAddress, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if Connection::open(address).is_ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A server that reported failure exits right after; wait a moment for it so it does not stay
/// a zombie while this client compiles locally.
fn reap_soon(child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn status_bytes_parse() {
        assert_eq!(Status::decode(&[STATUS_READY]), Status::Ready);
        assert_eq!(
            Status::decode(b"\x01bad SCCACHE_DIR\n"),
            Status::Failed("bad SCCACHE_DIR".into())
        );
        assert_eq!(
            Status::decode(b"\x02cannot listen on 127.0.0.1:4226"),
            Status::Taken("cannot listen on 127.0.0.1:4226".into())
        );
        assert!(matches!(Status::decode(&[]), Status::Failed(_)));
        assert!(matches!(Status::decode(&[7]), Status::Failed(_)));
    }

    #[test]
    fn statuses_survive_encoding() {
        for status in [
            Status::Ready,
            Status::Failed("no cache dir".into()),
            Status::Taken("address already in use".into()),
        ] {
            assert_eq!(Status::decode(&status.encode()), status);
        }
    }

    #[test]
    fn a_failure_that_mentions_a_taken_address_is_still_a_failure() {
        // Only the status byte says that another server won; words in a message do not.
        assert!(matches!(
            Status::decode(b"\x01cannot start the storage backend: address in use"),
            Status::Failed(_)
        ));
    }

    fn notify_socket() -> (tempfile::TempDir, std::path::PathBuf, UnixListener) {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("notify.sock");
        let listener = UnixListener::bind(&path).unwrap();
        (directory, path, listener)
    }

    #[test]
    fn a_reported_failure_is_read_through_the_socket() {
        let (_directory, path, mut listener) = notify_socket();
        let mut child = Command::new("/bin/sleep").arg("5").spawn().unwrap();
        let reporter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            let mut stream = std::os::unix::net::UnixStream::connect(&path).unwrap();
            stream.write_all(b"\x01no cache dir").unwrap();
        });
        let status = wait_for_status(&mut listener, &mut child, Duration::from_secs(5));
        reporter.join().unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(status.unwrap(), Status::Failed("no cache dir".into()));
    }

    #[test]
    fn a_child_dying_silently_is_noticed_before_the_timeout() {
        let (_directory, _path, mut listener) = notify_socket();
        let mut child = Command::new("/bin/sh")
            .args(["-c", "exit 3"])
            .spawn()
            .unwrap();
        let started = Instant::now();
        let status = wait_for_status(&mut listener, &mut child, Duration::from_secs(10));
        assert!(matches!(status, Err(StartError::Exited(_))), "{status:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn silence_times_out() {
        let (_directory, _path, mut listener) = notify_socket();
        let mut child = Command::new("/bin/sleep").arg("5").spawn().unwrap();
        let status = wait_for_status(&mut listener, &mut child, Duration::from_millis(200));
        let _ = child.kill();
        let _ = child.wait();
        assert!(matches!(status, Err(StartError::TimedOut(_))), "{status:?}");
    }
}
