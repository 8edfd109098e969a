//! The region's wire protocols on one HTTP listener: EC2 Query (form POST to `/`, XML replies)
//! and, later, EKS rest-json. Every request must carry a valid SigV4 signature for the region's
//! key; the domain work runs on the blocking pool (a write fsyncs before it answers).

#![warn(missing_docs)]

pub mod auth;
pub mod authz;
pub mod awsquery;
pub mod credentials;
pub mod datadir;
pub mod ec2;
pub mod eks;
pub mod elbv2;
pub mod feed;
pub mod iam;
pub mod instance_credentials;
pub mod json_reply;
pub mod oidc;
pub mod query;
pub mod sts;
pub mod target_health;
pub mod xml;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use region::store::StoreError;
use region::{Region, RegionConfig};
use sigv4::{Credentials, HttpRequest, VerifyConfig};

/// Largest request body accepted (EC2's own limit is far above what any call here needs).
pub const MAX_BODY: usize = 1 << 20;

/// Everything a request handler needs.
pub struct App {
    /// The region (domain and store) every protocol handler serves.
    pub region: Region,
    /// The region's access key: every signed request must verify against it.
    pub credentials: Credentials,
    /// Held for the life of the server: no other `sixfold serve` uses this data dir meanwhile.
    /// `None` for an [`App::new`] region that has no data dir.
    _data_dir: Option<datadir::DataDir>,
    /// `http://ADDR` the server listens on (set by [`serve`]); the clusters' OIDC issuers are
    /// `<endpoint>/oidc/<cluster id>`.
    endpoint: std::sync::OnceLock<String>,
}

impl App {
    /// An app over a region opened by the caller, with no data dir (in-process tests).
    pub fn new(region: Region, credentials: Credentials) -> Self {
        Self {
            region,
            credentials,
            _data_dir: None,
            endpoint: std::sync::OnceLock::new(),
        }
    }

    /// Open the region stored under `data_dir` (creating it and its key on first start).
    ///
    /// Order matters: the data dir's lock is taken before the key or the store is read or
    /// made. A store that exists but cannot be read fails the start (it is never replaced by an
    /// empty one); see [`region::store::RedbStore::open`].
    pub fn open(data_dir: &Path, region_name: &str) -> Result<(Self, bool), OpenError> {
        Self::open_with(data_dir, region_name, region::store::DEFAULT_LOG_LIMIT)
    }

    /// [`App::open`], keeping the last `log_limit` commits for the change feed.
    pub fn open_with(
        data_dir: &Path,
        region_name: &str,
        log_limit: u64,
    ) -> Result<(Self, bool), OpenError> {
        let dir = datadir::DataDir::open(data_dir)?;
        let (credentials, created) = credentials::load_or_create(data_dir)?;
        let store_path = data_dir.join("region.redb");
        let store = region::store::RedbStore::open(&store_path)?.with_log_limit(log_limit);
        let region = open_region(Box::new(store), region_name).map_err(|e| match e {
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
                endpoint: std::sync::OnceLock::new(),
            },
            created,
        ))
    }
}

impl App {
    /// A region kept in a shared `store` (etcd) whose key the caller got from the store: the
    /// data dir only holds the lock and `credentials` (rewritten with that key, so a client can
    /// use any replica's file).
    pub fn with_store(
        data_dir: &Path,
        region_name: &str,
        store: Box<dyn region::store::Store>,
        credentials: Credentials,
    ) -> Result<Self, OpenError> {
        let dir = datadir::DataDir::open(data_dir)?;
        credentials::store(data_dir, &credentials)?;
        let region = open_region(store, region_name)?;
        Ok(App {
            region,
            credentials,
            _data_dir: Some(dir),
            endpoint: std::sync::OnceLock::new(),
        })
    }
}

/// The region named `region_name` kept in `store` (account 123456789012, the system clock,
/// an entropy-seeded random source).
pub fn open_region(
    store: Box<dyn region::store::Store>,
    region_name: &str,
) -> Result<Region, StoreError> {
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
    Region::open(config, store, rng, clock)
}

