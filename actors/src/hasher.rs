//! The hasher: CPU-bound hashing of files on its own threads (a `SyncArbiter`), so that hashing
//! an rlib or a compiler's libraries never stalls the actors that answer clients.
//!
//! It digests files: the preprocessed text of a C compile (`DigestSource`, which also scans it
//! for directives that make a compile uncacheable), the sources and externs of a rust compile,
//! compiler binaries, and the files a preprocessor read (`DigestReadFiles`, through the shared
//! `DigestMemo`). It decides nothing about what goes into a key.

use crate::digest_memo::DigestMemo;
use crate::file_stamp::FileStamp;
use actix::prelude::*;
use sccache_core::source_digest::{summarize, SourceSummary};
use std::io::Read;
use std::path::PathBuf;

/// The hashing actor; run it with `SyncArbiter::start`, every thread with the same memo.
pub struct Hasher {
    /// Also read by the direct-mode handlers (`manifest_files.rs`, `manifest_record.rs`).
    pub(crate) memo: DigestMemo,
}

impl Hasher {
    pub fn new(memo: DigestMemo) -> Self {
        Hasher { memo }
    }
}

impl Actor for Hasher {
    type Context = SyncContext<Self>;
}

/// Digests a compile's source text from a file: the preprocessed text the preprocessor wrote
/// to a scratch file, or an input that needs no preprocessing.
#[derive(Message)]
#[rtype(result = "Result<DigestedSource, std::io::Error>")]
pub struct DigestSource {
    pub path: PathBuf,
}

/// A source text's digest, with the stamp of the file it was read from.
#[derive(Debug, Clone, Copy)]
pub struct DigestedSource {
    pub summary: SourceSummary,
    pub stamp: FileStamp,
}

impl Handler<DigestSource> for Hasher {
    type Result = Result<DigestedSource, std::io::Error>;

    fn handle(&mut self, message: DigestSource, _: &mut SyncContext<Self>) -> Self::Result {
        let mut file = crate::file_system::open_regular(&message.path)?;
        let before = file.metadata()?;
        let mut text = Vec::with_capacity(usize::try_from(before.len()).unwrap_or(0));
        file.read_to_end(&mut text)?;
        // A file that changed while it was read has no one digest.
        let stamp = FileStamp::of(&before);
        if FileStamp::of(&file.metadata()?) != stamp {
            return Err(std::io::Error::other(format!(
                "{} changed while it was read",
                message.path.display()
            )));
        }
        Ok(DigestedSource {
            summary: summarize(&text),
            stamp,
        })
    }
}

/// Digests the contents of files, in order, through the `DigestMemo` (a toolchain's 150 MB
/// `librustc_driver` is read once per server, not once per directory a build compiles in); a
/// file that cannot be read is an error naming it.
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
                self.memo.digest(path).map_err(|error| {
                    std::io::Error::new(error.kind(), format!("{}: {error}", path.display()))
                })
            })
            .collect()
    }
}

/// Digests, as they are on disk, the files a preprocessor read: those the line markers of the
/// preprocessed text at `text` name, relative ones from `cwd`. A name that is no file (a
/// `#line` directive may make one up) has no digest; a file that cannot be read is an error,
/// and so is a precompiled header beside one (`<name>.gch`, `<name>.pch`, a file or a
/// directory): the compile may load it in the header's place, and the preprocessed text, made
/// without it, does not show what it holds.
#[derive(Message)]
#[rtype(result = "Result<Vec<(Vec<u8>, Option<[u8; 32]>)>, ReadFilesError>")]
pub struct DigestReadFiles {
    pub text: PathBuf,
    pub cwd: PathBuf,
}

/// Why the files a preprocessor read could not all be digested.
#[derive(Debug, thiserror::Error)]
pub enum ReadFilesError {
    #[error("{0}")]
    Unreadable(#[from] std::io::Error),
    #[error("a precompiled header beside a file read: {0}")]
    Precompiled(PathBuf),
}

impl Handler<DigestReadFiles> for Hasher {
    type Result = Result<Vec<(Vec<u8>, Option<[u8; 32]>)>, ReadFilesError>;

    fn handle(&mut self, message: DigestReadFiles, _: &mut SyncContext<Self>) -> Self::Result {
        use std::os::unix::ffi::OsStrExt;
        let text = std::fs::read(&message.text)?;
        sccache_core::line_markers::files_named(&text)
            .into_iter()
            .map(|name| {
                let path = message.cwd.join(std::ffi::OsStr::from_bytes(&name));
                for suffix in [".gch", ".pch"] {
                    let mut precompiled = path.clone().into_os_string();
                    precompiled.push(suffix);
                    if std::fs::symlink_metadata(&precompiled).is_ok() {
                        return Err(ReadFilesError::Precompiled(precompiled.into()));
                    }
                }
                match self.memo.digest(&path) {
                    Ok(digest) => Ok((name, Some(digest))),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok((name, None)),
                    Err(error) => Err(ReadFilesError::Unreadable(std::io::Error::new(
                        error.kind(),
                        format!("{}: {error}", path.display()),
                    ))),
                }
            })
            .collect()
    }
}
