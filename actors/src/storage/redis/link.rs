//! How the Redis backend reaches Redis: the settings turned into a client (`Endpoint`), the one
//! connection built from it (`Connection`), and which failures mean that connection is broken.
//!
//! Building an `Endpoint` checks the URLs and credentials but opens no socket; `connect` is the
//! only place that does, and it is bounded by the storage timeout. Nothing here retries on its
//! own beyond one attempt: the actor decides when to try again, so a Redis that is down costs
//! each compile nothing but a skipped lookup. Boundary: passwords never leave this module except
//! inside the client; every text meant for people (`location`) has them masked.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
use redis::{
    Client, Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, FromRedisValue, IntoConnectionInfo,
    RedisError, RedisResult, Value,
};
use sccache_core::config::{mask_credentials, RedisConfig};
use std::time::Duration;

/// Why the Redis settings cannot make a client.
#[derive(Debug, thiserror::Error)]
pub enum RedisSetupError {
    #[error("no Redis endpoint is configured")]
    NoEndpoint,
    #[error("{setting}: {url} is not a usable Redis URL: {reason}")]
    InvalidUrl {
        setting: &'static str,
        /// The URL with its password masked.
        url: String,
        reason: String,
    },
    #[error("SCCACHE_REDIS_DB: a Redis Cluster has only database 0, not {0}")]
    ClusterDatabase(i64),
    #[error("SCCACHE_REDIS_CLUSTER_ENDPOINTS: cannot make a cluster client: {0}")]
    Cluster(String),
}

/// The Redis to talk to, ready to connect; holds no connection.
#[derive(Clone)]
pub enum Endpoint {
    Single {
        client: Client,
        config: ConnectionManagerConfig,
    },
    Cluster(ClusterClient),
}

/// One connection to Redis, cheap to clone: every clone multiplexes the same sockets.
#[derive(Clone)]
pub enum Connection {
    /// Reconnects by itself after Redis restarts; the actor also replaces it after failures.
    /// Boxed: it is fifteen times the size of a cluster connection.
    Single(Box<ConnectionManager>),
    Cluster(ClusterConnection),
}

impl Endpoint {
    /// The client for `config` and the location to show for it (password masked). Each connect
    /// attempt and each command gives up after `timeout`.
    pub fn new(
        config: &RedisConfig,
        timeout: Duration,
    ) -> Result<(Endpoint, String), RedisSetupError> {
        // The redis crate's own parser is the only check of the URLs (sccache-core's config
        // keeps them as written), so every URL it accepts works, `unix://` ones too.
        let setting = config.setting;
        let nodes = config
            .endpoints
            .iter()
            .map(|url| node_info(config, setting, url))
            .collect::<Result<Vec<_>, _>>()?;
        if config.cluster {
            if let Some(node) = nodes.iter().find(|node| node.redis.db != 0) {
                return Err(RedisSetupError::ClusterDatabase(node.redis.db));
            }
            let addresses: Vec<String> = nodes.iter().map(|node| address(&node.addr)).collect();
            let mut builder = ClusterClientBuilder::new(nodes)
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .retries(1);
            if let Some(username) = &config.username {
                builder = builder.username(username.clone());
            }
            if let Some(password) = &config.password {
                builder = builder.password(password.clone());
            }
            let client = builder
                .build()
                .map_err(|error| RedisSetupError::Cluster(error.to_string()))?;
            let location = format!("Redis cluster: {}", addresses.join(","));
            return Ok((Endpoint::Cluster(client), location));
        }
        let [node] = <[ConnectionInfo; 1]>::try_from(nodes).map_err(|nodes| {
            if nodes.is_empty() {
                RedisSetupError::NoEndpoint
            } else {
                RedisSetupError::InvalidUrl {
                    setting,
                    url: format!("{} URLs", nodes.len()),
                    reason: "a single Redis takes one URL".into(),
                }
            }
        })?;
        let location = format!("Redis: {}", display_url(&node));
        let client = Client::open(node).map_err(|error| RedisSetupError::InvalidUrl {
            setting,
            url: location.clone(),
            reason: error.to_string(),
        })?;
        // One attempt per connect: the actor paces the retries itself.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            .set_number_of_retries(0);
        Ok((Endpoint::Single { client, config }, location))
    }

