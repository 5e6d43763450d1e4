//! Test doubles shared by the storage backends' unit tests: a stand-in for the stats actor
//! that keeps every event, sample entries, and free loopback ports for the servers the tests
//! start.

use crate::stats::Record;
use actix::prelude::*;
use sccache_core::entry::{CacheEntry, EntryFile};
use sccache_core::stats::Event;

/// Stands in for the stats actor, keeping every event it is sent.
#[derive(Default)]
pub struct Collector {
    events: Vec<Event>,
}

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<Record> for Collector {
    type Result = ();

    fn handle(&mut self, message: Record, _: &mut Context<Self>) {
        self.events.push(message.0);
    }
}

/// Asks a `Collector` for the events it has kept.
#[derive(Message)]
#[rtype(result = "Vec<Event>")]
pub struct Events;

impl Handler<Events> for Collector {
    type Result = MessageResult<Events>;

    fn handle(&mut self, _: Events, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.events.clone())
    }
}

/// An entry of one `size`-byte object filled with `fill`, with some stdout and stderr.
pub fn entry(size: usize, fill: u8) -> CacheEntry {
    CacheEntry {
        files: vec![EntryFile {
            name: "obj".into(),
            mode: None,
            data: vec![fill; size],
            external: None,
        }],
        stdout: b"out".to_vec(),
        stderr: b"warning".to_vec(),
        exit_code: 0,
    }
}

/// A loopback port nobody listens on right now (for the remote backends' servers).
#[cfg(any(feature = "redis", feature = "s3"))]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
