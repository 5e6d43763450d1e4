//! The shared steps of every compile once a family has accepted it: key (the family's part),
//! look up, restore on a hit, compile and collect on a miss, and the write to send after the
//! reply.
//!
//! ```text
//! run ─▶ Family::key ─▶ serve: Lookup (unless the family looked up early)
//!                              hit:  restore (or put a prepared restore in place), reply
//!                              miss: Run the compiler, collect outputs, reply, then Store
//! ```
//!
//! Nothing here names a compiler family, and nothing here fails a build: every cache problem
//! ends in running the real compiler, whose own output reaches the user unchanged.

use crate::detector::CompilerInfo;
use crate::dispatcher::{ProcessOutput, RunError};
use crate::flow::family::{
    Added, EarlyLookup, EarlyRestore, Ended, EntryAdapter, Family, FollowUp, KeyAfterCompile,
    Keyed, LateKey, Unkeyed,
};
use crate::flow::read_since::ReadSince;
use crate::flow::request_env;
use crate::flow::services::Services;
use crate::outputs::{self, OutputFile};
use crate::storage::{LookupResult, Store};
use sccache_core::entry::CacheEntry;
use sccache_core::hash_key::CacheKey;
use sccache_core::protocol::{CompileFinished, CompileRequest};
use sccache_core::stats::{Event, StatsLabel};

use std::time::Instant;

/// A compile a family accepted: the compiler, the family's reading of the command line, and
/// the request (as the family adjusted it).
pub struct Accepted<F> {
    pub info: CompilerInfo,
    pub family: Box<F>,
    pub request: CompileRequest,
}

/// What follows the reply to a compile, off the client's path. Every family's compile ends
/// in this shape.
#[derive(Default)]
pub struct AfterReply {
    /// The cache write to send.
    pub store: Option<Store>,
    /// A scratch file to remove (the C family's preprocessed text).
    pub scratch: Option<tempfile::TempPath>,
    /// The family's work once the result is in the cache (`Keyed::Key::follow_up`).
    pub follow_up: Option<FollowUp>,
}

/// Runs an accepted compile: from the cache when it can, from the compiler when it must.
pub async fn run<F: Family>(
    services: &Services,
    accepted: Accepted<F>,
) -> (CompileFinished, AfterReply) {
    let Accepted {
        info,
        family,
        request,
    } = accepted;
    let recache = request_env::recache(&request);
    let targets = family.targets(&request);
    let adapter = family.adapter(&request);
    // Under SCCACHE_RECACHE the entry is to be replaced, not read: no early lookup either.
    let early = (!recache).then_some(EarlyRestore {
        targets: &targets,
        adapter: &*adapter,
        umask: request.umask,
    });
    match family.key(services, &info, &request, early).await {
        Keyed::Refused(reason) => {
            let finished = compile_uncached(services, &request, Some(reason)).await;
            (finished, AfterReply::default())
        }
        Keyed::AfterCompile(later, added) => {
            let missed = Missed {
                label: info.kind.stats_label(family.language()),
                kind: family.stats_kind(),
                targets,
                request: &request,
                adapter: &*adapter,
            };
            let (finished, store, follow_up) =
                compile_and_collect(services, missed, StoreUnder::Later(later, added)).await;
            let after = AfterReply {
                store,
                scratch: None,
                follow_up,
            };
            (finished, after)
        }
        Keyed::Key {
            key,
            early,
            scratch,
            read,
            follow_up,
        } => {
            let served = Served {
                key,
                early,
                read,
                recache,
                label: info.kind.stats_label(family.language()),
                kind: family.stats_kind(),
                targets,
                request: &request,
                adapter: &*adapter,
            };
            let (finished, store, cached) = serve(services, served).await;
            let follow_up = follow_up.filter(|_| cached);
            let after = AfterReply {
                store,
                scratch,
                follow_up,
            };
            (finished, after)
        }
    }
}

