//! The REAPI backend: the `ReapiStorage` actor keeps entries in a Remote Execution API v2
//! server (BuildGrid, Buildbarn, bazel-remote, NativeLink, BuildBuddy...) that a team's build
//! farm already runs: each entry is one CAS blob, found through an ActionResult in the
//! ActionCache under a synthetic Action that carries the key (`mapping`). The blob is the entry
//! compressed as every remote backend stores it (`encode_remote`), so its digest is that of the
//! compressed bytes.
//!
//! The actor owns the channel and the bookkeeping around it. Creating it checks the settings
//! but connects nothing; the first message makes a lazily connecting channel, so a server that
//! is down when sccache starts fails no compile. After a failure that may mean the connection
//! is gone (unavailable, a timeout), the actor skips the server for `RETRY_PAUSE`, answering at
//! once, then makes a new channel: a restarted server is used again without restarting
//! sccache. A server whose capabilities refuse action cache updates is read-only, as is
//! `SCCACHE_REAPI_RW_MODE=READ_ONLY`: writes are skipped and counted.
//!
//! Invariants: every round trip is bounded by the storage timeout; no handler waits on the
//! server; every blob read is checked against its digest (a mismatch is `Corrupt`, and so is
//! an entry that fails its own checks); a result whose blob the server no longer has is a miss.
//! Like the other backends it counts only its writes. Boundary: tonic and the REAPI types stay
//! in this folder; the token stays in `link`. It cannot remove a corrupt entry (REAPI has no
//! delete): the next store for the key replaces its ActionResult.

mod link;
mod mapping;
mod remote;

pub use link::ReapiSetupError;

use super::outage::Outage;
use super::{
    decode_remote, encode_remote, Describe, Description, Lookup, LookupResult, PendingWrites, Store,
};
use crate::stats::Record;
use actix::prelude::*;
use link::Link;
use remote::{Failure, Fetched, Remote, Stored};
use sccache_core::config::{CacheMode, ReapiConfig};
use sccache_core::stats::Event;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;
use tokio::task::spawn_blocking;

/// How long the server is skipped after a failure that may have broken the connection.
const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// How many storage timeouts a store may take in all: an entry above the batch limit streams,
/// and several calls follow one another.
const STORE_TIMEOUTS: u32 = 4;

/// The REAPI cache backend.
pub struct ReapiStorage {
    link: Link,
    instance: String,
    /// The channel in use, made on the first message and again after a failure.
    remote: Option<Remote>,
    /// `SCCACHE_REAPI_RW_MODE=READ_ONLY`: lookups only.
    read_only: bool,
    timeout: Duration,
    stats: Recipient<Record>,
    pending_writes: PendingWrites,
    /// Skip the server until then (after a failure that may have broken the connection).
    resting: Option<(Instant, String)>,
    /// Counts the channels given up; a failure on an older one must not drop a newer one.
    generation: u64,
    /// Its location, and whether the last round trip failed (an outage is logged once).
    outage: Outage,
    capabilities: Arc<OnceCell<remote::Capabilities>>,
    /// The zstd level entries are compressed at before they are stored.
    zstd_level: i32,
}

impl ReapiStorage {
    /// A backend for `config`, giving each call `timeout` and queueing at most
    /// `max_pending_writes` writes. Fails only on settings that can never work; connects nothing.
    pub fn new(
        config: ReapiConfig,
        timeout: Duration,
        max_pending_writes: usize,
        stats: Recipient<Record>,
    ) -> Result<Self, ReapiSetupError> {
        Ok(ReapiStorage {
            link: Link::new(&config, timeout)?,
            outage: Outage::new(link::location(&config)),
            instance: config.instance,
            remote: None,
            read_only: config.mode == CacheMode::ReadOnly,
            timeout,
            stats,
            pending_writes: PendingWrites::new(max_pending_writes),
            resting: None,
            generation: 0,
            capabilities: Arc::new(OnceCell::new()),
            zstd_level: sccache_core::entry_codec::DEFAULT_ZSTD_LEVEL,
        })
    }

    /// The same backend, compressing entries at zstd `level` (`SCCACHE_CACHE_ZSTD_LEVEL`).
    pub fn with_zstd_level(mut self, level: i32) -> Self {
        self.zstd_level = level;
        self
    }

    fn record(&self, event: Event) {
        self.stats.do_send(Record(event));
    }

    /// The channel to use now, or why the server is skipped.
    fn acquire(&mut self) -> Result<Remote, Failure> {
        if let Some((until, reason)) = &self.resting {
            if Instant::now() < *until {
                return Err(Failure::Local(format!(
                    "skipped after a recent failure ({reason})"
                )));
            }
            self.resting = None;
        }
        let remote = self.remote.get_or_insert_with(|| Remote {
            clients: self.link.clients(),
            instance: self.instance.clone(),
            capabilities: self.capabilities.clone(),
            uploads: Arc::new(AtomicU64::new(0)),
        });
        Ok(remote.clone())
    }

