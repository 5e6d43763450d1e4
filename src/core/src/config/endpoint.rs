//! Where the server listens and the client connects: `SCCACHE_SERVER_UDS`, `SCCACHE_SERVER_PORT`
//! or the default socket in the user's private runtime directory.
//!
//! It only names paths and ports; it must not create or check the private directory, which
//! `access::credential` does.

use super::read::ConfigError;
use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The server's socket in the private directory.
pub const SOCKET_FILE: &str = "server.sock";

/// Where the server listens and the client connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket at this path; the default, and `SCCACHE_SERVER_UDS`.
    Unix(PathBuf),
    /// TCP on 127.0.0.1 at this port (`SCCACHE_SERVER_PORT`); clients present a token.
    Tcp(u16),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(formatter, "{}", path.display()),
            Endpoint::Tcp(port) => write!(formatter, "127.0.0.1:{port}"),
        }
    }
}

/// Where the client connects and the server listens: `SCCACHE_SERVER_UDS` (a socket path), else
/// `SCCACHE_SERVER_PORT` (TCP on loopback), else a socket in the private directory.
pub fn client_endpoint(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Endpoint, ConfigError> {
    let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
    if let Some(path) = get("SCCACHE_SERVER_UDS") {
        // Clients in other directories must find the same socket.
        if !Path::new(&path).is_absolute() {
            return Err(ConfigError::Invalid {
                name: "SCCACHE_SERVER_UDS",
                value: path,
                expected: "an absolute path for the server's Unix socket",
            });
        }
        return Ok(Endpoint::Unix(PathBuf::from(path)));
    }
    match get("SCCACHE_SERVER_PORT") {
        None => Ok(Endpoint::Unix(private_dir(lookup).join(SOCKET_FILE))),
        Some(text) => match text.trim().parse::<u16>() {
            Ok(port) if port > 0 => Ok(Endpoint::Tcp(port)),
            _ => Err(ConfigError::Invalid {
                name: "SCCACHE_SERVER_PORT",
                value: text,
                expected: "a port number from 1 to 65535",
            }),
        },
    }
}

/// The user's private runtime directory: `$XDG_RUNTIME_DIR/sccache` when `XDG_RUNTIME_DIR` is
/// a directory of this user, else `sccache-<uid>` in the temporary directory. This only names
/// it; `access::credential` creates it or checks that it is private.
pub fn private_dir(lookup: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
    let uid = crate::access::current_uid();
    let runtime = get("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .filter(|path| {
            std::fs::metadata(path).is_ok_and(|metadata| metadata.is_dir() && metadata.uid() == uid)
        });
    match runtime {
        Some(runtime) => runtime.join("sccache"),
        None => get("TMPDIR")
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
            .unwrap_or_else(|| PathBuf::from("/tmp"))
            .join(format!("sccache-{uid}")),
    }
}
