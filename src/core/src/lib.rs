//! Domain logic of the cache, with no actix and no sockets: the wire protocol and its framing,
//! configuration from the environment, who may reach the server (the private directory and the
//! TCP token), compiler argument parsing, the hash key, the cache entry format and the stats
//! data.
//!
//! Boundary: nothing here starts a thread, an actor or a connection. Reading files (`@file`
//! response files, dep-info) and preparing the user's private directory and token (`access`)
//! are the only I/O.

pub mod access;
pub mod compiler;
pub mod config;
pub mod direct;
pub mod entry;
pub mod entry_codec;
pub mod framing;
pub mod handshake;
pub mod hash_key;
pub mod jobserver;
pub mod line_markers;
pub mod manifest_version;
pub mod protocol;
pub mod size;
pub mod source_digest;
pub mod stats;

/// The version text both client and server report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
