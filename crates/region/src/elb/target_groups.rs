//! Target groups and their targets: create (IPv6 groups take IP targets only), describe,
//! delete, register and deregister (every target of the group's family and inside the VPC's
//! blocks; no instance that is a node of an ipv6 cluster), and target health.

use std::net::IpAddr;

use super::load_balancers::Select;
use super::model::{
    HealthCheck, HealthReason, MAX_TARGETS_PER_GROUP, Protocol, Tags, Target, TargetGroup,
    TargetType, TgIpType,
};
use super::{ElbError, check_name, hex_id, page, tags::check_tags};
use crate::Env;
use crate::ec2::model::InstanceState;
use crate::eks::Rule;
use crate::eks::model::IpFamily;
use crate::state::State;

/// Most target groups in the region.
pub const MAX_TARGET_GROUPS: usize = 1000;
/// Most targets in one RegisterTargets / DeregisterTargets / DescribeTargetHealth call.
pub const MAX_TARGETS_PER_CALL: usize = 100;

/// Health check settings as requested; `None` takes the protocol's default.
#[derive(Debug, Clone, Default)]
pub struct HealthCheckInput {
    /// `HealthCheckEnabled`.
    pub enabled: Option<bool>,
    /// `HealthCheckProtocol`.
    pub protocol: Option<Protocol>,
    /// `HealthCheckPort`: `traffic-port` or a port number.
    pub port: Option<String>,
    /// `HealthCheckPath` (HTTP(S) checks).
    pub path: Option<String>,
    /// `HealthCheckIntervalSeconds`.
    pub interval_seconds: Option<u32>,
    /// `HealthCheckTimeoutSeconds`.
    pub timeout_seconds: Option<u32>,
    /// `HealthyThresholdCount`.
    pub healthy_threshold: Option<u32>,
    /// `UnhealthyThresholdCount`.
    pub unhealthy_threshold: Option<u32>,
    /// `Matcher.HttpCode` (HTTP(S) checks).
    pub matcher: Option<String>,
}

/// A `CreateTargetGroup` request, its enums already parsed.
#[derive(Debug, Clone)]
pub struct CreateTargetGroup {
    /// `Name`, unique in the region.
    pub name: String,
    /// `Protocol` (required).
    pub protocol: Option<Protocol>,
    /// `version` (default [`super::catalog::DEFAULT_KUBERNETES_VERSION`]).
    pub port: Option<u16>,
    /// `VpcId` (required).
    pub vpc_id: Option<String>,
    /// `TargetType` (default `instance`).
    pub target_type: TargetType,
    /// `IpAddressType` (default `ipv4`).
    pub ip_address_type: TgIpType,
    /// The health check settings.
    pub health: HealthCheckInput,
    /// Tags.
    pub tags: Tags,
}

/// A target as a request names it (`Id`, optional `Port`, optional `AvailabilityZone`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInput {
    /// `Id`: an instance id or an IP address, by the group's target type.
    pub id: String,
    /// `Port`; `None` takes the group's port.
    pub port: Option<u16>,
    /// `AvailabilityZone`, if given.
    pub availability_zone: Option<String>,
}

/// One row of `DescribeTargetHealth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetHealth {
    /// The registered target.
    pub target: Target,
    /// The port health checks go to.
    pub health_check_port: String,
    /// `initial`, `unused`, `healthy`, `unhealthy`, `draining`.
    pub state: &'static str,
    /// Why the target is in its state (`Target.NotInUse`, ...), unless healthy.
    pub reason: Option<&'static str>,
    /// The reason in words, unless healthy.
    pub description: Option<String>,
}

fn in_range(member: &str, v: Option<u32>, lo: u32, hi: u32, default: u32) -> Result<u32, ElbError> {
    let v = v.unwrap_or(default);
    if !(lo..=hi).contains(&v) {
        return Err(ElbError::invalid(
            member,
            v,
            format!("Give a value from {lo} to {hi}."),
        ));
    }
    Ok(v)
}

