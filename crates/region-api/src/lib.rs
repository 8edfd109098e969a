//! The region's wire protocols on one HTTP listener: EC2 Query (form POST to `/`, XML replies)
//! and, later, EKS rest-json. Every request must carry a valid SigV4 signature for the region's
//! key; the domain work runs on the blocking pool (a write fsyncs before it answers).

pub mod credentials;
pub mod datadir;
pub mod ec2;
pub mod eks;
pub mod query;
pub mod xml;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use region::store::StoreError;
use region::{Region, RegionConfig};
use sigv4::{Credentials, HttpRequest, VerifyConfig};

/// Largest request body accepted (EC2's own limit is far above what any call here needs).
pub const MAX_BODY: usize = 1 << 20;

/// Everything a request handler needs.
pub struct App {
    pub region: Region,
    pub credentials: Credentials,
    /// Held for the life of the server: no other `sixfold serve` uses this data dir meanwhile.
    /// `None` for an [`App::new`] region that has no data dir.
    _data_dir: Option<datadir::DataDir>,
}

impl App {
    /// An app over a region opened by the caller, with no data dir (in-process tests).
    pub fn new(region: Region, credentials: Credentials) -> Self {
        Self {
            region,
            credentials,
            _data_dir: None,
        }
    }

    /// Open the region stored under `data_dir` (creating it and its key on first start).
    ///
    /// Order matters: the data dir's lock is taken before the key or the store is read or
    /// made. A store that exists but cannot be read fails the start (it is never replaced by an
    /// empty one); see [`region::store::RedbStore::open`].
    pub fn open(data_dir: &Path, region_name: &str) -> Result<(Self, bool), OpenError> {
        let dir = datadir::DataDir::open(data_dir)?;
        let (credentials, created) = credentials::load_or_create(data_dir)?;
        let store_path = data_dir.join("region.redb");
        let store = region::store::RedbStore::open(&store_path)?;
        let config = RegionConfig {
            name: region_name.to_string(),
            account_id: "123456789012".into(),
        };
        let rng: Box<dyn rand::RngCore + Send> =
            Box::new(<rand::rngs::StdRng as rand::SeedableRng>::from_entropy());
        let clock = Box::new(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
        let region = Region::open(config, Box::new(store), rng, clock).map_err(|e| match e {
            // Rows that do not load mean the file is damaged as surely as a bad header does.
            e @ (StoreError::Corrupt { .. } | StoreError::Io(_)) => StoreError::Unreadable {
                path: store_path.clone(),
                reason: e.to_string(),
            },
            e => e,
        })?;
        Ok((
            App {
                region,
                credentials,
                _data_dir: Some(dir),
            },
            created,
        ))
    }
}

impl App {
    /// Check a request's SigV4 signature against the region's key, for signing name `service`.
    /// `path` and `query` are the raw wire forms. The one authentication check of every protocol.
    pub fn authenticate(
        &self,
        service: &str,
        method: &Method,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<sigv4::VerifiedIdentity, sigv4::AuthError> {
        let hs: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let req = HttpRequest {
            method: method.as_str(),
            path,
            query,
            headers: &hs,
            body,
        };
        let cfg = VerifyConfig::new(&self.region.config().name, service);
        sigv4::verify(&req, SystemTime::now(), &cfg, |id| {
            (id == self.credentials.access_key_id)
                .then(|| self.credentials.secret_access_key.clone())
        })
    }
}

/// Why the region could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    DataDir(#[from] datadir::DataDirError),
    #[error(transparent)]
    Credentials(#[from] credentials::CredentialsError),
    #[error(transparent)]
    Store(#[from] region::store::StoreError),
}

/// The HTTP router serving every protocol.
pub fn router(app: Arc<App>) -> Router {
    Router::new().fallback(handle).with_state(app)
}

/// Serve until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

fn xml_response(reply: ec2::Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "text/xml;charset=UTF-8")],
        reply.body,
    )
        .into_response()
}

/// Most bytes read (and dropped) from an oversized request before answering 413, so a client
/// that sends its whole body before reading gets the answer rather than a broken pipe.
const DRAIN_LIMIT: usize = 16 << 20;

/// The request body, or `None` when it is larger than [`MAX_BODY`] (it is then drained up to
/// [`DRAIN_LIMIT`] and dropped).
async fn read_body(mut body: Body) -> Option<Bytes> {
    use http_body_util::BodyExt;
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return None };
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen <= MAX_BODY {
                buf.extend_from_slice(&data);
            } else if seen > DRAIN_LIMIT {
                return None;
            }
        }
    }
    (seen <= MAX_BODY).then(|| Bytes::from(buf))
}

async fn handle(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = app.region.request_id();
    let body: Bytes = match read_body(body).await {
        Some(b) => b,
        None => {
            return xml_response(ec2::error_reply(
                413,
                "RequestEntityTooLarge",
                &format!(
                    "The request body is larger than {MAX_BODY} bytes; send fewer items per call."
                ),
                &request_id,
            ));
        }
    };
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    // IAM Query (roles for the IPv6 CNI policy rule): POST / signed for `iam`.
    if path == "/" && eks::iam::is_iam(&headers) {
        return eks::iam::handle(app, method, path, query, headers, body, request_id).await;
    }
    // EC2 Query: POST / (or GET / with the parameters in the query string).
    if path == "/" {
        if let Err(e) = app.authenticate("ec2", &method, &path, &query, &headers, &body) {
            tracing::info!(error = %e, "EC2 request refused: authentication");
            return xml_response(ec2::error_reply(
                e.ec2_status(),
                e.ec2_code(),
                &e.message(),
                &request_id,
            ));
        }
        let params = query::Params::from_request(&method, &query, &body);
        let app2 = app.clone();
        let reply = tokio::task::spawn_blocking(move || {
            ec2::handle(
                &app2.region,
                app2.credentials.secret_access_key.as_bytes(),
                &params,
                &request_id,
            )
        })
        .await;
        return match reply {
            Ok(r) => xml_response(r),
            Err(e) => {
                tracing::error!(error = %e, "EC2 handler panicked");
                xml_response(ec2::error_reply(
                    500,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                    "unknown",
                ))
            }
        };
    }
    // EKS rest-json: every other path.
    eks::handle(app, method, path, query, headers, body, request_id).await
}
