//! The lab's ELBv2 client (Query protocol, `Version=2015-12-01`, signing name
//! `elasticloadbalancing`) and the health-report call (`POST /sixfold/v1/target-health`,
//! signing name `sixfold`): what the load balancer controller and the load balancers' nodes say
//! to the region. Signed with `sigv4`, sent with `ureq` (through [`Eks`]'s signer).

use std::net::Ipv6Addr;

use ec2_client::xml::Element;

use crate::eks::{Eks, answer_message};
use crate::error::{LabError, Result};
use crate::state::RegionInfo;

/// A signed ELBv2 client for the lab's region.
#[derive(Debug, Clone)]
pub struct Elb {
    http: Eks,
}

/// One row of `DescribeTargetHealth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRow {
    pub id: String,
    pub port: u16,
    pub state: String,
    pub reason: Option<String>,
}

/// A target group's health check settings, as `DescribeTargetGroups` reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSettings {
    /// `TCP` or `HTTP`.
    pub protocol: String,
    /// `traffic-port` or a port.
    pub port: String,
    pub path: Option<String>,
    pub interval_s: u32,
    pub timeout_s: u32,
    pub healthy: u32,
    pub unhealthy: u32,
    pub matcher: Option<String>,
}

/// One verdict for [`Elb::report`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub id: String,
    pub port: u16,
    /// `healthy` or `unhealthy`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codes: Option<String>,
}

/// The `<member>` children of `<name>`.
pub fn members<'a>(e: &'a Element, name: &str) -> impl Iterator<Item = &'a Element> + 'a {
    e.child(name)
        .into_iter()
        .flat_map(|l| l.children.iter().filter(|c| c.name == "member"))
}

fn need(e: &Element, name: &str, action: &str) -> Result<String> {
    e.child_text(name)
        .map(str::to_owned)
        .ok_or_else(|| LabError::Reply {
            action: action.to_owned(),
            detail: format!("no <{name}> in <{}>", e.name),
        })
}

impl Elb {
    /// A client for the region recorded in `info`.
    pub fn connect(info: &RegionInfo) -> Result<Elb> {
        let api = crate::region::Api::connect(info)?;
        Ok(Elb {
            http: Eks::new(&info.endpoint, crate::region::REGION, api.credentials),
        })
    }

    /// One ELBv2 call; the `<ActionResult>` element, or the region's error code and message.
    pub fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<Element> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", action)
            .append_pair("Version", "2015-12-01");
        for (k, v) in params {
            form.append_pair(k, v);
        }
        let body = form.finish();
        let (status, text) = self.http.send(
            "elasticloadbalancing",
            "POST",
            "/",
            "application/x-www-form-urlencoded; charset=utf-8",
            body.as_bytes(),
        )?;
        let root = ec2_client::xml::parse(&text).map_err(|e| LabError::Elb {
            action: action.to_owned(),
            detail: format!(
                "HTTP {status}, not XML ({e}): {}",
                text.chars().take(200).collect::<String>()
            ),
        })?;
        if !(200..300).contains(&status) {
            let err = root.child("Error");
            return Err(LabError::Elb {
                action: action.to_owned(),
                detail: format!(
                    "HTTP {status} {}: {}",
                    err.and_then(|e| e.child_text("Code")).unwrap_or("?"),
                    err.and_then(|e| e.child_text("Message")).unwrap_or("")
                ),
            });
        }
        root.child(&format!("{action}Result"))
            .cloned()
            .ok_or_else(|| LabError::Reply {
                action: action.to_owned(),
                detail: format!("no <{action}Result>"),
            })
    }

    /// `DescribeTargetHealth` of group `arn`.
    pub fn target_health(&self, arn: &str) -> Result<Vec<TargetRow>> {
        let r = self.call("DescribeTargetHealth", &[("TargetGroupArn", arn)])?;
        members(&r, "TargetHealthDescriptions")
            .map(|d| {
                let t = d.child("Target").ok_or_else(|| LabError::Reply {
                    action: "DescribeTargetHealth".into(),
                    detail: "a row without <Target>".into(),
                })?;
                let h = d.child("TargetHealth");
                Ok(TargetRow {
                    id: need(t, "Id", "DescribeTargetHealth")?,
                    port: need(t, "Port", "DescribeTargetHealth")?
                        .parse()
                        .map_err(|_| LabError::Reply {
                            action: "DescribeTargetHealth".into(),
                            detail: "a port that is not a number".into(),
                        })?,
                    state: h
                        .and_then(|h| h.child_text("State"))
                        .unwrap_or("")
                        .to_owned(),
                    reason: h.and_then(|h| h.child_text("Reason")).map(str::to_owned),
                })
            })
            .collect()
    }

    /// The health check settings of group `arn`.
    pub fn check_settings(&self, arn: &str) -> Result<CheckSettings> {
        let r = self.call("DescribeTargetGroups", &[("TargetGroupArns.member.1", arn)])?;
        let g = members(&r, "TargetGroups")
            .next()
            .ok_or_else(|| LabError::Reply {
                action: "DescribeTargetGroups".into(),
                detail: format!("no target group {arn}"),
            })?;
        let num = |n: &str| -> Result<u32> {
            need(g, n, "DescribeTargetGroups")?
                .parse()
                .map_err(|_| LabError::Reply {
                    action: "DescribeTargetGroups".into(),
                    detail: format!("<{n}> is not a number"),
                })
        };
        Ok(CheckSettings {
            protocol: need(g, "HealthCheckProtocol", "DescribeTargetGroups")?,
            port: need(g, "HealthCheckPort", "DescribeTargetGroups")?,
            path: g.child_text("HealthCheckPath").map(str::to_owned),
            interval_s: num("HealthCheckIntervalSeconds")?,
            timeout_s: num("HealthCheckTimeoutSeconds")?,
            healthy: num("HealthyThresholdCount")?,
            unhealthy: num("UnhealthyThresholdCount")?,
            matcher: g
                .child("Matcher")
                .and_then(|m| m.child_text("HttpCode"))
                .map(str::to_owned),
        })
    }

    /// Register (`add`) or deregister IPv6 targets of group `arn`.
    pub fn set_targets(&self, arn: &str, targets: &[(Ipv6Addr, u16)], add: bool) -> Result<()> {
        for chunk in targets.chunks(100) {
            let mut params: Vec<(String, String)> = vec![("TargetGroupArn".into(), arn.into())];
            for (i, (ip, port)) in chunk.iter().enumerate() {
                params.push((format!("Targets.member.{}.Id", i + 1), ip.to_string()));
                params.push((format!("Targets.member.{}.Port", i + 1), port.to_string()));
            }
            let p: Vec<(&str, &str)> = params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            self.call(
                if add {
                    "RegisterTargets"
                } else {
                    "DeregisterTargets"
                },
                &p,
            )?;
        }
        Ok(())
    }

    /// Report what the health checks of group `arn` saw (`POST /sixfold/v1/target-health`).
    pub fn report(&self, arn: &str, verdicts: &[Verdict]) -> Result<serde_json::Value> {
        let body = serde_json::json!({"targetGroupArn": arn, "targets": verdicts}).to_string();
        let (status, text) = self.http.send(
            "sixfold",
            "POST",
            "/sixfold/v1/target-health",
            "application/json",
            body.as_bytes(),
        )?;
        let v: serde_json::Value =
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        if (200..300).contains(&status) {
            Ok(v)
        } else {
            Err(LabError::Elb {
                action: "POST /sixfold/v1/target-health".into(),
                detail: format!("HTTP {status}: {}", answer_message(&v)),
            })
        }
    }
}
