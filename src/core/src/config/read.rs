//! What every reader of settings shares: `ConfigError`, numbers and flags read from a lookup.
//!
//! Below every other module of `config`, which import it and never the other way round.

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
    #[error("no cache directory: set SCCACHE_DIR (no home directory was found)")]
    NoCacheDir,
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