    /// Opens the connection, giving up after `timeout`.
    pub async fn connect(self, timeout: Duration) -> Result<Connection, String> {
        let attempt = async move {
            match self {
                Endpoint::Single { client, config } => {
                    ConnectionManager::new_with_config(client, config)
                        .await
                        .map(|manager| Connection::Single(Box::new(manager)))
                }
                Endpoint::Cluster(client) => {
                    client.get_async_connection().await.map(Connection::Cluster)
                }
            }
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(error)) => Err(format!("cannot connect: {error}")),
            Err(_) => Err(format!("cannot connect within {timeout:?}")),
        }
    }
}

impl Connection {
    /// Runs one command (routed by its key in a cluster).
    pub async fn query<T: FromRedisValue>(&mut self, command: &Cmd) -> RedisResult<T> {
        match self {
            Connection::Single(connection) => command.query_async(connection.as_mut()).await,
            Connection::Cluster(connection) => command.query_async(connection).await,
        }
    }

    /// Runs a server command on every primary node and returns each node's reply: one reply for a
    /// single Redis.
    pub async fn query_primaries(&mut self, command: &Cmd) -> RedisResult<Vec<Value>> {
        match self {
            Connection::Single(connection) => {
                Ok(vec![command.query_async(connection.as_mut()).await?])
            }
            Connection::Cluster(connection) => {
                let routing = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                match connection.route_command(command, routing).await? {
                    Value::Map(replies) => {
                        Ok(replies.into_iter().map(|(_, reply)| reply).collect())
                    }
                    other => Ok(vec![other]),
                }
            }
        }
    }
}

/// Whether `error` means the connection (or Redis itself) is not serving, as opposed to Redis
/// refusing one command: such errors make the actor drop the connection and pause.
pub fn breaks_connection(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_unrecoverable_error()
        || matches!(
            error.kind(),
            ErrorKind::ClusterDown | ErrorKind::MasterDown | ErrorKind::BusyLoadingError
        )
}

/// Parses one node's URL and applies the username, password and database settings over it.
fn node_info(
    config: &RedisConfig,
    setting: &'static str,
    url: &str,
) -> Result<ConnectionInfo, RedisSetupError> {
    let mut info = url
        .into_connection_info()
        .map_err(|error| RedisSetupError::InvalidUrl {
            setting,
            url: mask_credentials(url),
            reason: error.to_string(),
        })?;
    if let Some(username) = &config.username {
        info.redis.username = Some(username.clone());
    }
    if let Some(password) = &config.password {
        info.redis.password = Some(password.clone());
    }
    if let Some(db) = config.db {
        info.redis.db = db;
    }
    Ok(info)
}

/// `host:port`, with an IPv6 host in brackets.
fn address(addr: &ConnectionAddr) -> String {
    match addr {
        ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. }
            if host.contains(':') =>
        {
            format!("[{host}]:{port}")
        }
        other => other.to_string(),
    }
}

