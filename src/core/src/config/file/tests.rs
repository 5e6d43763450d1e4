//! Tests of the config file: its keys feed the settings, the environment wins, and a file that
//! cannot be used is an error naming the file and the key.

use crate::config::{load_server_config, Backend, CacheMode, ConfigError, ServerConfig};
use std::collections::HashMap;
use std::path::Path;

fn load(
    dir: &Path,
    name: &str,
    text: &str,
    env: &[(&str, &str)],
) -> Result<(ServerConfig, Vec<String>), ConfigError> {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let mut map: HashMap<String, String> = env
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    map.insert("SCCACHE_CONF".into(), path.display().to_string());
    load_server_config(&move |name| map.get(name).cloned())
}

#[test]
fn disk_table_sets_directory_size_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[cache.disk]\ndir = \"/srv/cache\"\nsize = 1048576\nrw_mode = \"READ_ONLY\"\n\
                [cache.disk.preprocessor_cache_mode]\nuse_preprocessor_cache_mode = true\n";
    let (config, warnings) = load(dir.path(), "config", text, &[]).unwrap();
    assert_eq!(config.cache_dir, Path::new("/srv/cache"));
    assert_eq!(config.cache_size, 1 << 20);
    assert_eq!(config.disk_mode, CacheMode::ReadOnly);
    assert_eq!(config.backend, Backend::Disk);
    assert!(config.direct);
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn preprocessor_cache_mode_in_the_file_turns_direct_mode_off_or_on() {
    let dir = tempfile::tempdir().unwrap();
    let off = "[cache.disk.preprocessor_cache_mode]\nuse_preprocessor_cache_mode = false\n";
    let (config, _) = load(dir.path(), "config", off, &[]).unwrap();
    assert!(!config.direct);
    // The environment wins over the file.
    let (config, _) = load(dir.path(), "config", off, &[("SCCACHE_DIRECT", "true")]).unwrap();
    assert!(config.direct);
    let finer = "[cache.disk.preprocessor_cache_mode]\nuse_preprocessor_cache_mode = true\n\
                 skip_system_headers = true\n";
    let (config, warnings) = load(dir.path(), "config", finer, &[]).unwrap();
    assert!(config.direct);
    assert!(
        warnings[0].contains("preprocessor_cache_mode"),
        "{warnings:?}"
    );
}

#[test]
fn the_environment_overrides_the_file_key_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[cache.disk]\ndir = \"/srv/cache\"\nsize = \"2G\"\n";
    let env = [("SCCACHE_DIR", "/env/cache")];
    let (config, _) = load(dir.path(), "config", text, &env).unwrap();
    assert_eq!(config.cache_dir, Path::new("/env/cache"));
    assert_eq!(config.cache_size, 2 << 30);
}

#[test]
fn json_is_read_when_the_name_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"{"cache": {"disk": {"dir": "/j", "size": "1M"}}}"#;
    let (config, _) = load(dir.path(), "config.json", text, &[]).unwrap();
    assert_eq!(config.cache_dir, Path::new("/j"));
}

#[test]
fn a_missing_file_is_no_error() {
    let map: HashMap<String, String> = [
        (
            "SCCACHE_CONF".to_owned(),
            "/nonexistent/sccache.conf".to_owned(),
        ),
        ("SCCACHE_DIR".to_owned(), "/d".to_owned()),
    ]
    .into();
    let (config, _) = load_server_config(&move |name| map.get(name).cloned()).unwrap();
    assert_eq!(config.cache_dir, Path::new("/d"));
}

#[test]
fn a_malformed_file_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let error = load(dir.path(), "config", "[cache.disk]\ndri = \"/x\"\n", &[]).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, ConfigError::FileMalformed { .. }), "{text}");
    assert!(
        text.contains(&*dir.path().to_string_lossy()) && text.contains("dri"),
        "{text}"
    );
    let error = load(dir.path(), "config", "[cache.disk]\nsize = true\n", &[]).unwrap_err();
    assert!(error.to_string().contains("size"), "{error}");
}

