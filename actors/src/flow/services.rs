//! `Services`: the actors a compile talks to, and the ways the pipeline asks them.
//!
//! It owns the storage timeout and how a lookup's failures are counted (a corrupt entry, a
//! read error, a timeout each become a miss and an event). It decides nothing about keys or
//! outputs.

use crate::c_memos::{CompilersSeen, DriversSeen, SearchLists, Unrecorded};
use crate::detector::Detect;
use crate::digest_memo::DigestMemo;
use crate::dispatcher::{ProcessOutput, Run, RunError};
use crate::driver_probe::ProbeDriver;
use crate::hasher::{DigestFiles, DigestReadFiles, DigestSource};
use crate::jobserver::Jobserver;
use crate::library_scan::LibraryScan;
use crate::linker_probe::ProbeLinker;
use crate::manifest_files::{CheckManifest, FindManifest};
use crate::manifest_memo::ManifestMemo;
use crate::manifest_record::{RecordListed, RecordRead};
use crate::native_cpus::NativeCpus;
use crate::query_answers::QueryAnswers;
use crate::rust_manifest_files::{CheckRustManifest, DigestCrates, DigestDepInfo};
use crate::stats::Record;
use crate::storage::{Lookup, LookupResult, StorageHandle};
use actix::prelude::*;
use sccache_core::entry::CacheEntry;
use sccache_core::hash_key::CacheKey;
use sccache_core::protocol::CompileRequest;
use sccache_core::stats::{Event, StatsLabel};
use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How much longer than the storage timeout the flow waits for a lookup's answer.
const LOOKUP_TIMEOUT_MARGIN: Duration = Duration::from_millis(500);

/// The actors a compile talks to.
#[derive(Clone)]
pub struct Services {
    pub detect: Recipient<Detect>,
    pub probe_driver: Recipient<ProbeDriver>,
    pub probe_linker: Recipient<ProbeLinker>,
    pub run: Recipient<Run>,
    pub digest: Recipient<DigestFiles>,
    pub digest_source: Recipient<DigestSource>,
    pub digest_read_files: Recipient<DigestReadFiles>,
    pub find_manifest: Recipient<FindManifest>,
    pub check_manifest: Recipient<CheckManifest>,
    pub record_read: Recipient<RecordRead>,
    pub record_listed: Recipient<RecordListed>,
    /// The direct-mode manifests last read or written, shared by every connection.
    pub manifests: ManifestMemo,
    /// The hasher's file digests, which a restore may vouch for (`outputs::Restored`).
    pub digests: DigestMemo,
    /// What the directories a link searches hold, shared by every connection.
    pub library_scan: LibraryScan,
    /// What `-C target-cpu=native` means per toolchain and target, shared likewise.
    pub native_cpus: NativeCpus,
    /// cargo's `--print` queries answered, shared likewise (`rust_query`).
    pub query_answers: QueryAnswers,
    /// The C drivers whose identity this server has found, shared likewise (`flow::c`).
    pub drivers_seen: DriversSeen,
    /// The compilers (by the path a request names) this server has detected, shared likewise:
    /// a query for one not yet detected does not wait for it (`flow::dispatch`).
    pub compilers_seen: CompilersSeen,
    /// The include search lists of C command lines, shared likewise (`c_search`).
    pub search_lists: SearchLists,
    /// The manifest keys the depend path could not record, shared likewise (`c_depend`).
    pub depend_refused: Unrecorded,
    /// The rust manifest keys whose direct miss could not be recorded, shared likewise
    /// (`rust_direct`): their compiles take the dep-info run's path.
    pub rust_unrecorded: Unrecorded,
    pub check_rust_manifest: Recipient<CheckRustManifest>,
    pub digest_dep_info: Recipient<DigestDepInfo>,
    pub digest_crates: Recipient<DigestCrates>,
    /// Whether C and rust compiles may use direct mode (`SCCACHE_DIRECT`).
    pub direct: bool,
    /// Whether a C direct miss may compile at once, keyed afterwards (`SCCACHE_DIRECT_DEPEND`).
    pub direct_depend: bool,
    pub stats: Recipient<Record>,
    pub storage: StorageHandle,
    /// How long a lookup may take before the compile goes ahead as a miss.
    pub storage_timeout: Duration,
    /// Cancelled when the client of this connection is gone: its processes are interrupted
    /// and its outputs left alone (`Connection::serve` gives each connection its own).
    pub client_gone: CancellationToken,
    /// The jobserver this connection's client passed, which its processes inherit; none after
    /// the reply (`detached`).
    pub jobserver: Option<Arc<Jobserver>>,
}

