//! `POST /sixfold/v1/target-health` (SigV4, signing name `sixfold`): a load balancer reports
//! what its health checks saw, so `DescribeTargetHealth` answers `healthy` / `unhealthy` with
//! AWS's reason codes. sixfold-specific (AWS's load balancers report inside AWS); the lab's load
//! balancer daemons are its client. Body (JSON, at most the region's body limit):
//!
//! ```json
//! {"targetGroupArn": "arn:aws:elasticloadbalancing:...:targetgroup/web/0123456789abcdef",
//!  "targets": [{"id": "2001:db8::1", "port": 8080, "state": "healthy"},
//!              {"id": "2001:db8::2", "port": 8080, "state": "unhealthy",
//!               "reason": "Target.ResponseCodeMismatch", "codes": "404"}]}
//! ```
//!
//! Answer: `{"changed": N, "unchanged": N, "notRegistered": N}`. Errors are JSON `{"message"}`
//! with `x-amzn-ErrorType` carrying the ELBv2 error code (`ValidationError`,
//! `TargetGroupNotFound`); a refused report stores nothing. docs/region.md is the reference.

use std::sync::Arc;

use axum::http::Method;
use axum::response::Response;
use region::elb::ElbError;
use region::elb::health::HealthReport;
use region::elb::model::{HealthReason, ProbedHealth};
use serde::Deserialize;

use crate::json_reply;
use crate::{App, Incoming};

/// The route.
pub const PATH: &str = "/sixfold/v1/target-health";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Body {
    target_group_arn: String,
    targets: Vec<Verdict>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Verdict {
    id: String,
    port: u16,
    state: String,
    reason: Option<String>,
    codes: Option<String>,
}

fn bad(message: String) -> String {
    message
}

/// The report in `body`, or the `ValidationError` message naming what is wrong.
fn parse(body: &[u8]) -> Result<(String, Vec<HealthReport>), String> {
    let b: Body = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "The body is not a health report ({e}); send {{\"targetGroupArn\": \"arn:...\", \"targets\": [{{\"id\": \"2001:db8::1\", \"port\": 8080, \"state\": \"healthy\"}}]}}."
        ))
    })?;
    let mut out = Vec::with_capacity(b.targets.len());
    for v in b.targets {
        let healthy = match v.state.as_str() {
            "healthy" => true,
            "unhealthy" => false,
            other => {
                return Err(bad(format!(
                    "Invalid value '{}' for state of target '{}'. Report healthy or unhealthy.",
                    other.chars().take(40).collect::<String>(),
                    v.id.chars().take(64).collect::<String>()
                )));
            }
        };
        let reason = match v.reason.as_deref() {
            None => None,
            Some(r) => Some(HealthReason::parse(r).ok_or_else(|| {
                bad(format!(
                    "Invalid value '{}' for reason. Use one of {}.",
                    r.chars().take(40).collect::<String>(),
                    HealthReason::choices()
                ))
            })?),
        };
        out.push(HealthReport {
            id: v.id,
            port: v.port,
            health: ProbedHealth {
                healthy,
                reason,
                codes: v.codes,
            },
        });
    }
    Ok((b.target_group_arn, out))
}

fn domain_error(e: &ElbError) -> Response {
    let (status, code) = crate::elbv2::error::code(e);
    json_reply::error(status, code, &crate::elbv2::error::message(e))
}

/// Serve `POST /sixfold/v1/target-health`.
pub async fn handle(app: Arc<App>, req: Incoming) -> Response {
    let caller = match json_reply::authenticate(&app, &req) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    // Temporary credentials need an explicit permission (see crate::authz).
    if let Err(d) = app.authorize(&caller, "sixfold:ReportTargetHealth", &[]) {
        return json_reply::denied(&d);
    }
    if req.method != Method::POST {
        return json_reply::error(
            405,
            "InvalidRequestException",
            &format!(
                "{} {PATH} is not served; report health with POST",
                req.method
            ),
        );
    }
    let (arn, reports) = match parse(&req.body) {
        Ok(p) => p,
        Err(m) => return json_reply::error(400, "ValidationError", &m),
    };
    let a = app.clone();
    let done = tokio::task::spawn_blocking(move || {
        a.region
            .write(|s, _| s.report_target_health(&arn, &reports))
    })
    .await;
    match done {
        Ok(Ok(o)) => json_reply::ok(&serde_json::json!({
            "changed": o.changed,
            "unchanged": o.unchanged,
            "notRegistered": o.not_registered,
        })),
        Ok(Err(e)) => domain_error(&e),
        Err(_) => json_reply::internal("InternalFailure"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_parsed_and_bad_ones_name_the_value() {
        let (arn, r) = parse(br#"{"targetGroupArn":"a","targets":[{"id":"2001:db8::1","port":80,"state":"unhealthy","reason":"Target.ResponseCodeMismatch","codes":"404"}]}"#).unwrap();
        assert_eq!(arn, "a");
        assert_eq!(r[0].health.reason, Some(HealthReason::ResponseCodeMismatch));
        assert_eq!(r[0].health.codes.as_deref(), Some("404"));
        for (body, needle) in [
            (&br#"{"targetGroupArn":"a","targets":[{"id":"x","port":80,"state":"sick"}]}"#[..], "'sick'"),
            (br#"{"targetGroupArn":"a","targets":[{"id":"x","port":80,"state":"unhealthy","reason":"Nope"}]}"#, "'Nope'"),
            (br#"{"targetGroupArn":"a","targets":[],"extra":1}"#, "extra"),
            (br#"{"targetGroupArn":"a","targets":[{"id":"x","port":70000,"state":"healthy"}]}"#, "70000"),
        ] {
            let m = parse(body).err().unwrap();
            assert!(m.contains(needle), "{m}");
        }
    }
}
