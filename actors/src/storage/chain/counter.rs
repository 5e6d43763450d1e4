//! `LevelCounter`: the stats recipient a level's backend is given in a chain, so that what the
//! backend reports of its writes is counted for its level.
//!
//! A backend counts its own writes (finished, failed, dropped, skipped) and knows nothing of
//! chains; in a chain it sends them here instead of to the stats actor. This actor turns each
//! into the level's event and decides what also counts for the cache as a whole:
//! - `cache_writes`, their time and `cache_writes_dropped`: the writes of the chain's first
//!   writable level (the one the next compile's hit will come from), write-backs excluded;
//! - `cache_write_errors`: the failed writes of the levels the write-error policy names
//!   (`ignore`: none; `l0`: the first writable level; `all`: every writable level).
//!
//! A write-back is announced (`WriteBack`) before its `Store` is sent, so the counter knows how
//! many of the writes it will hear of are write-backs. Writes of a level are not told apart
//! one by one (the backend's events carry no key): when a write-back and a compile's write of
//! the same level overlap, their durations may be swapped, never their count.

use crate::stats::Record;
use actix::prelude::*;
use sccache_core::stats::{Event, LevelEvent};

/// Counts one level's writes.
pub struct LevelCounter {
    level: usize,
    /// Whether this level's finished and dropped writes are the cache's.
    counts_writes: bool,
    /// Whether this level's failed writes are the cache's, by the write-error policy.
    counts_failures: bool,
    /// Write-backs announced and not yet heard of.
    write_backs: usize,
    stats: Recipient<Record>,
}

impl LevelCounter {
    pub fn new(
        level: usize,
        counts_writes: bool,
        counts_failures: bool,
        stats: Recipient<Record>,
    ) -> Self {
        LevelCounter {
            level,
            counts_writes,
            counts_failures,
            write_backs: 0,
            stats,
        }
    }

    fn level_event(&self, event: LevelEvent) {
        self.stats.do_send(Record(Event::Level {
            level: self.level,
            event,
        }));
    }
}

impl Actor for LevelCounter {
    type Context = Context<Self>;
}

/// A write-back into this level is about to be sent to its backend.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WriteBack;

impl Handler<WriteBack> for LevelCounter {
    type Result = ();

    fn handle(&mut self, _: WriteBack, _: &mut Context<Self>) {
        self.write_backs += 1;
        self.level_event(LevelEvent::BackfillTo);
    }
}

impl Handler<Record> for LevelCounter {
    type Result = ();

    fn handle(&mut self, message: Record, _: &mut Context<Self>) {
        let level_event = match &message.0 {
            Event::WriteFinished { duration } => LevelEvent::WriteFinished {
                duration: *duration,
            },
            Event::WriteFailed => LevelEvent::WriteFailed,
            Event::WriteDropped => LevelEvent::WriteDropped,
            Event::WriteSkipped => LevelEvent::WriteSkipped,
            // Nothing else is a backend's to count; pass it on unchanged.
            _ => {
                self.stats.do_send(message);
                return;
            }
        };
        let write_back = self.write_backs > 0;
        if write_back {
            self.write_backs -= 1;
        }
        let counts = !write_back
            && match message.0 {
                Event::WriteFailed => self.counts_failures,
                // A skipped write is counted once by the flow, for the cache as a whole.
                Event::WriteSkipped => false,
                _ => self.counts_writes,
            };
        // The cache-wide event first: whoever sees the level's figure move sees it too.
        if counts {
            self.stats.do_send(message);
        }
        self.level_event(level_event);
    }
}
