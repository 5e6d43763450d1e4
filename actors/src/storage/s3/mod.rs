//! The S3 backend: the `S3Storage` actor keeps entries as objects in a bucket of any
//! S3-compatible store, named `<prefix>/<k0>/<k1>/<k2>/<hex key>` (sccache's naming; the entries
//! inside are ours, which the released sccache does not read), so several of our servers share
//! hits through one bucket.
//!
//! The actor owns only bookkeeping: the count of pending writes and whether the current streak of
//! failed writes has been logged. Requests run as futures on the actor's arbiter, each within a
//! time limit, and encoding and decoding run on tokio's blocking pool, so the mailbox never waits
//! on the network. It counts no hits, misses or read errors (the compile flow does); it reports
//! only its writes to the stats actor.
//!
//! Invariants: creating the actor sends nothing and cannot fail for an unreachable endpoint
//! (failures are counted as they happen); a lookup that timed out or found the endpoint
//! unreachable makes the actor skip the bucket for `RETRY_PAUSE`, answering lookups at once
//! with an error (a read error, a miss to the compile), as the Redis and REAPI actors do, so an
//! endpoint that drops packets costs one storage timeout a second, not one per compile; a write is retried only for failures that may pass
//! (timeouts, unreachable endpoints, 5xx), never for a refusal (4xx); with
//! `SCCACHE_S3_NO_CREDENTIALS` the backend is read-only, since an unsigned write can only fail.
//! Boundary: rusoto lives in `bucket` alone; this file sees bytes, object names and
//! `BucketError`.

mod bucket;

use super::{
    decode_remote, encode_remote, Describe, Description, Lookup, LookupResult, PendingWrites, Store,
};
use crate::stats::Record;
use actix::prelude::*;
use bucket::{Bucket, BucketError};
use bytes::Bytes;
use sccache_core::config::{CacheMode, S3Config};
use sccache_core::hash_key::CacheKey;
use sccache_core::stats::Event;
use std::time::{Duration, Instant};
use tokio::task::spawn_blocking;

pub use bucket::SetupError;

/// Uploads carry whole entries and nobody waits on them, so an attempt may take at least this
/// long even when lookups must answer within a shorter storage timeout.
const MIN_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long lookups skip a bucket that timed out or could not be reached.
const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// The pauses before the second and third attempts of a write that failed transiently.
const WRITE_RETRY_PAUSES: [Duration; 2] = [Duration::from_millis(200), Duration::from_millis(800)];

/// The S3 cache backend.
pub struct S3Storage {
    bucket: Bucket,
    region: String,
    key_prefix: String,
    /// Anonymous access (`SCCACHE_S3_NO_CREDENTIALS`): read-only, and a refusal (403) reads as a
    /// miss.
    anonymous: bool,
    /// Lookups only: anonymous access or `SCCACHE_S3_RW_MODE=READ_ONLY`.
    read_only: bool,
    stats: Recipient<Record>,
    /// Writes started and not finished yet.
    pending_writes: PendingWrites,
    /// Whether a write has failed since the last one that succeeded; only the first failure of
    /// such a streak is logged as an error, so a wrong bucket or a 403 shows once, not per write.
    failing: bool,
    /// The zstd level entries are stored at (`SCCACHE_CACHE_ZSTD_LEVEL`).
    zstd_level: i32,
    /// Lookups skip the bucket until then, after one timed out or found it unreachable.
    resting: Option<(Instant, String)>,
}

