//! Assembly: starts every actor, wires them together, and serves connections until the
//! lifecycle actor stops the system.
//!
//! This is the only module that sees concrete actor addresses; everything else holds
//! `Recipient`s. It chooses the storage backend from the configuration and refuses one this
//! build lacks, and prepares access (the private directory, the TCP token) before it listens.

use crate::connection::Control;
use crate::detector::Detector;
use crate::digest_memo::DigestMemo;
use crate::dispatcher::Dispatcher;
use crate::driver_probe::DriverProber;
use crate::flow::Services;
use crate::hasher::Hasher;
use crate::lifecycle::Lifecycle;
use crate::linker_probe::LinkerProber;
use crate::listener::{self, Bound, Listener};
use crate::server_error::ServerError;
use crate::stats::{Record, StatsKeeper};
use crate::storage::chain::{level_name, Chain, Level, LevelCounter};
use crate::storage::disk::DiskStorage;
use crate::storage::StorageHandle;
use actix::prelude::*;
use sccache_core::access;
use sccache_core::config::{Backend, CacheMode, LevelName, Levels, ServerConfig, WriteErrorPolicy};
use std::sync::Arc;
use tokio::sync::Notify;

/// Told once whether the server is listening, or why it is not, before it serves.
pub type Ready = Box<dyn FnOnce(Result<(), &ServerError>) + Send>;

/// Runs the server until it stops (Shutdown request or idle timeout). Checks access and binds
/// the listener first (and with `check_storage` reads the remote cache once, as sccache does
/// when it starts), then calls `ready(Ok(()))` or `ready(Err(error))` before serving; returns
/// after stopping.
pub fn run(config: ServerConfig, check_storage: bool, ready: Ready) -> Result<(), ServerError> {
    let bound = access::credential(&config.endpoint, &config.private_dir)
        .map_err(ServerError::from)
        .and_then(|token| Ok((token, listener::bind(&config.endpoint)?)));
    let (token, bound) = match bound {
        Ok(bound) => bound,
        Err(error) => {
            ready(Err(&error));
            return Err(error);
        }
    };
    let system = System::new();
    if check_storage {
        if let Err(error) = system.block_on(storage_readable(&config)) {
            ready(Err(&error));
            return Err(error);
        }
    }
    // What the last server knew of files' digests (see `DigestMemo::save`), only from a
    // directory no other user can write: a digest planted there would be a wrong key.
    let digests = access::ensure_private_dir(&config.private_dir)
        .ok()
        .map(|()| config.private_dir.join(DIGESTS_FILE));
    let memo = digests.as_deref().map(DigestMemo::load).unwrap_or_default();
    let kept = memo.clone();
    let started = system.block_on(async move { start(config, bound, token, memo) });
    match started {
        Ok(()) => ready(Ok(())),
        Err(error) => {
            ready(Err(&error));
            return Err(error);
        }
    }
    system.run()?;
    if let Some(digests) = digests {
        if let Err(error) = kept.save(&digests) {
            log::info!(
                "cannot keep the file digests in {}: {error}",
                digests.display()
            );
        }
    }
    Ok(())
}

/// Where the server keeps its file digests between runs, in the user's private directory.
const DIGESTS_FILE: &str = "digests";