/// The URL that `info` stands for, built from the parsed parts with the password masked:
/// `redis://[user:***@]host:port/db`, or `unix:///path?db=N[&user=…][&pass=***]`.
fn display_url(info: &ConnectionInfo) -> String {
    let user = info.redis.username.as_deref().unwrap_or("");
    let scheme = match &info.addr {
        ConnectionAddr::TcpTls { .. } => "rediss",
        ConnectionAddr::Tcp(..) => "redis",
        ConnectionAddr::Unix(path) => {
            let mut url = format!("unix://{}?db={}", path.display(), info.redis.db);
            if !user.is_empty() {
                url.push_str(&format!("&user={user}"));
            }
            if info.redis.password.is_some() {
                url.push_str("&pass=***");
            }
            return url;
        }
    };
    let credentials = match (&info.redis.password, user) {
        (Some(_), user) => format!("{user}:***@"),
        (None, "") => String::new(),
        (None, user) => format!("{user}@"),
    };
    format!(
        "{scheme}://{credentials}{}/{}",
        address(&info.addr),
        info.redis.db
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sccache_core::config::CacheMode;

    fn config(endpoints: &[&str], cluster: bool) -> RedisConfig {
        RedisConfig {
            endpoints: endpoints.iter().map(|url| url.to_string()).collect(),
            setting: if cluster {
                "SCCACHE_REDIS_CLUSTER_ENDPOINTS"
            } else {
                "SCCACHE_REDIS"
            },
            cluster,
            username: None,
            password: None,
            db: None,
            key_prefix: String::new(),
            expiration: None,
            mode: CacheMode::ReadWrite,
        }
    }

    fn location(config: &RedisConfig) -> String {
        match Endpoint::new(config, Duration::from_secs(1)) {
            Ok((_, location)) => location,
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn location_masks_the_password() {
        let shown = location(&config(&["redis://:secret@127.0.0.1:7000/3"], false));
        assert_eq!(shown, "Redis: redis://:***@127.0.0.1:7000/3");
        let shown = location(&config(&["redis://127.0.0.1"], false));
        assert_eq!(shown, "Redis: redis://127.0.0.1:6379/0");
    }

    #[test]
    fn settings_override_the_url() {
        let mut settings = config(&["redis://old:pw@127.0.0.1:7000/1"], false);
        settings.username = Some("me".into());
        settings.password = Some("new".into());
        settings.db = Some(5);
        let info = node_info(&settings, "SCCACHE_REDIS", &settings.endpoints[0]).unwrap();
        assert_eq!(info.redis.username.as_deref(), Some("me"));
        assert_eq!(info.redis.password.as_deref(), Some("new"));
        assert_eq!(info.redis.db, 5);
        assert_eq!(
            location(&settings),
            "Redis: redis://me:***@127.0.0.1:7000/5"
        );
    }

    #[test]
    fn a_bad_url_names_the_setting_and_hides_the_password() {
        let error = Endpoint::new(
            &config(&["redis://:secret@127.0.0.1:7000/notadb"], false),
            Duration::from_secs(1),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(error.contains("SCCACHE_REDIS"), "{error}");
        assert!(!error.contains("secret"), "{error}");
        let error = Endpoint::new(
            &config(&["rediss://127.0.0.1"], false),
            Duration::from_secs(1),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(error.contains("TLS"), "{error}");
    }

    #[test]
    fn the_redis_crate_decides_which_urls_are_good() {
        let shown = location(&config(&["unix:///run/redis.sock?db=2&pass=secret"], false));
        assert_eq!(shown, "Redis: unix:///run/redis.sock?db=2&pass=***");
        let mut settings = config(&["http://nope"], false);
        settings.setting = "SCCACHE_REDIS_ENDPOINT";
        let error = Endpoint::new(&settings, Duration::from_secs(1))
            .err()
            .unwrap()
            .to_string();
        assert!(error.starts_with("SCCACHE_REDIS_ENDPOINT: "), "{error}");
    }

    #[test]
    fn a_cluster_lists_its_nodes_and_has_only_database_0() {
        let nodes = ["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"];
        assert_eq!(
            location(&config(&nodes, true)),
            "Redis cluster: 127.0.0.1:7000,127.0.0.1:7001"
        );
        let mut settings = config(&nodes, true);
        settings.db = Some(2);
        assert!(matches!(
            Endpoint::new(&settings, Duration::from_secs(1)),
            Err(RedisSetupError::ClusterDatabase(2))
        ));
    }
}