/// One HTTP request as the protocol handlers see it (body already read, bounded).
pub struct Incoming {
    /// The HTTP method.
    pub method: Method,
    /// The raw path (still percent-encoded).
    pub path: String,
    /// The raw query string.
    pub query: String,
    /// The request headers, as received.
    pub headers: HeaderMap,
    /// The whole request body (at most [`MAX_BODY`] bytes).
    pub body: Bytes,
    /// The client's address (for the log), when the listener knows it.
    pub remote: Option<SocketAddr>,
    /// The id this request is answered and logged under (`RequestId` / `x-amzn-RequestId`).
    pub request_id: String,
}

impl Incoming {
    /// `f` of this request as SigV4 reads it, at `path` (the raw path, or `/` where a Query
    /// service is chosen): header values that are not UTF-8 are read lossily, so they fail
    /// the signature rather than the request.
    fn with_sigv4<T>(&self, path: &str, f: impl FnOnce(&HttpRequest) -> T) -> T {
        let headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        f(&HttpRequest {
            method: self.method.as_str(),
            path,
            query: &self.query,
            headers: &headers,
            body: &self.body,
        })
    }
}

impl App {
    /// Check a request's SigV4 signature for signing name `service`, against the region's key
    /// or temporary credentials issued by STS (which need their session token and must not have
    /// expired). The one authentication check of every protocol. A refused request is logged
    /// here, as one line: the reason, the access key id it named and the client's address —
    /// never the canonical request, the signature or a header value such as
    /// `X-Amz-Security-Token`.
    pub fn authenticate(
        &self,
        service: &str,
        req: &Incoming,
    ) -> Result<auth::Caller, auth::AuthFailure> {
        let result = self.verify(service, req);
        if let Err(e) = &result {
            let key = match e {
                auth::AuthFailure::Signature(e) => e.access_key_id().map(str::to_string),
                auth::AuthFailure::ExpiredToken { access_key_id, .. }
                | auth::AuthFailure::InvalidToken { access_key_id } => Some(access_key_id.clone()),
            }
            .or_else(|| claimed_access_key(&req.headers, &req.query))
            .map(|k| {
                k.chars()
                    .take(64)
                    .flat_map(char::escape_debug)
                    .collect::<String>()
            })
            .unwrap_or_else(|| "-".into());
            let remote = req
                .remote
                .map(|a| a.to_string())
                .unwrap_or_else(|| "-".into());
            let reason = match e {
                auth::AuthFailure::Signature(e) => e.log_reason(),
                other => other.to_string(),
            };
            tracing::info!(
                service,
                reason = %reason,
                access_key_id = %key,
                remote = %remote,
                request_id = %req.request_id,
                "request refused: authentication"
            );
        }
        result
    }

    fn verify(&self, service: &str, req: &Incoming) -> Result<auth::Caller, auth::AuthFailure> {
        req.with_sigv4(&req.path, |http| self.verify_signed(service, http))
    }

    /// [`App::verify`] of the request as SigV4 reads it.
    fn verify_signed(
        &self,
        service: &str,
        http: &HttpRequest,
    ) -> Result<auth::Caller, auth::AuthFailure> {
        let session = sigv4::parse_auth(http)
            .ok()
            .filter(|a| a.access_key_id.starts_with("ASIA"))
            .and_then(|a| self.region.read().sessions.get(&a.access_key_id).cloned());
        let cfg = VerifyConfig::new(&self.region.config().name, service);
        let id = sigv4::verify(http, SystemTime::now(), &cfg, |id| {
            if id == self.credentials.access_key_id {
                Some(self.credentials.secret_access_key.clone())
            } else {
                session
                    .as_ref()
                    .filter(|s| s.access_key_id == id)
                    .map(|s| s.secret_access_key.clone())
            }
        })?;
        let account = &self.region.config().account_id;
        match session.filter(|s| s.access_key_id == id.access_key_id) {
            None => Ok(auth::Caller {
                user_id: format!(
                    "AIDA{:017X}",
                    region::eks::fnv64(&[id.access_key_id.as_bytes()])
                ),
                arn: format!("arn:aws:iam::{account}:user/sixfold"),
                access_key_id: id.access_key_id,
                role_arn: None,
            }),
            Some(s) => {
                if id.session_token.as_deref() != Some(s.session_token.as_str()) {
                    return Err(auth::AuthFailure::InvalidToken {
                        access_key_id: s.access_key_id,
                    });
                }
                if self.region.now() >= s.expiration {
                    return Err(auth::AuthFailure::ExpiredToken {
                        access_key_id: s.access_key_id,
                        expiration: s.expiration,
                    });
                }
                Ok(auth::Caller {
                    access_key_id: s.access_key_id,
                    arn: s.assumed_role_arn,
                    user_id: s.assumed_role_id,
                    role_arn: Some(s.role_arn),
                })
            }
        }
    }

