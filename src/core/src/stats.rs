//! The server's counters, the events that move them, and the report a client renders.
//!
//! Field names follow sccache's JSON (`compile_requests`, `cache_hits.counts`, `cache_writes`,
//! `cache_write_duration`, ...) so tools that read sccache's `--stats-format json` read ours:
//! every field of sccache's `ServerInfo` is present (those of features we do not have, such as
//! distributed compiles, stay zero or empty), and our own additions come on top.
//! Only the stats actor holds a `Stats`; everyone else sends it an `Event`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The two names a compile is counted under, as sccache names them: the language group
/// (`C/C++`, `Assembler`, `Rust`) for `counts` and `--show-stats`, and the language with the
/// compiler (`c [gcc]`, `c++ [clang]`, `rust`) for `adv_counts` and `--show-adv-stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsLabel {
    pub group: &'static str,
    pub detail: String,
}

/// A count per language group (`counts`) and per language and compiler (`adv_counts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerLanguageCount {
    pub counts: BTreeMap<String, u64>,
    #[serde(default)]
    pub adv_counts: BTreeMap<String, u64>,
}

impl PerLanguageCount {
    pub fn increment(&mut self, label: &StatsLabel) {
        *self.counts.entry(label.group.to_owned()).or_default() += 1;
        *self.adv_counts.entry(label.detail.clone()).or_default() += 1;
    }

    pub fn all(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// Every counter the server keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    pub compile_requests: u64,
    pub requests_unsupported_compiler: u64,
    pub requests_not_compile: u64,
    pub requests_not_cacheable: u64,
    pub requests_executed: u64,
    pub cache_errors: PerLanguageCount,
    pub cache_hits: PerLanguageCount,
    pub cache_misses: PerLanguageCount,
    pub cache_timeouts: u64,
    pub cache_read_errors: u64,
    pub non_cacheable_compilations: u64,
    pub forced_recaches: u64,
    pub cache_write_errors: u64,
    pub cache_writes: u64,
    pub cache_write_duration: Duration,
    pub cache_read_hit_duration: Duration,
    pub compilations: u64,
    pub compiler_write_duration: Duration,
    pub compile_fails: u64,
    pub not_cached: BTreeMap<String, u64>,
    /// sccache's distributed compiles, per build server; always empty here (there is no
    /// distributed compilation), present so that sccache's readers find the field.
    pub dist_compiles: BTreeMap<String, u64>,
    /// sccache's failed distributed compiles; always zero here, for the same reason.
    pub dist_errors: u64,
    /// sccache's per-level figures of a cache in levels (`SCCACHE_MULTILEVEL_CHAIN`), fastest
    /// first; `null` with a single backend.
    pub multi_level: Option<Vec<LevelStats>>,
    /// Entries found corrupt or truncated (each also counts as a read error and a miss).
    pub corrupt_entries: u64,
    /// Cache writes not made: too many were already pending for the backend, or the entry alone
    /// was larger than the cache.
    pub cache_writes_dropped: u64,
    /// Results not stored because a file the compile read may have changed while it ran.
    pub inputs_changed: u64,
    /// Cache writes not made because the cache is read-only (`SCCACHE_LOCAL_RW_MODE=READ_ONLY`
    /// and its siblings).
    pub cache_writes_skipped: u64,
    /// C compiles direct mode ran without the preprocessor (its depend path) whose record could
    /// not be made, so their result has no key and is not stored (the reason is in
    /// `not_direct`; the next compile takes the preprocessor's path).
    pub depend_not_stored: u64,
    /// C and rust compiles served by direct mode: a manifest's files checked, no compiler
    /// process run.
    pub direct_hits: u64,
    /// C and rust compiles direct mode looked up and did not serve (C took the preprocessor
    /// path; rust compiled at once).
    pub direct_misses: u64,
    /// Why a C or rust compile could not use direct mode (looked up or recorded), by reason.
    pub not_direct: BTreeMap<String, u64>,
    /// Rust hits by crate type (`lib`, `bin`, `proc-macro`, `build-script`, ...); each is also
    /// in `cache_hits`.
    pub rust_crate_hits: BTreeMap<String, u64>,
    /// Rust misses by crate type; each is also in `cache_misses`.
    pub rust_crate_misses: BTreeMap<String, u64>,
    /// Hits whose result is a failed compile (a build script's feature probe on a stable
    /// compiler), replayed with its errors and exit status; each is also in `cache_hits`.
    pub failure_hits: u64,
}

/// The figures of one level of a chain. The fields up to `write_duration` are sccache's
/// (`LevelStats` in its JSON, same names and units); the rest are ours.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LevelStats {
    /// `L0 (disk)`, `L1 (redis)`...
    pub name: String,
    /// What the backend calls itself (filled in when a report is made).
    pub location: String,
    pub hits: u64,
    /// Lookups this level answered without the entry (a hit in a slower level or none at all).
    pub misses: u64,
    /// Writes that finished, write-backs included.
    pub writes: u64,
    pub write_failures: u64,
    /// Hits here written back to faster levels (one per faster level written).
    pub backfills_from: u64,
    /// Write-backs into this level from a slower level's hit.
    pub backfills_to: u64,
    /// Time spent by the lookups that hit here.
    pub hit_duration: Duration,
    /// Time spent by the writes that finished here.
    pub write_duration: Duration,
    /// Lookups that could not read this level (each also counted as a miss here).
    pub errors: u64,
    /// Entries found corrupt here and removed (each also counted as a miss here).
    pub corrupt: u64,
    /// Time spent by every lookup of this level, hit or not.
    pub read_duration: Duration,
    /// Writes not made: the level is read-only.
    pub writes_skipped: u64,
    /// Writes not made: too many were pending for this level.
    pub writes_dropped: u64,
}

