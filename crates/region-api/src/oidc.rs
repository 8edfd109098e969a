//! The clusters' OpenID Connect issuers, served by the region at `<endpoint>/oidc/<cluster id>`:
//! `/.well-known/openid-configuration` and `/keys` (JWKS), unsigned as on AWS; and
//! `POST /sixfold/clusters/<name>/service-account-token` (signed for `eks` with the region's
//! key), which mints a service-account token as the cluster's API server would project it for
//! IRSA (`sixfold token` is its client).

use std::sync::Arc;

use axum::http::Method;
use axum::response::Response;
use region::iam::IamError;
use region::iam::jwt;
use serde_json::json;

use crate::eks::Reply;
use crate::eks::json::{decode, parse_body, required};
use crate::eks::wire::MintBody;
use crate::{App, Incoming};

/// Longest token lifetime the minting endpoint grants (the kubelet's default is 1 day).
pub const MAX_TTL: u64 = 86_400;

/// A request this module serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /oidc/{id}/.well-known/openid-configuration`: the discovery document of the cluster whose issuer id is given.
    Discovery(String),
    /// `GET /oidc/{id}/keys`: the JWKS (public signing keys) of the cluster whose issuer id is given.
    Keys(String),
    /// `POST /sixfold/clusters/{name}/service-account-token`: mint a service-account token for the named cluster.
    Mint(String),
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_end_matches('/').split('/').skip(1).collect()
}

/// The route of `method path`, if it is one of this module's.
pub fn route(method: &Method, path: &str) -> Option<Route> {
    let s = segments(path);
    match (method.as_str(), s.as_slice()) {
        ("GET", ["oidc", id, ".well-known", "openid-configuration"]) => {
            Some(Route::Discovery((*id).to_string()))
        }
        ("GET", ["oidc", id, "keys"]) => Some(Route::Keys((*id).to_string())),
        ("POST", ["sixfold", "clusters", name, "service-account-token"]) => {
            Some(Route::Mint((*name).to_string()))
        }
        _ => None,
    }
}

fn iam_reply(e: &IamError) -> Reply {
    let (status, ty) = match e {
        IamError::NoSuchEntity { .. } => (404, "ResourceNotFoundException"),
        IamError::Store(_) => (500, "ServerException"),
        _ => (400, "InvalidParameterException"),
    };
    Reply::error(status, ty, &crate::iam::message(e))
}

/// Serve one OIDC request.
pub async fn handle(app: Arc<App>, r: Route, req: Incoming) -> Response {
    let request_id = req.request_id.clone();
    if let Route::Mint(cluster) = &r {
        let caller = match app.authenticate("eks", &req) {
            Ok(c) => c,
            Err(e) => {
                return Reply::error(e.eks_status(), e.eks_error_type(), &e.message())
                    .into_response(&request_id);
            }
        };
        let cfg = app.region.config();
        let arn = format!(
            "arn:aws:eks:{}:{}:cluster/{cluster}",
            cfg.name, cfg.account_id
        );
        if let Err(d) = app.authorize(&caller, "sixfold:MintServiceAccountToken", &[arn]) {
            return Reply::error(403, "AccessDeniedException", &d.message())
                .into_response(&request_id);
        }
    }
    let app2 = app.clone();
    let body = req.body;
    match tokio::task::spawn_blocking(move || run(&app2, r, &body)).await {
        Ok(reply) => reply.into_response(&request_id),
        Err(_) => Reply::error(500, "ServerException", "An internal error occurred.")
            .into_response(&request_id),
    }
}

fn run(app: &App, r: Route, body: &[u8]) -> Reply {
    match r {
        Route::Discovery(id) => {
            let Some(_) = app.region.read().cluster_by_id(&id).cloned() else {
                return not_found(&id);
            };
            let issuer = format!("{}{id}", app.issuer_base());
            Reply::ok(json!({
                "issuer": issuer,
                "jwks_uri": format!("{issuer}/keys"),
                "authorization_endpoint": "urn:kubernetes:programmatic_authorization",
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "claims_supported": ["sub", "iss"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }))
        }
        Route::Keys(id) => {
            let Some(c) = app.region.read().cluster_by_id(&id).cloned() else {
                return not_found(&id);
            };
            match app
                .region
                .write(|s, env| s.cluster_signing_key(env, &c.name))
            {
                Ok(k) => Reply::ok(json!({"keys": [jwt::jwk(&k)]})),
                Err(e) => iam_reply(&e),
            }
        }
        Route::Mint(name) => match mint(app, &name, body) {
            Ok(v) => Reply::ok(v),
            Err(e) => iam_reply(&e),
        },
    }
}

fn not_found(id: &str) -> Reply {
    Reply::error(
        404,
        "ResourceNotFoundException",
        &format!("No cluster has id {id}; the issuer is identity.oidc.issuer of describe-cluster."),
    )
}

fn mint(app: &App, name: &str, body: &[u8]) -> Result<serde_json::Value, IamError> {
    let bad = |e: region::eks::EksError| IamError::validation(e.to_string());
    let v = parse_body(body).map_err(bad)?;
    let b: MintBody = decode(&v).map_err(bad)?;
    let ns = b.namespace.unwrap_or_else(|| "default".into());
    let sa = required(b.service_account, "serviceAccount").map_err(bad)?;
    let aud = b.audience.unwrap_or_else(|| "sts.amazonaws.com".into());
    let ttl = u64::from(b.expiration_seconds.unwrap_or(3600));
    let label_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 253
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b))
    };
    if !label_ok(&ns) || !label_ok(&sa) {
        return Err(IamError::validation(format!(
            "namespace {ns} / serviceAccount {sa}: Kubernetes names are lower-case letters, digits, '-' and '.'."
        )));
    }
    if !(1..=MAX_TTL).contains(&ttl) {
        return Err(IamError::validation(format!(
            "expirationSeconds {ttl}: give 1 to {MAX_TTL}."
        )));
    }
    let id = app
        .region
        .read()
        .clusters
        .get(name)
        .map(|c| c.id.clone())
        .ok_or_else(|| IamError::no_such(format!("No cluster found for name: {name}.")))?;
    let issuer = format!("{}{id}", app.issuer_base());
    let token = app
        .region
        .write(|s, env| s.mint_service_account_token(env, name, &issuer, &ns, &sa, &aud, ttl))?;
    Ok(json!({"token": token, "issuer": issuer}))
}