    /// Whether `caller` may perform `action` (`service:Action`) on `resources` (ARNs; none
    /// means `*`): the region's own key always may; temporary credentials are evaluated against
    /// their role's policies as they are now (so attaching a policy takes effect for
    /// credentials already issued). A refusal is logged as one line.
    pub fn authorize(
        &self,
        caller: &auth::Caller,
        action: &str,
        resources: &[String],
    ) -> Result<(), auth::Denied> {
        let Some(role_arn) = &caller.role_arn else {
            return Ok(());
        };
        let decision = self
            .region
            .read()
            .authorize_role(role_arn, action, resources);
        let (resource, explicit) = match decision {
            region::iam::authz::Decision::Allow => return Ok(()),
            region::iam::authz::Decision::ImplicitDeny { resource } => (resource, false),
            region::iam::authz::Decision::ExplicitDeny { resource } => (resource, true),
        };
        tracing::info!(
            caller = %caller.arn,
            action,
            resource = %resource,
            explicit,
            "request refused: authorization"
        );
        Err(auth::Denied {
            caller: caller.arn.clone(),
            role_arn: role_arn.clone(),
            action: action.to_string(),
            resource,
            explicit,
        })
    }

    /// `http://ADDR` of this server (`http://localhost` before [`serve`] set it).
    pub fn endpoint(&self) -> &str {
        self.endpoint
            .get()
            .map(String::as_str)
            .unwrap_or("http://localhost")
    }

    /// The URL prefix of the clusters' OIDC issuers: `<endpoint>/oidc/`.
    pub fn issuer_base(&self) -> String {
        format!("{}/oidc/", self.endpoint())
    }
}

/// The access key id a request claims (`Credential=AKID/...` of `Authorization`, or
/// `X-Amz-Credential` of a presigned query), for the log only.
fn claimed_access_key(headers: &HeaderMap, query: &str) -> Option<String> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .map(|c| c.split(['/', ',', ' ']).next().unwrap_or("").to_string());
    from_header.or_else(|| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "X-Amz-Credential")
            .map(|(_, v)| v.split('/').next().unwrap_or("").to_string())
    })
}