impl LevelStats {
    /// Lookups this level answered, one way or another.
    pub fn lookups(&self) -> u64 {
        self.hits + self.misses
    }

    pub fn average_read(&self) -> Duration {
        average(self.read_duration, self.lookups())
    }

    pub fn average_read_hit(&self) -> Duration {
        average(self.hit_duration, self.hits)
    }

    pub fn average_write(&self) -> Duration {
        average(self.write_duration, self.writes)
    }

    fn apply(&mut self, event: LevelEvent) {
        match event {
            LevelEvent::Hit { read } => {
                self.hits += 1;
                self.hit_duration += read;
                self.read_duration += read;
            }
            LevelEvent::Miss { read } => {
                self.misses += 1;
                self.read_duration += read;
            }
            LevelEvent::ReadError { read } => {
                self.errors += 1;
                self.misses += 1;
                self.read_duration += read;
            }
            LevelEvent::Corrupt { read } => {
                self.corrupt += 1;
                self.misses += 1;
                self.read_duration += read;
            }
            LevelEvent::WriteFinished { duration } => {
                self.writes += 1;
                self.write_duration += duration;
            }
            LevelEvent::WriteFailed => self.write_failures += 1,
            LevelEvent::WriteSkipped => self.writes_skipped += 1,
            LevelEvent::WriteDropped => self.writes_dropped += 1,
            LevelEvent::BackfillFrom => self.backfills_from += 1,
            LevelEvent::BackfillTo => self.backfills_to += 1,
        }
    }
}

/// What happened at one level of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LevelEvent {
    Hit {
        read: Duration,
    },
    Miss {
        read: Duration,
    },
    ReadError {
        read: Duration,
    },
    Corrupt {
        read: Duration,
    },
    WriteFinished {
        duration: Duration,
    },
    WriteFailed,
    WriteSkipped,
    WriteDropped,
    /// A hit here is being written back to a faster level.
    BackfillFrom,
    /// A slower level's hit is being written back here.
    BackfillTo,
}

