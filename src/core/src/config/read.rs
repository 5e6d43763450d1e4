//! What every reader of settings shares: `ConfigError`, numbers and flags read from a lookup.
//!
//! Below every other module of `config`, which import it and never the other way round.

use std::path::PathBuf;

/// A setting that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}={value:?} is not valid: {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("{set} is set but {missing} is not; both are needed")]
    Missing {
        set: &'static str,
        missing: &'static str,
    },
    #[error("{first} and {second} are both set; use only one")]
    Conflict {
        first: &'static str,
        second: &'static str,
    },
    #[error("{name} is set but this sccache was built without the `{feature}` feature")]
    FeatureMissing {
        name: &'static str,
        feature: &'static str,
    },
    #[error("{name}: cannot read {path}: {message}")]
    Unreadable {
        name: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("no cache directory: set SCCACHE_DIR (no home directory was found)")]
    NoCacheDir,
    /// A setting of the config file, named by its key, could not be used.
    #[error("in config file {path}: {source}")]
    InFile {
        path: PathBuf,
        source: Box<ConfigError>,
    },
    #[error("cannot read config file {path}: {message}")]
    FileUnreadable { path: PathBuf, message: String },
    #[error("config file {path} is not valid: {message}")]
    FileMalformed { path: PathBuf, message: String },
    #[error("config file {path}: [{key}] cannot be used: {reason}")]
    FileUnsupported {
        path: PathBuf,
        key: &'static str,
        reason: &'static str,
    },
}

/// Whether a cache is written or only read (`SCCACHE_LOCAL_RW_MODE` and its siblings).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CacheMode {
    #[default]
    ReadWrite,
    /// Entries are read; nothing is written (counted as skipped writes).
    ReadOnly,
}

/// Reads a cache mode variable: `READ_ONLY` or `READ_WRITE`, in any case, as sccache does. An
/// unknown value is an error (sccache warns and writes): a user who asked for a read-only
/// cache must not have it written because of a typo.
pub(super) fn cache_mode(
    get: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<CacheMode, ConfigError> {
    match get(name) {
        None => Ok(CacheMode::ReadWrite),
        Some(text) => match text.trim().to_ascii_uppercase().as_str() {
            "READ_ONLY" => Ok(CacheMode::ReadOnly),
            "READ_WRITE" => Ok(CacheMode::ReadWrite),
            _ => Err(ConfigError::Invalid {
                name,
                value: text,
                expected: "READ_ONLY or READ_WRITE",
            }),
        },
    }
}

pub(super) fn parse_number(
    get: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| ConfigError::Invalid {
            name,
            value: text,
            expected: "a whole number",
        }),
    }
}

pub(super) fn flag(get: &dyn Fn(&str) -> Option<String>, name: &str) -> bool {
    get(name).is_some_and(|value| !matches!(value.as_str(), "0" | "false" | "off" | "no"))
}

/// Whether an environment flag such as `SCCACHE_NO_DAEMON` or `SCCACHE_RECACHE` is on.
pub fn env_flag(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> bool {
    flag(
        &|key: &str| lookup(key).filter(|value| !value.is_empty()),
        name,
    )
}