#[test]
fn a_bad_value_names_the_files_key_not_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let error = load(dir.path(), "config", "[cache.disk]\nsize = \"lots\"\n", &[]).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("cache.disk.size") && text.contains("config"),
        "{text}"
    );
    assert!(!text.contains("SCCACHE_CACHE_SIZE"), "{text}");
    // The same bad value from the environment still names the variable.
    let error = load(dir.path(), "config", "", &[("SCCACHE_CACHE_SIZE", "lots")]).unwrap_err();
    assert!(error.to_string().contains("SCCACHE_CACHE_SIZE"), "{error}");
}

#[test]
fn a_backend_this_sccache_lacks_is_refused_not_replaced_by_disk() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[cache.gcs]\nbucket = \"b\"\nkey_prefix = \"\"\nrw_mode = \"READ_WRITE\"\n";
    let error = load(dir.path(), "config", text, &[]).unwrap_err();
    assert!(
        matches!(
            error,
            ConfigError::FileUnsupported {
                key: "cache.gcs",
                ..
            }
        ),
        "{error}"
    );
    // sccache picks S3 before GCS, and so do we.
    let text =
        format!("[cache.s3]\nbucket = \"b\"\nregion = \"r\"\nno_credentials = false\n{text}");
    let (config, warnings) = load(dir.path(), "config", &text, &[]).unwrap();
    assert!(matches!(config.backend, Backend::S3(ref s3) if s3.bucket == "b"));
    assert!(
        warnings.iter().any(|warning| warning.contains("cache.gcs")),
        "{warnings:?}"
    );
}

#[test]
fn the_environments_backend_hides_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[cache.s3]\nbucket = \"b\"\nregion = \"r\"\nno_credentials = false\n";
    let env = [("SCCACHE_REDIS", "redis://127.0.0.1/")];
    let (config, _) = load(dir.path(), "config", text, &env).unwrap();
    assert!(matches!(config.backend, Backend::Redis(_)));
}

#[test]
fn redis_table_maps_to_the_redis_settings() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[cache.redis]\nendpoint = \"127.0.0.1:6379\"\ndb = 2\nexpiration = 60\n\
                key_prefix = \"p\"\nrw_mode = \"READ_ONLY\"\n";
    let (config, _) = load(dir.path(), "config", text, &[]).unwrap();
    let Backend::Redis(redis) = config.backend else {
        panic!("not redis: {:?}", config.backend)
    };
    assert_eq!(redis.endpoints, ["redis://127.0.0.1:6379"]);
    assert_eq!(redis.db, Some(2));
    assert_eq!(redis.expiration, Some(std::time::Duration::from_secs(60)));
    assert_eq!(redis.key_prefix, "p");
    assert_eq!(redis.mode, CacheMode::ReadOnly);
}

#[test]
fn reapi_table_maps_to_the_reapi_settings() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[cache.reapi]\nendpoint = \"grpc://127.0.0.1:8980\"\ninstance = \"main\"\n\
                token = \"t0k3n\"\nrw_mode = \"READ_ONLY\"\n";
    let (config, _) = load(dir.path(), "config", text, &[]).unwrap();
    let Backend::Reapi(reapi) = config.backend else {
        panic!("not reapi: {:?}", config.backend)
    };
    assert_eq!(reapi.address, "127.0.0.1:8980");
    assert_eq!(reapi.instance, "main");
    assert_eq!(reapi.token.as_deref(), Some("t0k3n"));
    assert_eq!(reapi.mode, CacheMode::ReadOnly);
    let error = load(
        dir.path(),
        "config",
        "[cache.reapi]\nendpoint = \"h:1\"\n",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("cache.reapi.endpoint"), "{error}");
}

#[test]
fn s3_encryption_is_refused_and_a_missing_region_names_the_files_keys() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[cache.s3]\nbucket = \"b\"\nregion = \"r\"\nno_credentials = false\n\
                server_side_encryption = true\n";
    let error = load(dir.path(), "config", text, &[]).unwrap_err();
    assert!(
        error.to_string().contains("server_side_encryption"),
        "{error}"
    );
    let text = "[cache.s3]\nbucket = \"b\"\nno_credentials = false\n";
    let error = load(dir.path(), "config", text, &[]).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("cache.s3.bucket") && text.contains("cache.s3.region"),
        "{text}"
    );
}

#[test]
fn ignored_tables_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let text = "basedirs = [\"/home\"]\nserver_startup_timeout_ms = 500\n\
                [dist]\nscheduler_url = \"http://x\"\n";
    let (_, warnings) = load(dir.path(), "config", text, &[]).unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
}
