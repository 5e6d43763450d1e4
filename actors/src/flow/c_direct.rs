//! Direct mode for the C family: a hit found from a manifest, before and without the
//! preprocessor; and, after a compile whose result is in the cache, the manifest's update.
//!
//! ```text
//! FindManifest(source, manifest key but the source) ─▶ Hasher: digest, key, the ManifestMemo's
//!     manifest checked; or, none remembered, Lookup─▶ storage ─CheckManifest─▶ Hasher
//!     ─▶ look_up_early(result key): a hit is restored by the shared steps, no process runs
//! otherwise the preprocessor path (with -v), and after the reply:
//!     RecordRead(scratch, -v report) ─▶ Hasher ─▶ Store(manifest key, manifest) ─▶ storage
//! ```
//!
//! Why a direct hit is never stale is argued in docs/ARCHITECTURE.md ("Direct mode"); the
//! checks are in `manifest_files.rs`, the key in `hash_key::manifest_key`.

use crate::flow::family::{EarlyRestore, FollowUp, Keyed};
use crate::flow::read_since::{ReadFiles, ReadSince};
use crate::flow::services::Services;
use crate::flow::settled_path::Anchors;
use crate::flow::started::Started;
use crate::flow::steps::look_up_early;
use crate::manifest_files::{CheckManifest, FindManifest, Found, Holding};
use crate::manifest_record::RecordRead;
use crate::storage::{LookupResult, Store};
use sccache_core::compiler::gcc::CCompilation;
use sccache_core::compiler::Language;
use sccache_core::direct::scan::refusal_in_args;
use sccache_core::direct::{Manifest, Recorded};
use sccache_core::entry::CacheEntry;
use sccache_core::hash_key::{self, CacheKey, CompilerIdentity};
use sccache_core::protocol::CompileRequest;
use sccache_core::stats::{Event, StatsLabel};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a direct miss keeps for recording the manifest afterwards.
pub struct Direct {
    manifest_key: CacheKey,
    manifest: Arc<Manifest>,
}

impl Direct {
    /// The key the manifest is stored under.
    pub fn manifest_key(&self) -> CacheKey {
        self.manifest_key
    }
}

/// What the direct lookup found.
pub enum Looked {
    /// A result restored without the preprocessor.
    Hit(Keyed),
    /// The preprocessor path; with a manifest to update when direct mode applies.
    Miss(Option<Direct>),
}

/// Looks the compile up by its manifest. Counts a direct hit or miss, or why direct mode
/// does not apply.
pub async fn look_up(
    services: &Services,
    identity: &CompilerIdentity,
    compilation: &CCompilation,
    request: &CompileRequest,
    restore: EarlyRestore<'_>,
    label: &StatsLabel,
) -> Looked {
    if matches!(
        compilation.language,
        Language::PreprocessedC | Language::PreprocessedCxx | Language::Assembler
    ) {
        // Nothing to preprocess: the ordinary path reads the input alone.
        return Looked::Miss(None);
    }
    if let Some(reason) = refusal_in_args(&request.args) {
        services.record(Event::NotDirect(reason.to_owned()));
        return Looked::Miss(None);
    }
    let cwd = PathBuf::from(&request.cwd);
    // Before the check: should the restore fail and the compile run after all, a file
    // changed since then keeps its result out of the cache (`read_since`).
    let started = Started::now();
    let find = FindManifest {
        source: cwd.join(&compilation.input),
        key: hash_key::manifest_key_without_input(
            identity,
            &request.exe,
            compilation,
            &request.cwd,
            &request.env,
        ),
        manifests: services.manifests.clone(),
        cwd: cwd.clone(),
    };
    let Found {
        key: manifest_key,
        remembered,
    } = match services.find_manifest.send(find).await {
        Ok(Ok(found)) => found,
        _ => {
            services.record(Event::NotDirect("unreadable source".into()));
            return Looked::Miss(None);
        }
    };
    let (manifest, holding) = match remembered {
        Some(remembered) => remembered,
        None => {
            let manifest = fetch_manifest(services, manifest_key, label).await;
            let holding = check(services, manifest.clone(), &cwd).await;
            (manifest, holding)
        }
    };
    if let Some(Holding { result, files }) = holding {
        let key = CacheKey(result);
        let lookup = look_up_early(services, key, restore).await;
        if matches!(lookup.fetched, Ok(LookupResult::Hit(_))) {
            services.record(Event::DirectHit);
            log::debug!("{:?}: direct hit {key}", compilation.input);
            let files = ReadFiles {
                paths: files,
                markers_in: None,
            };
            let read = ReadSince::new(started, files, &cwd);
            return Looked::Hit(Keyed::direct_hit(key, lookup, read));
        }
        // The result is gone (evicted) or unreadable: the preprocessor path stores it again.
        let _ = services.account(lookup.fetched, label);
    }
    services.record(Event::DirectMiss);
    Looked::Miss(Some(Direct {
        manifest_key,
        manifest,
    }))
}

