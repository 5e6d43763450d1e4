//! The server's listening socket: binding the endpoint, accepting connections, admitting only
//! this user's peers, and removing the socket file when the server stops listening.
//!
//! A Unix socket is bound under a lock beside it, after making sure no live server answers
//! there (a stale file from a killed server is removed, a live one is reported as "address
//! already in use" so the client that spawned us connects to the winner instead). It is created
//! 0600, and every accepted peer must have this process's uid: the check holds even when the
//! directory around the socket was opened up by mistake. TCP peers cannot be identified, so
//! over TCP the connection actor checks the token instead. This module does not read requests.

use crate::connection::{Connection, Control};
use crate::flow::Services;
use crate::server_error::ServerError;
use sccache_core::access::{current_uid, NO_FOLLOW};
use sccache_core::config::Endpoint;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// A bound listener, not yet attached to a runtime.
pub enum Bound {
    Tcp(std::net::TcpListener),
    /// The file comes first so that it is dropped (and checked) while the listener still holds
    /// the socket's inode: a freed inode number could be reused by a newer server's socket.
    Unix(SocketFile, std::os::unix::net::UnixListener),
}

/// The socket file this server created; removed when dropped, unless another server has
/// replaced it since.
pub struct SocketFile {
    path: PathBuf,
    device: u64,
    inode: u64,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours = fs::symlink_metadata(&self.path)
            .is_ok_and(|metadata| metadata.dev() == self.device && metadata.ino() == self.inode);
        if ours {
            if let Err(error) = fs::remove_file(&self.path) {
                log::warn!("cannot remove {}: {error}", self.path.display());
            }
        }
    }
}

/// Binds `endpoint`. Runs before the runtime starts.
pub fn bind(endpoint: &Endpoint) -> Result<Bound, ServerError> {
    let bind_error = |source| ServerError::Bind {
        endpoint: endpoint.clone(),
        source,
    };
    match endpoint {
        Endpoint::Tcp(port) => {
            let listener = std::net::TcpListener::bind(("127.0.0.1", *port)).map_err(bind_error)?;
            listener.set_nonblocking(true).map_err(bind_error)?;
            Ok(Bound::Tcp(listener))
        }
        Endpoint::Unix(path) => {
            let (listener, file) = bind_unix(path).map_err(|error| match error {
                Unix::InUse => ServerError::InUse {
                    endpoint: endpoint.clone(),
                },
                Unix::Io(source) => bind_error(source),
            })?;
            listener.set_nonblocking(true).map_err(bind_error)?;
            Ok(Bound::Unix(file, listener))
        }
    }
}

enum Unix {
    /// A live server answers on the socket.
    InUse,
    Io(io::Error),
}

impl From<io::Error> for Unix {
    fn from(error: io::Error) -> Self {
        Unix::Io(error)
    }
}

fn bind_unix(path: &Path) -> Result<(std::os::unix::net::UnixListener, SocketFile), Unix> {
    // Two servers starting at once must not both find the old socket stale and remove each
    // other's new one; the lock makes check, removal and bind one step.
    let _lock = lock_beside(path)?;
    match fs::symlink_metadata(path) {
        Ok(metadata) if !metadata.file_type().is_socket() => {
            return Err(Unix::Io(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way",
            )))
        }
        Ok(_) => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(Unix::InUse);
            }
            log::info!("removing the stale socket {}", path.display());
            match fs::remove_file(path) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(error.into()),
            }
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error.into()),
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    // Between bind and chmod the socket has the umask's mode; a peer of another uid that gets
    // in during that instant is still refused by the uid check.
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    let metadata = fs::symlink_metadata(path)?;
    Ok((
        listener,
        SocketFile {
            path: path.to_owned(),
            device: metadata.dev(),
            inode: metadata.ino(),
        },
    ))
}

/// Takes an exclusive lock on `<path>.lock`; released when the file is dropped. The lock file
/// is never removed (removing it would let two servers lock different files).
fn lock_beside(path: &Path) -> io::Result<fs::File> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(NO_FOLLOW)
        .open(lock_path)?;
    loop {
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive) {
            Ok(()) => return Ok(file),
            Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(error.into()),
        }
    }
}

