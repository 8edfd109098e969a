//! The JSON answers of the region's own `/sixfold/v1/` endpoints (the change feed, instance
//! credentials, target health): errors as `{"message"}` (plus any extra members) with
//! `x-amzn-ErrorType`, as the EKS API answers them, successes as a JSON body, and the two
//! refusals every one of them answers alike: a bad SigV4 signature (signing name
//! [`SIGNING_NAME`]) and a caller without the permission.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::{Caller, Denied};
use crate::{App, Incoming};

/// The SigV4 signing name of every `/sixfold/v1/` endpoint.
pub const SIGNING_NAME: &str = "sixfold";

/// The message of every 500: what went wrong is in the region's log, not in the answer.
pub(crate) const INTERNAL_MESSAGE: &str = "An internal error occurred; please retry.";

/// `{"message": message, ...extra}` with status `status` and `x-amzn-ErrorType: kind`.
pub(crate) fn json_error(
    status: u16,
    kind: &str,
    message: &str,
    extra: serde_json::Value,
) -> Response {
    let mut body = serde_json::json!({ "message": message });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::HeaderName::from_static("x-amzn-errortype"),
                kind.to_string(),
            ),
        ],
        body.to_string(),
    )
        .into_response()
}

/// [`json_error`] with the message alone.
pub(crate) fn error(status: u16, kind: &str, message: &str) -> Response {
    json_error(status, kind, message, serde_json::json!({}))
}

/// A 500 of kind `kind`, saying only [`INTERNAL_MESSAGE`].
pub(crate) fn internal(kind: &str) -> Response {
    error(500, kind, INTERNAL_MESSAGE)
}

/// A 200 with `v` as its JSON body.
pub(crate) fn ok(v: &serde_json::Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// The caller who signed `req` for [`SIGNING_NAME`], or the answer refusing the signature.
pub(crate) fn authenticate(app: &App, req: &Incoming) -> Result<Caller, Box<Response>> {
    app.authenticate(SIGNING_NAME, req)
        .map_err(|e| Box::new(error(e.ec2_status(), e.ec2_code(), &e.message())))
}

/// The answer to a caller refused by the region's authorization: 403 `AccessDeniedException`.
pub(crate) fn denied(d: &Denied) -> Response {
    error(403, "AccessDeniedException", &d.message())
}
