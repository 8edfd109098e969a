//! `GET /sixfold/v1/instance-credentials/{instance-id}` (SigV4, signing name `sixfold`, like the
//! change feed): fresh temporary credentials for the role in the instance's IAM instance
//! profile, in the JSON shape the instance metadata service serves at
//! `iam/security-credentials/<role>`, plus `RoleName` (what IMDS lists at
//! `iam/security-credentials/`). A lab's IMDS server is the client; requests signed with the
//! credentials act as the role. Optional `?durationSeconds=N` (900 to 43200, default 21600).
//! Errors are JSON `{"message"}` with `x-amzn-ErrorType`; an instance without a profile (or
//! whose profile holds no role) is 404. docs/region.md is the reference.

use std::sync::Arc;

use axum::http::Method;
use axum::response::Response;
use region::iam::profiles::{InstanceCredentials, InstanceCredentialsError};

use crate::json_reply;
use crate::xml::iso8601;
use crate::{App, Incoming};

/// Where the endpoint lives; the instance id follows.
pub const PREFIX: &str = "/sixfold/v1/instance-credentials/";

/// The IAM action a temporary caller needs for this endpoint (on the instance's ARN).
pub const ACTION: &str = "sixfold:GetInstanceCredentials";

/// A time as IMDS writes it: `2026-11-30T20:00:00Z` (whole seconds).
fn imds_time(secs: u64) -> String {
    iso8601(secs).replace(".000Z", "Z")
}

/// The answer's JSON (the IMDS credentials document plus `RoleName`).
pub fn document(c: &InstanceCredentials, now: u64) -> serde_json::Value {
    serde_json::json!({
        "Code": "Success",
        "LastUpdated": imds_time(now),
        "Type": "AWS-HMAC",
        "AccessKeyId": c.session.access_key_id,
        "SecretAccessKey": c.session.secret_access_key,
        "Token": c.session.session_token,
        "Expiration": imds_time(c.session.expiration),
        "RoleName": c.role_name,
    })
}

fn error_reply(e: &InstanceCredentialsError) -> Response {
    let (status, kind) = match e {
        InstanceCredentialsError::NoInstance(_) => (404, "InstanceNotFound"),
        InstanceCredentialsError::NoProfile(_) => (404, "NoInstanceProfile"),
        InstanceCredentialsError::NoRole { .. } => (404, "NoRoleInInstanceProfile"),
        InstanceCredentialsError::Duration(_) => (400, "InvalidParameterException"),
        InstanceCredentialsError::Store(
            region::store::StoreError::Unavailable(_) | region::store::StoreError::Conflict { .. },
        ) => (503, "ServiceUnavailable"),
        InstanceCredentialsError::Store(_) => (500, "ServerException"),
    };
    let message = match e {
        InstanceCredentialsError::Store(_) if status == 500 => {
            tracing::error!(error = %e, "instance credentials failed inside the region");
            "An internal error occurred; please retry.".to_string()
        }
        other => other.to_string(),
    };
    json_reply::error(status, kind, &message)
}

fn duration(query: &str) -> Result<Option<u32>, Box<Response>> {
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k == "durationSeconds" {
            return v.parse().map(Some).map_err(|_| {
                Box::new(json_reply::error(
                    400,
                    "InvalidParameterException",
                    &format!(
                        "durationSeconds={:?} is not a whole number of seconds; give 900 to 43200.",
                        v.chars().take(40).collect::<String>()
                    ),
                ))
            });
        }
    }
    Ok(None)
}

/// Serve one request under [`PREFIX`].
pub async fn handle(app: Arc<App>, req: Incoming) -> Response {
    let caller = match json_reply::authenticate(&app, &req) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    if req.method != Method::GET {
        return json_reply::error(
            405,
            "InvalidRequestException",
            &format!(
                "{} {} is not served; instance credentials are read with GET {PREFIX}INSTANCE-ID",
                req.method, req.path
            ),
        );
    }
    let id = req.path.strip_prefix(PREFIX).unwrap_or("").to_string();
    let id_ok = id.len() <= 32
        && id
            .strip_prefix("i-")
            .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if !id_ok {
        return json_reply::error(
            400,
            "InvalidParameterException",
            &format!(
                "{:?} is not an instance id; give one such as {PREFIX}i-0123456789abcdef0",
                id.chars().take(40).collect::<String>()
            ),
        );
    }
    let resource = format!(
        "arn:aws:ec2:{}:{}:instance/{id}",
        app.region.config().name,
        app.region.config().account_id
    );
    if let Err(denied) = app.authorize(&caller, ACTION, &[resource]) {
        return json_reply::denied(&denied);
    }
    let duration = match duration(&req.query) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    let app2 = app.clone();
    let result = tokio::task::spawn_blocking(move || {
        app2.region
            .write(|s, env| s.issue_instance_credentials(env, &id, duration))
            .map(|c| document(&c, app2.region.now()))
    })
    .await;
    match result {
        Ok(Ok(doc)) => json_reply::ok(&doc),
        Ok(Err(e)) => error_reply(&e),
        Err(_) => json_reply::internal("ServerException"),
    }
}
