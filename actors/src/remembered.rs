//! `Remembered`: probes remembered per key for the server's lifetime, shared by concurrent
//! requests, and made again when their answer no longer holds.
//!
//! The detector (which compiler an executable is) and the driver prober (what a driver runs)
//! both run a process once and answer many requests from it. A remembered probe is made again
//! when it failed (a spawn refused under load is no verdict) or when the caller's `stale` says
//! the files it was taken from changed. It is bounded: when full, it is emptied and refills.

use futures::future::{BoxFuture, FutureExt, Shared};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// A probe's answer, once, for everyone who asks while and after it runs.
pub type Probe<V> = Shared<BoxFuture<'static, Result<V, String>>>;

pub struct Remembered<K, V> {
    known: HashMap<K, Probe<V>>,
    limit: usize,
}

impl<K: Eq + Hash, V: Clone> Remembered<K, V> {
    pub fn new(limit: usize) -> Self {
        Remembered {
            known: HashMap::new(),
            limit,
        }
    }

    /// The answer remembered for `key`, if its probe has finished well.
    pub fn answer(&self, key: &K) -> Option<&V> {
        match self.known.get(key)?.peek() {
            Some(Ok(answer)) => Some(answer),
            _ => None,
        }
    }

    /// The probe remembered for `key`, unless it failed or its answer is `stale`; otherwise a
    /// new one from `probe`, remembered in its place.
    pub fn get_or_probe(
        &mut self,
        key: K,
        stale: impl FnOnce(&V) -> bool,
        probe: impl FnOnce() -> BoxFuture<'static, Result<V, String>>,
    ) -> Probe<V> {
        if self.known.len() >= self.limit {
            self.known.clear();
        }
        let outdated = self
            .known
            .get(&key)
            .is_some_and(|remembered| match remembered.peek() {
                Some(Ok(answer)) => stale(answer),
                Some(Err(_)) => true,
                None => false,
            });
        if outdated {
            self.known.remove(&key);
        }
        self.known
            .entry(key)
            .or_insert_with(|| probe().shared())
            .clone()
    }
}

/// A `Remembered` shared by every connection (through `Services`), for answers that hold for
/// the server's lifetime because their key holds everything they depend on (`NativeCpus`,
/// `QueryAnswers`): concurrent askers share one run, a failed run is made again.
pub struct SharedAnswers<K, V>(Arc<Mutex<Remembered<K, V>>>);

impl<K, V> Clone for SharedAnswers<K, V> {
    fn clone(&self) -> Self {
        SharedAnswers(self.0.clone())
    }
}

impl<K: Eq + Hash, V: Clone> SharedAnswers<K, V> {
    pub fn new(limit: usize) -> Self {
        SharedAnswers(Arc::new(Mutex::new(Remembered::new(limit))))
    }

    /// The answer for `key`: remembered, or under way from `ask` (made again after a
    /// failure). `None` only when the memo is unusable (a poisoned lock).
    pub fn probe(
        &self,
        key: K,
        ask: impl FnOnce() -> BoxFuture<'static, Result<V, String>>,
    ) -> Option<Probe<V>> {
        let mut known = self.0.lock().ok()?;
        Some(known.get_or_probe(key, |_| false, ask))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn a_probe_is_run_once_until_it_fails_or_is_stale() {
        let mut remembered: Remembered<&str, u32> = Remembered::new(8);
        let runs = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let probe = |answer: Result<u32, String>| {
            let runs = runs.clone();
            move || -> BoxFuture<'static, Result<u32, String>> {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move { answer }.boxed()
            }
        };
        assert_eq!(
            remembered.get_or_probe("a", |_| false, probe(Ok(1))).await,
            Ok(1)
        );
        assert_eq!(
            remembered.get_or_probe("a", |_| false, probe(Ok(2))).await,
            Ok(1)
        );
        assert_eq!(
            remembered
                .get_or_probe("a", |_| true, probe(Err("x".into())))
                .await,
            Err("x".into())
        );
        // A failure is not remembered as a verdict.
        assert_eq!(
            remembered.get_or_probe("a", |_| false, probe(Ok(3))).await,
            Ok(3)
        );
        // The first, the stale one and the one after the failure ran; the second was remembered.
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
}
