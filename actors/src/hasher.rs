//! The hasher: CPU-bound hashing on its own threads (a `SyncArbiter`), so that hashing a large
//! preprocessed file or an rlib never stalls the actors that answer clients.
//!
//! It computes keys through `sccache_core::hash_key` and file digests; it decides nothing about
//! what goes into a key.

use actix::prelude::*;
use sccache_core::compiler::gcc::CCompilation;
use sccache_core::hash_key::{self, CacheKey, CompilerIdentity};
use std::ffi::OsString;
use std::path::PathBuf;

/// The hashing actor; run it with `SyncArbiter::start`.
pub struct Hasher;

impl Actor for Hasher {
    type Context = SyncContext<Self>;
}

/// Computes the key of a gcc/clang compile from its preprocessed source.
#[derive(Message)]
#[rtype(result = "CacheKey")]
pub struct HashC {
    pub compiler: CompilerIdentity,
    pub compilation: CCompilation,
    pub cwd: OsString,
    pub env: Vec<(OsString, OsString)>,
    pub preprocessed: Vec<u8>,
}

impl Handler<HashC> for Hasher {
    type Result = MessageResult<HashC>;

    fn handle(&mut self, message: HashC, _: &mut SyncContext<Self>) -> Self::Result {
        MessageResult(hash_key::c_key(
            &message.compiler,
            &message.compilation,
            &message.cwd,
            &message.env,
            &message.preprocessed,
        ))
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
