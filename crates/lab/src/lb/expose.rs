//! `sixfold service expose NAME --type LoadBalancer`: what the AWS Load Balancer Controller does
//! for a `LoadBalancer` service of an IPv6 cluster, through the region's ELBv2 API: a
//! `dualstack` load balancer in the VPC's subnets, an IPv6 target group of `ip` targets and a
//! listener forwarding to it; then the lab builds the load balancer's node (an ENI from the
//! first subnet via `CreateNetworkInterface`, a namespace, `sixfold lab-lb` in it) and registers
//! the service's pods ([`super::sync`]).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use dataplane::netns::NetNs;

use crate::error::{LabError, Result};
use crate::lb::api::Elb;
use crate::lb::daemon::DaemonConfig;
use crate::lb::plan::{self, Kind};
use crate::lb::{LoadBalancerInfo, net};
use crate::procs;
use crate::region::Api;
use crate::state::{ClusterInfo, LabState, VpcInfo};
use crate::topo;

/// What to expose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposeRequest {
    /// The service (namespace `default`).
    pub service: String,
    /// `internet-facing` or `internal`.
    pub scheme: String,
    pub kind: Kind,
    /// The listener's port.
    pub port: u16,
    /// The pods' port (default: the responder's TCP port for an NLB, its HTTP port for an ALB).
    pub target_port: Option<u16>,
}

fn text(e: &ec2_client::xml::Element, path: &[&str], action: &str) -> Result<String> {
    let mut cur = e;
    for p in path {
        cur = match *p {
            "member" | "item" => cur.children.iter().find(|c| c.name == *p),
            _ => cur.child(p),
        }
        .ok_or_else(|| LabError::Reply {
            action: action.to_owned(),
            detail: format!("no <{}>", path.join("/")),
        })?;
    }
    Ok(cur.text.trim().to_owned())
}