impl S3Storage {
    /// A backend over the bucket `config` names, answering lookups within `storage_timeout`, with
    /// at most `max_pending_writes` writes under way at once. Sends nothing: the bucket is first
    /// checked in the background once the actor starts.
    pub fn new(
        config: S3Config,
        storage_timeout: Duration,
        max_pending_writes: usize,
        stats: Recipient<Record>,
    ) -> Result<S3Storage, SetupError> {
        let write_timeout = storage_timeout.max(MIN_WRITE_TIMEOUT);
        let bucket = Bucket::new(&config, storage_timeout, write_timeout)?;
        Ok(S3Storage {
            bucket,
            region: config.region,
            key_prefix: config.key_prefix,
            anonymous: config.no_credentials,
            read_only: config.no_credentials || config.mode == CacheMode::ReadOnly,
            pending_writes: PendingWrites::new(max_pending_writes),
            stats,
            failing: false,
            zstd_level: sccache_core::entry_codec::DEFAULT_ZSTD_LEVEL,
            resting: None,
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

    /// Counts a finished write and logs the first failure of a streak.
    fn finish_write(&mut self, object: &str, outcome: Result<Duration, WriteError>) {
        self.pending_writes.finished();
        match outcome {
            Ok(duration) => {
                if self.failing {
                    log::info!("S3 bucket {}: writes succeed again", self.bucket.name());
                }
                self.failing = false;
                self.record(Event::WriteFinished { duration });
            }
            Err(error) => {
                let bucket = self.bucket.name();
                if self.failing {
                    log::debug!("S3 bucket {bucket}: cannot store {object}: {error}");
                } else {
                    log::error!(
                        "S3 bucket {bucket} at {}: PutObject failed: {error} (further failures \
                         are logged at debug level until a write succeeds)",
                        self.bucket.endpoint()
                    );
                }
                self.failing = true;
                self.record(Event::WriteFailed);
            }
        }
    }
}

impl Actor for S3Storage {
    type Context = Context<Self>;

    /// Checks the bucket once in the background, so a wrong name, region or credentials show in
    /// the log at start rather than only as counts. Anonymous access skips it: listing a public
    /// bucket is often refused while reading its objects is allowed.
    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.anonymous {
            return;
        }
        let bucket = self.bucket.clone();
        ctx.spawn(
            async move {
                match bucket.check().await {
                    Ok(()) => log::info!("S3 bucket {} is reachable", bucket.name()),
                    Err(error) => log::warn!(
                        "S3 bucket {} at {}: HeadBucket failed: {error}",
                        bucket.name(),
                        bucket.endpoint()
                    ),
                }
            }
            .into_actor(self),
        );
    }
}

impl Handler<Lookup> for S3Storage {
    type Result = ResponseActFuture<Self, LookupResult>;

    fn handle(&mut self, message: Lookup, _: &mut Context<Self>) -> Self::Result {
        if let Some((until, reason)) = &self.resting {
            if Instant::now() < *until {
                let skipped = format!(
                    "S3 bucket {}: skipped after a recent failure ({reason})",
                    self.bucket.name()
                );
                return Box::pin(actix::fut::ready(LookupResult::Error(skipped)));
            }
            self.resting = None;
        }
        let bucket = self.bucket.clone();
        let key = message.key;
        let object = object_name(&self.key_prefix, &key);
        let anonymous = self.anonymous;
        let read_only = self.read_only;
        let lookup = async move {
            let bytes = match bucket.get(&object).await {
                Ok(Some(bytes)) => bytes,
                Ok(None) => return (LookupResult::Miss, None),
                // S3 refuses reads of absent objects (403) when listing the bucket is not
                // allowed, as with the usual public-read policy.
                Err(error) if anonymous && error.status() == Some(403) => {
                    log::debug!("S3 bucket {}: {object} refused: {error}", bucket.name());
                    return (LookupResult::Miss, None);
                }
                Err(error) => {
                    let unanswered = matches!(
                        error,
                        BucketError::TimedOut(_) | BucketError::Unreachable(_)
                    );
                    let message = format!(
                        "S3 bucket {}: GetObject {object} failed: {error}",
                        bucket.name()
                    );
                    let rest = unanswered.then(|| error.to_string());
                    return (LookupResult::Error(message), rest);
                }
            };
            let decoded = match spawn_blocking(move || decode_remote(bytes, &key)).await {
                Ok(decoded) => decoded,
                Err(error) => {
                    let failed = format!("decode task failed: {error}");
                    return (LookupResult::Error(failed), None);
                }
            };
            if matches!(decoded, LookupResult::Corrupt) && !read_only {
                // Another reader may remove it first, or the store may refuse; either way the
                // entry is counted corrupt and the next write replaces it.
                if let Err(error) = bucket.delete(&object).await {
                    log::debug!(
                        "S3 bucket {}: cannot remove {object}: {error}",
                        bucket.name()
                    );
                }
            }
            (decoded, None)
        };
        Box::pin(lookup.into_actor(self).map(|(result, rest), actor, _| {
            if let Some(reason) = rest {
                actor.resting = Some((Instant::now() + RETRY_PAUSE, reason));
            }
            result
        }))
    }
}

impl Handler<Store> for S3Storage {
    type Result = ();

    fn handle(&mut self, message: Store, ctx: &mut Context<Self>) {
        if self.read_only {
            log::debug!("not storing {}: the S3 cache is read-only", message.key);
            self.stats.do_send(Record(Event::WriteSkipped));
            return;
        }
        if !self.pending_writes.admit(&message.key, &self.stats) {
            return;
        }
        let bucket = self.bucket.clone();
        let object = object_name(&self.key_prefix, &message.key);
        let key = message.key;
        let entry = message.entry;
        let task_object = object.clone();
        let level = self.zstd_level;
        let write = async move {
            let started = Instant::now();
            let bytes = spawn_blocking(move || encode_remote(&entry, &key, level))
                .await
                .map_err(|error| WriteError::Encode(error.to_string()))?
                .map_err(WriteError::Encode)?;
            put_with_retries(&bucket, &task_object, Bytes::from(bytes)).await?;
            Ok(started.elapsed())
        };
        ctx.spawn(
            write
                .into_actor(self)
                .map(move |outcome, actor, _| actor.finish_write(&object, outcome)),
        );
    }
}

impl Handler<Describe> for S3Storage {
    type Result = MessageResult<Describe>;

    fn handle(&mut self, _: Describe, _: &mut Context<Self>) -> Self::Result {
        let mut note = "S3 does not report a size".to_owned();
        if self.anonymous {
            note.push_str("; anonymous access is read-only");
        }
        MessageResult(Description {
            location: format!(
                "S3, bucket: {}, region: {}, endpoint: {}, prefix: {}",
                self.bucket.name(),
                self.region,
                self.bucket.endpoint(),
                self.key_prefix
            ),
            size: None,
            max_size: None,
            note: Some(note),
            read_only: self.read_only,
            levels: Vec::new(),
        })
    }
}

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
enum WriteError {
    #[error("cannot encode the entry: {0}")]
    Encode(String),
    #[error("{error}{}", after_attempts(*attempts))]
    Bucket { error: BucketError, attempts: usize },
}

/// How a failure after retries says so.
fn after_attempts(attempts: usize) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

/// Stores `bytes` as `object`, trying again after a pause while the failure may pass.
async fn put_with_retries(bucket: &Bucket, object: &str, bytes: Bytes) -> Result<(), WriteError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let error = match bucket.put(object, bytes.clone()).await {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        match WRITE_RETRY_PAUSES.get(attempts - 1) {
            Some(pause) if error.is_transient() => {
                log::debug!(
                    "S3 bucket {}: PutObject {object} failed, trying again: {error}",
                    bucket.name()
                );
                tokio::time::sleep(*pause).await;
            }
            _ => return Err(WriteError::Bucket { error, attempts }),
        }
    }
}

/// The object an explicit start reads to prove the bucket can be read, as sccache reads it
/// (under the key prefix).
const CHECK_OBJECT: &str = ".sccache_check";

/// Reads the check object once, for an explicit `--start-server`: `Ok` when the bucket answers,
/// with or without the object; the error otherwise (no such bucket, credentials refused, the
/// endpoint unreachable). Anonymous access is not checked, as the background check is not.
pub async fn check_readable(config: &S3Config, timeout: Duration) -> Result<(), String> {
    if config.no_credentials {
        return Ok(());
    }
    let bucket = Bucket::new(config, timeout, timeout.max(MIN_WRITE_TIMEOUT))
        .map_err(|error| error.to_string())?;
    let object = if config.key_prefix.is_empty() {
        CHECK_OBJECT.to_owned()
    } else {
        format!("{}/{CHECK_OBJECT}", config.key_prefix)
    };
    match bucket.get(&object).await {
        Ok(_) => Ok(()),
        Err(error) => Err(format!(
            "S3 bucket {} at {}: {error}",
            bucket.name(),
            bucket.endpoint()
        )),
    }
}

/// The object holding `key`'s entry: `<prefix>/<k0>/<k1>/<k2>/<hex key>`, where `k0`..`k2` are
/// the key's first three hex digits, as sccache names it; no leading `/` without a prefix.
fn object_name(prefix: &str, key: &CacheKey) -> String {
    let hex = key.to_hex();
    let mut name = String::with_capacity(prefix.len() + hex.len() + 8);
    if !prefix.is_empty() {
        name.push_str(prefix);
        name.push('/');
    }
    for digit in hex.chars().take(3) {
        name.push(digit);
        name.push('/');
    }
    name.push_str(&hex);
    name
}

#[cfg(test)]
mod tests;