/// Starts the actors and the accept loop. Runs inside the system.
fn start(
    config: ServerConfig,
    bound: Bound,
    token: String,
    memo: DigestMemo,
) -> Result<(), ServerError> {
    let listener = Listener::attach(bound)?;
    // What a server that died left on /dev/shm, off the event loop.
    actix_rt::task::spawn_blocking(crate::scratch::sweep);
    let stats = StatsKeeper::default().start();
    let dispatcher = Dispatcher::new(config.jobs, crate::reaper::Reaper::start()).start();
    // As many hashing threads as compilers running at once: each finished preprocessor's text
    // is hashed while the next runs.
    let digests = memo.clone();
    let hasher = SyncArbiter::start(config.jobs, move || Hasher::new(memo.clone()));
    let detector =
        Detector::new(dispatcher.clone().recipient(), hasher.clone().recipient()).start();
    let driver_prober =
        DriverProber::new(dispatcher.clone().recipient(), hasher.clone().recipient()).start();
    let linker_prober =
        LinkerProber::new(dispatcher.clone().recipient(), hasher.clone().recipient()).start();
    let storage = start_storage(&config, stats.clone().recipient(), &digests)?;
    // sccache's words and mode names, which tools and its tests look for.
    let mode = if storage.writable {
        "ReadWrite"
    } else {
        "ReadOnly"
    };
    log::info!("server has setup with {mode}");
    let stop_accepting = Arc::new(Notify::new());
    let lifecycle = Lifecycle::new(config.idle_timeout, stop_accepting.clone()).start();
    let services = Services {
        detect: detector.recipient(),
        probe_driver: driver_prober.recipient(),
        probe_linker: linker_prober.recipient(),
        run: dispatcher.recipient(),
        digest: hasher.clone().recipient(),
        digest_source: hasher.clone().recipient(),
        digest_read_files: hasher.clone().recipient(),
        find_manifest: hasher.clone().recipient(),
        check_manifest: hasher.clone().recipient(),
        record_read: hasher.clone().recipient(),
        record_listed: hasher.clone().recipient(),
        check_rust_manifest: hasher.clone().recipient(),
        digest_dep_info: hasher.clone().recipient(),
        digest_crates: hasher.recipient(),
        manifests: crate::manifest_memo::ManifestMemo::default(),
        drivers_seen: Default::default(),
        compilers_seen: Default::default(),
        search_lists: Default::default(),
        depend_refused: Default::default(),
        rust_unrecorded: Default::default(),
        digests,
        library_scan: crate::library_scan::LibraryScan::default(),
        native_cpus: crate::native_cpus::memo(),
        query_answers: crate::query_answers::memo(),
        direct: config.direct,
        direct_depend: config.direct_depend,
        stats: stats.clone().recipient(),
        storage: storage.clone(),
        storage_timeout: config.storage_timeout,
        // Each connection replaces it with its own (`Connection::serve`).
        client_gone: tokio_util::sync::CancellationToken::new(),
        jobserver: None,
    };
    let control = Control {
        snapshot: stats.clone().recipient(),
        zero: stats.recipient(),
        describe: storage.describe,
        shutdown: lifecycle.clone().recipient(),
        activity: lifecycle.recipient(),
        token: Arc::from(token),
        read_budget: crate::read_budget::ReadBudget::new(crate::read_budget::REQUEST_BUFFER_BUDGET),
    };
    actix_rt::spawn(listener.serve_until(stop_accepting, services, control));
    log::info!("listening on {}", config.endpoint);
    Ok(())
}

/// Whether the remote cache can be read: an explicit start fails on a cache it cannot use,
/// where a server started by a compile goes on and counts the errors (Redis reconnects by
/// itself). The disk cache is not checked here: its directory is made when needed. In a chain,
/// as in sccache, the write-error policy says which levels must pass: `all` every one, `l0` the
/// first, `ignore` none.
async fn storage_readable(config: &ServerConfig) -> Result<(), ServerError> {
    let checked: Vec<&Backend> = match &config.backend {
        Backend::Chain(levels) => match levels.write_error_policy {
            WriteErrorPolicy::All => levels.levels.iter().collect(),
            WriteErrorPolicy::L0 => levels.levels.iter().take(1).collect(),
            WriteErrorPolicy::Ignore => Vec::new(),
        },
        backend => vec![backend],
    };
    for backend in checked {
        backend_readable(config, backend).await.map_err(|error| {
            ServerError::Storage(format!("cache storage failed to read: {error}"))
        })?;
    }
    Ok(())
}

/// Whether one backend can be read, or why not.
async fn backend_readable(config: &ServerConfig, backend: &Backend) -> Result<(), String> {
    match backend {
        #[cfg(feature = "redis")]
        Backend::Redis(redis) => {
            crate::storage::redis::check_reachable(redis, config.storage_timeout)
                .await
                .map_err(|error| error.to_string())
        }
        #[cfg(feature = "s3")]
        Backend::S3(s3) => crate::storage::s3::check_readable(s3, config.storage_timeout)
            .await
            .map_err(|error| error.to_string()),
        // Not checked, alone or as a level: a REAPI server that cannot be used (down, a wrong
        // instance, token or authority) is counted as read errors and failed writes, and the
        // server starts.
        Backend::Reapi(_) => Ok(()),
        _ => {
            let _ = config;
            Ok(())
        }
    }
}

fn start_storage(
    config: &ServerConfig,
    stats: Recipient<Record>,
    memo: &DigestMemo,
) -> Result<StorageHandle, ServerError> {
    match &config.backend {
        Backend::Chain(levels) => start_chain(config, levels, stats, memo),
        backend => start_backend(config, backend, stats, memo),
    }
}

/// Whether `backend` takes writes, by its settings.
fn writable(config: &ServerConfig, backend: &Backend) -> bool {
    match backend {
        Backend::Disk => config.disk_mode == CacheMode::ReadWrite,
        Backend::Redis(redis) => redis.mode == CacheMode::ReadWrite,
        Backend::S3(s3) => s3.mode == CacheMode::ReadWrite && !s3.no_credentials,
        Backend::Reapi(reapi) => reapi.mode == CacheMode::ReadWrite,
        Backend::Chain(levels) => levels.levels.iter().any(|level| writable(config, level)),
    }
}