/// A storage answer, not yet counted.
pub type Fetched = Result<LookupResult, MailboxError>;

impl Services {
    pub fn record(&self, event: Event) {
        self.stats.do_send(Record(event));
    }

    /// Runs a process through the dispatcher, in the request's directory and environment.
    pub async fn run(
        &self,
        exe: &OsString,
        args: Vec<OsString>,
        request: &CompileRequest,
    ) -> Result<ProcessOutput, RunError> {
        self.send_run(self.process(exe, args, request)).await
    }

    /// Runs a process that accompanies a compile running for the same request (a crate
    /// listing), in the dispatcher's pool for those (`Run::beside_a_compile`).
    pub async fn run_beside_a_compile(
        &self,
        exe: &OsString,
        args: Vec<OsString>,
        request: &CompileRequest,
    ) -> Result<ProcessOutput, RunError> {
        let run = self.process(exe, args, request).beside_a_compile();
        self.send_run(run).await
    }

    fn process(&self, exe: &OsString, args: Vec<OsString>, request: &CompileRequest) -> Run {
        let run = Run::new(exe.clone(), args, request.cwd.clone(), request.env.clone())
            .for_client(self.client_gone.clone())
            .under_umask(request.umask);
        match &self.jobserver {
            Some(jobserver) => run.with_jobserver(jobserver.clone()),
            None => run,
        }
    }

    async fn send_run(&self, run: Run) -> Result<ProcessOutput, RunError> {
        self.run.send(run).await.unwrap_or(Err(RunError::Closed))
    }

    /// These services for work after the reply, which no client waits for: the processes it
    /// runs are not interrupted when the client leaves (they write nothing of the user's).
    pub fn detached(&self) -> Services {
        Services {
            client_gone: CancellationToken::new(),
            jobserver: None,
            ..self.clone()
        }
    }

    /// Whether the client has gone: nothing of the user's may be written for it any more.
    pub fn client_is_gone(&self) -> bool {
        self.client_gone.is_cancelled()
    }

    /// Asks the storage backend for an entry, within the storage timeout, counting what goes
    /// wrong. Returns the entry on a hit.
    pub async fn lookup(&self, key: CacheKey, label: &StatsLabel) -> Option<CacheEntry> {
        let fetched = self.fetch(key).await;
        self.account(fetched, label)
    }

    /// A direct-mode manifest: the entry under `key` read by `decode`, with the entry. `None`
    /// for a miss, a failure the lookup counts, or an entry whole as an entry but unreadable
    /// as a manifest (counted as corrupt; the record this compile makes replaces it).
    pub async fn fetch_manifest<T, E: std::fmt::Display>(
        &self,
        key: CacheKey,
        label: &StatsLabel,
        decode: impl FnOnce(&CacheEntry) -> Result<T, E>,
    ) -> Option<(T, CacheEntry)> {
        match self.fetch(key).await {
            Ok(LookupResult::Hit(entry)) => match decode(&entry) {
                Ok(manifest) => Some((manifest, *entry)),
                Err(error) => {
                    log::warn!("manifest {key}: {error}");
                    self.record(Event::Corrupt);
                    None
                }
            },
            other => {
                let _ = self.account(other, label);
                None
            }
        }
    }

    /// Asks the storage backend for an entry, within the storage timeout, counting nothing
    /// yet (an early lookup may be thrown away).
    pub async fn fetch(&self, key: CacheKey) -> Fetched {
        self.storage
            .lookup
            .send(Lookup { key })
            // Backends bound their own round trips by the storage timeout and say why they
            // failed; this outer bound, a little longer, only catches a backend that hangs.
            .timeout(self.storage_timeout + LOOKUP_TIMEOUT_MARGIN)
            .await
    }

    /// Counts what went wrong with a fetch; the entry on a hit.
    pub fn account(&self, answer: Fetched, label: &StatsLabel) -> Option<CacheEntry> {
        let read_error = || Event::ReadError {
            label: label.clone(),
        };
        match answer {
            Ok(LookupResult::Hit(entry)) => Some(*entry),
            Ok(LookupResult::Miss) => None,
            Ok(LookupResult::Corrupt) => {
                self.record(Event::Corrupt);
                self.record(read_error());
                None
            }
            Ok(LookupResult::Error(error)) => {
                log::warn!("cache read failed: {error}");
                self.record(read_error());
                None
            }
            Err(MailboxError::Timeout) => {
                log::warn!("cache read timed out after {:?}", self.storage_timeout);
                self.record(Event::Timeout);
                None
            }
            Err(MailboxError::Closed) => {
                self.record(read_error());
                None
            }
        }
    }
}