/// Fetches `key` at once and, on a hit, makes its restore ready (`outputs::prepare`: files
/// written beside their targets or found identical), changing no target. Nothing is counted
/// until `serve` takes the result.
pub async fn look_up_early(
    services: &Services,
    key: CacheKey,
    restore: EarlyRestore<'_>,
) -> EarlyLookup {
    let started = Instant::now();
    let mut fetched = services.fetch(key).await;
    let mut prepared = None;
    if let Ok(LookupResult::Hit(entry)) = &mut fetched {
        // Made ready for restoring here, as `serve` would; the files then go to the
        // preparation for good, and the entry keeps its stdout and stderr.
        restore.adapter.for_restore(entry);
        let targets = written_by(entry, restore.targets);
        let files = std::mem::take(&mut entry.files);
        prepared = Some(outputs::prepare(files, targets, restore.umask).await);
    }
    EarlyLookup {
        key,
        fetched,
        prepared,
        took: started.elapsed(),
    }
}

/// What `serve` needs once the key is known.
struct Served<'a> {
    key: CacheKey,
    early: Option<EarlyLookup>,
    read: Option<Box<ReadSince>>,
    recache: bool,
    label: StatsLabel,
    /// The family's kind of compile, counted apart (`Family::stats_kind`).
    kind: Option<String>,
    targets: Vec<OutputFile>,
    request: &'a CompileRequest,
    adapter: &'a dyn EntryAdapter,
}

/// Looks up (unless an early lookup did), restores on a hit; on a miss compiles, collects the
/// outputs and prepares the write. Also says whether the key's result is in the cache now
/// (a hit, or a write prepared).
async fn serve(services: &Services, served: Served<'_>) -> (CompileFinished, Option<Store>, bool) {
    let Served {
        key,
        early,
        read,
        recache,
        label,
        kind,
        targets,
        request,
        adapter,
    } = served;
    let count_kind = |hit: bool| {
        if let Some(kind) = &kind {
            services.record(Event::RustCrate {
                kind: kind.clone(),
                hit,
            });
        }
    };
    let started = Instant::now();
    let found = if recache {
        services.record(Event::ForcedRecache);
        None
    } else {
        match early {
            Some(early) => services
                .account(early.fetched, &label)
                .map(|entry| (entry, early.took, early.prepared)),
            None => {
                let entry = services.lookup(key, &label).await;
                entry.map(|entry| (entry, started.elapsed(), None))
            }
        }
    };
    if let Some((mut entry, looked_up, prepared)) = found {
        if services.client_is_gone() {
            // Nobody waits for this hit, and the user's files may be newer than it by now
            // (an interrupted build, run again): they are left alone.
            log::debug!("hit {key} abandoned by its client; nothing restored");
            return (abandoned(), None, false);
        }
        let restoring = Instant::now();
        let put = match prepared {
            Some(Ok(prepared)) => outputs::put_in_place(prepared).await,
            Some(Err(error)) => Err(error),
            None => {
                adapter.for_restore(&mut entry);
                let targets = written_by(&entry, &targets);
                let files = std::mem::take(&mut entry.files);
                outputs::restore(files, targets, request.umask).await
            }
        };
        match put {
            Ok(vouched) => {
                // The next crate's key digests these (an rlib restored here): known already.
                for file in vouched {
                    services.digests.vouch(&file.path, file.stamp, file.digest);
                }
                let restored = restoring.elapsed();
                log::debug!("hit {key}: looked up in {looked_up:?}, restored in {restored:?}");
                services.record(Event::Hit {
                    label: label.clone(),
                    read: looked_up + restored,
                });
                count_kind(true);
                if entry.exit_code != 0 {
                    services.record(Event::FailureHit);
                }
                let finished = CompileFinished {
                    exit_code: Some(entry.exit_code),
                    signal: None,
                    stdout: entry.stdout,
                    stderr: entry.stderr,
                };
                return (finished, None, true);
            }
            Err(error) => {
                log::warn!("cannot restore a hit, compiling instead: {error}");
                services.record(Event::ReadError {
                    label: label.clone(),
                });
            }
        }
    }
    let missed = Missed {
        label,
        kind,
        targets,
        request,
        adapter,
    };
    let (finished, store, _) =
        compile_and_collect(services, missed, StoreUnder::Key(key, read)).await;
    let cached = store.is_some();
    (finished, store, cached)
}

