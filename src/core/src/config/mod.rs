//! The server's and client's settings, read from `SCCACHE_*` environment variables and
//! sccache's config file, the environment overriding the file.
//!
//! Every setting is read here and nowhere else, and a bad value is an error that names the
//! variable. Reading takes a lookup function rather than the process environment so that tests
//! (and the server, which reads the environment it was started with) decide where values come
//! from. Docs for each setting: docs/CONFIGURATION.md.
//!
//! Split by concept: `endpoint` is where the server listens and the client connects, `redis`,
//! `s3` and `reapi` read the remote backends' settings, `levels` the chain of backends
//! (`SCCACHE_MULTILEVEL_*`), `secret` shows settings with their secrets masked.
//! `file` reads the config file into a layer under the variables' names (`tables` maps its
//! keys), which `load_server_config` puts behind the environment. `read` holds
//! `ConfigError` and the helpers every reader shares. This file holds the server's settings as a
//! whole and the choice of backend; the readers never import it.

mod endpoint;
mod file;
mod levels;
mod read;
mod reapi;
mod redis;
mod s3;
mod secret;
mod tables;

pub use endpoint::{client_endpoint, private_dir, Endpoint, SOCKET_FILE};
pub use file::{config_path, read_config_file, FileLayer, CONF_VAR};
pub use levels::{LevelName, WriteErrorPolicy};
pub use read::{env_flag, CacheMode, ConfigError};
pub use reapi::ReapiConfig;
pub use redis::RedisConfig;
pub use s3::S3Config;
pub use secret::mask_credentials;

use crate::size::parse_size;
use read::{cache_mode, parse_number};
use reapi::reapi_config;
use redis::redis_config;
use s3::s3_config;
use std::path::PathBuf;
use std::time::Duration;

const DEFAULT_CACHE_SIZE: u64 = 10 << 30;
const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 600;
const DEFAULT_STORAGE_TIMEOUT_MS: u64 = 2_000;
const DEFAULT_MAX_PENDING_WRITES: usize = 256;
/// Direct mode is on unless turned off.
const DEFAULT_DIRECT: bool = true;

/// Where the server keeps its cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Disk,
    Redis(RedisConfig),
    S3(S3Config),
    /// A Remote Execution API v2 server's action cache and CAS.
    Reapi(ReapiConfig),
    /// Several backends in levels (`SCCACHE_MULTILEVEL_CHAIN`).
    Chain(Levels),
}

/// The backends of a chain, fastest first, and which of their failed writes count.
/// Invariant: no level is itself a chain, and no backend appears twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levels {
    pub levels: Vec<Backend>,
    pub write_error_policy: WriteErrorPolicy,
}

/// Everything the server needs to know at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub cache_dir: PathBuf,
    pub cache_size: u64,
    /// `SCCACHE_LOCAL_RW_MODE`: whether the disk cache is written.
    pub disk_mode: CacheMode,
    pub endpoint: Endpoint,
    /// The user's private runtime directory: the default socket and the TCP token live here.
    pub private_dir: PathBuf,
    /// Stop after this long without a request; `None` never stops.
    pub idle_timeout: Option<Duration>,
    /// How many compilers may run at once.
    pub jobs: usize,
    pub backend: Backend,
    /// How long a compile may wait on a remote backend before treating it as a miss.
    pub storage_timeout: Duration,
    /// How many cache writes may be pending per backend before new ones are dropped.
    pub max_pending_writes: usize,
    /// Whether C compiles may be served from manifests without running the preprocessor
    /// (`SCCACHE_DIRECT`, on unless set to `false`, `0`, `off` or `no`).
    pub direct: bool,
    /// Whether a C direct miss compiles at once with `-MD` and is keyed from what it read,
    /// rather than after the preprocessor (`SCCACHE_DIRECT_DEPEND`, on unless set to `false`,
    /// `0`, `off` or `no`; `flow::c_depend`).
    pub direct_depend: bool,
    /// The zstd level of entries sent to remote backends (`SCCACHE_CACHE_ZSTD_LEVEL`, 1 to 22,
    /// default 3 as in sccache).
    pub zstd_level: i32,
}

/// Reads the server's settings through `lookup` (normally the process environment).
pub fn server_config(lookup: &dyn Fn(&str) -> Option<String>) -> Result<ServerConfig, ConfigError> {
    let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
    let cache_dir = match get("SCCACHE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => directories::ProjectDirs::from("", "", "sccache")
            .map(|dirs| dirs.cache_dir().to_path_buf())
            .ok_or(ConfigError::NoCacheDir)?,
    };
    let cache_size = match get("SCCACHE_CACHE_SIZE") {
        Some(text) => parse_size(&text).ok_or(ConfigError::Invalid {
            name: "SCCACHE_CACHE_SIZE",
            value: text,
            expected: "a size such as 500M, 10G or 1T",
        })?,
        None => DEFAULT_CACHE_SIZE,
    };
    let idle_secs = parse_number(&get, "SCCACHE_IDLE_TIMEOUT", DEFAULT_IDLE_TIMEOUT_SECS)?;
    let jobs = match get("SCCACHE_JOBS") {
        Some(_) => parse_number(&get, "SCCACHE_JOBS", 0)?,
        None => std::thread::available_parallelism().map_or(2, |count| count.get() as u64),
    };
    if jobs == 0 {
        return Err(ConfigError::Invalid {
            name: "SCCACHE_JOBS",
            value: "0".into(),
            expected: "a positive number of compilers to run at once",
        });
    }
    Ok(ServerConfig {
        cache_dir,
        cache_size,
        disk_mode: cache_mode(&get, "SCCACHE_LOCAL_RW_MODE")?,
        endpoint: client_endpoint(lookup)?,
        private_dir: private_dir(lookup),
        idle_timeout: (idle_secs > 0).then(|| Duration::from_secs(idle_secs)),
        jobs: usize::try_from(jobs).unwrap_or(usize::MAX),
        backend: backend(&get)?,
        storage_timeout: Duration::from_millis(parse_number(
            &get,
            "SCCACHE_STORAGE_TIMEOUT_MS",
            DEFAULT_STORAGE_TIMEOUT_MS,
        )?),
        max_pending_writes: usize::try_from(parse_number(
            &get,
            "SCCACHE_MAX_PENDING_WRITES",
            DEFAULT_MAX_PENDING_WRITES as u64,
        )?)
        .unwrap_or(usize::MAX),
        direct: get("SCCACHE_DIRECT")
            .map_or(DEFAULT_DIRECT, |_| read::flag(&get, "SCCACHE_DIRECT")),
        direct_depend: get("SCCACHE_DIRECT_DEPEND")
            .is_none_or(|_| read::flag(&get, "SCCACHE_DIRECT_DEPEND")),
        zstd_level: zstd_level(&get)?,
    })
}