/// Something that happened, for the stats actor to count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A compile request arrived (counted before anything is known of it).
    CompileRequest,
    UnsupportedCompiler,
    NotCompilation,
    /// A compile the cache cannot serve, with the reason label.
    NotCacheable(String),
    /// A hit for a compiler family label; the time spent reading and restoring.
    Hit {
        label: StatsLabel,
        read: Duration,
    },
    Miss {
        label: StatsLabel,
    },
    /// A compile taken for caching that failed: executed, neither a hit nor a miss (its
    /// failure is counted by `Compiled`).
    FailedCompile,
    /// The backend could not be read (counted with the miss that follows).
    ReadError {
        label: StatsLabel,
    },
    /// The backend did not answer in time (counted with the miss that follows).
    Timeout,
    /// An entry failed its integrity check and was removed.
    Corrupt,
    /// The server ran a compiler for a miss; how long it took and whether it succeeded.
    Compiled {
        duration: Duration,
        success: bool,
    },
    /// A forced recache (`SCCACHE_RECACHE`): the entry is compiled again and overwritten.
    ForcedRecache,
    /// The server ran a compile it had taken but could not cache (its preprocessor failed, its
    /// source makes it uncacheable, ...).
    UncachedCompile,
    WriteFinished {
        duration: Duration,
    },
    WriteFailed,
    WriteDropped,
    /// A result not stored: a file the compile read may have changed while it ran.
    InputChanged,
    /// A write not made: the cache is read-only.
    WriteSkipped,
    /// A C compile run without the preprocessor whose result has no key (no record).
    DependNotStored,
    /// A C or rust compile served from a manifest, without the preprocessor or rustc.
    DirectHit,
    /// A C or rust compile whose manifest lookup found nothing usable.
    DirectMiss,
    /// A C or rust compile that could not use direct mode, with the reason.
    NotDirect(String),
    /// The cache is a chain of these levels (their names, fastest first); sent once at start.
    Levels(Vec<String>),
    /// Something happened at the level of index `level`.
    Level {
        level: usize,
        event: LevelEvent,
    },
    /// A hit whose result is a failed compile, counted with its `Hit`.
    FailureHit,
    /// A rust hit (`hit`) or miss, by crate type, counted with its `Hit` or `Miss`.
    RustCrate {
        kind: String,
        hit: bool,
    },
}

impl Stats {
    /// Moves the counters for one event.
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::CompileRequest => self.compile_requests += 1,
            Event::UnsupportedCompiler => self.requests_unsupported_compiler += 1,
            Event::NotCompilation => self.requests_not_compile += 1,
            Event::NotCacheable(reason) => {
                self.requests_not_cacheable += 1;
                *self.not_cached.entry(reason).or_default() += 1;
            }
            Event::Hit { label, read } => {
                self.requests_executed += 1;
                self.cache_hits.increment(&label);
                self.cache_read_hit_duration += read;
            }
            Event::Miss { label } => {
                self.requests_executed += 1;
                self.cache_misses.increment(&label);
            }
            Event::FailedCompile => self.requests_executed += 1,
            Event::ReadError { label } => {
                self.cache_read_errors += 1;
                self.cache_errors.increment(&label);
            }
            Event::Timeout => self.cache_timeouts += 1,
            Event::Corrupt => self.corrupt_entries += 1,
            Event::Compiled { duration, success } => {
                self.compilations += 1;
                self.compiler_write_duration += duration;
                if !success {
                    self.compile_fails += 1;
                }
            }
            Event::ForcedRecache => self.forced_recaches += 1,
            Event::UncachedCompile => self.non_cacheable_compilations += 1,
            Event::WriteFinished { duration } => {
                self.cache_writes += 1;
                self.cache_write_duration += duration;
            }
            Event::WriteFailed => self.cache_write_errors += 1,
            Event::WriteDropped => self.cache_writes_dropped += 1,
            Event::InputChanged => self.inputs_changed += 1,
            Event::WriteSkipped => self.cache_writes_skipped += 1,
            Event::DependNotStored => self.depend_not_stored += 1,
            Event::DirectHit => self.direct_hits += 1,
            Event::FailureHit => self.failure_hits += 1,
            Event::DirectMiss => self.direct_misses += 1,
            Event::NotDirect(reason) => *self.not_direct.entry(reason).or_default() += 1,
            Event::RustCrate { kind, hit: true } => {
                *self.rust_crate_hits.entry(kind).or_default() += 1
            }
            Event::RustCrate { kind, hit: false } => {
                *self.rust_crate_misses.entry(kind).or_default() += 1
            }
            Event::Levels(names) => {
                self.multi_level = Some(
                    names
                        .into_iter()
                        .map(|name| LevelStats {
                            name,
                            ..LevelStats::default()
                        })
                        .collect(),
                )
            }
            Event::Level { level, event } => {
                if let Some(stats) = self
                    .multi_level
                    .as_mut()
                    .and_then(|levels| levels.get_mut(level))
                {
                    stats.apply(event);
                }
            }
        }
    }

    /// Every counter at zero, the levels of a chain still named.
    pub fn zeroed(&self) -> Stats {
        Stats {
            multi_level: self.multi_level.as_ref().map(|levels| {
                levels
                    .iter()
                    .map(|level| LevelStats {
                        name: level.name.clone(),
                        ..LevelStats::default()
                    })
                    .collect()
            }),
            ..Stats::default()
        }
    }

    pub fn average_write(&self) -> Duration {
        average(self.cache_write_duration, self.cache_writes)
    }

    pub fn average_compile(&self) -> Duration {
        average(self.compiler_write_duration, self.compilations)
    }

    pub fn average_read_hit(&self) -> Duration {
        average(self.cache_read_hit_duration, self.cache_hits.all())
    }
}

