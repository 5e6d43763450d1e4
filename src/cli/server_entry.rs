//! Running the server in this process: as the daemon a client spawned (`SCCACHE_START_SERVER=1`)
//! or in the foreground (`SCCACHE_NO_DAEMON=1 sccache --start-server`).
//!
//! This module sets up logging (`logging`), reads the configuration (environment, then the
//! config file), hands both to
//! `sccache_actors::server::run`, and tells whoever waits (the spawning client through
//! `SCCACHE_STARTUP_NOTIFY`, or a person at the terminal) whether the server is listening.
//! Invariant: a waiting client always hears one status, even when the server fails before it
//! binds, so it never sits out the whole startup timeout. The server's own work lives in the
//! actors crate.

use crate::spawn::{Status, CHECK_STORAGE_VAR, NOTIFY_VAR};
use sccache_actors::server_error::ServerError;
use sccache_core::config::{client_endpoint, load_server_config, ServerConfig};
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

/// Exit code of a server that could not start or stopped on an error.
const FAILED: i32 = 2;

/// Where the startup status goes.
enum Listener {
    /// The client that spawned this daemon, waiting on a Unix socket.
    Socket(OsString),
    /// A person at a terminal: a line on stderr naming the endpoint.
    Terminal { endpoint: String },
}

/// Delivers the startup status exactly once, whichever of the server and this module gets to it.
#[derive(Clone)]
struct Notifier {
    listener: Arc<Mutex<Option<Listener>>>,
}

impl Notifier {
    fn new(listener: Listener) -> Notifier {
        Notifier {
            listener: Arc::new(Mutex::new(Some(listener))),
        }
    }

    /// Sends `status` unless a status was already sent.
    fn send(&self, status: Status) {
        let taken = match self.listener.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        match taken {
            Some(Listener::Socket(path)) => notify_socket(&path, &status),
            Some(Listener::Terminal { endpoint }) => match status {
                Status::Ready => eprintln!("sccache: listening on {endpoint}"),
                Status::Failed(message) | Status::Taken(message) => {
                    eprintln!("sccache: server failed to start: {message}")
                }
            },
            None => {}
        }
    }
}

fn notify_socket(path: &OsString, status: &Status) {
    let message = status.encode();
    let sent = UnixStream::connect(path).and_then(|mut stream| stream.write_all(&message));
    if let Err(error) = sent {
        log::warn!("cannot report startup status to {path:?}: {error}");
    }
}

/// Whether this process was spawned to be the server.
pub fn requested() -> bool {
    requested_flag(crate::spawn::START_SERVER_VAR)
}

fn requested_flag(name: &str) -> bool {
    sccache_core::config::env_flag(&lookup, name)
}

fn lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Runs as the daemon a client spawned; returns the process's exit code.
pub fn run_daemon() -> i32 {
    // Leave the spawning client's session, so its terminal's signals do not reach the server.
    // The client already did this between fork and exec; failing again (as session leader) is
    // expected and harmless.
    let _ = rustix::process::setsid();
    crate::sys::close_inherited_descriptors();
    // The compilers it runs inherit ignored signals, and gcc keeps an ignored SIGINT ignored;
    // the server interrupts an abandoned compile with SIGINT, so the default action is back.
    crate::sys::restore_interrupt_actions();
    crate::logging::init(true, lookup);
    let notifier = match std::env::var_os(NOTIFY_VAR) {
        Some(path) => Notifier::new(Listener::Socket(path)),
        None => Notifier::new(Listener::Terminal {
            endpoint: endpoint_text(),
        }),
    };
    serve(notifier, requested_flag(CHECK_STORAGE_VAR))
}

/// Runs in the foreground, logging to stderr; returns the process's exit code.
pub fn run_foreground() -> i32 {
    crate::logging::init(false, lookup);
    // Started by hand: a cache it cannot use is an error to show now, as sccache shows it.
    serve(
        Notifier::new(Listener::Terminal {
            endpoint: endpoint_text(),
        }),
        true,
    )
}

/// The endpoint for a message to a person; a bad setting is reported when the server reads
/// its configuration.
fn endpoint_text() -> String {
    client_endpoint(&lookup).map_or_else(
        |_| "its endpoint".to_owned(),
        |endpoint| endpoint.to_string(),
    )
}

fn serve(notifier: Notifier, check_storage: bool) -> i32 {
    let config: ServerConfig = match load_server_config(&lookup) {
        Ok((config, ignored)) => {
            for warning in ignored {
                log::warn!("config file: {warning}");
            }
            config
        }
        Err(error) => {
            log::error!("server failed to start: {error}");
            notifier.send(Status::Failed(error.to_string()));
            return FAILED;
        }
    };
    let ready_notifier = notifier.clone();
    let ready = Box::new(move |result: Result<(), &ServerError>| {
        ready_notifier.send(startup_status(result))
    });
    // Compiles are watched by this very program (`reaper`), should the server die.
    sccache_actors::reaper::set_program("/proc/self/exe".into());
    match sccache_actors::server::run(config, check_storage, ready) {
        Ok(()) => 0,
        Err(error) => {
            if error.is_endpoint_taken() {
                // Another client's server won the race for the endpoint; that is how
                // concurrent starts resolve, not a fault.
                log::info!("not serving: {error}")
            } else {
                log::error!("server stopped: {error}")
            }
            // Reaches the waiting client only if the server failed before it reported.
            notifier.send(startup_status(Err(&error)));
            FAILED
        }
    }
}

/// The status for the waiting client: a taken endpoint is told apart, so that the client uses
/// the server that holds it instead of giving up.
fn startup_status(result: Result<(), &ServerError>) -> Status {
    match result {
        Ok(()) => Status::Ready,
        Err(error) if error.is_endpoint_taken() => Status::Taken(error.to_string()),
        Err(error) => Status::Failed(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn status_is_sent_once_as_byte_and_message() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("notify.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let notifier = Notifier::new(Listener::Socket(path.into_os_string()));
        notifier.send(Status::Failed("no cache dir".into()));
        // A second status (the server's error after it already reported) is not sent.
        notifier.send(Status::Ready);
        let (mut stream, _) = listener.accept().unwrap();
        let mut received = Vec::new();
        stream.read_to_end(&mut received).unwrap();
        assert_eq!(received, b"\x01no cache dir");
        listener.set_nonblocking(true).unwrap();
        assert!(listener.accept().is_err());
    }

    #[test]
    fn a_taken_endpoint_is_reported_as_taken_not_failed() {
        let endpoint = sccache_core::config::Endpoint::Unix("/run/user/1/sccache/s.sock".into());
        let in_use = ServerError::InUse { endpoint };
        assert_eq!(
            startup_status(Err(&in_use)),
            Status::Taken(in_use.to_string())
        );
        let port_taken = ServerError::Bind {
            endpoint: sccache_core::config::Endpoint::Tcp(4226),
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        };
        assert!(matches!(startup_status(Err(&port_taken)), Status::Taken(_)));
        let storage = ServerError::Storage("no bucket".into());
        assert!(matches!(startup_status(Err(&storage)), Status::Failed(_)));
        assert_eq!(startup_status(Ok(())), Status::Ready);
    }
}
