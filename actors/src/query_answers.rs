//! `QueryAnswers`: the answers to cargo's `--print` queries (`flow::rust_query` decides which
//! may be remembered and under what), kept for the server's lifetime, so that a build's start
//! runs no rustc for them.
//!
//! Invariant: an answer is used only for a query with the same key: the toolchain's identity
//! and sysroot, the program, the working directory, every argument and the environment but
//! the jobserver's variables; and only answers from runs that exited with 0 are kept.

use crate::remembered::SharedAnswers;
use std::ffi::OsString;
use std::path::PathBuf;

/// How many answers are remembered before the memo starts again.
const CAPACITY: usize = 64;

/// Everything a `--print` answer may depend on.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct QueryKey {
    pub toolchain: [u8; 32],
    pub sysroot: PathBuf,
    pub exe: OsString,
    pub cwd: OsString,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
}

/// A query's stdout and stderr, from a run that exited with 0.
pub type Answer = (Vec<u8>, Vec<u8>);

/// The `--print` answers, shared by every connection through `Services`; concurrent askers
/// share one run, and a failure (not kept) is asked again.
pub type QueryAnswers = SharedAnswers<QueryKey, Answer>;

/// An empty memo.
pub fn memo() -> QueryAnswers {
    SharedAnswers::new(CAPACITY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::future::FutureExt;

    fn key(args: &[&str]) -> QueryKey {
        QueryKey {
            toolchain: [1; 32],
            sysroot: "/toolchain".into(),
            exe: "rustc".into(),
            cwd: "/work".into(),
            args: args.iter().map(OsString::from).collect(),
            env: Vec::new(),
        }
    }

    #[actix_rt::test]
    async fn an_answer_is_kept_for_its_key_alone_and_a_failure_not_at_all() {
        let memo = memo();
        let answer =
            |text: &'static [u8]| move || async move { Ok((text.to_vec(), Vec::new())) }.boxed();
        let failure = || async { Err("exit status 1".to_owned()) }.boxed();
        let cfg = key(&["-", "--print=cfg"]);
        assert!(memo.probe(cfg.clone(), failure).unwrap().await.is_err());
        let asked = memo.probe(cfg.clone(), answer(b"unix")).unwrap().await;
        assert_eq!(asked, Ok((b"unix".to_vec(), Vec::new())));
        let again = memo.probe(cfg.clone(), answer(b"other")).unwrap().await;
        assert_eq!(again, Ok((b"unix".to_vec(), Vec::new())));
        let other_env = QueryKey {
            env: vec![("RUSTC_BOOTSTRAP".into(), "1".into())],
            ..cfg
        };
        let other = memo.probe(other_env, answer(b"nightly")).unwrap().await;
        assert_eq!(other, Ok((b"nightly".to_vec(), Vec::new())));
    }
}
