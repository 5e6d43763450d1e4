//! `NativeCpus`: what `-C target-cpu=native` means (the CPU rustc picks and the features that
//! come with it), remembered per toolchain and target for the server's lifetime, so that a
//! build with `RUSTFLAGS="-C target-cpu=native"` starts no rustc for a crate that hits.
//!
//! Invariant: an answer is used only for the toolchain (its identity: the digests of its real
//! rustc and libraries), the program named, the target and the places a custom target is
//! found (`RUST_TARGET_PATH`, and the directory when the target is a file) it was asked for.
//! rustc takes `native` from the CPU it runs on, which does not change under a running server.
//! It decides nothing about keys (`flow/rust.rs` puts the answer into `RustInputs`).

use crate::remembered::SharedAnswers;
use std::ffi::OsString;

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

/// Shared by every connection through `Services`: one probe per query, so that the crates of a
/// build asking at once start one rustc between them.
pub type NativeCpus = SharedAnswers<NativeQuery, Vec<u8>>;

/// An empty memo.
pub fn memo() -> NativeCpus {
    SharedAnswers::new(CAPACITY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::future::FutureExt;

    #[actix_rt::test]
    async fn an_answer_is_kept_for_its_query_alone() {
        let query = NativeQuery {
            toolchain: [1; 32],
            exe: "rustc".into(),
            target: None,
            target_path: None,
            cwd: None,
        };
        let memo = memo();
        let answer = |text: &'static [u8]| move || async move { Ok(text.to_vec()) }.boxed();
        let asked = memo.probe(query.clone(), answer(b"haswell")).unwrap().await;
        assert_eq!(asked, Ok(b"haswell".to_vec()));
        // Remembered: not asked again.
        let again = memo.probe(query.clone(), answer(b"other")).unwrap().await;
        assert_eq!(again, Ok(b"haswell".to_vec()));
        let other_toolchain = NativeQuery {
            toolchain: [2; 32],
            ..query.clone()
        };
        let other = memo
            .probe(other_toolchain, answer(b"znver3"))
            .unwrap()
            .await;
        assert_eq!(other, Ok(b"znver3".to_vec()));
        let other_target = NativeQuery {
            target: Some("aarch64-unknown-linux-gnu".into()),
            ..query
        };
        let other = memo.probe(other_target, answer(b"neoverse")).unwrap().await;
        assert_eq!(other, Ok(b"neoverse".to_vec()));
    }
}
