//! A cache in levels: `SCCACHE_MULTILEVEL_CHAIN` (the backends by name, fastest first) and
//! `SCCACHE_MULTILEVEL_WRITE_ERROR_POLICY`, as sccache spells them.
//!
//! It only decides which backends make up the chain and checks that each named one is
//! configured; the backends' own settings are read by their readers (`redis`, `s3`, `reapi`). It must
//! not know how a chain is served (that is `sccache-actors`' `storage/chain.rs`).

use super::read::ConfigError;

/// Which failed writes count as failed cache writes (`cache_write_errors`). A failed write never
/// fails a compile, whatever the policy: the result has already gone to the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WriteErrorPolicy {
    /// No level's failure counts; each shows only in its level's figures.
    Ignore,
    /// The failures of the first writable level count (sccache's default).
    #[default]
    L0,
    /// The failures of every writable level count.
    All,
}

/// A level's backend, by the name the chain gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelName {
    Disk,
    Redis,
    S3,
    Reapi,
}

impl LevelName {
    /// The name as `SCCACHE_MULTILEVEL_CHAIN` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            LevelName::Disk => "disk",
            LevelName::Redis => "redis",
            LevelName::S3 => "s3",
            LevelName::Reapi => "reapi",
        }
    }
}

/// The names in `SCCACHE_MULTILEVEL_CHAIN`, fastest first, with the write-error policy; `None`
/// when no chain is set (one backend, as before).
pub(super) fn chain_names(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(Vec<LevelName>, WriteErrorPolicy)>, ConfigError> {
    let Some(text) = get("SCCACHE_MULTILEVEL_CHAIN") else {
        return Ok(None);
    };
    let mut names = Vec::new();
    for part in text
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let name = match part.to_ascii_lowercase().as_str() {
            "disk" => LevelName::Disk,
            "redis" => LevelName::Redis,
            "s3" => LevelName::S3,
            "reapi" => LevelName::Reapi,
            _ => {
                return Err(ConfigError::Invalid {
                    name: "SCCACHE_MULTILEVEL_CHAIN",
                    value: text,
                    expected:
                        "backend names separated by commas, each once, from: disk, redis, s3, reapi",
                })
            }
        };
        if names.contains(&name) {
            return Err(ConfigError::Invalid {
                name: "SCCACHE_MULTILEVEL_CHAIN",
                value: text,
                expected: "each backend named once",
            });
        }
        names.push(name);
    }
    if names.is_empty() {
        // sccache treats an empty chain as none.
        return Ok(None);
    }
    Ok(Some((names, write_error_policy(get)?)))
}

/// `SCCACHE_MULTILEVEL_WRITE_ERROR_POLICY`: `ignore`, `l0` or `all` in any case; `l0` when
/// unset. An unknown value is an error (sccache takes the default).
fn write_error_policy(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<WriteErrorPolicy, ConfigError> {
    const NAME: &str = "SCCACHE_MULTILEVEL_WRITE_ERROR_POLICY";
    match get(NAME) {
        None => Ok(WriteErrorPolicy::default()),
        Some(text) => match text.trim().to_ascii_lowercase().as_str() {
            "ignore" => Ok(WriteErrorPolicy::Ignore),
            "l0" => Ok(WriteErrorPolicy::L0),
            "all" => Ok(WriteErrorPolicy::All),
            _ => Err(ConfigError::Invalid {
                name: NAME,
                value: text,
                expected: "ignore, l0 or all",
            }),
        },
    }
}