/// A miss's compile: what it writes and how it is counted.
struct Missed<'a> {
    label: StatsLabel,
    /// The family's kind of compile, counted apart (`Family::stats_kind`).
    kind: Option<String>,
    targets: Vec<OutputFile>,
    request: &'a CompileRequest,
    adapter: &'a dyn EntryAdapter,
}

/// The key a miss's result is stored under: known before the compile (with the files it was
/// taken from), or found after it.
enum StoreUnder {
    Key(CacheKey, Option<Box<ReadSince>>),
    /// With what the compile runs with besides the user's arguments and environment.
    Later(KeyAfterCompile, Added),
}

/// Counts a miss, compiles, and on success collects the outputs into the write to send after
/// the reply; with a key found after the compile, also the family's follow-up.
async fn compile_and_collect(
    services: &Services,
    missed: Missed<'_>,
    mut under: StoreUnder,
) -> (CompileFinished, Option<Store>, Option<FollowUp>) {
    let Missed {
        label,
        kind,
        targets,
        request,
        adapter,
    } = missed;
    let count_miss = || {
        services.record(Event::Miss {
            label: label.clone(),
        });
        if let Some(kind) = &kind {
            services.record(Event::RustCrate {
                kind: kind.clone(),
                hit: false,
            });
        }
    };
    let mut args = request.args.clone();
    let mut with_env = None;
    match &mut under {
        StoreUnder::Later(_, added) => {
            args.extend_from_slice(&added.args);
            if !added.env.is_empty() {
                let mut request = request.clone();
                request.env.extend(added.env.iter().cloned());
                with_env = Some(request);
            }
        }
        StoreUnder::Key(_, Some(read)) => args.extend(read.compile_args()),
        StoreUnder::Key(_, None) => {}
    }
    let run_as = with_env.as_ref().unwrap_or(request);
    // Every output must be written after this (`outputs::collect`); later than any change
    // made before it, on a kernel with multigrain stamps.
    let began = crate::flow::started::Started::fresh();
    let output = match services.run(&request.exe, args, run_as).await {
        Ok(output) => output,
        Err(error) => {
            count_miss();
            return (spawn_failure(error), None, None);
        }
    };
    // A compile that fails is a compilation failure, not a miss, as sccache counts it: a
    // build script's failing probe is no cache miss on every build.
    if output.success() {
        count_miss();
    } else {
        services.record(Event::FailedCompile);
    }
    services.record(Event::Compiled {
        duration: output.duration,
        success: output.success(),
    });
    // A failure is stored only where its key comes after the compile, and the family takes it
    // (its errors are all decided by the key): its exit status, `None` for a success.
    let failed = match (output.success(), output.exit_code, output.signal, &under) {
        (true, ..) => None,
        (false, Some(exit_code), None, StoreUnder::Later(..)) => Some(exit_code),
        _ => return (finished(output), None, None),
    };
    if !services.storage.writable {
        // A read-only cache: its outputs are neither checked nor read for a write that will
        // not happen. (The log line is sccache's, which tools and its tests look for.)
        if failed.is_none() {
            log::debug!("Error executing cache write: Cannot write to read-only storage");
            services.record(Event::WriteSkipped);
        }
        return (finished(output), None, None);
    }
    let keying = match under {
        StoreUnder::Key(key, read) => {
            if !unchanged_since_read(read).await {
                services.record(Event::InputChanged);
                return (finished(output), None, None);
            }
            LateKey::Now {
                key,
                follow_up: None,
            }
        }
        StoreUnder::Later(later, _) => {
            let ended = match failed {
                None => Ended::Succeeded,
                Some(exit_code) => Ended::Failed {
                    exit_code,
                    stderr: output.stderr.clone(),
                },
            };
            match later(ended).await {
                Ok(late) => late,
                Err(Unkeyed::FailureKept(reason)) => {
                    log::debug!("failed, not stored: {reason}");
                    return (finished(output), None, None);
                }
                Err(Unkeyed::InputChanged) => {
                    services.record(Event::InputChanged);
                    return (finished(output), None, None);
                }
                Err(Unkeyed::Refused(reason)) => {
                    log::debug!("compiled, but no key: {reason}");
                    services.record(Event::NotDirect(reason.to_owned()));
                    return (finished(output), None, None);
                }
                Err(Unkeyed::NotRecorded(reason)) => {
                    log::debug!("compiled without the preprocessor, but no record: {reason}");
                    services.record(Event::NotDirect(reason.to_owned()));
                    services.record(Event::DependNotStored);
                    return (finished(output), None, None);
                }
            }
        }
    };
    // A failure wrote only some of its outputs (the family checked that none was there
    // before): those are its entry's files.
    let targets = match failed {
        None => targets,
        Some(_) => outputs::existing(targets).await,
    };
    let entry = match outputs::collect(targets, &services.digests, began).await {
        Ok(files) => {
            let mut entry = CacheEntry {
                files,
                stdout: output.stdout.clone(),
                stderr: output.stderr.clone(),
                exit_code: failed.unwrap_or(0),
            };
            adapter.for_store(&mut entry);
            entry
        }
        Err(error) => {
            log::warn!("compiled, but cannot cache the outputs: {error}");
            services.record(Event::WriteFailed);
            return (finished(output), None, None);
        }
    };
    match keying {
        LateKey::Now { key, follow_up } => {
            (finished(output), Some(Store { key, entry }), follow_up)
        }
    }
}