fn health_check(protocol: Protocol, h: HealthCheckInput) -> Result<HealthCheck, ElbError> {
    let http_group = matches!(protocol, Protocol::Http | Protocol::Https);
    let hc_protocol = h
        .protocol
        .unwrap_or(if http_group { protocol } else { Protocol::Tcp });
    if !matches!(
        hc_protocol,
        Protocol::Http | Protocol::Https | Protocol::Tcp
    ) {
        return Err(ElbError::invalid(
            "HealthCheckProtocol",
            hc_protocol,
            "Health checks use HTTP, HTTPS or TCP.",
        ));
    }
    if http_group && hc_protocol == Protocol::Tcp {
        return Err(ElbError::invalid(
            "HealthCheckProtocol",
            hc_protocol,
            format!("A {protocol} target group is checked with HTTP or HTTPS."),
        ));
    }
    let http_check = hc_protocol != Protocol::Tcp;
    let port = h.port.unwrap_or_else(|| "traffic-port".into());
    if port != "traffic-port" && !port.parse::<u16>().is_ok_and(|p| p >= 1) {
        return Err(ElbError::invalid(
            "HealthCheckPort",
            &port,
            "Give traffic-port or a port from 1 to 65535.",
        ));
    }
    if !http_check && (h.path.is_some() || h.matcher.is_some()) {
        return Err(ElbError::validation(
            "HealthCheckPath and Matcher apply to HTTP and HTTPS health checks only; drop them or use --health-check-protocol HTTP.",
        ));
    }
    let path = match h.path {
        Some(p) if p.is_empty() || p.len() > 1024 || !p.starts_with('/') => {
            return Err(ElbError::invalid(
                "HealthCheckPath",
                p,
                "Give a path of up to 1024 characters starting with '/'.",
            ));
        }
        Some(p) => Some(p),
        None => http_check.then(|| "/".to_string()),
    };
    let matcher = match h.matcher {
        Some(m)
            if m.is_empty()
                || m.len() > 64
                || !m
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ',' || c == '-') =>
        {
            return Err(ElbError::invalid(
                "Matcher.HttpCode",
                m,
                "Give HTTP codes like 200, 200,302 or 200-299.",
            ));
        }
        Some(m) => Some(m),
        None => http_check.then(|| "200".to_string()),
    };
    let interval = in_range("HealthCheckIntervalSeconds", h.interval_seconds, 5, 300, 30)?;
    let timeout_default = if http_check && http_group {
        5
    } else if http_check {
        6
    } else {
        10
    };
    let timeout = in_range(
        "HealthCheckTimeoutSeconds",
        h.timeout_seconds,
        2,
        120,
        timeout_default,
    )?;
    if timeout >= interval {
        return Err(ElbError::invalid(
            "HealthCheckTimeoutSeconds",
            timeout,
            format!("The timeout must be shorter than the interval ({interval} s)."),
        ));
    }
    Ok(HealthCheck {
        enabled: h.enabled.unwrap_or(true),
        protocol: hc_protocol,
        port,
        path,
        interval_seconds: interval,
        timeout_seconds: timeout,
        healthy_threshold: in_range("HealthyThresholdCount", h.healthy_threshold, 2, 10, 5)?,
        unhealthy_threshold: in_range("UnhealthyThresholdCount", h.unhealthy_threshold, 2, 10, 2)?,
        matcher,
    })
}

impl State {
    /// The target group with this ARN.
    pub fn target_group(&self, arn: &str) -> Result<&TargetGroup, ElbError> {
        self.elb_target_groups
            .get(arn)
            .ok_or_else(|| ElbError::TargetGroupNotFound(arn.to_string()))
    }

