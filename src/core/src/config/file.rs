//! sccache's config file (`SCCACHE_CONF`, else `~/.config/sccache/config`): TOML, or JSON when
//! the name ends in `.json`, read into a `FileLayer` of values under the names of the
//! environment variables they stand for.
//!
//! Every reader of settings takes a lookup by variable name; the server's lookup asks the
//! environment first and this layer second, so each reader works unchanged and an environment
//! variable always overrides the file. Two rules keep that merge from mixing settings that do
//! not belong together: when the environment chooses a remote backend (`SCCACHE_REDIS*`
//! endpoints, `SCCACHE_BUCKET`), the file's backend tables are not used at all; and the file
//! may name only the backend that sccache itself would pick from it.
//!
//! Boundary: a backend this sccache cannot serve (memcached, GCS, Azure...) or an S3 encryption
//! setting it cannot honour is an error, never a silent fall back to the local disk. Tables for
//! features that change only speed (dist, basedirs) are accepted and reported as ignored;
//! the preprocessor cache mode's switch turns direct mode on or off. Errors name the file, and the key through `FileLayer::attribute`.
//! It reads one file and nothing else; it must not look at the environment except through the
//! lookup it is given.

use super::read::ConfigError;
use super::tables::{key_for, Contents, FileSettings};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The variable naming the config file.
pub const CONF_VAR: &str = "SCCACHE_CONF";

/// The variables by which the environment chooses a remote backend; any of them set hides the
/// file's backend tables.
const BACKEND_CHOICE: [&str; 5] = [
    "SCCACHE_REDIS",
    "SCCACHE_REDIS_ENDPOINT",
    "SCCACHE_REDIS_CLUSTER_ENDPOINTS",
    "SCCACHE_BUCKET",
    "SCCACHE_REAPI_ENDPOINT",
];

/// The settings a config file holds, under the names of the variables they stand for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileLayer {
    pub path: PathBuf,
    contents: Contents,
}

impl FileLayer {
    /// How long a client waits for a server it started (`server_startup_timeout_ms`).
    pub fn startup_timeout(&self) -> Option<Duration> {
        self.contents.startup_timeout
    }

    /// Keys read but not acted on, each with the reason, for the server's log.
    pub fn warnings(&self) -> &[String] {
        &self.contents.warnings
    }

    /// The file's value for the variable `name`, if it sets one.
    pub fn value(&self, name: &str) -> Option<String> {
        self.contents
            .values
            .iter()
            .find(|mapped| mapped.name == name)
            .map(|mapped| mapped.value.clone())
    }

    /// The file's key for the variable `name`, when the file (not `env`) supplied its value.
    fn key_of(&self, name: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<&'static str> {
        if env(name).is_some_and(|value| !value.is_empty()) {
            return None;
        }
        self.contents
            .values
            .iter()
            .find(|mapped| mapped.name == name)
            .map(|mapped| mapped.key)
    }

    /// `error` as the user should read it: when a setting it names came from this file, it
    /// names the file's key instead and says which file.
    pub fn attribute(
        &self,
        error: ConfigError,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> ConfigError {
        let rename = |name: &'static str| self.key_of(name, env);
        let renamed = match &error {
            ConfigError::Invalid {
                name,
                value,
                expected,
            } => rename(name).map(|key| ConfigError::Invalid {
                name: key,
                value: value.clone(),
                expected,
            }),
            ConfigError::Missing { set, missing } => rename(set).map(|key| ConfigError::Missing {
                set: key,
                missing: key_for(missing).unwrap_or(missing),
            }),
            ConfigError::Conflict { first, second } => match (rename(first), rename(second)) {
                (None, None) => None,
                (one, other) => Some(ConfigError::Conflict {
                    first: one.unwrap_or(first),
                    second: other.unwrap_or(second),
                }),
            },
            ConfigError::FeatureMissing { name, feature } => {
                rename(name).map(|key| ConfigError::FeatureMissing { name: key, feature })
            }
            _ => None,
        };
        match renamed {
            Some(source) => ConfigError::InFile {
                path: self.path.clone(),
                source: Box::new(source),
            },
            None => error,
        }
    }
}

/// Where the config file is: `SCCACHE_CONF`, else `config` in the user's configuration
/// directory (on macOS also the older preferences directory, as sccache looks there too).
pub fn config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(path) = env(CONF_VAR) {
        return Some(PathBuf::from(path));
    }
    let dirs = directories::ProjectDirs::from("", "Mozilla", "sccache")?;
    let current = dirs.config_dir().join("config");
    let older = dirs.preference_dir().join("config");
    Some(if !current.exists() && older.exists() {
        older
    } else {
        current
    })
}

/// Reads the config file, if there is one. A missing file is no error (sccache's own tests
/// point `SCCACHE_CONF` at one to ignore the user's), but one that cannot be read or parsed is:
/// settings the user wrote must not be dropped without a word.
pub fn read_config_file(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<FileLayer>, ConfigError> {
    let Some(path) = config_path(env) else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(ConfigError::FileUnreadable {
                path,
                message: error.to_string(),
            })
        }
    };
    let settings = parse(&path, &text)?;
    let env_chooses_backend = BACKEND_CHOICE
        .iter()
        .any(|name| env(name).is_some_and(|value| !value.is_empty()));
    let contents = settings.into_contents(&path, env_chooses_backend)?;
    Ok(Some(FileLayer { path, contents }))
}

fn parse(path: &Path, text: &str) -> Result<FileSettings, ConfigError> {
    let parsed = if path
        .extension()
        .is_some_and(|extension| extension == "json")
    {
        serde_json::from_str(text).map_err(|error| error.to_string())
    } else {
        toml::from_str(text).map_err(|error| error.to_string())
    };
    parsed.map_err(|message| ConfigError::FileMalformed {
        path: path.to_path_buf(),
        message: message.trim_end().to_owned(),
    })
}

#[cfg(test)]
mod tests;
