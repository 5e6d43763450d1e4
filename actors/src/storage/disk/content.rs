//! Content files: an entry's large outputs kept as files of their own beside the entry, so a
//! hit restores them by clone (reflink) or in-kernel copy instead of through memory.
//!
//! Layout: a file of at least `EXTERNAL_MIN` bytes is written to `<shard>/<hex key>.<hex
//! SHA-256>` (read-only, the cache's entry mode less every write bit) before the entry, which
//! records it as `External { len, digest }` in place of its bytes. A content file belongs to the
//! entry its name starts with: the scan counts and evicts the two together (`group_of`).
//!
//! Invariant: a content file is trusted only once it is checked. At a lookup it is opened and
//! checked to be a regular file of the recorded length whose SHA-256 is the recorded one, the
//! digest coming from a `DigestMemo` (read and hashed the first time the server sees the file
//! with this inode, size, mtime and ctime; remembered only once settled), and to be the same
//! file, unchanged, before and after the digest. The restore copies from that open file and
//! compares its metadata after the copy (`ContentSource::checked`). Content files are never
//! hard-linked to a target, so nothing a build does to its outputs reaches them.

use crate::content_copy;
use crate::digest_memo::DigestMemo;
use crate::file_stamp::FileStamp;
use sccache_core::entry::{ContentSource, EntryFile, External, EXTERNAL_MIN};
use sccache_core::hash_key::CacheKey;
use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the content file of `digest` in the entry of `key` lives, beside the entry at
/// `entry_path`.
pub(super) fn content_path(entry_path: &Path, key: &CacheKey, digest: &[u8; 32]) -> PathBuf {
    let name = format!("{}.{}", key.to_hex(), hex(digest));
    entry_path.with_file_name(name)
}

