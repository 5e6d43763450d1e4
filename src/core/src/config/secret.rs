//! Showing settings without their secrets: the credentials of a URL (`SCCACHE_REDIS`,
//! `SCCACHE_ENDPOINT`, ...) masked for `--show-stats`, the log and error messages, and the
//! `Debug` of the settings that hold secrets.
//!
//! Invariant: whatever shows a setting shows it through here; a password, a token or the
//! secret half of a URL's user information is never printed.

use super::reapi::ReapiConfig;
use super::redis::RedisConfig;
use super::s3::S3Config;
use std::fmt;

/// What stands in for a hidden secret.
pub const MASK: &str = "***";

/// The URL with the password of its user information masked: `scheme://user:***@host/path`.
/// User information without a `:` may be a token by itself and is masked whole (`:***@`). A
/// URL without a scheme (`user:pass@host:port`) is masked the same way. Everything before the
/// last `@` counts as user information: a password may hold a `/` or an `@` that a parser
/// would have wanted percent-encoded, and masking too much hides nothing secret. A password
/// given as a query value (`unix:///run/redis.sock?pass=…`, as the redis crate reads it) is
/// masked too.
pub fn mask_credentials(url: &str) -> String {
    mask_query_password(&mask_user_information(url))
}

fn mask_user_information(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    match rest.rsplit_once('@') {
        Some((credentials, after)) => {
            let user = credentials
                .split_once(':')
                .map_or("", |(user, _)| user)
                .split(['/', '?', '#'])
                .next()
                .unwrap_or_default();
            format!("{scheme}{user}:{MASK}@{after}")
        }
        None => url.to_owned(),
    }
}

/// The URL with the value of every `pass=` or `password=` query parameter masked.
fn mask_query_password(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let parameters: Vec<String> = query
        .split('&')
        .map(|parameter| match parameter.split_once('=') {
            Some((name, _)) if matches!(name, "pass" | "password") => format!("{name}={MASK}"),
            _ => parameter.to_owned(),
        })
        .collect();
    format!("{base}?{}", parameters.join("&"))
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let endpoints: Vec<String> = self
            .endpoints
            .iter()
            .map(|url| mask_credentials(url))
            .collect();
        f.debug_struct("RedisConfig")
            .field("endpoints", &endpoints)
            .field("setting", &self.setting)
            .field("cluster", &self.cluster)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| MASK))
            .field("db", &self.db)
            .field("key_prefix", &self.key_prefix)
            .field("expiration", &self.expiration)
            .field("mode", &self.mode)
            .finish()
    }
}

impl fmt::Debug for ReapiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReapiConfig")
            .field("endpoint", &mask_credentials(&self.endpoint))
            .field("address", &self.address)
            .field("tls", &self.tls)
            .field("instance", &self.instance)
            .field("token", &self.token.as_ref().map(|_| MASK))
            .field("tls_ca", &self.tls_ca)
            .field("mode", &self.mode)
            .finish()
    }
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint.as_deref().map(mask_credentials))
            .field("use_ssl", &self.use_ssl)
            .field("key_prefix", &self.key_prefix)
            .field("no_credentials", &self.no_credentials)
            .field("mode", &self.mode)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::read::CacheMode;

    #[test]
    fn a_password_is_masked_and_the_rest_kept() {
        assert_eq!(
            mask_credentials("redis://:secret@127.0.0.1:6379/2"),
            "redis://:***@127.0.0.1:6379/2"
        );
        // A password may hold `/` and `@` unencoded, so everything before the last `@` is
        // hidden, even where that was a path: too much hidden, never a secret shown.
        assert_eq!(
            mask_credentials("http://user:pass@minio:9000/path@x"),
            "http://user:***@x"
        );
        assert_eq!(
            mask_credentials("redis://me:se/cr@t@127.0.0.1/2"),
            "redis://me:***@127.0.0.1/2"
        );
        assert_eq!(mask_credentials("https://token@host"), "https://:***@host");
        assert_eq!(
            mask_credentials("user:pass@host:9000"),
            "user:***@host:9000"
        );
        assert_eq!(
            mask_credentials("http://user:p@ss@host"),
            "http://user:***@host"
        );
        assert_eq!(mask_credentials("http://host:9000/"), "http://host:9000/");
        assert_eq!(
            mask_credentials("unix:///run/redis.sock?db=2&pass=secret"),
            "unix:///run/redis.sock?db=2&pass=***"
        );
        assert_eq!(mask_credentials("host:9000"), "host:9000");
    }

    #[test]
    fn debug_of_the_settings_shows_no_secret() {
        let redis = RedisConfig {
            endpoints: vec!["redis://:urlsecret@127.0.0.1/1".into()],
            setting: "SCCACHE_REDIS",
            cluster: false,
            username: Some("me".into()),
            password: Some("setsecret".into()),
            db: None,
            key_prefix: String::new(),
            expiration: None,
            mode: CacheMode::ReadWrite,
        };
        let shown = format!("{redis:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("redis://:***@127.0.0.1/1"), "{shown}");
        let s3 = S3Config {
            bucket: "b".into(),
            region: "r".into(),
            endpoint: Some("http://key:s3secret@minio:9000".into()),
            use_ssl: false,
            key_prefix: String::new(),
            no_credentials: false,
            mode: CacheMode::ReadWrite,
        };
        let shown = format!("{s3:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("http://key:***@minio:9000"), "{shown}");
    }
}
