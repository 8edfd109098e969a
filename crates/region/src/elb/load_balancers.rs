//! Load balancers: create (with the dualstack-needs-IPv6-subnets rule), describe with pages,
//! delete (with their listeners), and `SetIpAddressType`.

use std::collections::BTreeSet;

use super::model::{LbIpType, LbSubnet, LbType, LoadBalancer, Scheme, Tags, TgIpType};
use super::{ElbError, check_name, hex_id, page, tags::check_tags};
use crate::Env;
use crate::state::State;

/// Most load balancers in the region (AWS's default quota per region).
pub const MAX_LOAD_BALANCERS: usize = 50;

/// A `CreateLoadBalancer` request, its enums already parsed.
#[derive(Debug, Clone)]
pub struct CreateLoadBalancer {
    /// `Name`, unique in the region.
    pub name: String,
    /// `Type`.
    pub lb_type: LbType,
    /// `Scheme`.
    pub scheme: Scheme,
    /// `IpAddressType`.
    pub ip_address_type: LbIpType,
    /// `Subnets.member.N`: one per zone, all in one VPC.
    pub subnets: Vec<String>,
    /// `SecurityGroups.member.N`, in that VPC.
    pub security_groups: Vec<String>,
    /// Tags.
    pub tags: Tags,
}

/// What `DescribeLoadBalancers` (and the other describes) selects.
#[derive(Debug, Clone, Default)]
pub struct Select {
    /// `LoadBalancerArns.member.N` (empty: any).
    pub arns: Vec<String>,
    /// `Names.member.N` (empty: any).
    pub names: Vec<String>,
    /// `Marker`: where the previous page ended.
    pub marker: Option<String>,
    /// `PageSize`.
    pub page_size: Option<usize>,
}

impl State {
    /// The load balancer with this ARN.
    pub fn load_balancer(&self, arn: &str) -> Result<&LoadBalancer, ElbError> {
        self.elb_load_balancers
            .get(arn)
            .ok_or_else(|| ElbError::LoadBalancerNotFound(arn.to_string()))
    }

    /// Check that `subnets` can carry a load balancer of `ip_type`; answers their VPC and AZs.
    fn lb_subnets(
        &self,
        lb_type: LbType,
        ip_type: LbIpType,
        subnets: &[String],
    ) -> Result<(String, Vec<LbSubnet>), ElbError> {
        if subnets.is_empty() {
            return Err(ElbError::validation(
                "At least one subnet must be specified; pass --subnets subnet-... (one per Availability Zone).",
            ));
        }
        let mut vpc: Option<String> = None;
        let mut azs = BTreeSet::new();
        let mut out = Vec::new();
        for id in subnets {
            let s = self
                .subnets
                .get(id)
                .ok_or_else(|| ElbError::SubnetNotFound(id.clone()))?;
            match &vpc {
                Some(v) if *v != s.vpc_id => {
                    return Err(ElbError::config(format!(
                        "Subnet '{id}' is in VPC '{}' but the other subnets are in '{v}'; a load balancer's subnets must all be in one VPC.",
                        s.vpc_id
                    )));
                }
                _ => vpc = Some(s.vpc_id.clone()),
            }
            if !azs.insert(s.availability_zone.clone()) {
                return Err(ElbError::config(format!(
                    "Subnet '{id}' is a second subnet in Availability Zone {}; a load balancer takes at most one subnet per Availability Zone.",
                    s.availability_zone
                )));
            }
            if ip_type == LbIpType::Dualstack && s.ipv6.is_none() {
                return Err(ElbError::InvalidSubnet {
                    message: format!(
                        "Subnet '{id}' has no IPv6 CIDR block, and a dualstack load balancer needs one in every subnet. Fix: `aws ec2 associate-subnet-cidr-block --subnet-id {id} --ipv6-cidr-block <a /64 of the VPC's IPv6 block>`, or use --ip-address-type ipv4."
                    ),
                });
            }
            out.push(LbSubnet {
                subnet_id: id.clone(),
                availability_zone: s.availability_zone.clone(),
            });
        }
        if lb_type == LbType::Application && azs.len() < 2 {
            return Err(ElbError::validation(
                "An application load balancer needs subnets in at least two Availability Zones; add a subnet of another zone to --subnets.",
            ));
        }
        // Invariant: `subnets` is non-empty (checked above), so the loop set `vpc`.
        Ok((vpc.unwrap_or_default(), out))
    }

