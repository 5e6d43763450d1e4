//! A cache in levels (`SCCACHE_MULTILEVEL_CHAIN`): the `Chain` actor answers `Lookup`, `Store`
//! and `Describe` like a backend, over several backends, fastest first, so the compile flow
//! does not know it talks to more than one.
//!
//! - A lookup asks the levels in order and stops at the first hit. A hit in a slower level is
//!   written back to every faster writable level, after the reply (the copy of the entry it
//!   needs is made before). A corrupt entry or an unreadable level is that level's miss and the
//!   lookup goes on; with no hit, the answer is the worst seen (`Corrupt`, then `Error`, then
//!   `Miss`), so the cache-wide counters still show it.
//! - A store goes to every writable level at once (each backend writes asynchronously and bounds
//!   its own pending writes); a read-only level is never sent one, not even a write-back, and the
//!   write is counted as skipped for that level.
//! - Each lookup of a level is timed and counted for that level here; each write is counted for
//!   its level by that level's `LevelCounter`, which also applies the write-error policy.
//!
//! Boundary: a level is any backend actor (`StorageHandle`); the chain never names one.
//! Nothing here waits on a level's write, and no failure of a level fails a compile.

mod counter;

pub use counter::{LevelCounter, WriteBack};

use super::{Describe, Description, Lookup, LookupResult, StorageHandle, Store};
use crate::stats::Record;
use actix::prelude::*;
use sccache_core::entry::CacheEntry;
use sccache_core::hash_key::CacheKey;
use sccache_core::stats::{Event, LevelEvent};
use std::time::Instant;

/// One level of a chain.
#[derive(Clone)]
pub struct Level {
    /// `L0 (disk)`, `L1 (redis)`...: the name in the stats.
    pub name: String,
    pub storage: StorageHandle,
    /// Where write-backs into this level are announced (the level's `LevelCounter`).
    pub write_back: Recipient<WriteBack>,
}

/// The chain's actor.
pub struct Chain {
    levels: Vec<Level>,
    stats: Recipient<Record>,
}

impl Chain {
    /// A chain over `levels`, fastest first. Names the levels to the stats actor.
    pub fn new(levels: Vec<Level>, stats: Recipient<Record>) -> Self {
        stats.do_send(Record(Event::Levels(
            levels.iter().map(|level| level.name.clone()).collect(),
        )));
        Chain { levels, stats }
    }

    /// Whether any level takes writes.
    pub fn writable(&self) -> bool {
        self.levels.iter().any(|level| level.storage.writable)
    }
}

/// The name of the level of index `index` over `backend` (`disk`, `redis`...), as sccache
/// names its levels.
pub fn level_name(index: usize, backend: &str) -> String {
    format!("L{index} ({backend})")
}

impl Actor for Chain {
    type Context = Context<Self>;
}

impl Handler<Lookup> for Chain {
    type Result = ResponseFuture<LookupResult>;

    fn handle(&mut self, message: Lookup, _: &mut Context<Self>) -> Self::Result {
        let levels = self.levels.clone();
        let stats = self.stats.clone();
        Box::pin(look_up(levels, stats, message.key))
    }
}

/// Asks each level in turn; see the module's doc.
async fn look_up(levels: Vec<Level>, stats: Recipient<Record>, key: CacheKey) -> LookupResult {
    let count = |level: usize, event: LevelEvent| {
        stats.do_send(Record(Event::Level { level, event }));
    };
    let mut worst = LookupResult::Miss;
    for (index, level) in levels.iter().enumerate() {
        let started = Instant::now();
        let answer = level
            .storage
            .lookup
            .send(Lookup { key })
            .await
            .unwrap_or_else(|error| LookupResult::Error(format!("{}: {error}", level.name)));
        let read = started.elapsed();
        match answer {
            LookupResult::Hit(entry) => {
                count(index, LevelEvent::Hit { read });
                write_back(&levels[..index], index, key, &entry, &stats);
                return LookupResult::Hit(entry);
            }
            LookupResult::Miss => count(index, LevelEvent::Miss { read }),
            LookupResult::Corrupt => {
                count(index, LevelEvent::Corrupt { read });
                worst = LookupResult::Corrupt;
            }
            LookupResult::Error(reason) => {
                log::debug!("cache level {} could not be read: {reason}", level.name);
                count(index, LevelEvent::ReadError { read });
                if !matches!(worst, LookupResult::Corrupt) {
                    worst = LookupResult::Error(format!("{}: {reason}", level.name));
                }
            }
        }
    }
    worst
}

/// Writes a hit of level `from` back to the writable levels among `faster`, once the lookup's
/// answer has been handed over: the stores are sent by a task that first lets the reply go.
fn write_back(
    faster: &[Level],
    from: usize,
    key: CacheKey,
    entry: &CacheEntry,
    stats: &Recipient<Record>,
) {
    let targets: Vec<(Level, CacheEntry)> = faster
        .iter()
        .filter(|level| level.storage.writable)
        .map(|level| (level.clone(), entry.clone()))
        .collect();
    if targets.is_empty() {
        return;
    }
    let stats = stats.clone();
    actix_rt::spawn(async move {
        // The lookup's answer is on its way to the compile; let it be served first.
        tokio::task::yield_now().await;
        for (level, entry) in targets {
            stats.do_send(Record(Event::Level {
                level: from,
                event: LevelEvent::BackfillFrom,
            }));
            // Announced before the store, so the counter hears of it first.
            level.write_back.do_send(WriteBack);
            level.storage.store.do_send(Store { key, entry });
        }
    });
}

impl Handler<Store> for Chain {
    type Result = ();

    fn handle(&mut self, message: Store, _: &mut Context<Self>) {
        let Store { key, entry } = message;
        let writable: Vec<&Level> = self
            .levels
            .iter()
            .filter(|level| level.storage.writable)
            .collect();
        for (index, level) in self.levels.iter().enumerate() {
            if !level.storage.writable {
                self.stats.do_send(Record(Event::Level {
                    level: index,
                    event: LevelEvent::WriteSkipped,
                }));
            }
        }
        let Some((last, others)) = writable.split_last() else {
            return;
        };
        for level in others {
            level.storage.store.do_send(Store {
                key,
                entry: entry.clone(),
            });
        }
        last.storage.store.do_send(Store { key, entry });
    }
}

impl Handler<Describe> for Chain {
    type Result = ResponseFuture<Description>;

    fn handle(&mut self, _: Describe, _: &mut Context<Self>) -> Self::Result {
        let levels = self.levels.clone();
        let read_only = !self.writable();
        Box::pin(async move {
            let mut description = Description {
                location: format!("Multi-level ({} levels)", levels.len()),
                read_only,
                ..Description::default()
            };
            for level in &levels {
                let level_description = level.storage.describe.send(Describe).await;
                let level_description = level_description.unwrap_or_else(|error| Description {
                    location: format!("{}: not answering ({error})", level.name),
                    ..Description::default()
                });
                description.size = sum(description.size, level_description.size);
                description.max_size = sum(description.max_size, level_description.max_size);
                description.levels.push(level_description);
            }
            description
        })
    }
}

/// The sum of the sizes that are known.
fn sum(total: Option<u64>, more: Option<u64>) -> Option<u64> {
    match (total, more) {
        (None, None) => None,
        (total, more) => Some(total.unwrap_or(0).saturating_add(more.unwrap_or(0))),
    }
}

#[cfg(test)]
mod tests;
