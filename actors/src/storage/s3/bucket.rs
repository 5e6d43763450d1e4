//! The one place that speaks to S3: a `Bucket` fetches, stores and deletes whole objects through
//! rusoto, with a time limit on every request, and sorts rusoto's failures into `BucketError`.
//!
//! Boundary: no rusoto type leaves this file, so swapping the SDK means rewriting only this file.
//! TLS is rustls with the system's root certificates (`SSL_CERT_FILE`/`SSL_CERT_DIR` override
//! them), so the binary links no OpenSSL; `http://` endpoints are spoken to in the clear.
//! It knows nothing of cache entries, keys, stats or actors: it moves bytes under object names.
//! Invariant: every request ends within its time limit, whatever the endpoint does.

use bytes::Bytes;
use futures::stream;
use hyper_rustls::HttpsConnectorBuilder;
use rusoto_core::request::{DispatchSignedRequest, HttpClient};
use rusoto_core::{ByteStream, Client, Region, RusotoError};
use rusoto_credential::{AutoRefreshingProvider, ChainProvider};
use rusoto_s3::{
    DeleteObjectRequest, GetObjectError, GetObjectRequest, HeadBucketRequest, PutObjectRequest,
    S3Client, S3,
};
use sccache_core::config::{mask_credentials, S3Config};
use std::future::Future;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Why a bucket cannot be set up; only local causes, since nothing is sent before the first use.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot set up AWS credentials: {0}")]
    Credentials(String),
}

/// rusoto's HTTP client over rustls, trusting the system's root certificates, for `https://`
/// and `http://` endpoints alike. A machine without root certificates gets a client that can
/// still speak plain HTTP (every `https://` request then fails, and counts as an error).
fn http_client() -> impl DispatchSignedRequest + Send + Sync + 'static {
    let mut roots = rustls::RootCertStore::empty();
    match rustls_native_certs::load_native_certs() {
        Ok(certificates) => {
            let der: Vec<Vec<u8>> = certificates.into_iter().map(|c| c.0).collect();
            let (valid, invalid) = roots.add_parsable_certificates(&der);
            log::debug!("S3 TLS: {valid} root certificates ({invalid} unparsable ones skipped)");
        }
        Err(error) => log::warn!("S3 TLS: cannot load the system's root certificates: {error}"),
    }
    let tls = rustls::ClientConfig::builder()
        .with_safe_defaults()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    HttpClient::from_connector(connector)
}

/// Why a request failed, sorted by what the caller does about it.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    /// The endpoint did not answer in time.
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
    /// The request never got an answer: connection refused, reset, DNS, TLS.
    #[error("{0}")]
    Unreachable(String),
    /// The endpoint answered with an error status; `code` is S3's error code when it sent one.
    #[error("{}", describe_status(*status, code, message))]
    Status {
        status: u16,
        code: String,
        message: String,
    },
    /// The service refused the request with an error of its own (an archived object, say).
    #[error("{0}")]
    Refused(String),
    /// No credentials could be found or used.
    #[error("credentials: {0}")]
    Credentials(String),
    /// Anything else rusoto reports (an unparsable answer, a request it refused to build).
    #[error("{0}")]
    Other(String),
}

impl BucketError {
    /// Whether trying again may help: timeouts, unreachable endpoints and server-side (5xx)
    /// errors; never a refusal (4xx) or missing credentials.
    pub fn is_transient(&self) -> bool {
        match self {
            BucketError::TimedOut(_) | BucketError::Unreachable(_) => true,
            BucketError::Status { status, .. } => *status >= 500,
            BucketError::Refused(_) | BucketError::Credentials(_) | BucketError::Other(_) => false,
        }
    }

    /// The HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            BucketError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn describe_status(status: u16, code: &str, message: &str) -> String {
    match (code.is_empty(), message.is_empty()) {
        (true, _) => format!("HTTP {status}"),
        (false, true) => format!("HTTP {status} {code}"),
        (false, false) => format!("HTTP {status} {code}: {message}"),
    }
}

/// A bucket on an S3-compatible endpoint, with the time limits of its requests. Cloning is
/// cheap: clones share the HTTP client and its connections.
#[derive(Clone)]
pub struct Bucket {
    client: S3Client,
    name: String,
    /// The endpoint's URL for messages, credentials masked.
    shown_endpoint: String,
    read_timeout: Duration,
    write_timeout: Duration,
}