/// Why the region could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data dir could not be created or locked.
    #[error(transparent)]
    DataDir(#[from] datadir::DataDirError),
    /// The region's key could not be read or created.
    #[error(transparent)]
    Credentials(#[from] credentials::CredentialsError),
    /// The store could not be opened or one of its rows does not parse.
    #[error(transparent)]
    Store(#[from] region::store::StoreError),
}

/// The HTTP router serving every protocol.
pub fn router(app: Arc<App>) -> Router {
    Router::new().fallback(handle).with_state(app)
}

/// Longest a client may take to send a request's headers (from its first byte, or from the
/// end of the previous reply on a kept-alive connection); then the connection is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections served at once; further clients wait in the listen backlog until a slot
/// frees (a slow client holds one for at most [`HEADER_READ_TIMEOUT`] before its request).
pub const MAX_CONNECTIONS: usize = 512;
/// How long shutdown waits for in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Bounds of the listener ([`serve_with`]); the default is what `sixfold serve` uses.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// How long a connection may take to send a request's headers before it is closed.
    pub header_read_timeout: Duration,
    /// Most connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

/// Serve until `shutdown` resolves, with the default [`ServeLimits`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, shutdown, ServeLimits::default()).await
}

/// Serve until `shutdown` resolves: HTTP/1.1 with a header read timeout and a connection cap,
/// so slow-header clients (Slowloris) cannot hold the region; each request carries the
/// client's address (`ConnectInfo<SocketAddr>`) for the log.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    limits: ServeLimits,
) -> std::io::Result<()> {
    use hyper::service::Service as _;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    if let Ok(addr) = listener.local_addr() {
        let host = if addr.ip().is_unspecified() {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
        } else {
            addr
        };
        let _ = app.endpoint.set(format!("http://{host}"));
    }
    let router = router(app);
    let max = limits.max_connections.max(1);
    let slots = Arc::new(tokio::sync::Semaphore::new(max));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let inner = TowerToHyperService::new(router.clone());
        let svc = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(remote));
            inner.call(req)
        });
        let conn = builder.serve_connection(TokioIo::new(stream), svc);
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%remote, error = %e, "connection closed");
                    }
                }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    // Wait until every connection has given its slot back (bounded by the grace period).
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all)).await;
    Ok(())
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

/// Which Query service a request to `/` is for: the credential scope's service when signed,
/// `sts` for an unsigned `AssumeRoleWithWebIdentity`, else `ec2`.
fn query_service(req: &Incoming) -> String {
    match req.with_sigv4("/", sigv4::parse_auth) {
        Ok(a) => a.service,
        Err(_) => {
            let p = query::Params::from_request(&req.method, &req.query, &req.body);
            if p.get("Action").as_deref() == Some("AssumeRoleWithWebIdentity") {
                "sts".into()
            } else {
                "ec2".into()
            }
        }
    }
}

