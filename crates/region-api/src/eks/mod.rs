//! The EKS API: rest-json (signing name `eks`) on every path but `/`. A request is verified
//! (SigV4), routed on method and path, its JSON body read member by member, run on the region,
//! and answered as botocore's model says; errors carry `x-amzn-ErrorType` and `{"message"}`.

pub(crate) mod error;
pub(crate) mod json;
pub(crate) mod limits;
pub(crate) mod ops;
pub(crate) mod render;
pub(crate) mod wire;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use region::eks::EksError;

use crate::{App, Incoming};

/// An EKS answer before it is put on the wire.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status of the answer.
    pub status: u16,
    /// The JSON body: the operation's output, or `{"message": ...}` for an error.
    pub body: serde_json::Value,
    /// `x-amzn-ErrorType` of an error answer.
    pub error_type: Option<&'static str>,
}

impl Reply {
    /// A 200 answer with `body`.
    pub fn ok(body: serde_json::Value) -> Self {
        Reply {
            status: 200,
            body,
            error_type: None,
        }
    }

    /// An error answer: `status`, `x-amzn-ErrorType: error_type` and `{"message": message}`.
    pub fn error(status: u16, error_type: &'static str, message: &str) -> Self {
        Reply {
            status,
            body: serde_json::json!({ "message": message }),
            error_type: Some(error_type),
        }
    }

    /// The wire form of a domain error (the one mapping lives in [`error`]).
    pub fn from_domain(e: &EksError, request_id: &str) -> Self {
        let (status, ty) = error::code(e);
        if status >= 500 {
            tracing::error!(error = %e, request_id, "EKS request failed inside the region");
        }
        Reply::error(status, ty, &error::message(e))
    }

    /// The HTTP response: JSON body, `x-amzn-RequestId` and, for an error, `x-amzn-ErrorType`.
    pub fn into_response(self, request_id: &str) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(v) = HeaderValue::from_str(request_id) {
            headers.insert(HeaderName::from_static("x-amzn-requestid"), v);
        }
        if let Some(t) = self.error_type {
            headers.insert(
                HeaderName::from_static("x-amzn-errortype"),
                HeaderValue::from_static(t),
            );
        }
        (status, headers, self.body.to_string()).into_response()
    }
}

/// Serve one EKS request. `path` and `query` are the raw wire forms (still percent-encoded).
pub async fn handle(app: Arc<App>, req: Incoming) -> Response {
    let caller = match app.authenticate("eks", &req) {
        Ok(c) => c,
        Err(e) => {
            return Reply::error(e.eks_status(), e.eks_error_type(), &e.message())
                .into_response(&req.request_id);
        }
    };
    let Incoming {
        method,
        path,
        query,
        body,
        request_id,
        ..
    } = req;
    let route = match ops::Route::parse(&method, &path) {
        Ok(r) => r,
        Err(reply) => return reply.into_response(&request_id),
    };
    let cfg = app.region.config();
    let (op, resources) = crate::authz::eks(&cfg.name, &cfg.account_id, &route);
    if let Err(d) = app.authorize(&caller, &format!("eks:{op}"), &resources) {
        return Reply::error(403, "AccessDeniedException", &d.message()).into_response(&request_id);
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let app2 = app.clone();
    let rid = request_id.clone();
    let reply = tokio::task::spawn_blocking(move || {
        let issuer_base = app2.issuer_base();
        ops::run(&app2.region, route, &params, &body, &rid, &issuer_base)
    })
    .await;
    match reply {
        Ok(r) => r.into_response(&request_id),
        Err(e) => {
            tracing::error!(error = %e, "EKS handler panicked");
            Reply::error(
                500,
                "ServerException",
                "An internal error occurred; please retry.",
            )
            .into_response(&request_id)
        }
    }
}
