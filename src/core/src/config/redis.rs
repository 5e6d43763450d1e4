//! The Redis backend's settings: `SCCACHE_REDIS`, `SCCACHE_REDIS_ENDPOINT` or
//! `SCCACHE_REDIS_CLUSTER_ENDPOINTS` and the settings that go with them, and which of the three
//! the URLs came from.
//!
//! It does not parse the URLs: the redis crate's own parser does, when the backend starts
//! (`sccache-actors`' `storage/redis/link.rs`), so that every URL the crate accepts (`unix://`
//! ones too) is accepted and no other; a second grammar here could only disagree with it. It
//! must not connect to Redis.

use super::read::{cache_mode, parse_number, CacheMode, ConfigError};
use std::time::Duration;

/// Which Redis to use and how.
/// `Debug` (in `secret`) masks the password and the URLs' credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// One URL for a single node, or the nodes of a cluster.
    pub endpoints: Vec<String>,
    /// The variable the URLs came from, for the errors that the parser of the URLs reports.
    pub setting: &'static str,
    pub cluster: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: Option<i64>,
    pub key_prefix: String,
    /// Time to live of each entry; `None` keeps entries until Redis evicts them.
    pub expiration: Option<Duration>,
    /// `SCCACHE_REDIS_RW_MODE`.
    pub mode: CacheMode,
}

pub(super) fn redis_config(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<RedisConfig>, ConfigError> {
    let url = get("SCCACHE_REDIS");
    let endpoint = get("SCCACHE_REDIS_ENDPOINT");
    let cluster = get("SCCACHE_REDIS_CLUSTER_ENDPOINTS");
    let (setting, endpoints): (&'static str, Vec<String>) = match (url, endpoint, cluster) {
        (None, None, None) => return Ok(None),
        (Some(_), Some(_), _) => {
            return Err(ConfigError::Conflict {
                first: "SCCACHE_REDIS",
                second: "SCCACHE_REDIS_ENDPOINT",
            })
        }
        (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
            return Err(ConfigError::Conflict {
                first: "SCCACHE_REDIS_CLUSTER_ENDPOINTS",
                second: "SCCACHE_REDIS or SCCACHE_REDIS_ENDPOINT",
            })
        }
        (Some(url), None, None) => ("SCCACHE_REDIS", vec![url.trim().to_owned()]),
        (None, Some(endpoint), None) => {
            ("SCCACHE_REDIS_ENDPOINT", vec![with_scheme(endpoint.trim())])
        }
        (None, None, Some(list)) => (
            "SCCACHE_REDIS_CLUSTER_ENDPOINTS",
            list.split(',')
                .map(str::trim)
                .filter(|node| !node.is_empty())
                .map(with_scheme)
                .collect(),
        ),
    };
    if endpoints.iter().all(String::is_empty) {
        return Err(ConfigError::Invalid {
            name: setting,
            value: String::new(),
            expected: "a Redis URL",
        });
    }
    let is_cluster = get("SCCACHE_REDIS_CLUSTER_ENDPOINTS").is_some();
    let db = match get("SCCACHE_REDIS_DB") {
        None => None,
        Some(text) => Some(
            text.trim()
                .parse::<i64>()
                .map_err(|_| ConfigError::Invalid {
                    name: "SCCACHE_REDIS_DB",
                    value: text,
                    expected: "a database number",
                })?,
        ),
    };
    if db.is_some() && get("SCCACHE_REDIS").is_some() {
        return Err(ConfigError::Conflict {
            first: "SCCACHE_REDIS",
            second: "SCCACHE_REDIS_DB (put the db in the URL's path)",
        });
    }
    let expiration = parse_number(get, "SCCACHE_REDIS_EXPIRATION", 0)?;
    Ok(Some(RedisConfig {
        endpoints,
        setting,
        cluster: is_cluster,
        username: get("SCCACHE_REDIS_USERNAME"),
        password: get("SCCACHE_REDIS_PASSWORD"),
        db,
        key_prefix: get("SCCACHE_REDIS_KEY_PREFIX").unwrap_or_default(),
        expiration: (expiration > 0).then(|| Duration::from_secs(expiration)),
        mode: cache_mode(get, "SCCACHE_REDIS_RW_MODE")?,
    }))
}

fn with_scheme(endpoint: &str) -> String {
    if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        format!("redis://{endpoint}")
    }
}
