//! The Redis backend's settings: `SCCACHE_REDIS`, `SCCACHE_REDIS_ENDPOINT` or
//! `SCCACHE_REDIS_CLUSTER_ENDPOINTS` and the settings that go with them, with the URLs checked
//! and their passwords masked for display.
//!
//! It checks the shape of the URLs only; it must not connect to Redis.

use super::secret::mask_credentials;
use super::{parse_number, ConfigError};
use std::time::Duration;

/// Which Redis to use and how.
/// `Debug` (in `secret`) masks the password and the URLs' credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// One URL for a single node, or the nodes of a cluster.
    pub endpoints: Vec<String>,
    pub cluster: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: Option<i64>,
    pub key_prefix: String,
    /// Time to live of each entry; `None` keeps entries until Redis evicts them.
    pub expiration: Option<Duration>,
}

pub(super) fn redis_config(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<RedisConfig>, ConfigError> {
    let url = get("SCCACHE_REDIS");
    let endpoint = get("SCCACHE_REDIS_ENDPOINT");
    let cluster = get("SCCACHE_REDIS_CLUSTER_ENDPOINTS");
    let endpoints: Vec<String> = match (url, endpoint, cluster) {
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
        (Some(url), None, None) => vec![check_redis_url("SCCACHE_REDIS", &url)?],
        (None, Some(endpoint), None) => {
            vec![check_redis_url(
                "SCCACHE_REDIS_ENDPOINT",
                &with_scheme(&endpoint),
            )?]
        }
        (None, None, Some(list)) => list
            .split(',')
            .map(str::trim)
            .filter(|node| !node.is_empty())
            .map(|node| check_redis_url("SCCACHE_REDIS_CLUSTER_ENDPOINTS", &with_scheme(node)))
            .collect::<Result<_, _>>()?,
    };
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
        cluster: is_cluster,
        username: get("SCCACHE_REDIS_USERNAME"),
        password: get("SCCACHE_REDIS_PASSWORD"),
        db,
        key_prefix: get("SCCACHE_REDIS_KEY_PREFIX").unwrap_or_default(),
        expiration: (expiration > 0).then(|| Duration::from_secs(expiration)),
    }))
}

fn with_scheme(endpoint: &str) -> String {
    if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        format!("redis://{endpoint}")
    }
}

/// Checks the shape `redis[s]://[[user]:<passwd>@]<host>[:port][/<db>]`.
fn check_redis_url(name: &'static str, url: &str) -> Result<String, ConfigError> {
    let invalid = || ConfigError::Invalid {
        name,
        value: mask_credentials(url),
        expected: "redis://[:<passwd>@]<hostname>[:port][/<db>]",
    };
    let rest = url
        .strip_prefix("redis://")
        .or_else(|| url.strip_prefix("rediss://"))
        .ok_or_else(invalid)?;
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => (host, Some(port)),
        _ => (host_port, None),
    };
    if host.is_empty() || port.is_some_and(|port| port.parse::<u16>().is_err()) {
        return Err(invalid());
    }
    let db = path.trim_start_matches('/');
    if !db.is_empty() && db.parse::<i64>().is_err() {
        return Err(invalid());
    }
    Ok(url.to_owned())
}