    /// The load balancers whose listeners forward to target group `arn`.
    pub fn target_group_load_balancers(&self, arn: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .elb_listeners
            .values()
            .filter(|l| l.target_group_arn == arn)
            .map(|l| l.load_balancer_arn.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// CreateTargetGroup: checks the request against its VPC (an ipv6 group takes IP targets in a VPC with an IPv6 block), the name and the quota, then stores the group; a duplicate name is refused.
    pub fn create_target_group(
        &mut self,
        env: &mut Env,
        req: CreateTargetGroup,
    ) -> Result<TargetGroup, ElbError> {
        check_name("Name", &req.name, false)?;
        check_tags(&req.tags)?;
        let protocol = req.protocol.ok_or_else(|| ElbError::missing("Protocol"))?;
        let port = req.port.ok_or_else(|| ElbError::missing("Port"))?;
        let vpc_id = req.vpc_id.ok_or_else(|| ElbError::missing("VpcId"))?;
        if port == 0 {
            return Err(ElbError::invalid(
                "Port",
                port,
                "Give a port from 1 to 65535.",
            ));
        }
        let vpc = self.vpcs.get(&vpc_id).ok_or_else(|| {
            ElbError::invalid(
                "VpcId",
                &vpc_id,
                "The VPC does not exist; list them with `aws ec2 describe-vpcs`.",
            )
        })?;
        if req.ip_address_type == TgIpType::Ipv6 && req.target_type != TargetType::Ip {
            return Err(ElbError::validation(format!(
                "Target group '{}' has IP address type ipv6 and target type {}; IPv6 target groups take IP targets only. Fix: --target-type ip.",
                req.name, req.target_type
            )));
        }
        if req.ip_address_type == TgIpType::Ipv6 && vpc.ipv6_associations.is_empty() {
            return Err(ElbError::config(format!(
                "VPC '{vpc_id}' has no IPv6 CIDR block, so an ipv6 target group has no targets to reach. Fix: `aws ec2 associate-vpc-cidr-block --vpc-id {vpc_id} --amazon-provided-ipv6-cidr-block`."
            )));
        }
        if self.elb_target_groups.values().any(|t| t.name == req.name) {
            return Err(ElbError::DuplicateTargetGroupName(req.name));
        }
        if self.elb_target_groups.len() >= MAX_TARGET_GROUPS {
            return Err(ElbError::TooMany {
                code: "TooManyTargetGroups",
                what: "Another target group".into(),
                limit: MAX_TARGET_GROUPS,
                fix: "delete one first.",
            });
        }
        let health_check = health_check(protocol, req.health)?;
        let id = hex_id(env.rng);
        let arn = super::arn(env, &format!("targetgroup/{}/{id}", req.name));
        let tg = TargetGroup {
            arn: arn.clone(),
            name: req.name,
            protocol,
            port,
            vpc_id,
            target_type: req.target_type,
            ip_address_type: req.ip_address_type,
            health_check,
            targets: Vec::new(),
            tags: req.tags,
        };
        self.elb_target_groups.insert(arn, tg.clone());
        Ok(tg)
    }

    /// `DescribeTargetGroups`: all, by ARN, by name, or those a load balancer's listeners use.
    pub fn describe_target_groups(
        &self,
        load_balancer: Option<&str>,
        sel: &Select,
    ) -> Result<(Vec<TargetGroup>, Option<String>), ElbError> {
        let given = [
            !sel.arns.is_empty(),
            !sel.names.is_empty(),
            load_balancer.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(ElbError::validation(
                "Give target group ARNs, names or a load balancer ARN: only one of them.",
            ));
        }
        for a in &sel.arns {
            self.target_group(a)?;
        }
        for n in &sel.names {
            if !self.elb_target_groups.values().any(|t| &t.name == n) {
                return Err(ElbError::TargetGroupNotFound(n.clone()));
            }
        }
        let used: Option<Vec<String>> = match load_balancer {
            Some(lb) => {
                self.load_balancer(lb)?;
                Some(
                    self.elb_listeners
                        .values()
                        .filter(|l| l.load_balancer_arn == lb)
                        .map(|l| l.target_group_arn.clone())
                        .collect(),
                )
            }
            None => None,
        };
        let items = self
            .elb_target_groups
            .iter()
            .filter(|(k, t)| {
                (sel.arns.is_empty() || sel.arns.contains(k))
                    && (sel.names.is_empty() || sel.names.contains(&t.name))
                    && used.as_ref().is_none_or(|u| u.contains(k))
            })
            .map(|(k, t)| (k.clone(), t.clone()))
            .collect();
        page(items, sel.marker.as_deref(), sel.page_size)
    }

    /// `DeleteTargetGroup`: refused while a listener forwards to it; absent groups succeed.
    pub fn delete_target_group(&mut self, arn: &str) -> Result<(), ElbError> {
        if let Some(l) = self
            .elb_listeners
            .values()
            .find(|l| l.target_group_arn == arn)
        {
            return Err(ElbError::ResourceInUse {
                tg: arn.to_string(),
                listener: l.arn.clone(),
            });
        }
        self.elb_target_groups.remove(arn);
        Ok(())
    }

    /// Check one target against its group: right kind, right family, inside the VPC, and no
    /// node of an ipv6 cluster as an instance target.
    fn check_target(&self, tg: &TargetGroup, t: &TargetInput) -> Result<Target, ElbError> {
        let vpc = self.vpcs.get(&tg.vpc_id);
        match tg.target_type {
            TargetType::Ip => {
                let ip: IpAddr = t.id.parse().map_err(|_| {
                    ElbError::target(format!(
                        "Target '{}' is not an IP address; target group '{}' has target type ip, so register addresses like 10.0.1.5 or 2001:db8::5.",
                        t.id, tg.name
                    ))
                })?;
                let inside = match (ip, tg.ip_address_type) {
                    (IpAddr::V4(a), TgIpType::Ipv4) => {
                        vpc.is_some_and(|v| v.ipv4_cidrs().any(|c| c.contains(&a)))
                    }
                    (IpAddr::V6(a), TgIpType::Ipv6) => {
                        vpc.is_some_and(|v| v.ipv6_cidrs().any(|c| c.contains(&a)))
                    }
                    (_, fam) => {
                        return Err(ElbError::target(format!(
                            "Target '{}' is not an {} address, and target group '{}' has IP address type {fam}; every target of a group has the group's address family. Register {} addresses, or use a target group of the other type.",
                            t.id,
                            if fam == TgIpType::Ipv4 {
                                "IPv4"
                            } else {
                                "IPv6"
                            },
                            tg.name,
                            if fam == TgIpType::Ipv4 {
                                "IPv4"
                            } else {
                                "IPv6"
                            },
                        )));
                    }
                };
                if !inside {
                    let blocks: Vec<String> = match (tg.ip_address_type, vpc) {
                        (TgIpType::Ipv4, Some(v)) => {
                            v.ipv4_cidrs().map(|c| c.to_string()).collect()
                        }
                        (TgIpType::Ipv6, Some(v)) => {
                            v.ipv6_cidrs().map(|c| c.to_string()).collect()
                        }
                        _ => vec![],
                    };
                    return Err(ElbError::target(format!(
                        "Target '{}' is outside VPC '{}' (its {} blocks: {}); register addresses of the target group's VPC.",
                        t.id,
                        tg.vpc_id,
                        tg.ip_address_type,
                        blocks.join(", ")
                    )));
                }
            }
            TargetType::Instance => {
                let inst = self
                    .instances
                    .get(&t.id)
                    .filter(|i| i.state != InstanceState::Terminated)
                    .ok_or_else(|| {
                        ElbError::target(format!(
                            "Instance '{}' does not exist (or is terminated); target group '{}' has target type instance, so register ids of running instances.",
                            t.id, tg.name
                        ))
                    })?;
                if inst.vpc_id != tg.vpc_id {
                    return Err(ElbError::target(format!(
                        "Instance '{}' is in VPC '{}', not in the target group's VPC '{}'.",
                        t.id, inst.vpc_id, tg.vpc_id
                    )));
                }
                if let Some(ng) = self
                    .nodegroups
                    .values()
                    .find(|g| g.instances.contains(&t.id))
                {
                    let ipv6 = self
                        .clusters
                        .get(&ng.cluster)
                        .is_some_and(|c| c.ip_family == IpFamily::Ipv6);
                    if ipv6 {
                        return Err(ElbError::Rule {
                            rule: Rule::ElbInstanceTarget,
                            value: t.id.clone(),
                            message: format!(
                                "Instance '{}' is a node of node group {} of the ipv6 cluster {}; load balancers reach an IPv6 cluster's pods in IP target mode only (instance mode is not supported).",
                                t.id, ng.name, ng.cluster
                            ),
                            fix: "create a target group with --target-type ip --ip-address-type ipv6 and register the pods' IPv6 addresses (service annotation service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip).".into(),
                        });
                    }
                }
            }
        }
        Ok(Target {
            id: t.id.clone(),
            port: t.port.unwrap_or(tg.port),
            availability_zone: t.availability_zone.clone(),
            health: None,
        })
    }

    fn check_call_size(targets: &[TargetInput]) -> Result<(), ElbError> {
        if targets.is_empty() || targets.len() > MAX_TARGETS_PER_CALL {
            return Err(ElbError::invalid(
                "Targets",
                format!("{} targets", targets.len()),
                format!("Give 1 to {MAX_TARGETS_PER_CALL} targets per call."),
            ));
        }
        if let Some(t) = targets.iter().find(|t| t.port == Some(0)) {
            return Err(ElbError::invalid(
                "Targets.Port",
                0,
                format!("Give target '{}' a port from 1 to 65535.", t.id),
            ));
        }
        Ok(())
    }

    /// `RegisterTargets`: all targets are checked before any is added; registering a
    /// registered (id, port) again changes nothing.
    pub fn register_targets(&mut self, arn: &str, targets: &[TargetInput]) -> Result<(), ElbError> {
        Self::check_call_size(targets)?;
        let tg = self.target_group(arn)?;
        let mut new = Vec::new();
        for t in targets {
            let t = self.check_target(tg, t)?;
            if !tg
                .targets
                .iter()
                .chain(&new)
                .any(|x: &Target| x.id == t.id && x.port == t.port)
            {
                new.push(t);
            }
        }
        if tg.targets.len() + new.len() > MAX_TARGETS_PER_GROUP {
            return Err(ElbError::TooMany {
                code: "TooManyTargets",
                what: format!("{} more targets in target group '{}'", new.len(), tg.name),
                limit: MAX_TARGETS_PER_GROUP,
                fix: "deregister some, or spread them over more target groups.",
            });
        }
        if let Some(tg) = self.elb_target_groups.get_mut(arn) {
            tg.targets.extend(new);
        }
        Ok(())
    }

    /// `DeregisterTargets`: every target named must be registered (else `InvalidTarget`).
    pub fn deregister_targets(
        &mut self,
        arn: &str,
        targets: &[TargetInput],
    ) -> Result<(), ElbError> {
        Self::check_call_size(targets)?;
        let tg = self.target_group(arn)?;
        let mut gone = Vec::new();
        for t in targets {
            let port = t.port.unwrap_or(tg.port);
            if !tg.targets.iter().any(|x| x.id == t.id && x.port == port) {
                return Err(ElbError::target(format!(
                    "Target '{}' on port {port} is not registered in target group '{}'; see `aws elbv2 describe-target-health --target-group-arn {arn}`.",
                    t.id, tg.name
                )));
            }
            gone.push((t.id.clone(), port));
        }
        if let Some(tg) = self.elb_target_groups.get_mut(arn) {
            tg.targets
                .retain(|x| !gone.iter().any(|(i, p)| *i == x.id && *p == x.port));
        }
        Ok(())
    }

    /// `DescribeTargetHealth`. A target of a group no listener uses is `unused`
    /// (`Target.NotInUse`); a named target that is not registered is `unused`
    /// (`Target.NotRegistered`); a target of a group in use is what the load balancer's health
    /// checks last reported (`healthy`, or `unhealthy` with the reason), and `initial`
    /// (`Elb.InitialHealthChecking`) until a first report.
    pub fn describe_target_health(
        &self,
        arn: &str,
        only: &[TargetInput],
    ) -> Result<Vec<TargetHealth>, ElbError> {
        if only.len() > MAX_TARGETS_PER_CALL {
            return Err(ElbError::invalid(
                "Targets",
                format!("{} targets", only.len()),
                format!("Give at most {MAX_TARGETS_PER_CALL} targets per call."),
            ));
        }
        let tg = self.target_group(arn)?;
        let in_use = !self.target_group_load_balancers(arn).is_empty();
        let check_port = |t: &Target| {
            if tg.health_check.port == "traffic-port" {
                t.port.to_string()
            } else {
                tg.health_check.port.clone()
            }
        };
        let row = |t: &Target, registered: bool| {
            let (state, reason, description) = if !registered {
                (
                    "unused",
                    "Target.NotRegistered",
                    "Target is not registered to the target group",
                )
            } else if !in_use {
                (
                    "unused",
                    "Target.NotInUse",
                    "Target group is not configured to receive traffic from the load balancer",
                )
            } else {
                match &t.health {
                    Some(h) if h.healthy => {
                        return TargetHealth {
                            target: Target {
                                health: None,
                                ..t.clone()
                            },
                            health_check_port: check_port(t),
                            state: "healthy",
                            reason: None,
                            description: None,
                        };
                    }
                    Some(h) => {
                        let reason = h.reason.unwrap_or(HealthReason::FailedHealthChecks);
                        return TargetHealth {
                            target: Target {
                                health: None,
                                ..t.clone()
                            },
                            health_check_port: check_port(t),
                            state: "unhealthy",
                            reason: Some(reason.as_str()),
                            description: Some(reason.description(h.codes.as_deref())),
                        };
                    }
                    None => (
                        "initial",
                        "Elb.InitialHealthChecking",
                        "Initial health checks in progress",
                    ),
                }
            };
            TargetHealth {
                target: Target {
                    health: None,
                    ..t.clone()
                },
                health_check_port: check_port(t),
                state,
                reason: Some(reason),
                description: Some(description.to_owned()),
            }
        };
        if only.is_empty() {
            return Ok(tg.targets.iter().map(|t| row(t, true)).collect());
        }
        Ok(only
            .iter()
            .map(|t| {
                let want = Target {
                    id: t.id.clone(),
                    port: t.port.unwrap_or(tg.port),
                    availability_zone: t.availability_zone.clone(),
                    health: None,
                };
                match tg
                    .targets
                    .iter()
                    .find(|x| x.id == want.id && x.port == want.port)
                {
                    Some(x) => row(x, true),
                    None => row(&want, false),
                }
            })
            .collect())
    }
}