async fn handle(State(app): State<Arc<App>>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let remote = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
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
    let req = Incoming {
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        method: parts.method,
        headers: parts.headers,
        body,
        remote,
        request_id,
    };
    // On a shared store (etcd), catch up with it first: a read sees every write acknowledged
    // before it, by any replica; an unreachable store is 503, never a stale answer.
    if app.region.is_shared() {
        let a = app.clone();
        let synced = tokio::task::spawn_blocking(move || a.region.sync())
            .await
            .unwrap_or_else(|e| Err(region::store::StoreError::Io(e.to_string())));
        if let Err(e) = synced {
            return unavailable(&req, &e);
        }
    }
    // Instance credentials for the lab's metadata service, signed for `sixfold`.
    if req.path.starts_with(instance_credentials::PREFIX) {
        return instance_credentials::handle(app, req).await;
    }
    // Load balancers' health-check verdicts, signed for `sixfold`.
    if req.path == target_health::PATH {
        return target_health::handle(app, req).await;
    }
    // The change feed: revisions, snapshot and watch, signed for `sixfold`.
    if req.path.starts_with(feed::PREFIX) {
        return feed::handle(app, req).await;
    }
    // The clusters' OIDC issuers (discovery and keys, unsigned as on AWS) and the token minting
    // endpoint.
    if let Some(r) = oidc::route(&req.method, &req.path) {
        return oidc::handle(app, r, req).await;
    }
    // Query protocols on `/`: routed by the credential scope's service (ec2, iam, sts,
    // elasticloadbalancing); an unsigned AssumeRoleWithWebIdentity goes to STS by its Action,
    // as on AWS.
    if req.path == "/" {
        match query_service(&req).as_str() {
            "iam" => return iam::handle(app, req).await,
            "sts" => return sts::handle(app, req).await,
            "elasticloadbalancing" => return elbv2::handle(app, req).await,
            _ => {}
        }
    }
    // EC2 Query: POST / (or GET / with the parameters in the query string).
    if req.path == "/" {
        let caller = match app.authenticate("ec2", &req) {
            Ok(c) => c,
            Err(e) => {
                return xml_response(ec2::error_reply(
                    e.ec2_status(),
                    e.ec2_code(),
                    &e.message(),
                    &req.request_id,
                ));
            }
        };
        let params = query::Params::from_request(&req.method, &req.query, &req.body);
        if let Err(reply) = authorize_ec2(&app, &caller, &params, &req.request_id) {
            return xml_response(reply);
        }
        let app2 = app.clone();
        let request_id = req.request_id;
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
    eks::handle(app, req).await
}

/// Authorize an EC2 request of a known action (an unknown one is answered `InvalidAction` by
/// the handler): `UnauthorizedOperation` (403) when the caller's policies refuse it.
fn authorize_ec2(
    app: &App,
    caller: &auth::Caller,
    params: &query::Params,
    request_id: &str,
) -> Result<(), ec2::Reply> {
    if caller.role_arn.is_none() {
        return Ok(());
    }
    let Some(action) = params
        .get("Action")
        .filter(|a| ec2::action_names().any(|n| n == a))
    else {
        return Ok(());
    };
    let cfg = app.region.config();
    let resources = authz::ec2(&cfg.name, &cfg.account_id, &action, params)
        .map_err(|e| ec2::error_reply(400, "InvalidParameterValue", &e.to_string(), request_id))?;
    let denied = |d: auth::Denied| {
        ec2::error_reply(403, "UnauthorizedOperation", &d.ec2_message(), request_id)
    };
    app.authorize(caller, &format!("ec2:{action}"), &resources)
        .map_err(denied)?;
    // Launching with an instance profile passes its role to the instances: `iam:PassRole` on
    // the role, as on AWS (an unknown profile is left to RunInstances' own error).
    if action == "RunInstances" {
        let profile = match (
            params.get("IamInstanceProfile.Arn"),
            params.get("IamInstanceProfile.Name"),
        ) {
            (Some(a), _) => Some(region::iam::profiles::ProfileRef::Arn(a)),
            (None, Some(n)) => Some(region::iam::profiles::ProfileRef::Name(n)),
            (None, None) => None,
        };
        let roles: Vec<String> = profile
            .and_then(|r| {
                let s = app.region.read();
                s.resolve_instance_profile(&r).map(|p| {
                    p.roles
                        .iter()
                        .map(|n| {
                            s.roles.get(n).map(|r| r.arn.clone()).unwrap_or_else(|| {
                                format!("arn:aws:iam::{}:role/{n}", cfg.account_id)
                            })
                        })
                        .collect()
                })
            })
            .unwrap_or_default();
        if !roles.is_empty() {
            app.authorize(caller, "iam:PassRole", &roles)
                .map_err(denied)?;
        }
    }
    Ok(())
}

/// 503 `ServiceUnavailable` in the protocol's own shape (EC2/IAM XML on `/`, JSON elsewhere):
/// the region's store cannot be reached; the request changed nothing and can be retried.
fn unavailable(req: &Incoming, e: &StoreError) -> Response {
    tracing::warn!(error = %e, "request refused: the region's store is unavailable");
    let message = format!("The service is unavailable: {e}. Retry the request.");
    if req.path == "/" {
        return xml_response(ec2::error_reply(
            503,
            "ServiceUnavailable",
            &message,
            &req.request_id,
        ));
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::HeaderName::from_static("x-amzn-errortype"),
                "ServiceUnavailableException".to_string(),
            ),
        ],
        serde_json::json!({ "message": message }).to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use region::store::{Change, RedbStore, Store};

    #[test]
    fn a_store_row_that_does_not_parse_refuses_the_start_naming_the_file() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("region");
        drop(App::open(&dir, "us-east-1").unwrap());
        let path = dir.join("region.redb");
        RedbStore::open(&path)
            .unwrap()
            .commit(
                &[Change {
                    table: "vpcs".into(),
                    key: "vpc-1".into(),
                    value: Some(b"not json".to_vec()),
                }],
                0,
            )
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        let err = App::open(&dir, "us-east-1")
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains(&format!(
                "the region store {} cannot be read",
                path.display()
            )) && err.contains("vpcs/vpc-1")
                && err.contains("restore it from a backup"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}