/// The targets a hit's entry restores: every one for a success; for a failure, those it
/// wrote (the others stay as they are, as a failing compile leaves them).
fn written_by(entry: &CacheEntry, targets: &[OutputFile]) -> Vec<OutputFile> {
    targets
        .iter()
        .filter(|target| entry.exit_code == 0 || entry.file(&target.name).is_some())
        .cloned()
        .collect()
}

/// Whether the files a key was taken from are still as they were when reading began (no
/// record of them: nothing to check).
async fn unchanged_since_read(read: Option<Box<ReadSince>>) -> bool {
    match read {
        Some(read) => read.unchanged().await,
        None => true,
    }
}

/// Runs the user's command as it is, caching nothing. `reason` is the request's outcome for the
/// stats (why it could not be cached); `None` when the request was already counted.
pub async fn compile_uncached(
    services: &Services,
    request: &CompileRequest,
    reason: Option<&str>,
) -> CompileFinished {
    if let Some(reason) = reason {
        services.record(Event::NotCacheable(reason.to_owned()));
    }
    services.record(Event::UncachedCompile);
    match services
        .run(&request.exe, request.args.clone(), request)
        .await
    {
        Ok(output) => {
            services.record(Event::Compiled {
                duration: output.duration,
                success: output.success(),
            });
            finished(output)
        }
        Err(error) => spawn_failure(error),
    }
}

fn finished(output: ProcessOutput) -> CompileFinished {
    CompileFinished {
        exit_code: output.exit_code,
        signal: output.signal,
        stdout: output.stdout,
        stderr: output.stderr,
    }
}

/// The answer to a compile whose client has gone; nobody reads it.
fn abandoned() -> CompileFinished {
    spawn_failure(RunError::Abandoned)
}

fn spawn_failure(error: RunError) -> CompileFinished {
    CompileFinished {
        exit_code: Some(2),
        signal: None,
        stdout: Vec::new(),
        stderr: format!("sccache: {error}\n").into_bytes(),
    }
}
