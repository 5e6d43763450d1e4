//! Where the disk cache keeps things: the sharded layout (`<dir>/<h0>/<h1>/<hex key>`, as
//! sccache lays it out) and the prefix of temporary files. Shared by the actor and the scan,
//! below both.

use sccache_core::hash_key::CacheKey;
use std::path::{Path, PathBuf};

/// How the names of temp files start, ours and those of other writers using `tempfile`.
pub(super) const TEMP_PREFIX: &str = ".tmp";

/// Where the entry for `key` lives: `<dir>/<h0>/<h1>/<hex>`, as sccache lays it out.
pub(super) fn entry_path(dir: &Path, key: &CacheKey) -> PathBuf {
    shard_dir(dir, shard_of(key)).join(key.to_hex())
}

/// The shard of a key: its first byte, whose two hex digits name the shard's directories.
pub(super) fn shard_of(key: &CacheKey) -> u8 {
    key.0[0]
}

/// The directory of shard `shard`: `<dir>/<high hex digit>/<low hex digit>`.
pub(super) fn shard_dir(dir: &Path, shard: u8) -> PathBuf {
    dir.join(format!("{:x}", shard >> 4))
        .join(format!("{:x}", shard & 0xf))
}