/// `SCCACHE_CACHE_ZSTD_LEVEL`: 1 to 22 as sccache documents it (sccache ignores a value it
/// cannot parse; here it is an error naming the variable).
fn zstd_level(get: &dyn Fn(&str) -> Option<String>) -> Result<i32, ConfigError> {
    const NAME: &str = "SCCACHE_CACHE_ZSTD_LEVEL";
    let level = parse_number(get, NAME, crate::entry_codec::DEFAULT_ZSTD_LEVEL as u64)?;
    match i32::try_from(level) {
        Ok(level @ 1..=22) => Ok(level),
        _ => Err(ConfigError::Invalid {
            name: NAME,
            value: level.to_string(),
            expected: "a zstd level from 1 to 22",
        }),
    }
}

/// The server's settings as it reads them at start: the environment `env`, then the config
/// file. Also returns what the file holds that is not acted on, for the log.
pub fn load_server_config(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(ServerConfig, Vec<String>), ConfigError> {
    let Some(layer) = read_config_file(env)? else {
        return Ok((server_config(env)?, Vec::new()));
    };
    let layered = |name: &str| {
        env(name)
            .filter(|value| !value.is_empty())
            .or_else(|| layer.value(name))
    };
    match server_config(&layered) {
        Ok(config) => Ok((config, layer.warnings().to_vec())),
        Err(error) => Err(layer.attribute(error, env)),
    }
}

/// How long a client waits for a server it started, when the config file says
/// (`server_startup_timeout_ms`). A file that cannot be read gives no answer here: the server
/// reports it when it starts.
pub fn startup_timeout(env: &dyn Fn(&str) -> Option<String>) -> Option<Duration> {
    read_config_file(env).ok().flatten()?.startup_timeout()
}

fn backend(get: &dyn Fn(&str) -> Option<String>) -> Result<Backend, ConfigError> {
    let redis = redis_config(get)?;
    let s3 = s3_config(get)?;
    let reapi = reapi_config(get)?;
    if let Some((names, write_error_policy)) = levels::chain_names(get)? {
        // In a chain every backend it names is used, so Redis, S3 and REAPI may all be set; one that
        // is set but not named is not used (as in sccache).
        let levels = names
            .into_iter()
            .map(|name| match name {
                LevelName::Disk => Ok(Backend::Disk),
                LevelName::Redis => redis
                    .clone()
                    .map(Backend::Redis)
                    .ok_or(ConfigError::Missing {
                    set: "SCCACHE_MULTILEVEL_CHAIN (naming redis)",
                    missing:
                        "SCCACHE_REDIS, SCCACHE_REDIS_ENDPOINT or SCCACHE_REDIS_CLUSTER_ENDPOINTS",
                }),
                LevelName::S3 => s3.clone().map(Backend::S3).ok_or(ConfigError::Missing {
                    set: "SCCACHE_MULTILEVEL_CHAIN (naming s3)",
                    missing: "SCCACHE_BUCKET",
                }),
                LevelName::Reapi => reapi
                    .clone()
                    .map(Backend::Reapi)
                    .ok_or(ConfigError::Missing {
                        set: "SCCACHE_MULTILEVEL_CHAIN (naming reapi)",
                        missing: "SCCACHE_REAPI_ENDPOINT",
                    }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Backend::Chain(Levels {
            levels,
            write_error_policy,
        }));
    }
    if reapi.is_some() && (redis.is_some() || s3.is_some()) {
        return Err(ConfigError::Conflict {
            first: "SCCACHE_REAPI_ENDPOINT",
            second: if redis.is_some() {
                "SCCACHE_REDIS"
            } else {
                "SCCACHE_BUCKET"
            },
        });
    }
    if let Some(reapi) = reapi {
        return Ok(Backend::Reapi(reapi));
    }
    match (redis, s3) {
        (Some(_), Some(_)) => Err(ConfigError::Conflict {
            first: "SCCACHE_REDIS",
            second: "SCCACHE_BUCKET",
        }),
        // The core crate does not know which backends the server was built with; the server
        // refuses a backend it lacks with `ConfigError::FeatureMissing`.
        (Some(redis), None) => Ok(Backend::Redis(redis)),
        (None, Some(s3)) => Ok(Backend::S3(s3)),
        (None, None) => Ok(Backend::Disk),
    }
}

#[cfg(test)]
mod tests;
