//! Load balancers in the lab: the lab plays the AWS Load Balancer Controller. `sixfold service
//! expose NAME --type LoadBalancer` creates, through the region's ELBv2 API, a dualstack load
//! balancer, an IPv6 `ip` target group and a listener ([`expose`]); each load balancer is a
//! namespace on the VPC router with an ENI's IPv4 and IPv6 from its subnet and, when
//! internet-facing, a public IPv4 mapped by the internet gateway ([`net`]). Inside it runs
//! `sixfold lab-lb` ([`daemon`]): it forwards TCP (NLB) or proxies HTTP with `X-Forwarded-For`
//! (ALB) to the healthy targets, health-checks every target per the group's settings and reports
//! the verdicts to the region, where `DescribeTargetHealth` shows them. [`sync`] keeps each
//! group's targets equal to its service's pods. [`plan`] is the pure part; [`api`] the client.

pub mod api;
pub mod daemon;
pub mod expose;
pub mod matrix;
pub mod net;
pub mod plan;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::state::LabState;

pub use expose::{ExposeRequest, expose};

/// One registered target, as last read from `DescribeTargetHealth`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub ip: Ipv6Addr,
    pub port: u16,
    /// The pod with this address (empty if none of the lab's pods has it).
    pub pod: String,
    /// `initial`, `healthy`, `unhealthy`, ...
    pub state: String,
    /// The AWS reason code, if any.
    pub reason: Option<String>,
}

/// One load balancer of the lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancerInfo {
    /// The ELBv2 name.
    pub name: String,
    /// The service it exposes (namespace `default`).
    pub service: String,
    pub kind: plan::Kind,
    /// `internet-facing` or `internal`.
    pub scheme: String,
    pub arn: String,
    pub dns_name: String,
    pub target_group_arn: String,
    pub listener_arn: String,
    /// The listener's port and the targets' port.
    pub port: u16,
    pub target_port: u16,
    /// Its namespace and the router's interface towards it.
    pub netns: String,
    pub router_if: String,
    /// The ENI standing for the load balancer's node, and its subnet.
    pub eni: String,
    pub subnet: String,
    pub ipv4: Ipv4Addr,
    /// The public IPv4 (internet-facing only).
    pub public_ipv4: Option<Ipv4Addr>,
    pub ipv6: Ipv6Addr,
    pub targets: Vec<TargetInfo>,
}

impl LoadBalancerInfo {
    /// Whether reachable from the internet.
    pub fn internet_facing(&self) -> bool {
        self.scheme == "internet-facing"
    }
}

/// Whether pod `pod` belongs to service `service`: one of the service's backends (as `up` made
/// it), or named `<service>-...` (`sixfold pod run web1-extra` joins `web1`: the lab's stand-in
/// for a label selector).
pub fn selects(state: &LabState, service: &str, pod: &str) -> bool {
    state
        .services
        .iter()
        .any(|s| s.name == service && s.backends.iter().any(|b| b == pod))
        || pod
            .strip_prefix(service)
            .is_some_and(|rest| rest.starts_with('-'))
}

/// The targets load balancer `lb` should have: the IPv6 of every pod of its service that the
/// lab runs (Fargate pods included: `ip` targets), on the target port.
pub fn desired(state: &LabState, lb: &LoadBalancerInfo) -> BTreeSet<(Ipv6Addr, u16)> {
    state
        .pods
        .iter()
        .filter(|p| selects(state, &lb.service, &p.name))
        .map(|p| (p.ipv6, lb.target_port))
        .collect()
}

/// What [`sync`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub registered: usize,
    pub deregistered: usize,
}