fn average(total: Duration, count: u64) -> Duration {
    match u32::try_from(count) {
        Ok(0) => Duration::ZERO,
        Ok(count) => total / count,
        Err(_) => Duration::from_secs_f64(total.as_secs_f64() / count as f64),
    }
}

/// Whether the server writes to its cache, as sccache's JSON names it
/// (`effective_cache_mode`): the settings' own `CacheMode`, one enum for both.
pub use crate::config::CacheMode;

/// What `--show-stats` receives: the counters and what the storage backend says of itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsReport {
    pub stats: Stats,
    pub cache_location: String,
    /// Bytes in the cache, when the backend can tell.
    pub cache_size: Option<u64>,
    /// The size limit, when the backend has one.
    pub max_cache_size: Option<u64>,
    /// A note from the backend about its size figures (for example that Redis refused CONFIG).
    #[serde(default)]
    pub size_note: Option<String>,
    pub version: String,
    /// sccache's name for direct mode: whether C hits may skip the preprocessor
    /// (`SCCACHE_DIRECT`; docs/ARCHITECTURE.md, "Direct mode").
    #[serde(default)]
    pub use_preprocessor_cache_mode: bool,
    /// sccache's base directories, stripped from paths before hashing; none here.
    #[serde(default)]
    pub basedirs: Vec<String>,
    /// Whether the cache is written; `None` when no server answered (sccache's stats without a
    /// server).
    #[serde(default)]
    pub effective_cache_mode: Option<CacheMode>,
    /// The server's process id, for tools and tests that need to signal it.
    #[serde(default)]
    pub pid: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_and_misses_count_per_language_and_as_executed() {
        let mut stats = Stats::default();
        stats.apply(Event::Hit {
            label: StatsLabel {
                group: "C/C++",
                detail: "c [gcc]".into(),
            },
            read: Duration::from_millis(2),
        });
        stats.apply(Event::Miss {
            label: StatsLabel {
                group: "Rust",
                detail: "rust".into(),
            },
        });
        assert_eq!(stats.cache_hits.counts["C/C++"], 1);
        assert_eq!(stats.cache_hits.adv_counts["c [gcc]"], 1);
        assert_eq!(stats.cache_misses.counts["Rust"], 1);
        assert_eq!(stats.cache_misses.adv_counts["rust"], 1);
        assert_eq!(stats.requests_executed, 2);
        assert_eq!(stats.average_read_hit(), Duration::from_millis(2));
    }

    #[test]
    fn average_write_is_total_over_count() {
        let mut stats = Stats::default();
        assert_eq!(stats.average_write(), Duration::ZERO);
        for millis in [1, 3] {
            stats.apply(Event::WriteFinished {
                duration: Duration::from_millis(millis),
            });
        }
        assert_eq!(stats.average_write(), Duration::from_millis(2));
    }

    #[test]
    fn level_events_count_in_their_level_and_zeroing_keeps_the_names() {
        let mut stats = Stats::default();
        stats.apply(Event::Levels(vec!["L0 (disk)".into(), "L1 (redis)".into()]));
        stats.apply(Event::Level {
            level: 0,
            event: LevelEvent::Miss {
                read: Duration::from_millis(1),
            },
        });
        stats.apply(Event::Level {
            level: 1,
            event: LevelEvent::Hit {
                read: Duration::from_millis(3),
            },
        });
        stats.apply(Event::Level {
            level: 7,
            event: LevelEvent::WriteFailed,
        });
        let levels = stats.multi_level.clone().unwrap();
        assert_eq!((levels[0].hits, levels[0].misses), (0, 1));
        assert_eq!((levels[1].hits, levels[1].misses), (1, 0));
        assert_eq!(levels[1].average_read_hit(), Duration::from_millis(3));
        let zeroed = stats.zeroed();
        let levels = zeroed.multi_level.unwrap();
        assert_eq!(levels[1].name, "L1 (redis)");
        assert_eq!(levels[1].hits, 0);
    }

    #[test]
    fn reasons_are_counted_by_label() {
        let mut stats = Stats::default();
        stats.apply(Event::NotCacheable("-E".into()));
        stats.apply(Event::NotCacheable("-E".into()));
        assert_eq!(stats.requests_not_cacheable, 2);
        assert_eq!(stats.not_cached["-E"], 2);
    }
}
