//! The server's and client's settings, read from `SCCACHE_*` environment variables and
//! sccache's config file, the environment overriding the file.
//!
//! Every setting is read here and nowhere else, and a bad value is an error that names the
//! variable. Reading takes a lookup function rather than the process environment so that tests
//! (and the server, which reads the environment it was started with) decide where values come
//! from. Docs for each setting: docs/CONFIGURATION.md.
//!
//! Split by concept: `endpoint` is where the server listens and the client connects, `redis`, `s3`
//! and `reapi` read the remote backends' settings, `secret` shows settings with their secrets masked.
//! `file` reads the config file into a layer under the variables' names (`tables` maps its
//! keys), which `load_server_config` puts behind the environment. `read` holds
//! `ConfigError` and the helpers every reader shares. This file holds the server's settings as a
//! whole and the choice of backend; the readers never import it.

mod endpoint;
mod file;
mod read;
mod reapi;
mod redis;
mod s3;
mod secret;
mod tables;

pub use endpoint::{client_endpoint, private_dir, Endpoint, SOCKET_FILE};
pub use file::{config_path, read_config_file, FileLayer, CONF_VAR};
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
    })
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
