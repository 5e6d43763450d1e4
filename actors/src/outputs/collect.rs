//! Collecting: reading the files a compile wrote into an entry's files (`outputs`).

use super::file::{blocking, OutputError, OutputFile};
use crate::digest_memo::DigestMemo;
use crate::file_stamp::FileStamp;
use crate::flow::started::Started;
use sccache_core::entry::{ContentSource, EntryFile, External};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Collects the outputs a compile wrote. A small file is read into the entry; a large one is
/// kept open and hashed, as an `External` file whose source is the output itself (checked
/// unchanged by whoever copies from it, `ContentSource::unchanged`): the disk cache copies it
/// into its content file in the kernel, a remote backend reads it when it encodes
/// (`EntryFile::load`), and no copy of a large output passes through the server's memory on
/// its way to the disk cache.
///
/// The digest of a large output is also given to `digests` (under its racily-clean rule), so
/// the next crate's key, which digests the same rlib, does not read it again.
///
/// Every output must have been written since the compile `began`: a file left at a path the
/// compile was expected to write and did not (a `.dwo` of a compile without debug info, from
/// an earlier build) is no output of this one, and nothing is stored.
pub async fn collect(
    files: Vec<OutputFile>,
    digests: &DigestMemo,
    began: Started,
) -> Result<Vec<EntryFile>, OutputError> {
    let digests = digests.clone();
    blocking(move || {
        files
            .into_iter()
            .map(|file| {
                let read = |source| OutputError::Read {
                    path: file.path.clone(),
                    source,
                };
                // Only a regular file is an output worth keeping: a compile to /dev/null or
                // through a symlink must not store what reading that path happens to give.
                let metadata = std::fs::symlink_metadata(&file.path).map_err(read)?;
                if !metadata.is_file() {
                    return Err(OutputError::NotRegular(file.path));
                }
                if began.modified_before(&metadata) {
                    return Err(OutputError::NotWritten(file.path));
                }
                let mode = Some(metadata.permissions().mode() & 0o777);
                if metadata.len() >= sccache_core::entry::EXTERNAL_MIN {
                    if let Some(external) = kept_open(&file.path, &metadata, &digests) {
                        return Ok(EntryFile {
                            name: file.name,
                            mode,
                            data: Vec::new(),
                            external: Some(external),
                        });
                    }
                }
                let data = std::fs::read(&file.path).map_err(read)?;
                Ok(EntryFile {
                    name: file.name,
                    mode,
                    data,
                    external: None,
                })
            })
            .collect()
    })
    .await
}

/// The output at `path` (a regular file whose `symlink_metadata` was `seen`) opened and hashed,
/// as an `External` file with itself as the source; `None` when it changed (or was replaced)
/// while it was read, or cannot be read: then its bytes are read instead.
fn kept_open(path: &Path, seen: &std::fs::Metadata, digests: &DigestMemo) -> Option<External> {
    // Before the first stamp of the read, as `DigestMemo::digest` takes it.
    let began = Started::file_clock_now();
    let file = std::fs::File::open(path).ok()?;
    let checked = file.metadata().ok()?;
    if FileStamp::of(&checked) != FileStamp::of(seen) {
        return None;
    }
    let digest = sccache_core::hash_key::digest_reader(&file).ok()?;
    let source = ContentSource {
        file: std::sync::Arc::new(file),
        checked,
        output: true,
    };
    // The same whole stamp after the hash: unchanged, and the memo may take the digest. Else
    // `unchanged` decides, which leaves an output's ctime out.
    let after = source.file.metadata().ok()?;
    if FileStamp::of(&after) == FileStamp::of(&source.checked) {
        digests.remember_read(path, &source.file, &after, digest, began);
    } else if !source.unchanged() {
        return None;
    }
    Some(External {
        len: source.checked.len(),
        digest,
        source: Some(source),
    })
}

/// The targets that are there now (a failed compile's outputs: those it wrote).
pub async fn existing(files: Vec<OutputFile>) -> Vec<OutputFile> {
    blocking(move || {
        Ok(files
            .into_iter()
            .filter(|file| std::fs::symlink_metadata(&file.path).is_ok())
            .collect())
    })
    .await
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The digest a large output is collected with is the digest memo's for its stamp, so the
    /// next crate's key does not read it again; a rewrite (same length) moves the stamp and is
    /// read again.
    #[actix_rt::test]
    async fn a_collected_output_s_digest_is_remembered_for_its_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lib.rlib");
        let first = vec![1u8; 100_000];
        let began = Started::fresh();
        std::fs::write(&path, &first).unwrap();
        // Past the file system's clock tick: the output is settled when collected.
        std::thread::sleep(Duration::from_millis(50));
        let memo = DigestMemo::default();
        let targets = vec![OutputFile {
            name: "lib.rlib".into(),
            path: path.clone(),
        }];
        let files = collect(targets, &memo, began).await.unwrap();
        let digest = files[0].external.as_ref().unwrap().digest;
        assert_eq!(digest, sccache_core::hash_key::digest(&first));
        let stamp = FileStamp::at(&path).unwrap();
        assert_eq!(memo.remembered(&path, stamp), Some(digest));
        let second = vec![2u8; 100_000];
        std::fs::write(&path, &second).unwrap();
        let moved = FileStamp::at(&path).unwrap();
        assert_ne!(moved, stamp);
        assert_eq!(memo.remembered(&path, moved), None);
        assert_eq!(
            memo.digest(&path).unwrap(),
            sccache_core::hash_key::digest(&second)
        );
    }
}