fn check(state: &LabState, req: &ExposeRequest) -> Result<()> {
    plan::check_service(&req.service)?;
    plan::check_scheme(&req.scheme)?;
    if req.port == 0 || req.target_port == Some(0) {
        return Err(LabError::InvalidFlag {
            flag: "--port",
            detail: "give ports from 1 to 65535".into(),
        });
    }
    if !state.services.iter().any(|s| s.name == req.service) {
        return Err(LabError::InvalidFlag {
            flag: "NAME",
            detail: format!(
                "lab {} has no service {:?}; its services are: {}",
                state.name,
                req.service,
                state
                    .services
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    if let Some(lb) = state
        .load_balancers
        .iter()
        .find(|l| l.service == req.service && l.kind == req.kind && l.scheme == req.scheme)
    {
        return Err(LabError::InvalidFlag {
            flag: "NAME",
            detail: format!(
                "service {} is already exposed by {} {} ({}); one load balancer of each kind and scheme per service",
                req.service,
                lb.kind.as_str(),
                lb.name,
                lb.dns_name
            ),
        });
    }
    if state.load_balancers.len() >= plan::MAX_LOAD_BALANCERS {
        return Err(LabError::InvalidFlag {
            flag: "NAME",
            detail: format!(
                "a lab runs at most {} load balancers",
                plan::MAX_LOAD_BALANCERS
            ),
        });
    }
    Ok(())
}

/// Expose `req.service` through a new load balancer; the state is saved as things are made
/// (namespace and processes recorded before they exist), so `down` removes a half-made one.
pub fn expose(state: &mut LabState, req: &ExposeRequest, exe: &Path) -> Result<LoadBalancerInfo> {
    check(state, req)?;
    let (Some(info), Some(vpc), Some(cluster)) = (
        state.region.clone(),
        state.vpc.clone(),
        state.cluster.clone(),
    ) else {
        return Err(LabError::NoLab {
            name: state.name.clone(),
            path: LabState::path(&state.state_dir),
        });
    };
    let internet_facing = plan::check_scheme(&req.scheme)?;
    let k = free_slot(state);
    let api = Api::connect(&info)?;
    let elb = Elb::connect(&info)?;
    let name = plan::lb_name(&req.service, req.kind, internet_facing);
    let (arn, dns_name) = create_load_balancer(&elb, req, &name, &cluster, &vpc)?;
    let target_port = req.target_port.unwrap_or(match req.kind {
        Kind::Nlb => crate::plan::POD_PORT,
        Kind::Alb => crate::plan::POD_HTTP_PORT,
    });
    let tg_arn = create_target_group(&elb, req, internet_facing, target_port, &vpc)?;
    let listener_arn = create_listener(&elb, req, &arn, &tg_arn)?;
    let node = create_node_eni(&api, &vpc, req, &name, &arn)?;
    let lb = LoadBalancerInfo {
        name: name.clone(),
        service: req.service.clone(),
        kind: req.kind,
        scheme: req.scheme.clone(),
        arn,
        dns_name,
        target_group_arn: tg_arn.clone(),
        listener_arn,
        port: req.port,
        target_port,
        netns: plan::netns(&state.name, k),
        router_if: plan::router_if(k),
        eni: node.eni,
        subnet: node.subnet,
        ipv4: node.ipv4,
        public_ipv4: if internet_facing {
            Some(plan::public_v4(k)?)
        } else {
            None
        },
        ipv6: node.ipv6,
        targets: Vec::new(),
    };
    record_and_start(state, lb, exe)
}

/// The first load balancer slot (1..=MAX) whose namespace no load balancer uses.
fn free_slot(state: &LabState) -> usize {
    (1..=plan::MAX_LOAD_BALANCERS)
        .find(|k| {
            !state
                .load_balancers
                .iter()
                .any(|l| l.netns == plan::netns(&state.name, *k))
        })
        .unwrap_or(plan::MAX_LOAD_BALANCERS)
}

/// `CreateLoadBalancer`: a dualstack load balancer in every subnet of the VPC, tagged as the
/// AWS Load Balancer Controller tags it; answers its ARN and DNS name.
fn create_load_balancer(
    elb: &Elb,
    req: &ExposeRequest,
    name: &str,
    cluster: &ClusterInfo,
    vpc: &VpcInfo,
) -> Result<(String, String)> {
    let stack = format!("default/{}", req.service);
    let mut p: Vec<(String, String)> = vec![
        ("Name".into(), name.to_owned()),
        ("Type".into(), req.kind.elb_type().into()),
        ("Scheme".into(), req.scheme.clone()),
        ("IpAddressType".into(), "dualstack".into()),
        ("Tags.member.1.Key".into(), "elbv2.k8s.aws/cluster".into()),
        ("Tags.member.1.Value".into(), cluster.name.clone()),
        ("Tags.member.2.Key".into(), "service.k8s.aws/stack".into()),
        ("Tags.member.2.Value".into(), stack),
        ("SecurityGroups.member.1".into(), vpc.security_group.clone()),
    ];
    for (i, s) in vpc.subnets.iter().enumerate() {
        p.push((format!("Subnets.member.{}", i + 1), s.id.clone()));
    }
    let pp: Vec<(&str, &str)> = p.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let r = elb.call("CreateLoadBalancer", &pp)?;
    let arn = text(
        &r,
        &["LoadBalancers", "member", "LoadBalancerArn"],
        "CreateLoadBalancer",
    )?;
    let dns_name = text(
        &r,
        &["LoadBalancers", "member", "DNSName"],
        "CreateLoadBalancer",
    )?;
    Ok((arn, dns_name))
}

/// `CreateTargetGroup`: an IPv6 group of `ip` targets on `target_port` with a fast health
/// check; answers its ARN.
fn create_target_group(
    elb: &Elb,
    req: &ExposeRequest,
    internet_facing: bool,
    target_port: u16,
    vpc: &VpcInfo,
) -> Result<String> {
    let tport = target_port.to_string();
    let mut tg = vec![
        (
            "Name",
            plan::tg_name(&req.service, req.kind, internet_facing),
        ),
        ("Protocol", req.kind.protocol().into()),
        ("Port", tport.clone()),
        ("VpcId", vpc.id.clone()),
        ("TargetType", "ip".into()),
        ("IpAddressType", "ipv6".into()),
        ("HealthCheckProtocol", req.kind.protocol().into()),
        ("HealthCheckIntervalSeconds", "5".into()),
        ("HealthCheckTimeoutSeconds", "2".into()),
        ("HealthyThresholdCount", "2".into()),
        ("UnhealthyThresholdCount", "2".into()),
    ];
    if req.kind == Kind::Alb {
        tg.push(("HealthCheckPath", "/".into()));
    }
    let tgp: Vec<(&str, &str)> = tg.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let r = elb.call("CreateTargetGroup", &tgp)?;
    text(
        &r,
        &["TargetGroups", "member", "TargetGroupArn"],
        "CreateTargetGroup",
    )
}

/// `CreateListener`: `req.port` on the load balancer, forwarding to the target group; answers
/// its ARN.
fn create_listener(elb: &Elb, req: &ExposeRequest, arn: &str, tg_arn: &str) -> Result<String> {
    let port = req.port.to_string();
    let r = elb.call(
        "CreateListener",
        &[
            ("LoadBalancerArn", arn),
            ("Protocol", req.kind.protocol()),
            ("Port", port.as_str()),
            ("DefaultActions.member.1.Type", "forward"),
            ("DefaultActions.member.1.TargetGroupArn", tg_arn),
        ],
    )?;
    text(
        &r,
        &["Listeners", "member", "ListenerArn"],
        "CreateListener",
    )
}

/// The load balancer node's interface, as `CreateNetworkInterface` answered it.
struct NodeEni {
    eni: String,
    subnet: String,
    ipv4: Ipv4Addr,
    ipv6: Ipv6Addr,
}

/// The load balancer's node: an ENI in the first subnet, as ELB's own interfaces.
fn create_node_eni(
    api: &Api,
    vpc: &VpcInfo,
    req: &ExposeRequest,
    name: &str,
    arn: &str,
) -> Result<NodeEni> {
    let subnet = vpc.subnets.first().ok_or_else(|| LabError::Reply {
        action: "CreateLoadBalancer".into(),
        detail: "the lab's VPC has no subnet".into(),
    })?;
    let lb_id = arn.rsplit('/').next().unwrap_or("");
    let description = format!(
        "ELB {}/{name}/{lb_id}",
        if req.kind == Kind::Nlb { "net" } else { "app" }
    );
    let r = api.call(
        "CreateNetworkInterface",
        &[
            ("SubnetId", subnet.id.as_str()),
            ("Description", description.as_str()),
            ("Ipv6AddressCount", "1"),
            ("SecurityGroupId.1", vpc.security_group.as_str()),
        ],
    )?;
    let eni = text(
        &r,
        &["networkInterface", "networkInterfaceId"],
        "CreateNetworkInterface",
    )?;
    let bad = |what: &str| LabError::Reply {
        action: "CreateNetworkInterface".into(),
        detail: format!("no {what} for {eni}"),
    };
    let ipv4 = text(
        &r,
        &["networkInterface", "privateIpAddress"],
        "CreateNetworkInterface",
    )?
    .parse()
    .map_err(|_| bad("private IPv4"))?;
    let ipv6 = text(
        &r,
        &[
            "networkInterface",
            "ipv6AddressesSet",
            "item",
            "ipv6Address",
        ],
        "CreateNetworkInterface",
    )?
    .parse()
    .map_err(|_| bad("IPv6 address"))?;
    Ok(NodeEni {
        eni,
        subnet: subnet.id.clone(),
        ipv4,
        ipv6,
    })
}

/// Attach the node, record the load balancer in the state (saved before anything starts),
/// start its processes and register its targets; answers the load balancer as recorded.
fn record_and_start(
    state: &mut LabState,
    lb: LoadBalancerInfo,
    exe: &Path,
) -> Result<LoadBalancerInfo> {
    net::attach(state, &lb)?;
    state.load_balancers.push(lb.clone());
    state.save()?;
    net::igw_nat(state)?;
    start(state, &lb, exe)?;
    super::sync(state)?;
    state.save()?;
    Ok(state
        .load_balancers
        .iter()
        .find(|l| l.name == lb.name)
        .cloned()
        .unwrap_or(lb))
}

/// Start the load balancer's region forwarder (root namespace, listening inside its
/// namespace) and `sixfold lab-lb`; both recorded in the state.
fn start(state: &mut LabState, lb: &LoadBalancerInfo, exe: &Path) -> Result<()> {
    let Some(info) = state.region.clone() else {
        return Ok(());
    };
    let hostport = info
        .endpoint
        .trim_end_matches('/')
        .rsplit("://")
        .next()
        .unwrap_or("")
        .to_owned();
    let logs = state.state_dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(LabError::io("creating the log dir", &logs))?;
    let argv = procs::argv([
        exe.display().to_string(),
        "lab-forward".into(),
        "--to".into(),
        hostport.clone(),
        "--listen".into(),
        hostport.clone(),
        "--lab".into(),
        state.name.clone(),
        "--netns".into(),
        topo::netns_path(&lb.netns).display().to_string(),
    ]);
    let log = logs.join(format!("lb-{}-forwarder.log", lb.name));
    let fwd = procs::spawn(&format!("lb forwarder {}", lb.name), None, &argv, &log)?;
    state.processes.push(fwd.clone());
    state.save()?;
    procs::wait_for(
        "the load balancer's region forwarder",
        Duration::from_secs(5),
        &log,
        || {
            std::fs::read_to_string(&log).is_ok_and(|t| t.contains("forwarding"))
                || !procs::alive(fwd.pid)
        },
    )?;
    let cfg = DaemonConfig {
        name: lb.name.clone(),
        kind: lb.kind,
        port: lb.port,
        target_group_arn: lb.target_group_arn.clone(),
        region: info,
    };
    let path = DaemonConfig::path(&state.state_dir, &lb.name);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(LabError::io("creating the lb dir", dir))?;
    }
    let text = serde_json::to_vec_pretty(&cfg).map_err(|source| LabError::State {
        path: path.clone(),
        source,
    })?;
    std::fs::write(&path, text).map_err(LabError::io("writing the load balancer config", &path))?;
    let argv = procs::argv([
        exe.display().to_string(),
        "lab-lb".into(),
        "--config".into(),
        path.display().to_string(),
        "--lab".into(),
        state.name.clone(),
    ]);
    let ns = NetNs::by_name(&lb.netns).map_err(LabError::dp(format!("opening {}", lb.netns)))?;
    let log = logs.join(format!("lb-{}.log", lb.name));
    let p = procs::spawn(
        &format!("load balancer {}", lb.name),
        Some(&ns),
        &argv,
        &log,
    )?;
    state.processes.push(p.clone());
    state.save()?;
    procs::wait_for(
        "the load balancer to listen",
        Duration::from_secs(5),
        &log,
        || {
            std::fs::read_to_string(&log).is_ok_and(|t| t.contains("listening on"))
                || !procs::alive(p.pid)
        },
    )
}

/// Sync until every target of every load balancer is `healthy` (or `timeout` passes; then the
/// targets stay as they are and the matrix shows them). Returns whether all became healthy.
pub fn wait_healthy(state: &mut LabState, timeout: Duration) -> Result<bool> {
    let start = Instant::now();
    loop {
        super::sync(state)?;
        let all = state
            .load_balancers
            .iter()
            .all(|l| !l.targets.is_empty() && l.targets.iter().all(|t| t.state == "healthy"));
        if all {
            state.save()?;
            return Ok(true);
        }
        if start.elapsed() >= timeout {
            state.save()?;
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A one-line summary of `lb` for command output.
pub fn summary(lb: &LoadBalancerInfo) -> String {
    format!(
        "{} {} {} ({}): {}{} [{}]:{} → {} targets on port {}",
        lb.kind.as_str(),
        lb.name,
        lb.scheme,
        lb.dns_name,
        lb.public_ipv4
            .map(|a| format!("{a}:{} / ", lb.port))
            .unwrap_or_default(),
        lb.ipv4,
        lb.ipv6,
        lb.port,
        lb.targets.len(),
        lb.target_port
    )
}

/// `up`'s default: the first service exposed through an internet-facing NLB, waited on until
/// its targets are healthy (the matrix then shows which pods answer).
pub(crate) fn up_default(b: &mut crate::up::Build<'_>) -> Result<()> {
    if b.cfg.services == 0 {
        return Ok(());
    }
    let req = ExposeRequest {
        service: crate::plan::service_name(1),
        scheme: "internet-facing".into(),
        kind: Kind::Nlb,
        port: plan::DEFAULT_PORT,
        target_port: None,
    };
    let exe = b.exe.clone();
    let lb = expose(&mut b.state, &req, &exe)?;
    let healthy = wait_healthy(&mut b.state, Duration::from_secs(20))?;
    let lb = b
        .state
        .load_balancers
        .iter()
        .find(|l| l.name == lb.name)
        .cloned()
        .unwrap_or(lb);
    b.say(format!(
        "  load balancer for service {}: {}{}",
        req.service,
        summary(&lb),
        if healthy {
            ", all healthy"
        } else {
            ", not all healthy yet"
        }
    ));
    Ok(())
}