/// A listener on the runtime.
pub enum Listener {
    Tcp(tokio::net::TcpListener),
    /// The socket file is removed when the listener is dropped (file first, as in `Bound`).
    Unix(SocketFile, tokio::net::UnixListener),
}

impl Listener {
    /// Attaches a bound listener to the current runtime.
    pub fn attach(bound: Bound) -> io::Result<Listener> {
        Ok(match bound {
            Bound::Tcp(listener) => Listener::Tcp(tokio::net::TcpListener::from_std(listener)?),
            Bound::Unix(file, listener) => {
                Listener::Unix(file, tokio::net::UnixListener::from_std(listener)?)
            }
        })
    }

    /// Accepts connections and starts a `Connection` for each admitted one, until `stop` is
    /// notified; then closes the listener (and removes the socket file) at once, so that no
    /// new client reaches a server that is shutting down.
    pub async fn serve_until(self, stop: Arc<Notify>, services: Services, control: Control) {
        let own_uid = current_uid();
        loop {
            tokio::select! {
                () = stop.notified() => break,
                accepted = self.accept() => match accepted {
                    Ok(Accepted::Tcp(stream)) => {
                        let _ = stream.set_nodelay(true);
                        Connection::serve(stream, services.clone(), control.clone(), None);
                    }
                    Ok(Accepted::Unix(stream)) => match stream.peer_cred() {
                        Ok(peer) if peer.uid() == own_uid => {
                            let (stream, passed) = crate::passed_fds::receiving(stream);
                            Connection::serve(stream, services.clone(), control.clone(), Some(passed));
                        }
                        Ok(peer) => log::warn!(
                            "refused a connection from uid {} (pid {:?}); only uid {own_uid} \
                             may use this server",
                            peer.uid(),
                            peer.pid()
                        ),
                        Err(error) => {
                            log::warn!("refused a connection whose uid is unknown: {error}")
                        }
                    },
                    Err(error) => {
                        // Running out of file descriptors is the usual cause; back off
                        // briefly rather than spin.
                        log::warn!("accept failed: {error}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
        log::info!("no longer accepting connections");
    }

    async fn accept(&self) -> io::Result<Accepted> {
        match self {
            Listener::Tcp(listener) => Ok(Accepted::Tcp(listener.accept().await?.0)),
            Listener::Unix(_, listener) => Ok(Accepted::Unix(listener.accept().await?.0)),
        }
    }
}

enum Accepted {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_socket_is_replaced_and_the_new_one_is_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let Ok(Bound::Unix(file, _listener)) = bind(&Endpoint::Unix(path.clone())) else {
            panic!("bind failed");
        };
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        drop(file);
        assert!(!path.exists());
    }

    #[test]
    fn a_live_socket_is_reported_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.sock");
        let _live = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let Err(error) = bind(&Endpoint::Unix(path.clone())) else {
            panic!("bound over a live server");
        };
        assert!(matches!(error, ServerError::InUse { .. }));
        assert!(
            error.to_string().contains("address already in use"),
            "{error}"
        );
        assert!(path.exists());
    }

    #[test]
    fn a_file_that_is_not_a_socket_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.sock");
        fs::write(&path, b"precious").unwrap();
        assert!(bind(&Endpoint::Unix(path.clone())).is_err());
        assert_eq!(fs::read(&path).unwrap(), b"precious");
    }

    #[test]
    fn a_replaced_socket_is_not_removed_by_its_old_owner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.sock");
        let Ok(Bound::Unix(file, _listener)) = bind(&Endpoint::Unix(path.clone())) else {
            panic!("bind failed");
        };
        // Someone removes the file while this server still runs, and another server binds.
        fs::remove_file(&path).unwrap();
        let _newer = std::os::unix::net::UnixListener::bind(&path).unwrap();
        drop(file);
        assert!(path.exists());
    }
}
