//! `ServerError`, why the server could not run: shared by the assembly (`server`), which
//! returns it, and the listener, which reports a taken endpoint with it. It lives below both so
//! that neither imports the other for it.
//!
//! The one kind callers branch on is a taken endpoint (`is_endpoint_taken`): another server
//! won the race to listen there, which is how concurrent starts resolve, not a fault. This
//! module decides nothing else.

use sccache_core::access::AccessError;
use sccache_core::config::{ConfigError, Endpoint};

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {endpoint}: {source}")]
    Bind {
        endpoint: Endpoint,
        source: std::io::Error,
    },
    /// Another server answers on the socket.
    #[error("cannot listen on {endpoint}: address already in use by a running server")]
    InUse { endpoint: Endpoint },
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot start the storage backend: {0}")]
    Storage(String),
    #[error("server runtime failed: {0}")]
    Runtime(#[from] std::io::Error),
}

impl ServerError {
    /// Whether another server holds the endpoint: a live server on the Unix socket, or the TCP
    /// port in use. A client that spawned this server then uses that one.
    pub fn is_endpoint_taken(&self) -> bool {
        match self {
            ServerError::InUse { .. } => true,
            ServerError::Bind { source, .. } => source.kind() == std::io::ErrorKind::AddrInUse,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_endpoint_is_told_from_other_failures() {
        let endpoint = Endpoint::Tcp(4226);
        let in_use = ServerError::InUse {
            endpoint: endpoint.clone(),
        };
        let port_taken = ServerError::Bind {
            endpoint: endpoint.clone(),
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        };
        let refused = ServerError::Bind {
            endpoint,
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        assert!(in_use.is_endpoint_taken());
        assert!(port_taken.is_endpoint_taken());
        assert!(!refused.is_endpoint_taken());
        assert!(!ServerError::Storage("no bucket".into()).is_endpoint_taken());
    }
}
