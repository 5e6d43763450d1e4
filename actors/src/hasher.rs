//! The hasher: CPU-bound hashing of files on its own threads (a `SyncArbiter`), so that hashing
//! an rlib or a compiler's libraries never stalls the actors that answer clients.
//!
//! It digests files, and the preprocessed text of a C compile chunk by chunk as the dispatcher
//! forwards it from the running preprocessor (`DigestStream`), so that a hit costs the
//! preprocessor and little more. It decides nothing about what goes into a key. A stream holds
//! one thread until its sender is dropped; the server starts one thread more than the
//! dispatcher runs processes, so a file digest always finds a thread.

use actix::prelude::*;
use sccache_core::hash_key;
use sccache_core::source_digest::{SourceDigest, SourceSummary};
use std::path::PathBuf;

/// The hashing actor; run it with `SyncArbiter::start`.
pub struct Hasher;

impl Actor for Hasher {
    type Context = SyncContext<Self>;
}

/// Digests text arriving over a channel, until every sender is dropped.
#[derive(Message)]
#[rtype(result = "SourceSummary")]
pub struct DigestStream {
    pub chunks: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
}

impl Handler<DigestStream> for Hasher {
    type Result = MessageResult<DigestStream>;

    fn handle(&mut self, mut message: DigestStream, _: &mut SyncContext<Self>) -> Self::Result {
        let mut digest = SourceDigest::new();
        while let Some(chunk) = message.chunks.blocking_recv() {
            digest.update(&chunk);
        }
        MessageResult(digest.finish())
    }
}

/// Digests the contents of files, in order; a file that cannot be read is an error naming it.
#[derive(Message)]
#[rtype(result = "Result<Vec<[u8; 32]>, std::io::Error>")]
pub struct DigestFiles {
    pub paths: Vec<PathBuf>,
}

impl Handler<DigestFiles> for Hasher {
    type Result = Result<Vec<[u8; 32]>, std::io::Error>;

    fn handle(&mut self, message: DigestFiles, _: &mut SyncContext<Self>) -> Self::Result {
        message
            .paths
            .iter()
            .map(|path| {
                std::fs::read(path)
                    .map(|bytes| hash_key::digest(&bytes))
                    .map_err(|error| {
                        std::io::Error::new(error.kind(), format!("{}: {error}", path.display()))
                    })
            })
            .collect()
    }
}