/// The name a chain gives `backend`.
fn level_kind(backend: &Backend) -> &'static str {
    match backend {
        Backend::Disk => LevelName::Disk.as_str(),
        Backend::Redis(_) => LevelName::Redis.as_str(),
        Backend::S3(_) => LevelName::S3.as_str(),
        Backend::Reapi(_) => LevelName::Reapi.as_str(),
        Backend::Chain(_) => "chain",
    }
}

/// Starts each level's backend with its own `LevelCounter` as its stats, then the chain.
fn start_chain(
    config: &ServerConfig,
    levels: &Levels,
    stats: Recipient<Record>,
    memo: &DigestMemo,
) -> Result<StorageHandle, ServerError> {
    let first_writable = levels
        .levels
        .iter()
        .position(|backend| writable(config, backend));
    let mut chain = Vec::with_capacity(levels.levels.len());
    for (index, backend) in levels.levels.iter().enumerate() {
        let level_writable = writable(config, backend);
        let counts_failures = match levels.write_error_policy {
            WriteErrorPolicy::Ignore => false,
            WriteErrorPolicy::L0 => first_writable == Some(index),
            WriteErrorPolicy::All => level_writable,
        };
        let counter = LevelCounter::new(
            index,
            first_writable == Some(index),
            counts_failures,
            stats.clone(),
        )
        .start();
        let storage = start_backend(config, backend, counter.clone().recipient(), memo)?;
        chain.push(Level {
            name: level_name(index, level_kind(backend)),
            storage,
            write_back: counter.recipient(),
        });
    }
    let read_only = first_writable.is_none();
    Ok(StorageHandle::of(&Chain::new(chain, stats).start()).read_only(read_only))
}

/// Starts one backend, reporting its writes to `stats`; the disk cache checks its content files
/// through `memo`.
fn start_backend(
    config: &ServerConfig,
    backend: &Backend,
    stats: Recipient<Record>,
    memo: &DigestMemo,
) -> Result<StorageHandle, ServerError> {
    let read_only = !writable(config, backend);
    match backend {
        Backend::Disk => Ok(StorageHandle::of(
            &DiskStorage::new(
                config.cache_dir.clone(),
                config.cache_size,
                config.max_pending_writes,
                stats,
            )
            .read_only(read_only)
            .with_memo(memo.clone())
            .start(),
        )
        .read_only(read_only)),
        #[cfg(feature = "redis")]
        Backend::Redis(redis) => Ok(StorageHandle::of(
            &crate::storage::redis::RedisStorage::new(
                redis.clone(),
                config.storage_timeout,
                config.max_pending_writes,
                stats,
            )
            .map_err(|error| ServerError::Storage(error.to_string()))?
            .with_zstd_level(config.zstd_level)
            .start(),
        )
        .read_only(read_only)),
        #[cfg(not(feature = "redis"))]
        Backend::Redis(_) => Err(sccache_core::config::ConfigError::FeatureMissing {
            name: "SCCACHE_REDIS",
            feature: "redis",
        }
        .into()),
        #[cfg(feature = "s3")]
        Backend::S3(s3) => Ok(StorageHandle::of(
            &crate::storage::s3::S3Storage::new(
                s3.clone(),
                config.storage_timeout,
                config.max_pending_writes,
                stats,
            )
            .map_err(|error| ServerError::Storage(error.to_string()))?
            .with_zstd_level(config.zstd_level)
            .start(),
        )
        .read_only(read_only)),
        #[cfg(not(feature = "s3"))]
        Backend::S3(_) => Err(sccache_core::config::ConfigError::FeatureMissing {
            name: "SCCACHE_BUCKET",
            feature: "s3",
        }
        .into()),
        #[cfg(feature = "reapi")]
        Backend::Reapi(reapi) => Ok(StorageHandle::of(
            &crate::storage::reapi::ReapiStorage::new(
                reapi.clone(),
                config.storage_timeout,
                config.max_pending_writes,
                stats,
            )
            .map_err(|error| ServerError::Storage(error.to_string()))?
            .with_zstd_level(config.zstd_level)
            .start(),
        )
        .read_only(read_only)),
        #[cfg(not(feature = "reapi"))]
        Backend::Reapi(_) => Err(sccache_core::config::ConfigError::FeatureMissing {
            name: "SCCACHE_REAPI_ENDPOINT",
            feature: "reapi",
        }
        .into()),
        Backend::Chain(_) => Err(ServerError::Storage(
            "a chain of caches cannot be a level of a chain".to_owned(),
        )),
    }
}
