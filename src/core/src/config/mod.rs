//! The server's and client's settings, read from `SCCACHE_*` environment variables.
//!
//! Every setting is read here and nowhere else, and a bad value is an error that names the
//! variable. Reading takes a lookup function rather than the process environment so that tests
//! (and the server, which reads the environment it was started with) decide where values come
//! from. Docs for each setting: docs/CONFIGURATION.md.

use crate::size::parse_size;
use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The server's socket in the private directory.
pub const SOCKET_FILE: &str = "server.sock";
const DEFAULT_CACHE_SIZE: u64 = 10 << 30;
const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 600;
const DEFAULT_STORAGE_TIMEOUT_MS: u64 = 2_000;
const DEFAULT_MAX_PENDING_WRITES: usize = 256;

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

/// Where the server keeps its cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Disk,
    Redis(RedisConfig),
    S3(S3Config),
}

/// Which Redis to use and how.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Which bucket to use and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    pub endpoint: Option<String>,
    pub use_ssl: bool,
    pub key_prefix: String,
    pub no_credentials: bool,
}

/// Where the server listens and the client connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket at this path; the default, and `SCCACHE_SERVER_UDS`.
    Unix(PathBuf),
    /// TCP on 127.0.0.1 at this port (`SCCACHE_SERVER_PORT`); clients present a token.
    Tcp(u16),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(formatter, "{}", path.display()),
            Endpoint::Tcp(port) => write!(formatter, "127.0.0.1:{port}"),
        }
    }
}

/// Everything the server needs to know at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub cache_dir: PathBuf,
    pub cache_size: u64,
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
    })
}

/// Where the client connects and the server listens: `SCCACHE_SERVER_UDS` (a socket path), else
/// `SCCACHE_SERVER_PORT` (TCP on loopback), else a socket in the private directory.
pub fn client_endpoint(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Endpoint, ConfigError> {
    let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
    if let Some(path) = get("SCCACHE_SERVER_UDS") {
        // Clients in other directories must find the same socket.
        if !Path::new(&path).is_absolute() {
            return Err(ConfigError::Invalid {
                name: "SCCACHE_SERVER_UDS",
                value: path,
                expected: "an absolute path for the server's Unix socket",
            });
        }
        return Ok(Endpoint::Unix(PathBuf::from(path)));
    }
    match get("SCCACHE_SERVER_PORT") {
        None => Ok(Endpoint::Unix(private_dir(lookup).join(SOCKET_FILE))),
        Some(text) => match text.trim().parse::<u16>() {
            Ok(port) if port > 0 => Ok(Endpoint::Tcp(port)),
            _ => Err(ConfigError::Invalid {
                name: "SCCACHE_SERVER_PORT",
                value: text,
                expected: "a port number from 1 to 65535",
            }),
        },
    }
}

/// The user's private runtime directory: `$XDG_RUNTIME_DIR/sccache` when `XDG_RUNTIME_DIR` is
/// a directory of this user, else `sccache-<uid>` in the temporary directory. This only names
/// it; `access::credential` creates it or checks that it is private.
pub fn private_dir(lookup: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
    let uid = crate::access::current_uid();
    let runtime = get("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .filter(|path| {
            std::fs::metadata(path).is_ok_and(|metadata| metadata.is_dir() && metadata.uid() == uid)
        });
    match runtime {
        Some(runtime) => runtime.join("sccache"),
        None => get("TMPDIR")
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
            .unwrap_or_else(|| PathBuf::from("/tmp"))
            .join(format!("sccache-{uid}")),
    }
}