/// The manifest stored under `key`, remembered for the next compile; an empty one on a miss
/// or a failure (counted).
async fn fetch_manifest(services: &Services, key: CacheKey, label: &StatsLabel) -> Arc<Manifest> {
    match services
        .fetch_manifest(key, label, Manifest::from_entry)
        .await
    {
        Some((manifest, entry)) => {
            let manifest = Arc::new(manifest);
            services
                .manifests
                .remember(key, manifest.clone(), entry_size(&entry));
            manifest
        }
        None => Arc::default(),
    }
}

/// The size of a manifest's entry, by its files.
fn entry_size(entry: &CacheEntry) -> usize {
    entry.files.iter().map(|file| file.data.len()).sum()
}

/// The newest record of `manifest` that still holds, checked on the hasher's threads.
async fn check(services: &Services, manifest: Arc<Manifest>, cwd: &Path) -> Option<Holding> {
    if manifest.results.is_empty() {
        return None;
    }
    let message = CheckManifest {
        manifest,
        cwd: cwd.to_path_buf(),
    };
    match services.check_manifest.send(message).await {
        Ok(holding) => holding,
        Err(error) => {
            log::warn!("hasher unavailable: {error}");
            None
        }
    }
}

/// What recording needs from the preprocessor's run.
pub struct Preprocessed {
    pub scratch: tempfile::TempPath,
    pub stderr: Vec<u8>,
    pub started: Started,
    /// Directories whose identity was taken before the preprocessor ran (`settled_path`).
    pub anchors: Anchors,
    pub cwd: PathBuf,
}

/// The work, after the reply, that records `key` as this compile's result in its manifest:
/// the record is made on the hasher's threads, then stored through the storage actor. The
/// scratch file goes with it.
pub fn record(
    services: &Services,
    direct: Direct,
    preprocessed: Preprocessed,
    key: CacheKey,
) -> FollowUp {
    let services = services.clone();
    Box::pin(async move {
        let Preprocessed {
            scratch,
            stderr,
            started,
            anchors,
            cwd,
        } = preprocessed;
        let message = RecordRead {
            text: scratch.to_path_buf(),
            stderr,
            cwd,
            started,
            anchors,
        };
        let recorded = services.record_read.send(message).await;
        drop(scratch);
        let mut recorded = match recorded {
            Ok(Ok(recorded)) => recorded,
            Ok(Err(reason)) => {
                services.record(Event::NotDirect(reason.to_owned()));
                return;
            }
            Err(error) => {
                log::warn!("hasher unavailable: {error}");
                return;
            }
        };
        recorded.result = key.0;
        store_record(&services, direct, recorded);
    })
}

/// Puts `recorded` (its result key filled in) first in the manifest of `direct`, remembers the
/// manifest and stores it through the storage actor.
pub fn store_record(services: &Services, direct: Direct, recorded: Recorded) {
    let manifest = Arc::unwrap_or_clone(direct.manifest).with(recorded);
    match manifest.to_entry() {
        Ok(entry) => {
            services.manifests.remember(
                direct.manifest_key,
                Arc::new(manifest),
                entry_size(&entry),
            );
            services.storage.store.do_send(Store {
                key: direct.manifest_key,
                entry,
            })
        }
        Err(error) => log::warn!("{error}"),
    }
}
