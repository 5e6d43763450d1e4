//! The Redis backend: the `RedisStorage` actor keeps entries in one Redis (or one Redis Cluster)
//! shared by every machine of a team, each under `<key prefix><hex key>`.
//!
//! The actor owns one connection and the bookkeeping around it: whether it is being opened,
//! ready, or resting after a failure, and how many writes are pending. Creating the actor checks
//! the settings but connects nothing; the first message opens the connection in the background,
//! so a Redis that is down when the server starts fails no compile. After a failure that breaks
//! the connection (a refused connect, a dropped socket, a timeout), the actor drops it and skips
//! Redis for `RETRY_PAUSE`, answering at once, so a Redis that is down adds no connect latency
//! to every compile; the next message after the pause connects anew.
//!
//! Invariants: every Redis round trip is bounded by the storage timeout; no handler waits on
//! Redis (each returns or spawns a future); a failure seen on an older connection never breaks
//! a newer one (connections carry a generation). Like the other backends it counts only its
//! writes (finished, failed, dropped), never hits or misses, and never panics on what Redis
//! sends. Boundary: it does not evict; Redis does, by `maxmemory` and the optional expiration.

mod describe;
mod link;

pub use link::RedisSetupError;

use super::outage::Outage;
use super::{decode_remote, encode_remote, Lookup, LookupResult, PendingWrites, Store};
use crate::stats::Record;
use actix::prelude::*;
use futures::future::{BoxFuture, FutureExt, Shared};
use link::{Connection, Endpoint};
use redis::RedisError;
use sccache_core::config::{CacheMode, RedisConfig};
use sccache_core::hash_key::CacheKey;
use sccache_core::stats::Event;
use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::task::spawn_blocking;

/// How long Redis is skipped after a failure that broke the connection.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// The Redis cache backend.
pub struct RedisStorage {
    endpoint: Endpoint,
    key_prefix: String,
    expiration: Option<Duration>,
    /// `SCCACHE_REDIS_RW_MODE=READ_ONLY`: lookups only; nothing is written or removed.
    read_only: bool,
    timeout: Duration,
    stats: Recipient<Record>,
    /// Writes started and not finished yet.
    pending_writes: PendingWrites,
    link: Link,
    /// Counts the links given up so far; a failure on an older link must not break a newer one.
    generation: u64,
    /// Its location, and whether the last round trip failed (an outage is logged once).
    outage: Outage,
    /// The zstd level entries are stored at (`SCCACHE_CACHE_ZSTD_LEVEL`).
    zstd_level: i32,
}

/// The state of the actor's connection.
enum Link {
    /// Nothing opened yet, or the last link was given up and its pause is over.
    Idle,
    /// A connect running in the background; every message meanwhile waits for the same one.
    Connecting(SharedConnect),
    Ready(Connection),
    /// Redis failed recently: it is skipped until `until`.
    Resting {
        until: Instant,
        reason: String,
    },
}

type SharedConnect = Shared<BoxFuture<'static, Result<Connection, String>>>;

/// Why a round trip to Redis did not happen or did not succeed.
#[derive(Debug)]
enum Failure {
    /// Skipped: Redis failed moments ago (the text says how).
    Resting(String),
    Connect(String),
    Timeout(Duration),
    Command(RedisError),
    /// Something on our side: the entry would not encode, or a task died.
    Local(String),
}

impl Failure {
    /// Whether the connection should be dropped and Redis rested.
    fn breaks_connection(&self) -> bool {
        match self {
            Failure::Resting(_) | Failure::Local(_) => false,
            Failure::Connect(_) | Failure::Timeout(_) => true,
            Failure::Command(error) => link::breaks_connection(error),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Resting(reason) => {
                write!(formatter, "skipped after a recent failure ({reason})")
            }
            Failure::Connect(reason) | Failure::Local(reason) => formatter.write_str(reason),
            Failure::Timeout(timeout) => write!(formatter, "no answer within {timeout:?}"),
            Failure::Command(error) => write!(formatter, "{error}"),
        }
    }
}

/// Connects once and sends `PING`, for an explicit `--start-server`: `Ok` when Redis answers
/// within `timeout`; the error otherwise (unreachable, credentials refused, no answer), naming
/// the location with its password masked.
pub async fn check_reachable(config: &RedisConfig, timeout: Duration) -> Result<(), String> {
    let (endpoint, location) = Endpoint::new(config, timeout).map_err(|error| error.to_string())?;
    let mut connection = endpoint
        .connect(timeout)
        .await
        .map_err(|error| format!("{location}: {error}"))?;
    match tokio::time::timeout(timeout, connection.query::<String>(&redis::cmd("PING"))).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(format!("{location}: {error}")),
        Err(_) => Err(format!("{location}: no answer within {timeout:?}")),
    }
}