fn parse_number(
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

fn flag(get: &dyn Fn(&str) -> Option<String>, name: &str) -> bool {
    get(name).is_some_and(|value| !matches!(value.as_str(), "0" | "false" | "off" | "no"))
}

fn backend(get: &dyn Fn(&str) -> Option<String>) -> Result<Backend, ConfigError> {
    let redis = redis_config(get)?;
    let s3 = s3_config(get)?;
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

fn redis_config(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<RedisConfig>, ConfigError> {
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
        value: mask_password(url),
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

/// Hides the password of a Redis URL for display.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split_once(':').map_or("", |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..])
        }
        None => url.to_owned(),
    }
}

fn s3_config(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<S3Config>, ConfigError> {
    let bucket = get("SCCACHE_BUCKET");
    let region = get("SCCACHE_REGION");
    let (bucket, region) = match (bucket, region) {
        (None, _) => return Ok(None),
        (Some(_), None) => {
            return Err(ConfigError::Missing {
                set: "SCCACHE_BUCKET",
                missing: "SCCACHE_REGION",
            })
        }
        (Some(bucket), Some(region)) => (bucket, region),
    };
    let key_prefix = get("SCCACHE_S3_KEY_PREFIX")
        .unwrap_or_default()
        .trim_matches('/')
        .to_owned();
    Ok(Some(S3Config {
        bucket,
        region,
        endpoint: get("SCCACHE_ENDPOINT"),
        use_ssl: get("SCCACHE_S3_USE_SSL").is_none_or(|_| flag(get, "SCCACHE_S3_USE_SSL")),
        key_prefix,
        no_credentials: flag(get, "SCCACHE_S3_NO_CREDENTIALS"),
    }))
}

/// Whether an environment flag such as `SCCACHE_NO_DAEMON` or `SCCACHE_RECACHE` is on.
pub fn env_flag(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> bool {
    flag(
        &|key: &str| lookup(key).filter(|value| !value.is_empty()),
        name,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    fn endpoint(pairs: &[(&str, &str)]) -> Result<Endpoint, ConfigError> {
        let map = map(pairs);
        client_endpoint(&move |name| map.get(name).cloned())
    }

    fn config(pairs: &[(&str, &str)]) -> Result<ServerConfig, ConfigError> {
        let mut with_dir = map(pairs);
        with_dir
            .entry("SCCACHE_DIR".into())
            .or_insert_with(|| "/tmp/sccache-test".into());
        server_config(&move |name| with_dir.get(name).cloned())
    }

    #[test]
    fn defaults_are_sccaches() {
        let config = config(&[("SCCACHE_SERVER_PORT", "4226")]).unwrap();
        assert_eq!(config.endpoint, Endpoint::Tcp(4226));
        assert_eq!(config.cache_size, 10 << 30);
        assert_eq!(config.idle_timeout, Some(Duration::from_secs(600)));
        assert_eq!(config.backend, Backend::Disk);
    }

    #[test]
    fn bad_cache_size_names_the_setting() {
        let error = config(&[("SCCACHE_CACHE_SIZE", "lots")]).unwrap_err();
        assert!(error.to_string().contains("SCCACHE_CACHE_SIZE"), "{error}");
    }

    #[test]
    fn idle_timeout_zero_means_never() {
        assert_eq!(
            config(&[("SCCACHE_IDLE_TIMEOUT", "0")])
                .unwrap()
                .idle_timeout,
            None
        );
    }

    #[test]
    fn bucket_without_region_is_an_error_naming_both() {
        let error = config(&[("SCCACHE_BUCKET", "b")]).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("SCCACHE_BUCKET") && text.contains("SCCACHE_REGION"),
            "{text}"
        );
    }

    #[test]
    fn redis_url_is_checked_and_masked() {
        let error = config(&[("SCCACHE_REDIS", "http://nope")]).unwrap_err();
        assert!(error.to_string().contains("SCCACHE_REDIS"));
        let good = config(&[("SCCACHE_REDIS", "redis://:secret@127.0.0.1:6379/2")]).unwrap();
        assert!(matches!(good.backend, Backend::Redis(_)));
        assert_eq!(
            mask_password("redis://:secret@127.0.0.1:6379/2"),
            "redis://:***@127.0.0.1:6379/2"
        );
        assert!(config(&[("SCCACHE_REDIS", "redis://host:notaport")]).is_err());
        assert!(config(&[("SCCACHE_REDIS", "redis://host/db")]).is_err());
    }

    #[test]
    fn conflicting_backends_are_refused() {
        let error = config(&[
            ("SCCACHE_REDIS", "redis://127.0.0.1"),
            ("SCCACHE_BUCKET", "b"),
            ("SCCACHE_REGION", "r"),
        ])
        .unwrap_err();
        assert!(matches!(error, ConfigError::Conflict { .. }));
        let error = config(&[
            ("SCCACHE_REDIS", "redis://127.0.0.1"),
            ("SCCACHE_REDIS_ENDPOINT", "127.0.0.1:6379"),
        ])
        .unwrap_err();
        assert!(matches!(error, ConfigError::Conflict { .. }));
    }

    #[test]
    fn cluster_endpoints_are_split() {
        let config = config(&[(
            "SCCACHE_REDIS_CLUSTER_ENDPOINTS",
            "127.0.0.1:7000, 127.0.0.1:7001,redis://127.0.0.1:7002",
        )])
        .unwrap();
        match config.backend {
            Backend::Redis(redis) => {
                assert!(redis.cluster);
                assert_eq!(redis.endpoints.len(), 3);
                assert_eq!(redis.endpoints[0], "redis://127.0.0.1:7000");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_explicit_socket_wins_over_a_port() {
        assert_eq!(
            endpoint(&[
                ("SCCACHE_SERVER_UDS", "/run/x/sccache.sock"),
                ("SCCACHE_SERVER_PORT", "4226")
            ])
            .unwrap(),
            Endpoint::Unix("/run/x/sccache.sock".into())
        );
        let error = endpoint(&[("SCCACHE_SERVER_UDS", "relative.sock")]).unwrap_err();
        assert!(error.to_string().contains("SCCACHE_SERVER_UDS"), "{error}");
    }

    #[test]
    fn a_port_means_tcp_and_a_bad_port_names_the_setting() {
        assert_eq!(
            endpoint(&[("SCCACHE_SERVER_PORT", " 5000 ")]).unwrap(),
            Endpoint::Tcp(5000)
        );
        for bad in ["0", "70000", "http"] {
            let error = endpoint(&[("SCCACHE_SERVER_PORT", bad)]).unwrap_err();
            assert!(error.to_string().contains("SCCACHE_SERVER_PORT"), "{error}");
        }
        // Empty is unset.
        assert!(matches!(
            endpoint(&[("SCCACHE_SERVER_PORT", "")]).unwrap(),
            Endpoint::Unix(_)
        ));
    }

    #[test]
    fn the_default_socket_is_under_a_runtime_dir_of_this_user() {
        let runtime = tempfile::tempdir().unwrap();
        let runtime_text = runtime.path().to_str().unwrap();
        assert_eq!(
            endpoint(&[("XDG_RUNTIME_DIR", runtime_text)]).unwrap(),
            Endpoint::Unix(runtime.path().join("sccache").join(SOCKET_FILE))
        );
    }

    #[test]
    fn without_a_usable_runtime_dir_the_socket_is_in_the_temp_dir() {
        let uid = crate::access::current_uid();
        let temp = tempfile::tempdir().unwrap();
        let temp_text = temp.path().to_str().unwrap();
        let expected = Endpoint::Unix(temp.path().join(format!("sccache-{uid}/server.sock")));
        // Unset, missing, relative, or not a directory: all fall back.
        let file = temp.path().join("file");
        std::fs::write(&file, b"").unwrap();
        for runtime in ["", "/no/such/dir", "relative", file.to_str().unwrap()] {
            assert_eq!(
                endpoint(&[("XDG_RUNTIME_DIR", runtime), ("TMPDIR", temp_text)]).unwrap(),
                expected,
                "{runtime}"
            );
        }
        assert_eq!(
            endpoint(&[]).unwrap(),
            Endpoint::Unix(PathBuf::from(format!("/tmp/sccache-{uid}/server.sock")))
        );
    }

    #[test]
    fn a_runtime_dir_of_another_user_is_not_used() {
        if crate::access::current_uid() != 0 {
            eprintln!("note: not root; cannot chown a directory to another user, skipped");
            return;
        }
        let runtime = tempfile::tempdir().unwrap();
        std::os::unix::fs::chown(runtime.path(), Some(65534), Some(65534)).unwrap();
        let temp = tempfile::tempdir().unwrap();
        let chosen = endpoint(&[
            ("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap()),
            ("TMPDIR", temp.path().to_str().unwrap()),
        ])
        .unwrap();
        assert_eq!(
            chosen,
            Endpoint::Unix(temp.path().join("sccache-0").join(SOCKET_FILE))
        );
    }
}
