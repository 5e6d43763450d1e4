//! The config file's tables as sccache 0.19 defines them, and how each key maps to the
//! environment variable whose reader handles it.
//!
//! Unknown keys are errors (as in sccache, whose tables deny unknown fields), so a typo is
//! reported instead of ignored. Values are carried as text to the same readers that parse the
//! environment, so a value is valid in the file exactly when it is valid in its variable.
//! This module decides which tables are used; it must not parse the values themselves.

use super::read::ConfigError;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Each file key the readers handle, with the variable it stands for.
const KEYS: &[(&str, &str)] = &[
    ("cache.disk.dir", "SCCACHE_DIR"),
    ("cache.disk.size", "SCCACHE_CACHE_SIZE"),
    ("cache.disk.rw_mode", "SCCACHE_LOCAL_RW_MODE"),
    (
        "cache.disk.preprocessor_cache_mode.use_preprocessor_cache_mode",
        "SCCACHE_DIRECT",
    ),
    ("cache.redis.url", "SCCACHE_REDIS"),
    ("cache.redis.endpoint", "SCCACHE_REDIS_ENDPOINT"),
    (
        "cache.redis.cluster_endpoints",
        "SCCACHE_REDIS_CLUSTER_ENDPOINTS",
    ),
    ("cache.redis.username", "SCCACHE_REDIS_USERNAME"),
    ("cache.redis.password", "SCCACHE_REDIS_PASSWORD"),
    ("cache.redis.db", "SCCACHE_REDIS_DB"),
    ("cache.redis.ttl", "SCCACHE_REDIS_EXPIRATION"),
    ("cache.redis.key_prefix", "SCCACHE_REDIS_KEY_PREFIX"),
    ("cache.redis.rw_mode", "SCCACHE_REDIS_RW_MODE"),
    ("cache.s3.bucket", "SCCACHE_BUCKET"),
    ("cache.s3.region", "SCCACHE_REGION"),
    ("cache.s3.endpoint", "SCCACHE_ENDPOINT"),
    ("cache.s3.use_ssl", "SCCACHE_S3_USE_SSL"),
    ("cache.s3.key_prefix", "SCCACHE_S3_KEY_PREFIX"),
    ("cache.s3.no_credentials", "SCCACHE_S3_NO_CREDENTIALS"),
    ("cache.s3.rw_mode", "SCCACHE_S3_RW_MODE"),
    ("cache.reapi.endpoint", "SCCACHE_REAPI_ENDPOINT"),
    ("cache.reapi.instance", "SCCACHE_REAPI_INSTANCE"),
    ("cache.reapi.token", "SCCACHE_REAPI_TOKEN"),
    ("cache.reapi.token_file", "SCCACHE_REAPI_TOKEN_FILE"),
    ("cache.reapi.tls_ca", "SCCACHE_REAPI_TLS_CA"),
    ("cache.reapi.rw_mode", "SCCACHE_REAPI_RW_MODE"),
];

/// The file key standing for the variable `name`.
pub(super) fn key_for(name: &str) -> Option<&'static str> {
    KEYS.iter()
        .find(|(_, variable)| *variable == name)
        .map(|(key, _)| *key)
}

/// What a file holds, once its tables are chosen and mapped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Contents {
    pub(super) values: Vec<Mapped>,
    pub(super) startup_timeout: Option<Duration>,
    pub(super) warnings: Vec<String>,
}

