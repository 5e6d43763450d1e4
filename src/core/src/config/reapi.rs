//! The REAPI backend's settings: `SCCACHE_REAPI_ENDPOINT` (`grpc://host:port` or
//! `grpcs://host:port`) and the settings that go with it (instance, bearer token, TLS CA, mode).
//!
//! The token is read here, from `SCCACHE_REAPI_TOKEN` or the file `SCCACHE_REAPI_TOKEN_FILE`
//! names, so that an unreadable file is an error at start that names its variable. It must not
//! reach the server; the REAPI actor does that. Invariant: the token is never shown: `Debug`
//! (in `secret`) masks it, and nothing here puts it into an error.

use super::read::{cache_mode, CacheMode, ConfigError};
use std::path::PathBuf;

/// Which REAPI server to use and how.
/// `Debug` (in `secret`) masks the token.
#[derive(Clone, PartialEq, Eq)]
pub struct ReapiConfig {
    /// The endpoint as written, for `--show-stats` and the log.
    pub endpoint: String,
    /// `host:port` of the endpoint.
    pub address: String,
    /// Whether the endpoint is `grpcs://` (TLS).
    pub tls: bool,
    /// `SCCACHE_REAPI_INSTANCE`: the instance name of every request (empty by default).
    pub instance: String,
    /// The bearer token sent in the `authorization` metadata of every call.
    pub token: Option<String>,
    /// `SCCACHE_REAPI_TLS_CA`: a PEM file of the authorities that sign the server's
    /// certificate, instead of the system's.
    pub tls_ca: Option<PathBuf>,
    /// `SCCACHE_REAPI_RW_MODE`.
    pub mode: CacheMode,
}

pub(super) fn reapi_config(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ReapiConfig>, ConfigError> {
    let Some(endpoint) = get("SCCACHE_REAPI_ENDPOINT") else {
        return Ok(None);
    };
    let endpoint = endpoint.trim().to_owned();
    let (tls, address) = parse_endpoint(&endpoint).ok_or_else(|| ConfigError::Invalid {
        name: "SCCACHE_REAPI_ENDPOINT",
        value: endpoint.clone(),
        expected: "grpc://host:port or grpcs://host:port",
    })?;
    let tls_ca = get("SCCACHE_REAPI_TLS_CA").map(PathBuf::from);
    if tls_ca.is_some() && !tls {
        return Err(ConfigError::Conflict {
            first: "SCCACHE_REAPI_TLS_CA",
            second: "a grpc:// SCCACHE_REAPI_ENDPOINT (TLS needs grpcs://)",
        });
    }
    Ok(Some(ReapiConfig {
        address,
        tls,
        endpoint,
        instance: get("SCCACHE_REAPI_INSTANCE").unwrap_or_default(),
        token: token(get)?,
        tls_ca,
        mode: cache_mode(get, "SCCACHE_REAPI_RW_MODE")?,
    }))
}

/// `(tls, host:port)` of `grpc://host:port` or `grpcs://host:port` (a trailing `/` allowed).
fn parse_endpoint(endpoint: &str) -> Option<(bool, String)> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "grpc" | "http" => false,
        "grpcs" | "https" => true,
        _ => return None,
    };
    let address = rest.trim_end_matches('/');
    let (host, port) = address.rsplit_once(':')?;
    let valid_host = !host.is_empty()
        && !host.contains(['/', '@', '?', '#', ' '])
        && (!host.contains(':') || (host.starts_with('[') && host.ends_with(']')));
    (valid_host && port.parse::<u16>().is_ok()).then(|| (tls, address.to_owned()))
}

/// The bearer token, from the variable or the file it names; never both.
fn token(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, ConfigError> {
    match (get("SCCACHE_REAPI_TOKEN"), get("SCCACHE_REAPI_TOKEN_FILE")) {
        (Some(_), Some(_)) => Err(ConfigError::Conflict {
            first: "SCCACHE_REAPI_TOKEN",
            second: "SCCACHE_REAPI_TOKEN_FILE",
        }),
        (Some(token), None) => Ok(Some(token.trim().to_owned())),
        (None, Some(path)) => {
            let path = PathBuf::from(path);
            let text = std::fs::read_to_string(&path).map_err(|error| ConfigError::Unreadable {
                name: "SCCACHE_REAPI_TOKEN_FILE",
                path: path.clone(),
                message: error.to_string(),
            })?;
            let token = text.trim();
            if token.is_empty() {
                return Err(ConfigError::Unreadable {
                    name: "SCCACHE_REAPI_TOKEN_FILE",
                    path,
                    message: "the file is empty".to_owned(),
                });
            }
            Ok(Some(token.to_owned()))
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Option<ReapiConfig>, ConfigError> {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        };
        reapi_config(&get)
    }

    #[test]
    fn endpoints_take_grpc_or_grpcs_with_a_port() {
        let config = read(&[("SCCACHE_REAPI_ENDPOINT", "grpc://127.0.0.1:8980")])
            .unwrap()
            .unwrap();
        assert_eq!(
            (config.tls, config.address.as_str()),
            (false, "127.0.0.1:8980")
        );
        let config = read(&[("SCCACHE_REAPI_ENDPOINT", "grpcs://cache.example:443/")])
            .unwrap()
            .unwrap();
        assert_eq!(
            (config.tls, config.address.as_str()),
            (true, "cache.example:443")
        );
        let config = read(&[("SCCACHE_REAPI_ENDPOINT", "grpc://[::1]:9092")])
            .unwrap()
            .unwrap();
        assert_eq!(config.address, "[::1]:9092");
        for bad in [
            "127.0.0.1:8980",
            "redis://h:1",
            "grpc://h",
            "grpc://:1",
            "grpc://a@h:1",
        ] {
            assert!(
                matches!(
                    read(&[("SCCACHE_REAPI_ENDPOINT", bad)]),
                    Err(ConfigError::Invalid {
                        name: "SCCACHE_REAPI_ENDPOINT",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_token_comes_from_the_variable_or_the_file_never_both() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").unwrap();
        let file = file.to_str().unwrap();
        let endpoint = ("SCCACHE_REAPI_ENDPOINT", "grpc://h:1");
        let config = read(&[endpoint, ("SCCACHE_REAPI_TOKEN_FILE", file)])
            .unwrap()
            .unwrap();
        assert_eq!(config.token.as_deref(), Some("from-file"));
        assert!(matches!(
            read(&[
                endpoint,
                ("SCCACHE_REAPI_TOKEN_FILE", file),
                ("SCCACHE_REAPI_TOKEN", "t")
            ]),
            Err(ConfigError::Conflict { .. })
        ));
        let missing = dir.path().join("absent");
        let error = read(&[
            endpoint,
            ("SCCACHE_REAPI_TOKEN_FILE", missing.to_str().unwrap()),
        ])
        .err()
        .unwrap();
        assert!(
            error.to_string().contains("SCCACHE_REAPI_TOKEN_FILE"),
            "{error}"
        );
    }

    #[test]
    fn the_token_is_not_in_debug() {
        let config = read(&[
            ("SCCACHE_REAPI_ENDPOINT", "grpc://h:1"),
            ("SCCACHE_REAPI_TOKEN", "s3cr3t-token"),
            ("SCCACHE_REAPI_RW_MODE", "read_only"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(config.mode, CacheMode::ReadOnly);
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }
}
