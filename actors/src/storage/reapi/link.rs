//! How the REAPI backend reaches its server: the settings turned into a lazily connecting gRPC
//! channel with the bearer token on every call (`Link`), and the clients of the services it
//! uses (`Clients`).
//!
//! Building a `Link` checks the settings (the TLS authority file, a token that can travel as
//! metadata) but opens no socket; the channel connects on the first call and again after the
//! server went away, so a server that restarts is used again without restarting sccache. Every
//! call carries the storage timeout as its deadline. Boundary: the token never leaves this
//! module except inside the `authorization` metadata, marked sensitive so that no `Debug` of
//! a request shows it; every text meant for people shows the endpoint and instance only.

use bazel_remote_apis::build::bazel::remote::execution::v2::{
    action_cache_client::ActionCacheClient, capabilities_client::CapabilitiesClient,
    content_addressable_storage_client::ContentAddressableStorageClient,
};
use bazel_remote_apis::google::bytestream::byte_stream_client::ByteStreamClient;
use sccache_core::config::ReapiConfig;
use std::time::Duration;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

/// The most a reply may hold: a batch read of the server's batch limit, or one ByteStream chunk,
/// with room to spare. tonic's default (4 MiB) is below some servers' batch limits.
const MAX_MESSAGE: usize = 64 << 20;

/// Why the REAPI settings cannot make a channel.
#[derive(Debug, thiserror::Error)]
pub enum ReapiSetupError {
    #[error("SCCACHE_REAPI_ENDPOINT: {endpoint} is not usable: {reason}")]
    Endpoint { endpoint: String, reason: String },
    #[error("SCCACHE_REAPI_TLS_CA: cannot read {path}: {reason}")]
    TlsCa { path: String, reason: String },
    /// The token itself is not shown.
    #[error("the REAPI token holds characters that cannot travel in gRPC metadata")]
    Token,
}

/// Adds `authorization: Bearer <token>` to every call when a token is configured.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

type Service = InterceptedService<Channel, Bearer>;

/// The clients of one channel, cheap to clone: every clone multiplexes the same connection.
#[derive(Clone)]
pub struct Clients {
    pub capabilities: CapabilitiesClient<Service>,
    pub action_cache: ActionCacheClient<Service>,
    pub cas: ContentAddressableStorageClient<Service>,
    pub byte_stream: ByteStreamClient<Service>,
}

/// The server to talk to, ready to connect; holds no connection.
#[derive(Clone)]
pub struct Link {
    endpoint: Endpoint,
    bearer: Bearer,
}

impl Link {
    /// The channel settings for `config`, each call bounded by `timeout`.
    pub fn new(config: &ReapiConfig, timeout: Duration) -> Result<Link, ReapiSetupError> {
        let scheme = if config.tls { "https" } else { "http" };
        let bad_endpoint = |reason: String| ReapiSetupError::Endpoint {
            endpoint: config.endpoint.clone(),
            reason,
        };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", config.address))
            .map_err(|error| bad_endpoint(error.to_string()))?
            .connect_timeout(timeout)
            .timeout(timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(false);
        if config.tls {
            let mut tls = ClientTlsConfig::new();
            tls = match &config.tls_ca {
                Some(path) => {
                    let pem = std::fs::read(path).map_err(|error| ReapiSetupError::TlsCa {
                        path: path.display().to_string(),
                        reason: error.to_string(),
                    })?;
                    tls.ca_certificate(Certificate::from_pem(pem))
                }
                None => tls.with_native_roots(),
            };
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|error| bad_endpoint(error.to_string()))?;
        }
        let bearer = match &config.token {
            None => Bearer(None),
            Some(token) => {
                let mut value: MetadataValue<Ascii> = format!("Bearer {token}")
                    .parse()
                    .map_err(|_| ReapiSetupError::Token)?;
                value.set_sensitive(true);
                Bearer(Some(value))
            }
        };
        Ok(Link { endpoint, bearer })
    }

    /// A channel that connects on its first call (and again after a failure). Needs the tokio
    /// runtime: the channel's worker is spawned on it.
    pub fn clients(&self) -> Clients {
        let channel = self.endpoint.connect_lazy();
        let service = || InterceptedService::new(channel.clone(), self.bearer.clone());
        Clients {
            capabilities: CapabilitiesClient::new(service()).max_decoding_message_size(MAX_MESSAGE),
            action_cache: ActionCacheClient::new(service()).max_decoding_message_size(MAX_MESSAGE),
            cas: ContentAddressableStorageClient::new(service())
                .max_decoding_message_size(MAX_MESSAGE),
            byte_stream: ByteStreamClient::new(service()).max_decoding_message_size(MAX_MESSAGE),
        }
    }
}

/// What `--show-stats` and the log call this server: the endpoint and the instance.
pub fn location(config: &ReapiConfig) -> String {
    let endpoint = sccache_core::config::mask_credentials(&config.endpoint);
    if config.instance.is_empty() {
        format!("REAPI: {endpoint}")
    } else {
        format!("REAPI: {endpoint}, instance {}", config.instance)
    }
}