/// Bring every load balancer's target group to its service's pods (register the new,
/// deregister the gone) and record each target's health in `state`. Idempotent; with nothing
/// to change it makes one `DescribeTargetHealth` call per load balancer and writes nothing to
/// the region. Call it with the state locked (`LabState::update`) and save afterwards.
pub fn sync(state: &mut LabState) -> Result<SyncReport> {
    let mut report = SyncReport::default();
    if state.load_balancers.is_empty() {
        return Ok(report);
    }
    let Some(info) = state.region.clone() else {
        return Ok(report);
    };
    let elb = api::Elb::connect(&info)?;
    for i in 0..state.load_balancers.len() {
        let lb = state.load_balancers[i].clone();
        let rows = elb.target_health(&lb.target_group_arn)?;
        let have: BTreeSet<(Ipv6Addr, u16)> = rows
            .iter()
            .filter_map(|r| r.id.parse().ok().map(|ip| (ip, r.port)))
            .collect();
        let want = desired(state, &lb);
        let (add, remove) = plan::diff(&have, &want);
        if !add.is_empty() {
            elb.set_targets(&lb.target_group_arn, &add, true)?;
        }
        if !remove.is_empty() {
            elb.set_targets(&lb.target_group_arn, &remove, false)?;
        }
        report.registered += add.len();
        report.deregistered += remove.len();
        let rows = if add.is_empty() && remove.is_empty() {
            rows
        } else {
            elb.target_health(&lb.target_group_arn)?
        };
        let targets = rows
            .into_iter()
            .filter_map(|r| {
                let ip: Ipv6Addr = r.id.parse().ok()?;
                Some(TargetInfo {
                    pod: state
                        .pods
                        .iter()
                        .find(|p| p.ipv6 == ip)
                        .map(|p| p.name.clone())
                        .unwrap_or_default(),
                    ip,
                    port: r.port,
                    state: r.state,
                    reason: r.reason,
                })
            })
            .collect();
        state.load_balancers[i].targets = targets;
    }
    Ok(report)
}

/// `status --output json`'s `load_balancers`: each load balancer with its DNS name, public
/// IPv4, IPv6, listener and targets (with the health last read from the region).
pub fn status_json(s: &LabState) -> serde_json::Value {
    serde_json::Value::Array(
        s.load_balancers
            .iter()
            .map(|l| {
                serde_json::json!({
                    "name": l.name,
                    "service": l.service,
                    "kind": l.kind,
                    "type": l.kind.elb_type(),
                    "scheme": l.scheme,
                    "arn": l.arn,
                    "dns_name": l.dns_name,
                    "ipv4": l.ipv4,
                    "public_ipv4": l.public_ipv4,
                    "ipv6": l.ipv6,
                    "netns": l.netns,
                    "listeners": [{
                        "arn": l.listener_arn,
                        "protocol": l.kind.protocol(),
                        "port": l.port,
                        "target_group_arn": l.target_group_arn,
                    }],
                    "target_group_arn": l.target_group_arn,
                    "targets": l.targets,
                })
            })
            .collect(),
    )
}

/// The load balancers as a table (empty when there are none).
pub fn status_table(s: &LabState) -> String {
    if s.load_balancers.is_empty() {
        return String::new();
    }
    let mut rows = vec![vec![
        "LOAD BALANCER".into(),
        "SCHEME".into(),
        "DNS NAME".into(),
        "PUBLIC IPV4".into(),
        "IPV6".into(),
        "LISTENER".into(),
        "TARGETS".into(),
    ]];
    for l in &s.load_balancers {
        rows.push(vec![
            format!("{} {}", l.kind.as_str(), l.name),
            l.scheme.clone(),
            l.dns_name.clone(),
            l.public_ipv4
                .map(|a| a.to_string())
                .unwrap_or_else(|| "-".into()),
            l.ipv6.to_string(),
            format!("{} {}→{}", l.kind.protocol(), l.port, l.target_port),
            l.targets
                .iter()
                .map(|t| {
                    format!(
                        "{}={}{}",
                        if t.pod.is_empty() {
                            t.ip.to_string()
                        } else {
                            t.pod.clone()
                        },
                        t.state,
                        t.reason
                            .as_deref()
                            .map(|r| format!("({r})"))
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(","),
        ]);
    }
    format!("\n{}", crate::status::table(&rows))
}
