//! The S3 backend's settings: `SCCACHE_BUCKET`, `SCCACHE_REGION` and the settings that go with
//! them.
//!
//! It must not reach the bucket or look for credentials; the S3 actor does that.

use super::read::{cache_mode, flag, CacheMode, ConfigError};

/// Which bucket to use and how.
/// `Debug` (in `secret`) masks the endpoint's credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    pub endpoint: Option<String>,
    pub use_ssl: bool,
    pub key_prefix: String,
    pub no_credentials: bool,
    /// `SCCACHE_S3_RW_MODE`; anonymous access is read-only whatever it says.
    pub mode: CacheMode,
}

pub(super) fn s3_config(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<S3Config>, ConfigError> {
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
        mode: cache_mode(get, "SCCACHE_S3_RW_MODE")?,
    }))
}