    /// CreateLoadBalancer: checks the name, subnets and groups, then stores the load balancer.
    pub fn create_load_balancer(
        &mut self,
        env: &mut Env,
        req: CreateLoadBalancer,
    ) -> Result<LoadBalancer, ElbError> {
        check_name("Name", &req.name, true)?;
        check_tags(&req.tags)?;
        if self.elb_load_balancers.values().any(|l| l.name == req.name) {
            return Err(ElbError::DuplicateLoadBalancerName(req.name));
        }
        if self.elb_load_balancers.len() >= MAX_LOAD_BALANCERS {
            return Err(ElbError::TooMany {
                code: "TooManyLoadBalancers",
                what: "Another load balancer".into(),
                limit: MAX_LOAD_BALANCERS,
                fix: "delete one first.",
            });
        }
        let (vpc_id, subnets) = self.lb_subnets(req.lb_type, req.ip_address_type, &req.subnets)?;
        let mut security_groups = Vec::new();
        for g in &req.security_groups {
            match self.security_groups.get(g) {
                Some(sg) if sg.vpc_id == vpc_id => security_groups.push(g.clone()),
                _ => return Err(ElbError::InvalidSecurityGroup(g.clone())),
            }
        }
        if security_groups.is_empty()
            && req.lb_type == LbType::Application
            && let Some(v) = self.vpcs.get(&vpc_id)
        {
            security_groups.push(v.default_security_group.clone());
        }
        let id = hex_id(env.rng);
        let arn = super::arn(
            env,
            &format!(
                "loadbalancer/{}/{}/{id}",
                req.lb_type.arn_segment(),
                req.name
            ),
        );
        let internal = if req.scheme == Scheme::Internal {
            "internal-"
        } else {
            ""
        };
        let lb = LoadBalancer {
            dns_name: format!(
                "{internal}{}-{id}.elb.{}.amazonaws.com",
                req.name, env.config.name
            ),
            arn: arn.clone(),
            name: req.name,
            created_at: env.now,
            lb_type: req.lb_type,
            scheme: req.scheme,
            ip_address_type: req.ip_address_type,
            vpc_id,
            subnets,
            security_groups,
            tags: req.tags,
        };
        self.elb_load_balancers.insert(arn, lb.clone());
        Ok(lb)
    }

    /// `DescribeLoadBalancers`: all, or those named by ARN or by name (not both), a page at a time.
    pub fn describe_load_balancers(
        &self,
        sel: &Select,
    ) -> Result<(Vec<LoadBalancer>, Option<String>), ElbError> {
        if !sel.arns.is_empty() && !sel.names.is_empty() {
            return Err(ElbError::validation(
                "Give load balancer ARNs or names, not both.",
            ));
        }
        for a in &sel.arns {
            self.load_balancer(a)?;
        }
        for n in &sel.names {
            if !self.elb_load_balancers.values().any(|l| &l.name == n) {
                return Err(ElbError::LoadBalancerNotFound(n.clone()));
            }
        }
        let items = self
            .elb_load_balancers
            .iter()
            .filter(|(k, l)| {
                (sel.arns.is_empty() || sel.arns.contains(k))
                    && (sel.names.is_empty() || sel.names.contains(&l.name))
            })
            .map(|(k, l)| (k.clone(), l.clone()))
            .collect();
        page(items, sel.marker.as_deref(), sel.page_size)
    }

    /// `DeleteLoadBalancer`: the load balancer and its listeners go; its target groups stay.
    /// Deleting one that does not exist succeeds, as on AWS.
    pub fn delete_load_balancer(&mut self, arn: &str) -> Result<(), ElbError> {
        if self.elb_load_balancers.remove(arn).is_none() {
            return Ok(());
        }
        let listeners: Vec<String> = self
            .elb_listeners
            .values()
            .filter(|l| l.load_balancer_arn == arn)
            .map(|l| l.arn.clone())
            .collect();
        for l in listeners {
            self.elb_listeners.remove(&l);
        }
        Ok(())
    }

    /// `SetIpAddressType`: to dualstack needs IPv6 in every subnet; to ipv4 needs no listener
    /// forwarding to an ipv6 target group.
    pub fn set_ip_address_type(&mut self, arn: &str, to: LbIpType) -> Result<LbIpType, ElbError> {
        let lb = self.load_balancer(arn)?.clone();
        let subnets: Vec<String> = lb.subnets.iter().map(|s| s.subnet_id.clone()).collect();
        self.lb_subnets(lb.lb_type, to, &subnets)?;
        if to == LbIpType::Ipv4 {
            for l in self
                .elb_listeners
                .values()
                .filter(|l| l.load_balancer_arn == arn)
            {
                if let Some(tg) = self.elb_target_groups.get(&l.target_group_arn)
                    && tg.ip_address_type == TgIpType::Ipv6
                {
                    return Err(ElbError::config(format!(
                        "Listener '{}' forwards to target group '{}', whose IP address type is ipv6; an ipv4 load balancer cannot reach IPv6 targets. Keep the load balancer dualstack, or delete that listener first.",
                        l.arn, tg.name
                    )));
                }
            }
        }
        if let Some(l) = self.elb_load_balancers.get_mut(arn) {
            l.ip_address_type = to;
        }
        Ok(to)
    }
}