    /// Runs `work` on the channel within `limit`, then notes how it went.
    fn with_remote<T, Work>(
        &mut self,
        limit: Duration,
        work: impl FnOnce(Remote) -> Work + 'static,
    ) -> impl ActorFuture<Self, Output = Result<T, Failure>>
    where
        T: 'static,
        Work: Future<Output = Result<T, Failure>> + 'static,
    {
        let acquired = self.acquire();
        let generation = self.generation;
        let round_trip = async move {
            let remote = acquired?;
            tokio::time::timeout(limit, work(remote))
                .await
                .unwrap_or_else(|_| {
                    Err(Failure::Call {
                        call: "round trip",
                        status: tonic::Status::deadline_exceeded(format!(
                            "no answer within {limit:?}"
                        )),
                    })
                })
        };
        round_trip.into_actor(self).map(move |result, actor, _| {
            match &result {
                Ok(_) => actor.succeed(),
                Err(failure) => actor.fail(generation, failure),
            }
            result
        })
    }

    fn succeed(&mut self) {
        self.outage.succeeded();
    }

    /// Logs a failure (the first of an outage as a warning) and, if it may have broken the
    /// channel of `generation`, drops that channel and rests.
    fn fail(&mut self, generation: u64, failure: &Failure) {
        self.outage
            .failed(failure, "reads count as errors and writes as failed");
        if failure.breaks_connection() && generation == self.generation {
            self.generation += 1;
            self.remote = None;
            self.resting = Some((Instant::now() + RETRY_PAUSE, failure.to_string()));
        }
    }

    /// Whether writes are declined: by the settings, or by the server's capabilities.
    fn declines_writes(&self) -> bool {
        self.read_only
            || self
                .capabilities
                .get()
                .is_some_and(|capabilities| !capabilities.update_enabled)
    }
}

impl Actor for ReapiStorage {
    type Context = Context<Self>;
}

impl Handler<Lookup> for ReapiStorage {
    type Result = ResponseActFuture<Self, LookupResult>;

    fn handle(&mut self, message: Lookup, _: &mut Context<Self>) -> Self::Result {
        let key = message.key;
        let fetch = self.with_remote(self.timeout, move |remote| async move {
            remote.fetch(&key).await
        });
        Box::pin(fetch.then(move |fetched, actor, _| {
            let location = actor.outage.location().to_string();
            async move {
                match fetched {
                    Ok(Fetched::Missing) => LookupResult::Miss,
                    Ok(Fetched::Corrupt(reason)) => {
                        log::warn!("{location}: entry {key}: {reason}");
                        LookupResult::Corrupt
                    }
                    Ok(Fetched::Found(bytes)) => spawn_blocking(move || decode_remote(bytes, &key))
                        .await
                        .unwrap_or_else(|error| {
                            LookupResult::Error(format!("decoding task failed: {error}"))
                        }),
                    Err(failure) => LookupResult::Error(format!("{location}: {failure}")),
                }
            }
            .into_actor(actor)
        }))
    }
}

impl Handler<Store> for ReapiStorage {
    type Result = ();

    fn handle(&mut self, message: Store, ctx: &mut Context<Self>) {
        if self.declines_writes() {
            log::debug!("not storing {}: the REAPI cache is read-only", message.key);
            self.record(Event::WriteSkipped);
            return;
        }
        if !self.pending_writes.admit(&message.key, &self.stats) {
            return;
        }
        let key = message.key;
        let entry = message.entry;
        let level = self.zstd_level;
        let write = self.with_remote(self.timeout * STORE_TIMEOUTS, move |remote| async move {
            let started = Instant::now();
            let blob =
                spawn_blocking(move || encode_remote(&entry, &key, level).map(mapping::Blob::new))
                    .await
                    .map_err(|error| Failure::Local(format!("encoding task failed: {error}")))?
                    .map_err(Failure::Local)?;
            let stored = remote.store(&key, blob).await?;
            Ok((stored, started.elapsed()))
        });
        ctx.spawn(write.map(|result, actor, _| {
            actor.pending_writes.finished();
            match result {
                Ok((Stored::Written, duration)) => actor.record(Event::WriteFinished { duration }),
                Ok((Stored::Refused, _)) => {
                    log::info!(
                        "{}: the server takes no action cache updates; the cache is read-only",
                        actor.outage.location()
                    );
                    actor.record(Event::WriteSkipped);
                }
                // `with_remote` has logged it.
                Err(_) => actor.record(Event::WriteFailed),
            }
        }));
    }
}

impl Handler<Describe> for ReapiStorage {
    type Result = MessageResult<Describe>;

    fn handle(&mut self, _: Describe, _: &mut Context<Self>) -> Self::Result {
        MessageResult(Description {
            location: self.outage.location().to_string(),
            size: None,
            max_size: None,
            note: Some("a REAPI server does not report its size".to_owned()),
            read_only: self.declines_writes(),
            levels: Vec::new(),
        })
    }
}