/// One value of the file under the variable it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mapped {
    pub(super) name: &'static str,
    pub(super) key: &'static str,
    pub(super) value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct FileSettings {
    cache: CacheTables,
    dist: Option<IgnoredAny>,
    server_startup_timeout_ms: Option<u64>,
    basedirs: Option<Vec<String>>,
    client_side_mode: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CacheTables {
    disk: Option<DiskTable>,
    redis: Option<RedisTable>,
    s3: Option<S3Table>,
    /// Ours (sccache has no REAPI backend): a Remote Execution API v2 server.
    reapi: Option<ReapiTable>,
    memcached: Option<IgnoredAny>,
    gcs: Option<IgnoredAny>,
    gha: Option<IgnoredAny>,
    azure: Option<IgnoredAny>,
    webdav: Option<IgnoredAny>,
    oss: Option<IgnoredAny>,
    cos: Option<IgnoredAny>,
    multilevel: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DiskTable {
    dir: Option<PathBuf>,
    size: Option<Size>,
    rw_mode: Option<RwMode>,
    preprocessor_cache_mode: Option<PreprocessorTable>,
}

/// sccache's direct ("preprocessor cache") mode: `use_preprocessor_cache_mode` turns ours on or
/// off (`SCCACHE_DIRECT`); the finer switches are only noted.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct PreprocessorTable {
    use_preprocessor_cache_mode: Option<bool>,
    file_stat_matches: Option<bool>,
    use_ctime_for_stat: Option<bool>,
    ignore_time_macros: Option<bool>,
    skip_system_headers: Option<bool>,
    hash_working_directory: Option<bool>,
}

/// sccache accepts a size as text (`"10G"`) or as a number of bytes; kept as text for the
/// reader of `SCCACHE_CACHE_SIZE`.
#[derive(Debug)]
struct Size(String);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;
        impl serde::de::Visitor<'_> for SizeVisitor {
            type Value = Size;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a size such as \"10G\" or a number of bytes")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Size, E> {
                Ok(Size(text.to_owned()))
            }
            fn visit_u64<E: serde::de::Error>(self, bytes: u64) -> Result<Size, E> {
                Ok(Size(bytes.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, bytes: i64) -> Result<Size, E> {
                u64::try_from(bytes)
                    .map(|bytes| Size(bytes.to_string()))
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(bytes), &self))
            }
        }
        deserializer.deserialize_any(SizeVisitor)
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
enum RwMode {
    #[serde(rename = "READ_ONLY")]
    ReadOnly,
    #[serde(rename = "READ_WRITE")]
    ReadWrite,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RedisTable {
    url: Option<String>,
    endpoint: Option<String>,
    cluster_endpoints: Option<String>,
    username: Option<String>,
    password: Option<String>,
    db: Option<u32>,
    #[serde(alias = "expiration")]
    ttl: Option<u64>,
    key_prefix: Option<String>,
    rw_mode: Option<RwMode>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct S3Table {
    bucket: String,
    region: Option<String>,
    key_prefix: Option<String>,
    #[serde(default)]
    no_credentials: bool,
    endpoint: Option<String>,
    use_ssl: Option<bool>,
    server_side_encryption: Option<bool>,
    server_side_encryption_aws_kms: Option<bool>,
    server_side_encryption_kms_key_id: Option<String>,
    enable_virtual_host_style: Option<bool>,
    rw_mode: Option<RwMode>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReapiTable {
    endpoint: String,
    instance: Option<String>,
    token: Option<String>,
    token_file: Option<PathBuf>,
    tls_ca: Option<PathBuf>,
    rw_mode: Option<RwMode>,
}

/// Collects the file's values as `Mapped`s.
struct Collector {
    values: Vec<Mapped>,
}

impl Collector {
    fn put(&mut self, key: &'static str, value: Option<String>) {
        let Some(value) = value else { return };
        if let Some((key, name)) = KEYS.iter().find(|(known, _)| *known == key) {
            self.values.push(Mapped { name, key, value });
        }
    }
}

fn text_of(mode: Option<RwMode>) -> Option<String> {
    mode.map(|mode| match mode {
        RwMode::ReadOnly => "READ_ONLY".to_owned(),
        RwMode::ReadWrite => "READ_WRITE".to_owned(),
    })
}

impl FileSettings {
    /// What the file at `path` holds; `env_chooses_backend` hides its backend tables.
    pub(super) fn into_contents(
        self,
        path: &Path,
        env_chooses_backend: bool,
    ) -> Result<Contents, ConfigError> {
        let mut collector = Collector { values: Vec::new() };
        let mut warnings = Vec::new();
        let cache = self.cache;
        if let Some(disk) = cache.disk {
            collector.put(
                "cache.disk.dir",
                disk.dir.map(|dir| dir.to_string_lossy().into_owned()),
            );
            collector.put("cache.disk.size", disk.size.map(|size| size.0));
            collector.put("cache.disk.rw_mode", text_of(disk.rw_mode));
            if let Some(mode) = disk.preprocessor_cache_mode {
                // sccache's name for direct mode; its finer switches are not ours to take (our
                // checks are fixed: stamps, digests, include probes), so they are only noted.
                collector.put(
                    "cache.disk.preprocessor_cache_mode.use_preprocessor_cache_mode",
                    mode.use_preprocessor_cache_mode.map(|on| on.to_string()),
                );
                let finer = [
                    mode.file_stat_matches,
                    mode.use_ctime_for_stat,
                    mode.ignore_time_macros,
                    mode.skip_system_headers,
                    mode.hash_working_directory,
                ];
                if finer.iter().any(Option::is_some) {
                    warnings.push(
                        "[cache.disk.preprocessor_cache_mode]: only use_preprocessor_cache_mode \
                         (direct mode on or off) is read; direct mode's checks are fixed"
                            .to_owned(),
                    );
                }
            }
        }
        // sccache uses the first of these that the file configures and ignores the rest.
        let remote = [
            ("cache.s3", cache.s3.is_some()),
            ("cache.redis", cache.redis.is_some()),
            ("cache.memcached", cache.memcached.is_some()),
            ("cache.gcs", cache.gcs.is_some()),
            ("cache.gha", cache.gha.is_some()),
            ("cache.azure", cache.azure.is_some()),
            ("cache.webdav", cache.webdav.is_some()),
            ("cache.oss", cache.oss.is_some()),
            ("cache.cos", cache.cos.is_some()),
            ("cache.reapi", cache.reapi.is_some()),
        ];
        let configured: Vec<&'static str> = remote
            .iter()
            .filter(|(_, present)| *present)
            .map(|(table, _)| *table)
            .collect();
        if env_chooses_backend {
            for table in &configured {
                warnings.push(format!(
                    "[{table}] is not used: the environment chooses the backend"
                ));
            }
        } else if let Some(chosen) = configured.first() {
            for table in &configured[1..] {
                warnings.push(format!(
                    "[{table}] is ignored: [{chosen}] comes first, as in sccache"
                ));
            }
            match *chosen {
                "cache.s3" => {
                    if let Some(s3) = cache.s3 {
                        put_s3(&mut collector, &mut warnings, s3, path)?
                    }
                }
                "cache.redis" => {
                    if let Some(redis) = cache.redis {
                        put_redis(&mut collector, redis)
                    }
                }
                "cache.reapi" => {
                    if let Some(reapi) = cache.reapi {
                        put_reapi(&mut collector, reapi)
                    }
                }
                unsupported => {
                    return Err(ConfigError::FileUnsupported {
                        path: path.to_path_buf(),
                        key: unsupported,
                        reason: "this sccache has no such backend; \
                                 it will not fall back to the local disk in its place",
                    })
                }
            }
        }
        if cache.multilevel.is_some() {
            return Err(ConfigError::FileUnsupported {
                path: path.to_path_buf(),
                key: "cache.multilevel",
                reason: "multi-level caches are not supported",
            });
        }
        if self.dist.is_some() {
            warnings.push("[dist] is ignored: compiles run on this machine".to_owned());
        }
        if self.basedirs.is_some_and(|dirs| !dirs.is_empty()) {
            warnings.push(
                "basedirs is ignored: paths under them stay in the key (fewer hits, never wrong ones)"
                    .to_owned(),
            );
        }
        if self.client_side_mode == Some(true) {
            warnings.push("client_side_mode is ignored: the server compiles".to_owned());
        }
        Ok(Contents {
            values: collector.values,
            startup_timeout: self.server_startup_timeout_ms.map(Duration::from_millis),
            warnings,
        })
    }
}

fn put_redis(collector: &mut Collector, redis: RedisTable) {
    collector.put("cache.redis.url", redis.url);
    collector.put("cache.redis.endpoint", redis.endpoint);
    collector.put("cache.redis.cluster_endpoints", redis.cluster_endpoints);
    collector.put("cache.redis.username", redis.username);
    collector.put("cache.redis.password", redis.password);
    collector.put("cache.redis.db", redis.db.map(|db| db.to_string()));
    collector.put("cache.redis.ttl", redis.ttl.map(|ttl| ttl.to_string()));
    collector.put("cache.redis.key_prefix", redis.key_prefix);
    collector.put("cache.redis.rw_mode", text_of(redis.rw_mode));
}

fn put_reapi(collector: &mut Collector, reapi: ReapiTable) {
    let text = |path: Option<PathBuf>| path.map(|path| path.to_string_lossy().into_owned());
    collector.put("cache.reapi.endpoint", Some(reapi.endpoint));
    collector.put("cache.reapi.instance", reapi.instance);
    collector.put("cache.reapi.token", reapi.token);
    collector.put("cache.reapi.token_file", text(reapi.token_file));
    collector.put("cache.reapi.tls_ca", text(reapi.tls_ca));
    collector.put("cache.reapi.rw_mode", text_of(reapi.rw_mode));
}

fn put_s3(
    collector: &mut Collector,
    warnings: &mut Vec<String>,
    s3: S3Table,
    path: &Path,
) -> Result<(), ConfigError> {
    let encryption = [
        (
            "cache.s3.server_side_encryption",
            s3.server_side_encryption == Some(true),
        ),
        (
            "cache.s3.server_side_encryption_aws_kms",
            s3.server_side_encryption_aws_kms == Some(true),
        ),
        (
            "cache.s3.server_side_encryption_kms_key_id",
            s3.server_side_encryption_kms_key_id.is_some(),
        ),
    ];
    if let Some((key, _)) = encryption.iter().find(|(_, asked)| *asked) {
        // Storing the entries unencrypted would break a promise the user relies on.
        return Err(ConfigError::FileUnsupported {
            path: path.to_path_buf(),
            key,
            reason: "server-side encryption is not supported by this sccache",
        });
    }
    if s3.enable_virtual_host_style == Some(true) {
        warnings.push(
            "cache.s3.enable_virtual_host_style is ignored: requests use path-style addressing"
                .to_owned(),
        );
    }
    collector.put("cache.s3.bucket", Some(s3.bucket));
    collector.put("cache.s3.region", s3.region);
    collector.put("cache.s3.endpoint", s3.endpoint);
    collector.put("cache.s3.use_ssl", s3.use_ssl.map(|on| on.to_string()));
    collector.put("cache.s3.key_prefix", s3.key_prefix);
    collector.put(
        "cache.s3.no_credentials",
        s3.no_credentials.then(|| "true".to_owned()),
    );
    collector.put("cache.s3.rw_mode", text_of(s3.rw_mode));
    Ok(())
}
