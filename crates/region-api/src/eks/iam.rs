//! IAM roles over IAM's Query protocol (signing name `iam`, `Version=2010-05-08`), as far as
//! the IPv6 rules need them: `CreateRole`, `PutRolePolicy`, `GetRole`. The region keeps each
//! role's `Allow` statements and checks the VPC CNI's IPv6 policy against them.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use region::Region;
use region::eks::EksError;
use region::eks::model::Role;

use crate::query::Params;
use crate::xml::{Xml, iso8601};
use crate::{App, Incoming};

pub const XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// Whether a request to `/` is signed for IAM (rather than EC2).
pub fn is_iam(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("/iam/aws4_request"))
}

fn xml(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

fn error_xml(status: u16, code: &str, message: &str, request_id: &str) -> Response {
    let mut x = Xml::new();
    x.open("Error")
        .leaf("Type", if status >= 500 { "Receiver" } else { "Sender" })
        .leaf("Code", code)
        .leaf("Message", message)
        .close("Error")
        .leaf("RequestId", request_id);
    xml(
        status,
        format!(
            "<ErrorResponse xmlns=\"{XMLNS}\">{}</ErrorResponse>",
            x.finish()
        ),
    )
}

fn ok_xml(action: &str, inner: String, request_id: &str) -> Response {
    xml(
        200,
        format!(
            "<{action}Response xmlns=\"{XMLNS}\">{inner}<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
        ),
    )
}

fn role_xml(x: &mut Xml, r: &Role) {
    x.open("Role")
        .leaf("Path", "/")
        .leaf("RoleName", &r.name)
        .leaf(
            "RoleId",
            format!("AROA{}", r.name.len() * 7919 % 1_000_000_007),
        )
        .leaf("Arn", &r.arn)
        .leaf("CreateDate", iso8601(r.created_at))
        .close("Role");
}

/// Serve one IAM Query request.
pub async fn handle(app: Arc<App>, req: Incoming) -> Response {
    let request_id = req.request_id.clone();
    if let Err(e) = app.authenticate("iam", &req) {
        return error_xml(e.ec2_status(), e.ec2_code(), &e.message(), &request_id);
    }
    let params = Params::from_request(&req.method, &req.query, &req.body);
    if let Err(e) = super::limits::check_iam(&params) {
        let (status, code) = super::error::iam_code(&e);
        return error_xml(status, code, &super::error::message(&e), &request_id);
    }
    let app2 = app.clone();
    let rid = request_id.clone();
    match tokio::task::spawn_blocking(move || run(&app2.region, &params, &rid)).await {
        Ok(r) => r,
        Err(_) => error_xml(
            500,
            "ServiceFailure",
            "An internal error occurred; please retry.",
            &request_id,
        ),
    }
}

fn required(p: &Params, name: &'static str) -> Result<String, EksError> {
    p.get(name)
        .ok_or(EksError::MissingParameter { member: name })
}

fn run(region: &Region, p: &Params, request_id: &str) -> Response {
    let action = p.get("Action").unwrap_or_default();
    let result = (|| -> Result<Response, EksError> {
        match action.as_str() {
            "CreateRole" => {
                let name = required(p, "RoleName")?;
                required(p, "AssumeRolePolicyDocument")?;
                let r = region.write(|s, env| s.create_role(env, &name))?;
                let mut x = Xml::new();
                x.open("CreateRoleResult");
                role_xml(&mut x, &r);
                x.close("CreateRoleResult");
                Ok(ok_xml("CreateRole", x.finish(), request_id))
            }
            "GetRole" => {
                let name = required(p, "RoleName")?;
                let r = region
                    .read()
                    .roles
                    .get(&name)
                    .cloned()
                    .ok_or(EksError::RoleNotFound { name })?;
                let mut x = Xml::new();
                x.open("GetRoleResult");
                role_xml(&mut x, &r);
                x.close("GetRoleResult");
                Ok(ok_xml("GetRole", x.finish(), request_id))
            }
            "PutRolePolicy" => {
                let name = required(p, "RoleName")?;
                let policy = required(p, "PolicyName")?;
                let doc = required(p, "PolicyDocument")?;
                region.write(|s, _| s.put_role_policy(&name, &policy, &doc))?;
                Ok(ok_xml("PutRolePolicy", String::new(), request_id))
            }
            other => Ok(error_xml(
                400,
                "InvalidAction",
                &format!(
                    "The action {other} is not valid for this endpoint; IAM here serves CreateRole, GetRole and PutRolePolicy."
                ),
                request_id,
            )),
        }
    })();
    match result {
        Ok(r) => r,
        Err(e) => {
            let (status, code) = super::error::iam_code(&e);
            error_xml(status, code, &super::error::message(&e), request_id)
        }
    }
}
