//! One compile request's sequence of messages, from the client's command line to its result.
//!
//! ```text
//! Connection --Detect--> Detector            which compiler, and its identity
//!            (parse the arguments: sccache_core::compiler)
//!            --Run(-E)--> Dispatcher          the preprocessed source (C family: c_compile)
//!            --Digest---> Hasher              (key: sccache_core::hash_key, over the digest)
//!            --Lookup---> storage             hit: restore outputs, reply
//!            --Run------> Dispatcher          miss: compile, read outputs, reply
//!            --Store----> storage             after the reply; the write's time goes to Stats
//!            --Record---> StatsKeeper         at every step that counts
//! ```
//!
//! `decide` answers whether the server takes the compile; `execute` hands an accepted one to
//! its family's flow (`c_compile`, `rust_compile`), which keys it and calls `serve`; the
//! result comes back with the cache write to send once the client has it.
//! Nothing here fails a build: every cache problem ends in running the real compiler.

use crate::c_compile;
use crate::detector::{CompilerInfo, Detect};
use crate::dispatcher::{ProcessOutput, Run, RunError};
use crate::hasher::{DigestFiles, DigestSource};
use crate::outputs::{self, OutputFile};
use crate::rust_compile;
use crate::stats::Record;
use crate::storage::{Lookup, LookupResult, StorageHandle, Store};
use actix::prelude::*;
use sccache_core::compiler::gcc::{self, CCompilation};
use sccache_core::compiler::rust::{self, RustCompilation};
use sccache_core::compiler::{CompilerKind, Parsed};
use sccache_core::config::env_flag;
use sccache_core::entry::CacheEntry;
use sccache_core::hash_key::CacheKey;
use sccache_core::protocol::{CompileFinished, CompileRequest};
use sccache_core::stats::Event;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Environment variables that hand a jobserver to a child by file descriptor. The descriptors
/// are the client's; in the server they are closed or something else, and a compiler warns
/// about it (rustc does: a warning that would then be cached and replayed).
const JOBSERVER_VARS: &[&str] = &["CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS"];

/// How much longer than the storage timeout the flow waits for a lookup's answer.
const LOOKUP_TIMEOUT_MARGIN: Duration = Duration::from_millis(500);

/// Variables that make gcc write dependency rules to a file of their naming.
const DEPENDENCY_ENV_VARS: &[&str] = &["DEPENDENCIES_OUTPUT", "SUNPRO_DEPENDENCIES"];

/// The actors a compile talks to.
#[derive(Clone)]
pub struct Services {
    pub detect: Recipient<Detect>,
    pub run: Recipient<Run>,
    pub digest: Recipient<DigestFiles>,
    pub digest_source: Recipient<DigestSource>,
    pub stats: Recipient<Record>,
    pub storage: StorageHandle,
    /// How long a lookup may take before the compile goes ahead as a miss.
    pub storage_timeout: Duration,
}

impl Services {
    pub fn record(&self, event: Event) {
        self.stats.do_send(Record(event));
    }

    /// Runs a process through the dispatcher.
    pub async fn run(
        &self,
        exe: &OsString,
        args: Vec<OsString>,
        request: &CompileRequest,
    ) -> Result<ProcessOutput, RunError> {
        let run = Run::new(exe.clone(), args, request.cwd.clone(), request.env.clone());
        self.run.send(run).await.unwrap_or(Err(RunError::Closed))
    }

