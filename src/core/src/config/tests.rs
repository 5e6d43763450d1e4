//! Tests of reading the settings: defaults, bad values naming their variable, the backends and
//! the choice of endpoint.

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
fn redis_urls_are_kept_with_the_variable_they_came_from() {
    // The URLs themselves are parsed by the redis crate when the backend starts.
    for (name, value, url) in [
        (
            "SCCACHE_REDIS",
            "unix:///run/redis.sock",
            "unix:///run/redis.sock",
        ),
        (
            "SCCACHE_REDIS_ENDPOINT",
            "127.0.0.1:6379",
            "redis://127.0.0.1:6379",
        ),
    ] {
        match config(&[(name, value)]).unwrap().backend {
            Backend::Redis(redis) => {
                assert_eq!(redis.setting, name);
                assert_eq!(redis.endpoints, [url]);
            }
            other => panic!("{other:?}"),
        }
    }
    let error = config(&[("SCCACHE_REDIS_CLUSTER_ENDPOINTS", " , ")]).unwrap_err();
    assert!(error
        .to_string()
        .contains("SCCACHE_REDIS_CLUSTER_ENDPOINTS"));
}

#[test]
fn a_password_is_masked_even_where_it_breaks_the_url() {
    assert_eq!(
        mask_credentials("redis://:secret@127.0.0.1:6379/2"),
        "redis://:***@127.0.0.1:6379/2"
    );
    assert_eq!(
        mask_credentials("redis://me:se/cr@t@127.0.0.1/2"),
        "redis://me:***@127.0.0.1/2"
    );
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
    let error = config(&[
        ("SCCACHE_REDIS", "redis://127.0.0.1"),
        ("SCCACHE_REAPI_ENDPOINT", "grpc://127.0.0.1:1"),
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

#[test]
fn the_depend_path_is_on_unless_turned_off() {
    assert!(config(&[]).unwrap().direct_depend);
    for off in ["false", "0", "off", "no"] {
        let config = config(&[("SCCACHE_DIRECT_DEPEND", off)]).unwrap();
        assert!(!config.direct_depend, "{off}");
        assert!(config.direct, "{off}");
    }
}

#[test]
fn direct_mode_is_on_unless_turned_off() {
    assert!(config(&[]).unwrap().direct);
    assert!(config(&[("SCCACHE_DIRECT", "true")]).unwrap().direct);
    for off in ["false", "0", "off", "no"] {
        assert!(!config(&[("SCCACHE_DIRECT", off)]).unwrap().direct, "{off}");
    }
}

#[test]
fn a_chain_uses_every_backend_it_names_in_its_order() {
    let config = config(&[
        ("SCCACHE_MULTILEVEL_CHAIN", "disk, redis,S3,REAPI"),
        ("SCCACHE_REDIS", "redis://127.0.0.1:1"),
        ("SCCACHE_BUCKET", "b"),
        ("SCCACHE_REGION", "r"),
        ("SCCACHE_REAPI_ENDPOINT", "grpc://127.0.0.1:1"),
        ("SCCACHE_REAPI_RW_MODE", "READ_ONLY"),
    ])
    .unwrap();
    let Backend::Chain(levels) = config.backend else {
        panic!("{:?}", config.backend)
    };
    assert!(matches!(
        levels.levels[..],
        [Backend::Disk, Backend::Redis(_), Backend::S3(_), Backend::Reapi(ref reapi)]
            if reapi.mode == CacheMode::ReadOnly
    ));
    assert_eq!(levels.write_error_policy, WriteErrorPolicy::L0);
}

#[test]
fn a_chain_naming_an_unconfigured_unknown_or_repeated_backend_is_an_error() {
    for (chain, expected) in [
        ("disk,redis", "SCCACHE_REDIS"),
        ("disk,reapi", "SCCACHE_REAPI_ENDPOINT"),
        ("disk,memcached", "SCCACHE_MULTILEVEL_CHAIN"),
        ("disk,disk", "each backend named once"),
    ] {
        let error = config(&[("SCCACHE_MULTILEVEL_CHAIN", chain)]).unwrap_err();
        assert!(error.to_string().contains(expected), "{chain}: {error}");
    }
}

#[test]
fn write_error_policies_are_sccaches_and_a_typo_is_an_error() {
    for (text, policy) in [
        ("ignore", WriteErrorPolicy::Ignore),
        ("L0", WriteErrorPolicy::L0),
        ("all", WriteErrorPolicy::All),
    ] {
        let config = config(&[
            ("SCCACHE_MULTILEVEL_CHAIN", "disk"),
            ("SCCACHE_MULTILEVEL_WRITE_ERROR_POLICY", text),
        ])
        .unwrap();
        let Backend::Chain(levels) = config.backend else {
            panic!()
        };
        assert_eq!(levels.write_error_policy, policy);
    }
    let error = config(&[
        ("SCCACHE_MULTILEVEL_CHAIN", "disk"),
        ("SCCACHE_MULTILEVEL_WRITE_ERROR_POLICY", "some"),
    ])
    .unwrap_err();
    assert!(error
        .to_string()
        .contains("SCCACHE_MULTILEVEL_WRITE_ERROR_POLICY"));
}

#[test]
fn zstd_level_defaults_to_three_and_must_be_one_to_twenty_two() {
    assert_eq!(config(&[]).unwrap().zstd_level, 3);
    assert_eq!(
        config(&[("SCCACHE_CACHE_ZSTD_LEVEL", "19")])
            .unwrap()
            .zstd_level,
        19
    );
    for bad in ["0", "23", "fast"] {
        let error = config(&[("SCCACHE_CACHE_ZSTD_LEVEL", bad)]).unwrap_err();
        assert!(
            error.to_string().contains("SCCACHE_CACHE_ZSTD_LEVEL"),
            "{error}"
        );
    }
}
