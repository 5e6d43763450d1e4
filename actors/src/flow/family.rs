//! What a compiler family supplies to the pipeline: the `Family` trait, the `EntryAdapter` an
//! entry passes through on its way into and out of the cache, and `Keyed`, what keying a
//! compile found (with an `EarlyLookup` when the family looked its key up itself).
//!
//! A family owns the steps that are its alone (reading its command line, learning what the
//! compile reads, its outputs' names); the shared steps in `steps.rs` own the rest. Nothing
//! here names a family.

use crate::detector::CompilerInfo;
use crate::flow::read_since::ReadSince;
use crate::flow::services::{Fetched, Services};
use crate::outputs::{self, OutputFile};
use sccache_core::compiler::{Language, Parsed};
use sccache_core::entry::CacheEntry;
use sccache_core::hash_key::CacheKey;
use sccache_core::protocol::CompileRequest;
use std::ffi::OsString;
use std::future::Future;
use std::time::Duration;

/// A compiler family's parts of the pipeline. The pipeline runs on one event-loop thread, so
/// the futures need not be `Send`.
pub trait Family: Sized + Send + 'static {
    /// Reads a command line. It may adjust the request for the server's way of running the
    /// compiler (the C family asks for colour a terminal would have had), in the compile and
    /// in the key alike.
    fn accept(request: &mut CompileRequest) -> Parsed<Self>;

    /// Whether `accept` would read files (`@file` response files): it then runs on the
    /// blocking pool, not on the event loop.
    fn accept_reads_files(_request: &CompileRequest) -> bool {
        false
    }

    /// The files the compile writes, by their names in an entry.
    fn targets(&self, request: &CompileRequest) -> Vec<OutputFile>;

    /// How entries of this compile are adapted for storing and restoring.
    fn adapter<'a>(&'a self, request: &'a CompileRequest) -> Box<dyn EntryAdapter + 'a>;

    /// The source language, for the stats label (`c [gcc]`), when the family has several.
    fn language(&self) -> Option<Language> {
        None
    }

    /// The kind of compile the stats count hits and misses of apart (a rust crate type).
    fn stats_kind(&self) -> Option<String> {
        None
    }

    /// The compile's key, from everything that decides its outputs. With `early`, a family
    /// that learns its key before the work that found it has finished may look it up at once
    /// (`steps::look_up_early`); the pipeline then uses that lookup instead of its own.
    fn key(
        &self,
        services: &Services,
        info: &CompilerInfo,
        request: &CompileRequest,
        early: Option<EarlyRestore<'_>>,
    ) -> impl Future<Output = Keyed>;
}