    /// Asks the storage backend for an entry, within the storage timeout, counting what goes
    /// wrong. Returns the entry on a hit.
    pub async fn lookup(&self, key: CacheKey, label: &str) -> Option<CacheEntry> {
        let fetched = self.fetch(key).await;
        self.account(fetched, label)
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
    pub fn account(&self, answer: Fetched, label: &str) -> Option<CacheEntry> {
        match answer {
            Ok(LookupResult::Hit(entry)) => Some(*entry),
            Ok(LookupResult::Miss) => None,
            Ok(LookupResult::Corrupt) => {
                self.record(Event::Corrupt);
                self.record(Event::ReadError {
                    label: label.to_owned(),
                });
                None
            }
            Ok(LookupResult::Error(error)) => {
                log::warn!("cache read failed: {error}");
                self.record(Event::ReadError {
                    label: label.to_owned(),
                });
                None
            }
            Err(MailboxError::Timeout) => {
                log::warn!("cache read timed out after {:?}", self.storage_timeout);
                self.record(Event::Timeout);
                None
            }
            Err(MailboxError::Closed) => {
                self.record(Event::ReadError {
                    label: label.to_owned(),
                });
                None
            }
        }
    }
}

/// A storage answer, not yet counted.
pub type Fetched = Result<LookupResult, MailboxError>;

/// Whether the server takes a compile.
pub enum Decision {
    /// Not something the server runs: the client runs the compiler itself.
    Unhandled,
    /// Not a compiler the server knows.
    Unsupported(String),
    Accepted(Plan),
}

/// An accepted compile, parsed.
pub enum Plan {
    C {
        info: CompilerInfo,
        compilation: Box<CCompilation>,
        request: CompileRequest,
    },
    Rust {
        info: CompilerInfo,
        compilation: Box<RustCompilation>,
        request: CompileRequest,
    },
}

/// A cache write to send once the client has its result.
pub type PendingStore = Option<Store>;

/// What follows the reply to a compile, off the client's path.
#[derive(Default)]
pub struct AfterReply {
    /// The cache write to send.
    pub store: PendingStore,
    /// A scratch file to remove (the C flow's preprocessed text).
    pub scratch: Option<tempfile::TempPath>,
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

/// Detects the compiler and reads the command line.
pub async fn decide(services: &Services, mut request: CompileRequest) -> Decision {
    services.record(Event::CompileRequest);
    // Every process the server runs for this request gets the client's environment, minus what
    // only made sense in the client's process.
    drop_inherited_jobserver(&mut request.env);
    let detected = services
        .detect
        .send(Detect {
            exe: request.exe.clone(),
            cwd: request.cwd.clone(),
            env: request.env.clone(),
        })
        .await;
    let info = match detected {
        Ok(Ok(Some(info))) => info,
        Ok(Ok(None)) => {
            services.record(Event::UnsupportedCompiler);
            return Decision::Unsupported(format!("{:?} is not a known compiler", request.exe));
        }
        Ok(Err(error)) => {
            log::info!("cannot detect compiler: {error}");
            services.record(Event::UnsupportedCompiler);
            return Decision::Unsupported(error);
        }
        Err(error) => {
            log::warn!("detector unavailable: {error}");
            services.record(Event::NotCacheable("detector unavailable".to_owned()));
            return Decision::Unhandled;
        }
    };
    let cwd = Path::new(&request.cwd);
    let plan = match info.kind {
        CompilerKind::Gcc | CompilerKind::Clang => match c_parse(&request, cwd) {
            Parsed::Cacheable(mut compilation) => {
                let mut request = request;
                colour_for_a_terminal(&mut request, &mut compilation);
                Plan::C {
                    info,
                    compilation: Box::new(compilation),
                    request,
                }
            }
            other => return refuse(services, other),
        },
        CompilerKind::Rustc => match rust::parse(&request.args, cwd) {
            Parsed::Cacheable(compilation) => Plan::Rust {
                info,
                compilation: Box::new(compilation),
                request,
            },
            other => return refuse(services, other),
        },
    };
    Decision::Accepted(plan)
}

/// Flags by which a user already chose whether diagnostics are coloured.
const COLOUR_FLAGS: &[&str] = &[
    "-fdiagnostics-color",
    "-fno-diagnostics-color",
    "-fcolor-diagnostics",
    "-fno-color-diagnostics",
];

/// gcc and clang colour their diagnostics when stderr is a terminal; the compilers the server
/// runs write to pipes. For a client on a terminal that chose nothing, ask for colour
/// explicitly, in the compile and in the key (so a coloured entry never replays to a pipe).
fn colour_for_a_terminal(request: &mut CompileRequest, compilation: &mut CCompilation) {
    let chosen = request.args.iter().any(|arg| {
        arg.to_str().is_some_and(|arg| {
            COLOUR_FLAGS
                .iter()
                .any(|flag| arg == *flag || arg.starts_with(&format!("{flag}=")))
        })
    });
    if request.stderr_is_terminal && !chosen {
        let flag = OsString::from("-fdiagnostics-color=always");
        request.args.push(flag.clone());
        compilation.key_args.push(flag);
    }
}

/// Reads a gcc/clang command line, refusing compiles whose environment makes the compiler write
/// files a hit would not.
fn c_parse(request: &CompileRequest, cwd: &Path) -> Parsed<CCompilation> {
    if let Some(name) = DEPENDENCY_ENV_VARS
        .iter()
        .find(|name| request.env.iter().any(|(key, _)| key == **name))
    {
        // The compiler appends a dependency rule to the file these name, on the preprocessor
        // run and the compile alike; a hit would write none.
        return Parsed::NotCacheable((*name).to_owned());
    }
    gcc::parse(&request.args, cwd)
}

fn refuse<T>(services: &Services, parsed: Parsed<T>) -> Decision {
    match parsed {
        Parsed::NotCompilation => services.record(Event::NotCompilation),
        Parsed::NotCacheable(reason) => services.record(Event::NotCacheable(reason)),
        Parsed::Cacheable(_) => {}
    }
    Decision::Unhandled
}

/// Runs an accepted compile: from the cache when it can, from the compiler when it must.
pub async fn execute(services: &Services, plan: Plan) -> (CompileFinished, AfterReply) {
    match plan {
        Plan::C {
            info,
            compilation,
            request,
        } => c_compile::execute(services, &info, &compilation, &request).await,
        Plan::Rust {
            info,
            compilation,
            request,
        } => {
            let (finished, store) =
                rust_compile::execute(services, &info, &compilation, &request).await;
            (
                finished,
                AfterReply {
                    store,
                    scratch: None,
                },
            )
        }
    }
}

/// A lookup of the key made before `serve` (the C flow's, while the preprocessor's driver was
/// exiting): what it found, the restore of a hit made ready, and how long both took.
pub struct EarlyLookup {
    /// The key fetched, so the flow need not compute it again.
    pub key: CacheKey,
    pub fetched: Fetched,
    /// On a hit, its files prepared for restoring, to be put in place once the hit is certain.
    /// The entry in `fetched` has been through the flow's `EntryAdapter::for_restore` already
    /// and no longer holds its files.
    pub prepared: Option<Result<outputs::Prepared, outputs::OutputError>>,
    pub took: Duration,
}

/// The part of a compile shared by every compiler once the key is known: look up (unless
/// `early` did), restore on a hit; on a miss compile, collect the outputs and prepare the write.
pub async fn serve(
    services: &Services,
    key: CacheKey,
    early: Option<EarlyLookup>,
    label: &str,
    targets: Vec<OutputFile>,
    request: &CompileRequest,
    adapter: &dyn EntryAdapter,
) -> (CompileFinished, PendingStore) {
    let started = Instant::now();
    let found = if env_flag(&|name| lookup_env(request, name), "SCCACHE_RECACHE") {
        services.record(Event::ForcedRecache);
        None
    } else {
        match early {
            Some(early) => services
                .account(early.fetched, label)
                .map(|entry| (entry, early.took, early.prepared)),
            None => {
                let entry = services.lookup(key, label).await;
                entry.map(|entry| (entry, started.elapsed(), None))
            }
        }
    };
    if let Some((mut entry, looked_up, prepared)) = found {
        let restoring = Instant::now();
        let put = match prepared {
            Some(Ok(prepared)) => outputs::put_in_place(prepared).await,
            Some(Err(error)) => Err(error),
            None => {
                adapter.for_restore(&mut entry);
                outputs::restore(std::mem::take(&mut entry.files), targets.clone()).await
            }
        };
        match put {
            Ok(()) => {
                let restored = restoring.elapsed();
                log::debug!("hit {key}: looked up in {looked_up:?}, restored in {restored:?}");
                services.record(Event::Hit {
                    label: label.to_owned(),
                    read: looked_up + restored,
                });
                let finished = CompileFinished {
                    exit_code: Some(0),
                    signal: None,
                    stdout: entry.stdout,
                    stderr: entry.stderr,
                };
                return (finished, None);
            }
            Err(error) => {
                log::warn!("cannot restore a hit, compiling instead: {error}");
                services.record(Event::ReadError {
                    label: label.to_owned(),
                });
            }
        }
    }
    services.record(Event::Miss {
        label: label.to_owned(),
    });
    let output = match services
        .run(&request.exe, request.args.clone(), request)
        .await
    {
        Ok(output) => output,
        Err(error) => return (spawn_failure(error), None),
    };
    services.record(Event::Compiled {
        duration: output.duration,
        success: output.success(),
    });
    let store = if output.success() {
        match outputs::collect(targets).await {
            Ok(files) => {
                let mut entry = CacheEntry {
                    files,
                    stdout: output.stdout.clone(),
                    stderr: output.stderr.clone(),
                };
                adapter.for_store(&mut entry);
                Some(Store { key, entry })
            }
            Err(error) => {
                log::warn!("compiled, but cannot cache the outputs: {error}");
                services.record(Event::WriteFailed);
                None
            }
        }
    } else {
        None
    };
    (finished(output), store)
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

fn spawn_failure(error: RunError) -> CompileFinished {
    CompileFinished {
        exit_code: Some(2),
        signal: None,
        stdout: Vec::new(),
        stderr: format!("sccache: {error}\n").into_bytes(),
    }
}

/// The value of a variable in the client's environment, when it is UTF-8.
pub fn lookup_env(request: &CompileRequest, name: &str) -> Option<String> {
    request
        .env
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .and_then(|(_, value)| value.to_str().map(str::to_owned))
}

/// Removes the jobserver variables that name the client's file descriptors; a jobserver
/// reached by a named pipe (`fifo:`) stays.
fn drop_inherited_jobserver(env: &mut Vec<(OsString, OsString)>) {
    let by_descriptor = |value: &OsString| {
        let value = value.as_bytes();
        let has = |needle: &[u8]| value.windows(needle.len()).any(|w| w == needle);
        has(b"--jobserver-fds=") || (has(b"--jobserver-auth=") && !has(b"--jobserver-auth=fifo:"))
    };
    env.retain(|(name, value)| !(JOBSERVER_VARS.iter().any(|n| name == n) && by_descriptor(value)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_descriptor_jobservers_are_dropped() {
        let mut env: Vec<(OsString, OsString)> = vec![
            (
                "CARGO_MAKEFLAGS".into(),
                "-j --jobserver-fds=6,7 --jobserver-auth=6,7".into(),
            ),
            (
                "MAKEFLAGS".into(),
                "-j4 --jobserver-auth=fifo:/tmp/fifo".into(),
            ),
            ("MFLAGS".into(), "--jobserver-auth=3,4".into()),
            ("CARGO_PKG_NAME".into(), "foo".into()),
        ];
        drop_inherited_jobserver(&mut env);
        let kept: Vec<String> = env
            .iter()
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        assert_eq!(kept, ["MAKEFLAGS", "CARGO_PKG_NAME"]);
    }
}
