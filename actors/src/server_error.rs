//! `ServerError`, why the server could not run: shared by the assembly (`server`), which
//! returns it, and the listener, which reports a taken endpoint with it. It lives below both so
//! that neither imports the other for it.

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
    /// Another server answers on the socket. The wording is the one the spawning client
    /// recognises as "another server won the race".
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
