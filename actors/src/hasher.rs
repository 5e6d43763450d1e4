//! The hasher: CPU-bound hashing of files on its own threads (a `SyncArbiter`), so that hashing
//! an rlib or a compiler's libraries never stalls the actors that answer clients.
//!
//! It digests files; it decides nothing about what goes into a key. (The preprocessed text of a
//! C compile is digested as it streams out of the preprocessor, on the blocking pool fed by the
//! dispatcher, so that the hashing overlaps the preprocessor's run.)

use actix::prelude::*;
use sccache_core::hash_key;
use std::path::PathBuf;

/// The hashing actor; run it with `SyncArbiter::start`.
pub struct Hasher;

impl Actor for Hasher {
    type Context = SyncContext<Self>;
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