impl Bucket {
    /// A bucket as `config` names it. Sends nothing and looks up no credentials yet (that
    /// happens on each request), so it succeeds whether or not the endpoint is reachable.
    pub fn new(
        config: &S3Config,
        read_timeout: Duration,
        write_timeout: Duration,
    ) -> Result<Bucket, SetupError> {
        let endpoint = endpoint_url(config);
        let region = Region::Custom {
            name: config.region.clone(),
            endpoint: endpoint.clone(),
        };
        let shown_endpoint = mask_credentials(&endpoint);
        let http = http_client();
        let client = if config.no_credentials {
            Client::new_not_signing(http)
        } else {
            // Environment, profile files, then container and instance metadata; the metadata
            // services get the read time limit, so a machine without them fails fast.
            let mut chain = ChainProvider::new();
            chain.set_timeout(read_timeout);
            let provider = AutoRefreshingProvider::new(chain)
                .map_err(|error| SetupError::Credentials(error.to_string()))?;
            Client::new_with(provider, http)
        };
        Ok(Bucket {
            client: S3Client::new_with_client(client, region),
            name: config.bucket.clone(),
            shown_endpoint,
            read_timeout,
            write_timeout,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The endpoint's URL, scheme included, for messages and `--show-stats`: credentials in
    /// `SCCACHE_ENDPOINT` (`http://user:pass@host`) are masked, so no caller can show them.
    pub fn endpoint(&self) -> &str {
        &self.shown_endpoint
    }

    /// The object's bytes, or `None` when the bucket has no such object.
    pub async fn get(&self, object: &str) -> Result<Option<Vec<u8>>, BucketError> {
        let request = GetObjectRequest {
            bucket: self.name.clone(),
            key: object.to_owned(),
            ..Default::default()
        };
        let fetch = async {
            let output = match self.client.get_object(request).await {
                Ok(output) => output,
                Err(RusotoError::Service(GetObjectError::NoSuchKey(_))) => return Ok(None),
                Err(error) => {
                    return match classify(error) {
                        // An answer without a body (or another server's wording) still says
                        // 404; only a missing bucket is not a missing object.
                        BucketError::Status {
                            status: 404, code, ..
                        } if code != "NoSuchBucket" => Ok(None),
                        other => Err(other),
                    };
                }
            };
            let mut bytes = Vec::new();
            if let Some(body) = output.body {
                body.into_async_read()
                    .read_to_end(&mut bytes)
                    .await
                    .map_err(|error| BucketError::Unreachable(error.to_string()))?;
            }
            Ok(Some(bytes))
        };
        within(self.read_timeout, fetch).await
    }

    /// Stores `bytes` as the object, replacing any object of that name.
    pub async fn put(&self, object: &str, bytes: Bytes) -> Result<(), BucketError> {
        let length = bytes.len();
        let body = ByteStream::new_with_size(stream::once(async move { Ok(bytes) }), length);
        let request = PutObjectRequest {
            bucket: self.name.clone(),
            key: object.to_owned(),
            content_length: i64::try_from(length).ok(),
            body: Some(body),
            ..Default::default()
        };
        let store = async { self.client.put_object(request).await.map_err(classify) };
        within(self.write_timeout, store).await.map(|_| ())
    }

    /// Deletes the object; deleting an absent object succeeds.
    pub async fn delete(&self, object: &str) -> Result<(), BucketError> {
        let request = DeleteObjectRequest {
            bucket: self.name.clone(),
            key: object.to_owned(),
            ..Default::default()
        };
        let remove = async { self.client.delete_object(request).await.map_err(classify) };
        within(self.write_timeout, remove).await.map(|_| ())
    }

    /// Checks that the bucket exists and the credentials may use it.
    pub async fn check(&self) -> Result<(), BucketError> {
        let request = HeadBucketRequest {
            bucket: self.name.clone(),
            ..Default::default()
        };
        let head = async {
            self.client
                .head_bucket(request)
                .await
                .map_err(|error| match classify(error) {
                    // An answer to HEAD has no body to name the error; the status does.
                    BucketError::Status {
                        status,
                        code,
                        message,
                    } if code.is_empty() => {
                        let code = match status {
                            403 => "AccessDenied",
                            404 => "NoSuchBucket",
                            _ => "",
                        };
                        BucketError::Status {
                            status,
                            code: code.to_owned(),
                            message,
                        }
                    }
                    other => other,
                })
        };
        within(self.read_timeout, head).await
    }
}

/// The endpoint URL: `SCCACHE_ENDPOINT` as given when it has a scheme, else with `https://`
/// or `http://` by `SCCACHE_S3_USE_SSL`; without an endpoint, AWS's own for the region.
pub fn endpoint_url(config: &S3Config) -> String {
    let scheme = if config.use_ssl { "https" } else { "http" };
    match config
        .endpoint
        .as_deref()
        .map(|text| text.trim_end_matches('/'))
    {
        Some(endpoint) if endpoint.contains("://") => endpoint.to_owned(),
        Some(endpoint) => format!("{scheme}://{endpoint}"),
        None if config.region.starts_with("cn-") => {
            format!("{scheme}://s3.{}.amazonaws.com.cn", config.region)
        }
        None => format!("{scheme}://s3.{}.amazonaws.com", config.region),
    }
}

/// Runs `request`, turning an overrun of `limit` into `BucketError::TimedOut`.
async fn within<T>(
    limit: Duration,
    request: impl Future<Output = Result<T, BucketError>>,
) -> Result<T, BucketError> {
    tokio::time::timeout(limit, request)
        .await
        .unwrap_or(Err(BucketError::TimedOut(limit)))
}

/// Sorts a rusoto failure. An error status rusoto did not parse becomes `Status`, with the code
/// and message of S3's XML error body when there is one.
fn classify<E: std::error::Error + 'static>(error: RusotoError<E>) -> BucketError {
    match error {
        RusotoError::Service(error) => BucketError::Refused(error.to_string()),
        RusotoError::HttpDispatch(error) => BucketError::Unreachable(error.to_string()),
        RusotoError::Credentials(error) => BucketError::Credentials(error.to_string()),
        RusotoError::Unknown(response) => {
            let body = String::from_utf8_lossy(&response.body);
            BucketError::Status {
                status: response.status.as_u16(),
                code: xml_element(&body, "Code").unwrap_or_default(),
                message: xml_element(&body, "Message").unwrap_or_default(),
            }
        }
        RusotoError::Validation(text) | RusotoError::ParseError(text) => BucketError::Other(text),
        RusotoError::Blocking => BucketError::Other("rusoto could not block".into()),
    }
}

/// The text of the first `<name>` element of an S3 error body, if any.
fn xml_element(body: &str, name: &str) -> Option<String> {
    let start = body.find(&format!("<{name}>"))? + name.len() + 2;
    let length = body[start..].find(&format!("</{name}>"))?;
    Some(body[start..start + length].trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sccache_core::config::CacheMode;

    fn config(endpoint: Option<&str>, use_ssl: bool) -> S3Config {
        S3Config {
            bucket: "bucket".into(),
            region: "eu-west-1".into(),
            endpoint: endpoint.map(str::to_owned),
            use_ssl,
            key_prefix: String::new(),
            no_credentials: false,
            mode: CacheMode::ReadWrite,
        }
    }

    #[test]
    fn an_endpoint_without_a_scheme_gets_one_by_use_ssl() {
        assert_eq!(
            endpoint_url(&config(Some("minio:9000"), true)),
            "https://minio:9000"
        );
        assert_eq!(
            endpoint_url(&config(Some("minio:9000/"), false)),
            "http://minio:9000"
        );
        assert_eq!(
            endpoint_url(&config(Some("http://127.0.0.1:9000"), true)),
            "http://127.0.0.1:9000"
        );
        assert_eq!(
            endpoint_url(&config(None, true)),
            "https://s3.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn an_error_body_gives_its_code_and_message() {
        let body = "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code>\
                    <Message>The specified bucket does not exist</Message></Error>";
        assert_eq!(xml_element(body, "Code").as_deref(), Some("NoSuchBucket"));
        let error = BucketError::Status {
            status: 404,
            code: xml_element(body, "Code").unwrap(),
            message: xml_element(body, "Message").unwrap(),
        };
        assert_eq!(
            error.to_string(),
            "HTTP 404 NoSuchBucket: The specified bucket does not exist"
        );
        assert!(!error.is_transient());
        assert_eq!(xml_element("", "Code"), None);
    }

    #[test]
    fn only_timeouts_unreachable_endpoints_and_server_errors_are_transient() {
        let status = |status| BucketError::Status {
            status,
            code: String::new(),
            message: String::new(),
        };
        assert!(status(503).is_transient());
        assert!(!status(403).is_transient());
        assert!(BucketError::TimedOut(Duration::from_secs(1)).is_transient());
        assert!(BucketError::Unreachable("refused".into()).is_transient());
        assert!(!BucketError::Credentials("none".into()).is_transient());
    }
}