impl RedisStorage {
    /// A backend for `config`, giving each round trip `timeout` and queueing at most
    /// `max_pending_writes` writes. Fails only on settings that can never work (a malformed URL,
    /// a database other than 0 in a cluster); connects nothing.
    pub fn new(
        config: RedisConfig,
        timeout: Duration,
        max_pending_writes: usize,
        stats: Recipient<Record>,
    ) -> Result<Self, RedisSetupError> {
        let (endpoint, location) = Endpoint::new(&config, timeout)?;
        Ok(RedisStorage {
            endpoint,
            outage: Outage::new(location),
            key_prefix: config.key_prefix,
            expiration: config.expiration,
            read_only: config.mode == CacheMode::ReadOnly,
            timeout,
            pending_writes: PendingWrites::new(max_pending_writes),
            stats,
            link: Link::Idle,
            generation: 0,
            zstd_level: sccache_core::entry_codec::DEFAULT_ZSTD_LEVEL,
        })
    }

    /// The same backend, storing entries compressed at `level`.
    pub fn with_zstd_level(mut self, level: i32) -> Self {
        self.zstd_level = level;
        self
    }

    fn record(&self, event: Event) {
        self.stats.do_send(Record(event));
    }

    /// The Redis key of a cache key: `<prefix><hex key>`, named as sccache names them (the
    /// entries themselves are ours).
    fn redis_key(&self, key: &CacheKey) -> String {
        format!("{}{}", self.key_prefix, key.to_hex())
    }

