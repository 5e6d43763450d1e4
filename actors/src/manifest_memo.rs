//! `ManifestMemo`: the direct-mode manifests this server last read or wrote, by manifest key,
//! so that a direct hit neither reads nor decodes its manifest again.
//!
//! Invariant: remembering a manifest never makes a hit that the stored one would not: a hit
//! still needs one of its records to hold against the file system (`CheckManifest`), and the
//! result it names to be in storage. A manifest another process stored meanwhile is not seen
//! until this one is forgotten: at worst a direct miss, whose record then replaces both.
//! Bounded by the total size of the manifests' encodings: past it, everything is forgotten.

use sccache_core::direct::Manifest;
use sccache_core::hash_key::CacheKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The most bytes of encoded manifests remembered at once.
const CAPACITY: usize = 32 << 20;

#[derive(Default)]
struct Known {
    manifests: HashMap<CacheKey, (Arc<Manifest>, usize)>,
    bytes: usize,
}

/// Shared by every connection.
#[derive(Clone, Default)]
pub struct ManifestMemo(Arc<Mutex<Known>>);

impl ManifestMemo {
    /// The manifest remembered under `key`.
    pub fn get(&self, key: &CacheKey) -> Option<Arc<Manifest>> {
        let known = self.0.lock().ok()?;
        known
            .manifests
            .get(key)
            .map(|(manifest, _)| manifest.clone())
    }

    /// Remembers `manifest` under `key`, whose encoding is `size` bytes long.
    pub fn remember(&self, key: CacheKey, manifest: Arc<Manifest>, size: usize) {
        let Ok(mut known) = self.0.lock() else {
            return;
        };
        if let Some((_, old)) = known.manifests.remove(&key) {
            known.bytes -= old;
        }
        if known.bytes + size > CAPACITY {
            known.manifests.clear();
            known.bytes = 0;
        }
        if size <= CAPACITY {
            known.bytes += size;
            known.manifests.insert(key, (manifest, size));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_within_its_bound() {
        let memo = ManifestMemo::default();
        let manifest = Arc::new(Manifest::default());
        memo.remember(CacheKey([1; 32]), manifest.clone(), 10);
        assert!(memo.get(&CacheKey([1; 32])).is_some());
        assert!(memo.get(&CacheKey([2; 32])).is_none());
        memo.remember(CacheKey([2; 32]), manifest, CAPACITY);
        assert!(memo.get(&CacheKey([1; 32])).is_none());
        assert!(memo.get(&CacheKey([2; 32])).is_some());
    }
}
