//! The logger: `SCCACHE_LOG` as an `env_logger` filter, written to `SCCACHE_ERROR_LOG` (the
//! daemon, and a client when it is set) or stderr (the foreground server, and a client
//! otherwise), with the records of other crates held to warnings and errors whatever the filter
//! says. Timestamps are to the second, to the millisecond with `SCCACHE_LOG_MILLIS` (any value),
//! as sccache's are. A client logs only when `SCCACHE_LOG` is set, as sccache's does, so a
//! compile's stderr is the compiler's alone by default.
//!
//! Why the cap: at debug level rusoto logs every request's headers (the `Authorization`
//! signature, `x-amz-security-token`: the session token) and its canonical request, and other
//! dependencies may log what they hold (URLs with passwords, request bodies). Our own crates
//! never log a secret (settings are shown masked, the TCP token not at all), so their records
//! follow the filter; nothing else below a warning reaches the log, because a log file is read
//! by people and tools that must not get credentials from it. Invariant: never print a secret.

use log::{Level, Log, Metadata, Record};
use std::os::unix::fs::OpenOptionsExt;

/// The crates whose records follow `SCCACHE_LOG` at every level.
const OWN_CRATES: [&str; 3] = ["sccache", "sccache_core", "sccache_actors"];

/// Sets up logging from `SCCACHE_LOG` (default `warn`). The daemon writes to
/// `SCCACHE_ERROR_LOG` (appending) when set, since its stderr goes nowhere; the foreground
/// server writes to stderr.
pub fn init(daemon: bool, lookup: impl Fn(&str) -> Option<String>) {
    let filter = lookup("SCCACHE_LOG")
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| "warn".to_owned());
    install(&filter, daemon, &lookup);
}

/// Sets up a client's logging (compiles and commands) when `SCCACHE_LOG` is set: to
/// `SCCACHE_ERROR_LOG` when that is set too (our own test harness and users who collect the
/// server's log there keep compiles' stderr clean), else to stderr as sccache's client does.
pub fn init_client(lookup: impl Fn(&str) -> Option<String>) {
    if let Some(filter) = lookup("SCCACHE_LOG").filter(|value| !value.is_empty()) {
        install(&filter, true, &lookup);
    }
}

/// Installs the logger with `filter`; to `SCCACHE_ERROR_LOG` when `to_file` and it is set.
fn install(filter: &str, to_file: bool, lookup: &dyn Fn(&str) -> Option<String>) {
    let mut builder = env_logger::Builder::new();
    builder.parse_filters(filter);
    if lookup("SCCACHE_LOG_MILLIS").is_some() {
        builder.format_timestamp_millis();
    }
    let log_file = lookup("SCCACHE_ERROR_LOG").filter(|value| to_file && !value.is_empty());
    if let Some(path) = log_file {
        // A log file that cannot be opened must not stop the cache (sccache's client exits
        // instead): the log goes to stderr, the daemon's being null, and says so there in
        // sccache's words. A new one is this user's alone (command lines and paths are
        // logged); an existing one keeps the mode it has.
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => {
                builder.target(env_logger::Target::Pipe(Box::new(file)));
            }
            Err(error) => eprintln!(
                "sccache: warning: Cannot open/write log file '{path}': {error}; logging to \
                 stderr"
            ),
        }
    }
    let inner = builder.build();
    let max_level = inner.filter();
    if log::set_boxed_logger(Box::new(OwnCratesOnly { inner })).is_ok() {
        log::set_max_level(max_level);
    }
}

/// `env_logger`'s logger, passing other crates' records only at warning level or above.
struct OwnCratesOnly {
    inner: env_logger::Logger,
}

impl Log for OwnCratesOnly {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        admitted(metadata) && self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if admitted(record.metadata()) {
            self.inner.log(record);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Whether a record may reach the log at all: ours at any level, others' from warnings up.
fn admitted(metadata: &Metadata<'_>) -> bool {
    metadata.level() <= Level::Warn || is_own(metadata.target())
}

/// Whether `target` (a module path, unless a record chose another) is in one of our crates.
fn is_own(target: &str) -> bool {
    let crate_name = target.split("::").next().unwrap_or(target);
    OWN_CRATES.contains(&crate_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(level: Level, target: &str) -> Metadata<'_> {
        Metadata::builder().level(level).target(target).build()
    }

    #[test]
    fn other_crates_are_held_to_warnings_and_ours_are_not() {
        assert!(admitted(&metadata(Level::Trace, "sccache_actors::storage")));
        assert!(admitted(&metadata(Level::Debug, "sccache")));
        assert!(admitted(&metadata(Level::Debug, "sccache_core::config")));
        assert!(!admitted(&metadata(Level::Debug, "rusoto_core::request")));
        assert!(!admitted(&metadata(Level::Info, "hyper::client")));
        assert!(!admitted(&metadata(Level::Debug, "sccache_evil")));
        assert!(admitted(&metadata(Level::Warn, "rusoto_core::request")));
        assert!(admitted(&metadata(Level::Error, "redis")));
    }
}