    /// The connection to use now: the ready one, the one being opened, or a new one opened in
    /// the background; an error while Redis rests.
    fn acquire(
        &mut self,
        ctx: &mut Context<Self>,
    ) -> Result<BoxFuture<'static, Result<Connection, Failure>>, Failure> {
        if let Link::Resting { until, reason } = &self.link {
            if Instant::now() < *until {
                return Err(Failure::Resting(reason.clone()));
            }
            self.link = Link::Idle;
        }
        let connecting = match &self.link {
            Link::Ready(connection) => {
                return Ok(futures::future::ready(Ok(connection.clone())).boxed())
            }
            Link::Connecting(connecting) => connecting.clone(),
            Link::Idle | Link::Resting { .. } => self.start_connect(ctx),
        };
        Ok(connecting
            .map(|result| result.map_err(Failure::Connect))
            .boxed())
    }

    /// Opens a connection in the background; the actor keeps it once it is open.
    fn start_connect(&mut self, ctx: &mut Context<Self>) -> SharedConnect {
        let connecting = self.endpoint.clone().connect(self.timeout).boxed().shared();
        self.link = Link::Connecting(connecting.clone());
        let generation = self.generation;
        ctx.spawn(
            connecting
                .clone()
                .into_actor(self)
                .map(move |result, actor, _| {
                    if actor.generation != generation {
                        return;
                    }
                    match result {
                        Ok(connection) => {
                            log::debug!("connected to {}", actor.outage.location());
                            actor.link = Link::Ready(connection);
                        }
                        Err(reason) => actor.fail(generation, &Failure::Connect(reason)),
                    }
                }),
        );
        connecting
    }

    /// Runs `work` on the connection within the timeout, then notes how it went.
    fn with_connection<T, Work>(
        &mut self,
        ctx: &mut Context<Self>,
        work: impl FnOnce(Connection) -> Work + 'static,
    ) -> impl ActorFuture<Self, Output = Result<T, Failure>>
    where
        T: 'static,
        Work: Future<Output = Result<T, Failure>> + 'static,
    {
        let acquired = self.acquire(ctx);
        let generation = self.generation;
        let timeout = self.timeout;
        let round_trip = async move {
            let connecting = acquired?;
            let attempt = async move { work(connecting.await?).await };
            tokio::time::timeout(timeout, attempt)
                .await
                .unwrap_or(Err(Failure::Timeout(timeout)))
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

    /// Logs a failure (the first of an outage as a warning) and, if it broke the connection of
    /// `generation`, drops that connection and rests.
    fn fail(&mut self, generation: u64, failure: &Failure) {
        self.outage
            .failed(failure, "reads count as misses and writes as failed");
        if failure.breaks_connection() && generation == self.generation {
            self.generation += 1;
            self.link = Link::Resting {
                until: Instant::now() + RETRY_PAUSE,
                reason: failure.to_string(),
            };
        }
    }

    /// Deletes a corrupt entry in the background.
    fn remove(&mut self, key: String, ctx: &mut Context<Self>) {
        let removal = self.with_connection(ctx, move |mut connection| async move {
            let command = redis::cmd("DEL").arg(&key).clone();
            connection
                .query::<()>(&command)
                .await
                .map_err(Failure::Command)
        });
        ctx.spawn(removal.map(|_, _, _| ()));
    }
}

impl Actor for RedisStorage {
    type Context = Context<Self>;
}

impl Handler<Lookup> for RedisStorage {
    type Result = ResponseActFuture<Self, LookupResult>;

    fn handle(&mut self, message: Lookup, ctx: &mut Context<Self>) -> Self::Result {
        let cache_key = message.key;
        let key = self.redis_key(&cache_key);
        let command = redis::cmd("GET").arg(&key).clone();
        let fetch = self.with_connection(ctx, move |mut connection| async move {
            connection
                .query::<Option<Vec<u8>>>(&command)
                .await
                .map_err(Failure::Command)
        });
        Box::pin(
            fetch
                .then(move |fetched, actor, _| decode(fetched, cache_key).into_actor(actor))
                .map(move |result, actor, ctx| {
                    if matches!(result, LookupResult::Corrupt) && !actor.read_only {
                        actor.remove(key, ctx);
                    }
                    result
                }),
        )
    }
}

/// The answer for what GET returned for `key`; decoding runs on the blocking pool.
async fn decode(fetched: Result<Option<Vec<u8>>, Failure>, key: CacheKey) -> LookupResult {
    match fetched {
        Ok(None) => LookupResult::Miss,
        Ok(Some(bytes)) => spawn_blocking(move || decode_remote(bytes, &key))
            .await
            .unwrap_or_else(|error| LookupResult::Error(format!("decoding task failed: {error}"))),
        Err(failure) => LookupResult::Error(failure.to_string()),
    }
}

impl Handler<Store> for RedisStorage {
    type Result = ();

    fn handle(&mut self, message: Store, ctx: &mut Context<Self>) {
        if self.read_only {
            log::debug!("not storing {}: the Redis cache is read-only", message.key);
            self.record(Event::WriteSkipped);
            return;
        }
        if !self.pending_writes.admit(&message.key, &self.stats) {
            return;
        }
        let key = self.redis_key(&message.key);
        let cache_key = message.key;
        let entry = message.entry;
        let expiration = self.expiration;
        let level = self.zstd_level;
        let started = Instant::now();
        // Encoding and compressing a large entry is our work, not Redis's: it runs before the
        // round trip, whose time limit is Redis's alone.
        let encoding = spawn_blocking(move || encode_remote(&entry, &cache_key, level));
        let write = encoding.into_actor(self).then(move |encoded, actor, ctx| {
            let bytes = match encoded {
                Ok(Ok(bytes)) => bytes,
                Ok(Err(reason)) => {
                    return ActorFutureExt::boxed_local(fut::ready(Err(Failure::Local(reason))))
                }
                Err(error) => {
                    return ActorFutureExt::boxed_local(fut::ready(Err(Failure::Local(format!(
                        "encoding task failed: {error}"
                    )))))
                }
            };
            let round_trip = actor.with_connection(ctx, move |mut connection| async move {
                let mut command = redis::cmd("SET");
                command.arg(&key).arg(bytes);
                if let Some(expiration) = expiration {
                    command.arg("EX").arg(expiration.as_secs().max(1));
                }
                connection
                    .query::<()>(&command)
                    .await
                    .map_err(Failure::Command)?;
                Ok(started.elapsed())
            });
            ActorFutureExt::boxed_local(round_trip)
        });
        ctx.spawn(write.map(|result, actor, _| {
            actor.pending_writes.finished();
            match result {
                Ok(duration) => actor.record(Event::WriteFinished { duration }),
                Err(Failure::Local(reason)) => {
                    log::warn!(
                        "{}: cannot store an entry: {reason}",
                        actor.outage.location()
                    );
                    actor.record(Event::WriteFailed)
                }
                // `with_connection` has logged it.
                Err(_) => actor.record(Event::WriteFailed),
            }
        }));
    }
}

#[cfg(test)]
mod tests;
