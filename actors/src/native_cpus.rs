//! `NativeCpus`: what `-C target-cpu=native` means (the CPU rustc picks and the features that
//! come with it), remembered per toolchain and target for the server's lifetime, so that a
//! build with `RUSTFLAGS="-C target-cpu=native"` starts no rustc for a crate that hits.
//!
//! Invariant: an answer is used only for the toolchain (its identity: the digests of its real
//! rustc and libraries), the program named, the target and the places a custom target is
//! found (`RUST_TARGET_PATH`, and the directory when the target is a file) it was asked for.
//! rustc takes `native` from the CPU it runs on, which does not change under a running server.
//! It decides nothing about keys (`flow/rust.rs` puts the answer into `RustInputs`).

use std::collections::HashMap;
use std::ffi::OsString;
use std::sync::{Arc, Mutex};

/// How many answers are remembered before the memo starts again.
const CAPACITY: usize = 256;

/// What an answer was asked for.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NativeQuery {
    pub toolchain: [u8; 32],
    pub exe: OsString,
    pub target: Option<String>,
    pub target_path: Option<OsString>,
    /// The working directory, when the target names a file (a relative one is found there).
    pub cwd: Option<OsString>,
}

/// Shared by every connection through `Services`.
#[derive(Clone, Default)]
pub struct NativeCpus(Arc<Mutex<HashMap<NativeQuery, Vec<u8>>>>);

impl NativeCpus {
    pub fn get(&self, query: &NativeQuery) -> Option<Vec<u8>> {
        self.0.lock().ok()?.get(query).cloned()
    }

    pub fn remember(&self, query: NativeQuery, answer: Vec<u8>) {
        if let Ok(mut known) = self.0.lock() {
            if known.len() >= CAPACITY {
                known.clear();
            }
            known.insert(query, answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_kept_for_its_query_alone() {
        let query = NativeQuery {
            toolchain: [1; 32],
            exe: "rustc".into(),
            target: None,
            target_path: None,
            cwd: None,
        };
        let memo = NativeCpus::default();
        assert_eq!(memo.get(&query), None);
        memo.remember(query.clone(), b"haswell".to_vec());
        assert_eq!(memo.get(&query), Some(b"haswell".to_vec()));
        let other_toolchain = NativeQuery {
            toolchain: [2; 32],
            ..query.clone()
        };
        assert_eq!(memo.get(&other_toolchain), None);
        let other_target = NativeQuery {
            target: Some("aarch64-unknown-linux-gnu".into()),
            ..query
        };
        assert_eq!(memo.get(&other_target), None);
    }
}