/// What keying a compile found.
pub enum Keyed {
    /// The key, with a lookup already made (see `Family::key`) and a scratch file to remove
    /// once the client has its answer.
    Key {
        key: CacheKey,
        early: Option<EarlyLookup>,
        scratch: Option<tempfile::TempPath>,
        /// The files the key was taken from, to check on a miss that none changed during the
        /// compile before its result is stored (`read_since.rs`).
        read: Option<Box<ReadSince>>,
        /// Work to run after the reply once the key's result is in the cache (a hit, or a
        /// miss whose result is being stored): the C family's manifest record.
        follow_up: Option<FollowUp>,
    },
    /// The key comes from the compile itself (a direct miss: the dep-info or dependency file
    /// the compile writes lists what it read). The compile runs at once, with `Added` to the
    /// user's arguments and environment, counted as a miss (or a failure), and its result is
    /// stored under the key this finds once it has ended.
    AfterCompile(KeyAfterCompile, Added),
    /// No key can be had: the compile runs uncached, counted under this reason (the
    /// preprocessor failed, an input is unreadable, the source reads a file unseen).
    Refused(&'static str),
}

impl Keyed {
    /// A direct-mode hit (C or rust): the record's result key with its lookup made, and the
    /// files the record checked, so a failed restore compiles with them as its `ReadSince`.
    pub fn direct_hit(key: CacheKey, lookup: EarlyLookup, read: ReadSince) -> Keyed {
        Keyed::Key {
            key,
            early: Some(lookup),
            scratch: None,
            read: Some(Box::new(read)),
            follow_up: None,
        }
    }
}

/// What a compile keyed after it runs with besides the user's.
#[derive(Default)]
pub struct Added {
    /// Arguments after the user's (the C family's `-MD -MF <scratch>`).
    pub args: Vec<OsString>,
    /// Variables added to the user's environment (the rust family's loader log,
    /// `loaded_objects`), none of which the user set.
    pub env: Vec<(OsString, OsString)>,
}

/// Finds a key after the compile (`Keyed::AfterCompile`), told how it ended; an error is why
/// the result cannot be stored.
pub type KeyAfterCompile =
    Box<dyn FnOnce(Ended) -> std::pin::Pin<Box<dyn Future<Output = Result<LateKey, Unkeyed>>>>>;

/// How a compile keyed after it ended.
pub enum Ended {
    Succeeded,
    /// It failed with this exit status and these errors: the family decides whether such a
    /// failure is stored (the rust family's feature probes, `compiler::rust::cacheable_failure`).
    Failed {
        exit_code: i32,
        stderr: Vec<u8>,
    },
}

/// Why a compile's key could not be found after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unkeyed {
    /// A file it read changed during the compile (`read_since.rs`'s rule).
    InputChanged,
    /// Anything else, with the reason counted under `not_direct`.
    Refused(&'static str),
    /// A compile run without the preprocessor that could not be recorded (C's depend path):
    /// counted under `not_direct` and `depend_not_stored`.
    NotRecorded(&'static str),
    /// A failed compile the family does not store (most are), with why, for the log.
    FailureKept(&'static str),
}

/// A key found after the compile.
pub enum LateKey {
    /// The key now, with the family's work for once its result is stored.
    Now {
        key: CacheKey,
        follow_up: Option<FollowUp>,
    },
}

/// Work a family leaves for after the reply; it runs on the event loop, on its own.
pub type FollowUp = std::pin::Pin<Box<dyn Future<Output = ()>>>;

/// A lookup of the key made before `serve` (the C family's, while the preprocessor's driver
/// was exiting): what it found, the restore of a hit made ready, and how long both took.
pub struct EarlyLookup {
    /// The key fetched, so the family need not compute it again.
    pub key: CacheKey,
    pub fetched: Fetched,
    /// On a hit, its files prepared for restoring, to be put in place once the hit is certain.
    /// The entry in `fetched` has been through the `EntryAdapter::for_restore` already and no
    /// longer holds its files.
    pub prepared: Option<Result<outputs::Prepared, outputs::OutputError>>,
    pub took: Duration,
}

/// What a lookup made before the shared steps needs to make a hit's restore ready: the
/// compile's outputs and the adapter the shared steps would apply.
#[derive(Clone, Copy)]
pub struct EarlyRestore<'a> {
    pub targets: &'a [OutputFile],
    pub adapter: &'a dyn EntryAdapter,
    /// The client's umask, which decides the restored files' modes.
    pub umask: u32,
}

/// What an entry needs on its way into and out of the cache, beyond its files: the rust flow
/// keeps the absolute output directory out of stored entries and puts this invocation's back.
pub trait EntryAdapter {
    /// Prepares an entry of this compile's outputs for storing.
    fn for_store(&self, entry: &mut CacheEntry);
    /// Prepares a stored entry for restoring into this compile's outputs.
    fn for_restore(&self, entry: &mut CacheEntry);
}

/// Entries stored and restored as they are (C compiles).
pub struct AsIs;

impl EntryAdapter for AsIs {
    fn for_store(&self, _: &mut CacheEntry) {}
    fn for_restore(&self, _: &mut CacheEntry) {}
}
