//! STS over the Query protocol (signing name `sts`, `Version=2011-06-15`): `GetCallerIdentity`
//! (signed) and `AssumeRoleWithWebIdentity` (unsigned, as on AWS: the web identity token is the
//! credential). One action table ([`ACTIONS`]).

use std::sync::Arc;

use axum::response::Response;
use region::iam::IamError;
use region::iam::sts::AssumeRoleWithWebIdentity;

use crate::auth::Caller;
use crate::awsquery;
use crate::iam::{check_limits, code, message, required, seconds};
use crate::query::Params;
use crate::xml::{Xml, iso8601};
use crate::{App, Incoming};

/// The XML namespace of every STS reply (API version 2011-06-15).
pub const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// An action: the result XML, given the signed caller (`None` for an unsigned request).
type Action = fn(&App, &Params, Option<&Caller>) -> Result<String, IamError>;

/// Every STS action served; `true`: the action is called unsigned.
pub const ACTIONS: &[(&str, bool, Action)] = &[
    ("GetCallerIdentity", false, get_caller_identity),
    (
        "AssumeRoleWithWebIdentity",
        true,
        assume_role_with_web_identity,
    ),
];

/// Serve one STS Query request.
pub async fn handle(app: Arc<App>, req: Incoming) -> Response {
    let request_id = req.request_id.clone();
    let params = Params::from_request(&req.method, &req.query, &req.body);
    if let Err(e) = check_limits(&params) {
        let (status, c) = code(&e);
        return awsquery::error(XMLNS, status, c, &message(&e), &request_id);
    }
    let action = params.get("Action").unwrap_or_default();
    let Some((name, unsigned, f)) = ACTIONS.iter().find(|(n, _, _)| *n == action) else {
        let served: Vec<&str> = ACTIONS.iter().map(|(n, _, _)| *n).collect();
        return awsquery::error(
            XMLNS,
            400,
            "InvalidAction",
            &format!(
                "The action {} is not valid for this endpoint; STS here serves {}.",
                action.chars().take(100).collect::<String>(),
                served.join(", ")
            ),
            &request_id,
        );
    };
    let signed = req.headers.contains_key(axum::http::header::AUTHORIZATION)
        || req.query.contains("X-Amz-Signature");
    let caller = if *unsigned && !signed {
        None
    } else {
        match app.authenticate("sts", &req) {
            Ok(c) => Some(c),
            Err(e) => return awsquery::auth_error(XMLNS, &e, &request_id),
        }
    };
    let app2 = app.clone();
    let f = *f;
    let result = tokio::task::spawn_blocking(move || f(&app2, &params, caller.as_ref())).await;
    match result {
        Ok(Ok(r)) => awsquery::ok(XMLNS, name, Some(r), &request_id),
        Ok(Err(e)) => {
            let (status, c) = code(&e);
            awsquery::error(XMLNS, status, c, &message(&e), &request_id)
        }
        Err(_) => awsquery::error(
            XMLNS,
            500,
            "InternalFailure",
            "An internal error occurred; please retry.",
            &request_id,
        ),
    }
}

fn get_caller_identity(
    app: &App,
    _p: &Params,
    caller: Option<&Caller>,
) -> Result<String, IamError> {
    let c = caller.ok_or_else(|| IamError::validation("GetCallerIdentity must be signed."))?;
    let mut x = Xml::new();
    x.leaf("UserId", &c.user_id)
        .leaf("Account", &app.region.config().account_id)
        .leaf("Arn", &c.arn);
    Ok(x.finish())
}

fn assume_role_with_web_identity(
    app: &App,
    p: &Params,
    _caller: Option<&Caller>,
) -> Result<String, IamError> {
    let req = AssumeRoleWithWebIdentity {
        role_arn: required(p, "RoleArn")?,
        session_name: required(p, "RoleSessionName")?,
        token: required(p, "WebIdentityToken")?,
        duration: seconds(
            p,
            "DurationSeconds",
            "give a whole number of seconds (900 to the role's MaxSessionDuration)",
        )?,
    };
    let own = app.issuer_base();
    let a = app
        .region
        .write(|s, env| s.assume_role_with_web_identity(env, &own, req.clone()))?;
    let mut x = Xml::new();
    x.open("Credentials")
        .leaf("AccessKeyId", &a.session.access_key_id)
        .leaf("SecretAccessKey", &a.session.secret_access_key)
        .leaf("SessionToken", &a.session.session_token)
        .leaf("Expiration", iso8601(a.session.expiration))
        .close("Credentials")
        .leaf("SubjectFromWebIdentityToken", &a.subject)
        .open("AssumedRoleUser")
        .leaf("Arn", &a.session.assumed_role_arn)
        .leaf("AssumedRoleId", &a.session.assumed_role_id)
        .close("AssumedRoleUser")
        .leaf("Provider", &a.provider)
        .leaf("Audience", &a.audience);
    Ok(x.finish())
}