/// The entry a file of the cache directory belongs to: the part of its name before the first
/// dot (an entry's own name has none).
pub(super) fn group_of(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

/// Moves the large files of `entry` into content files beside `entry_path`, written through a
/// temp file each and read-only (`mode` less its write bits); the entry keeps their length and
/// digest. A file that comes as an `External` with a source (a compile's output kept open by
/// `outputs::collect`) is copied from it by clone or in-kernel copy (`content_copy::fill`), and
/// only if the source is still as it was when it was hashed; an `External` without a source
/// (bytes nowhere) is an error. A content file already there under its name (the same key
/// stored again with the same output) is kept. A content file written here is vouched for in
/// `memo` (see `vouch_written`), so that the first hit does not read and hash it again.
/// Returns the bytes written. Runs on the blocking pool.
pub(super) fn externalize(
    entry_path: &Path,
    key: &CacheKey,
    files: &mut [EntryFile],
    mode: u32,
    temp_prefix: &str,
    memo: &DigestMemo,
) -> io::Result<u64> {
    let shard = entry_path
        .parent()
        .ok_or_else(|| io::Error::other("entry path has no directory"))?;
    let mut written = 0;
    for file in files.iter_mut() {
        let (len, digest) = match &file.external {
            Some(external) => (external.len, external.digest),
            None if file.data.len() as u64 >= EXTERNAL_MIN => (
                file.data.len() as u64,
                sccache_core::hash_key::digest(&file.data),
            ),
            None => continue,
        };
        let path = content_path(entry_path, key, &digest);
        let present = fs::symlink_metadata(&path)
            .is_ok_and(|metadata| metadata.is_file() && metadata.len() == len);
        if !present {
            let mut temp = tempfile::Builder::new()
                .prefix(temp_prefix)
                .permissions(Permissions::from_mode(mode & 0o444))
                .tempfile_in(shard)?;
            // Whether the bytes written are known to have `digest`: the entry's own, or an
            // output's whose whole stamp, change time included, is still the one it had when
            // it was hashed (fine-grained stamps: any write since moved the change time, even
            // one whose modification time was put back, as `objcopy -p` or `touch -r` do).
            // `unchanged` leaves the change time out (cargo links its outputs), so such an
            // output is stored unvouched, and its first hit hashes the content file.
            let known = match &file.external {
                Some(External {
                    source: Some(source),
                    ..
                }) => {
                    content_copy::fill(&source.file, temp.as_file(), len)?;
                    if !source.unchanged() || temp.as_file().metadata()?.len() != len {
                        return Err(io::Error::other("an output changed before it was stored"));
                    }
                    let whole_stamp_kept = source
                        .file
                        .metadata()
                        .is_ok_and(|now| FileStamp::of(&now) == FileStamp::of(&source.checked));
                    whole_stamp_kept && crate::file_system::fine_grained_stamps(&source.file)
                }
                Some(_) => {
                    return Err(io::Error::other(
                        "an output kept outside the entry has no source",
                    ))
                }
                None => {
                    temp.write_all(&file.data)?;
                    true
                }
            };
            let filled = temp.as_file().metadata()?;
            let persisted = temp.persist(&path).map_err(|error| error.error)?;
            if known {
                vouch_written(memo, &path, &persisted, &filled, digest);
            }
            written += len;
        }
        file.data = Vec::new();
        file.external = Some(External {
            len,
            digest,
            source: None,
        });
    }
    Ok(written)
}

/// Remembers `digest` in `memo` for the content file just renamed to `path` (open as `file`),
/// whose bytes are known to have that digest: they are the entry's own bytes, or a copy of an
/// output whose whole stamp after the copy is the one it had when it was hashed, on a file
/// system where any write after that moved it. Only where its stamp vouches for the bytes
/// (`FileStamp::vouching`, as for a restore's targets); elsewhere the first hit reads the file.
fn vouch_written(
    memo: &DigestMemo,
    path: &Path,
    file: &File,
    filled: &fs::Metadata,
    digest: [u8; 32],
) {
    if let Some(stamp) = FileStamp::vouching(file, filled) {
        memo.vouch(path, stamp, digest);
    }
}

/// Why a content file cannot serve a hit.
#[derive(Debug, thiserror::Error)]
pub(super) enum ContentError {
    #[error("content file {0} cannot be read: {1}")]
    Unreadable(PathBuf, io::Error),
    #[error("content file {0} is not the file recorded (length or digest)")]
    Altered(PathBuf),
    #[error("content file {0} changed while it was checked")]
    Changed(PathBuf),
}

/// Finds and checks the content file of every external file of the entry of `key` at
/// `entry_path` (see the module's invariant), setting their sources.
pub(super) fn attach(
    entry_path: &Path,
    key: &CacheKey,
    files: &mut [EntryFile],
    memo: &DigestMemo,
) -> Result<(), ContentError> {
    for external in files.iter_mut().filter_map(|file| file.external.as_mut()) {
        let path = content_path(entry_path, key, &external.digest);
        external.source = Some(check(&path, external, memo)?);
    }
    Ok(())
}

fn check(
    path: &Path,
    external: &External,
    memo: &DigestMemo,
) -> Result<ContentSource, ContentError> {
    let unreadable = |error| ContentError::Unreadable(path.to_path_buf(), error);
    let file = File::open(path).map_err(unreadable)?;
    let checked = file.metadata().map_err(unreadable)?;
    if !checked.is_file() || checked.len() != external.len {
        return Err(ContentError::Altered(path.to_path_buf()));
    }
    let digest = memo.digest(path).map_err(unreadable)?;
    if digest != external.digest {
        return Err(ContentError::Altered(path.to_path_buf()));
    }
    let stamp = FileStamp::of(&checked);
    let after = file.metadata().map_err(unreadable)?;
    if FileStamp::of(&after) != stamp || FileStamp::at(path) != Some(stamp) {
        return Err(ContentError::Changed(path.to_path_buf()));
    }
    Ok(ContentSource {
        output: false,
        file: Arc::new(file),
        checked,
    })
}

/// The content files the entry's external files name, for removing them with it.
pub(super) fn paths_of(entry_path: &Path, key: &CacheKey, files: &[EntryFile]) -> Vec<PathBuf> {
    files
        .iter()
        .filter_map(|file| file.external.as_ref())
        .map(|external| content_path(entry_path, key, &external.digest))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
