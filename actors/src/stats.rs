//! The stats actor: sole owner of every counter.
//!
//! Everyone else sends it `Record` notifications; nothing else holds a counter, so no counter
//! needs a lock. `--show-stats` asks it for a `Snapshot`, `--zero-stats` sends `Zero`.

use actix::prelude::*;
use sccache_core::stats::{Event, Stats};

/// The actor owning the counters.
#[derive(Default)]
pub struct StatsKeeper {
    stats: Stats,
}

impl Actor for StatsKeeper {
    type Context = Context<Self>;
}

/// Counts one event. A notification: sent with `do_send`, never awaited.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Record(pub Event);

/// Asks for a copy of every counter.
#[derive(Message)]
#[rtype(result = "Stats")]
pub struct Snapshot;

/// Resets every counter.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Zero;

impl Handler<Record> for StatsKeeper {
    type Result = ();

    fn handle(&mut self, message: Record, _: &mut Context<Self>) {
        self.stats.apply(message.0);
    }
}

impl Handler<Snapshot> for StatsKeeper {
    type Result = MessageResult<Snapshot>;

    fn handle(&mut self, _: Snapshot, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.stats.clone())
    }
}

impl Handler<Zero> for StatsKeeper {
    type Result = ();

    fn handle(&mut self, _: Zero, _: &mut Context<Self>) {
        self.stats = self.stats.zeroed();
    }
}
