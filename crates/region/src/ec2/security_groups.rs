//! Security groups and their rules (IPv4 and IPv6 ranges, group references).

use super::error::Ec2Error;
use super::model::*;
use super::vpc::{parse_ipv4_cidr, parse_ipv6_cidr};
use super::{lookup, lookup_mut};
use crate::ids::{self, Kind};
use crate::region::Env;
use crate::state::State;

/// One `IpPermissions.N` of an Authorize/Revoke call.
#[derive(Debug, Clone, Default)]
pub struct Permission {
    /// `IpProtocol`: `-1` (all), `tcp`, `udp`, `icmp`, `icmpv6` or a protocol number.
    pub protocol: Option<String>,
    /// `FromPort` (or ICMP type).
    pub from_port: Option<i32>,
    /// `ToPort` (or ICMP code).
    pub to_port: Option<i32>,
    /// `IpRanges.N`: IPv4 CIDRs, each with its optional description.
    pub ipv4_ranges: Vec<(String, Option<String>)>,
    /// `Ipv6Ranges.N`: IPv6 CIDRs, each with its optional description.
    pub ipv6_ranges: Vec<(String, Option<String>)>,
    /// `Groups.N.GroupId`: peer security groups.
    pub groups: Vec<String>,
}

fn normalize_protocol(p: &str) -> Result<String, Ec2Error> {
    Ok(match p.to_ascii_lowercase().as_str() {
        "-1" | "all" => "-1".into(),
        "tcp" | "6" => "tcp".into(),
        "udp" | "17" => "udp".into(),
        "icmp" | "1" => "icmp".into(),
        "icmpv6" | "58" => "icmpv6".into(),
        other if other.parse::<u8>().is_ok() => other.into(),
        _ => {
            return Err(Ec2Error::invalid(
                "IpProtocol",
                p,
                "Use tcp, udp, icmp, icmpv6, -1 (all) or a protocol number 0-255.",
            ));
        }
    })
}

impl State {
    /// CreateSecurityGroup: a group with no ingress rules that allows all IPv4 egress (and all IPv6 egress in a VPC with an IPv6 block); the name must be new in the VPC.
    pub fn create_security_group(
        &mut self,
        env: &mut Env,
        name: Option<String>,
        description: Option<String>,
        vpc_id: Option<String>,
        tags: Tags,
    ) -> Result<SecurityGroup, Ec2Error> {
        let name = name.ok_or(Ec2Error::MissingParameter { name: "GroupName" })?;
        let description = description.ok_or(Ec2Error::MissingParameter {
            name: "GroupDescription",
        })?;
        let vpc_id = vpc_id.ok_or(Ec2Error::MissingParameter { name: "VpcId" })?;
        let has_ipv6 = !lookup(&self.vpcs, Kind::Vpc, &vpc_id)?
            .ipv6_associations
            .is_empty();
        if name.is_empty() || name.len() > 255 || name.starts_with("sg-") || name == "default" {
            return Err(Ec2Error::invalid(
                "GroupName",
                name,
                "A group name is 1-255 characters, must not start with sg- and must not be 'default'.",
            ));
        }
        if self
            .security_groups
            .values()
            .any(|g| g.vpc_id == vpc_id && g.name == name)
        {
            return Err(Ec2Error::DuplicateGroup { name, vpc_id });
        }
        let g = SecurityGroup {
            id: ids::generate(Kind::SecurityGroup, env.rng),
            name,
            description,
            vpc_id,
            rules: vec![],
            tags,
        };
        // A new group allows all IPv4 egress and, in a VPC with an IPv6 block, all IPv6 egress
        // (`::/0`), as in EC2.
        let mut g = g;
        g.rules.push(Rule {
            id: ids::generate(Kind::SecurityGroupRule, env.rng),
            egress: true,
            protocol: "-1".into(),
            from_port: None,
            to_port: None,
            source: RuleSource::V4(Default::default()),
            description: None,
        });
        if has_ipv6 {
            g.rules.push(Rule {
                id: ids::generate(Kind::SecurityGroupRule, env.rng),
                egress: true,
                protocol: "-1".into(),
                from_port: None,
                to_port: None,
                source: RuleSource::V6(Default::default()),
                description: None,
            });
        }
        self.security_groups.insert(g.id.clone(), g.clone());
        Ok(g)
    }

    fn rules_from(
        &self,
        env: &mut Env,
        group_id: &str,
        egress: bool,
        perms: Vec<Permission>,
    ) -> Result<Vec<Rule>, Ec2Error> {
        if perms.is_empty() {
            return Err(Ec2Error::MissingParameter {
                name: "IpPermissions",
            });
        }
        let mut out = Vec::new();
        for p in perms {
            let protocol = normalize_protocol(
                p.protocol
                    .as_deref()
                    .ok_or(Ec2Error::MissingParameter { name: "IpProtocol" })?,
            )?;
            let (from_port, to_port) = match protocol.as_str() {
                "tcp" | "udp" => {
                    let f = p
                        .from_port
                        .ok_or(Ec2Error::MissingParameter { name: "FromPort" })?;
                    let t = p
                        .to_port
                        .ok_or(Ec2Error::MissingParameter { name: "ToPort" })?;
                    if !(0..=65535).contains(&f) || !(0..=65535).contains(&t) || f > t {
                        return Err(Ec2Error::invalid(
                            "FromPort",
                            format!("{f}-{t}"),
                            "Ports are 0-65535 with FromPort <= ToPort.",
                        ));
                    }
                    (Some(f), Some(t))
                }
                "-1" => (None, None),
                _ => (p.from_port, p.to_port),
            };
            let mut sources: Vec<(RuleSource, Option<String>)> = Vec::new();
            for (c, d) in p.ipv4_ranges {
                sources.push((RuleSource::V4(parse_ipv4_cidr("CidrIp", &c)?), d));
            }
            for (c, d) in p.ipv6_ranges {
                sources.push((RuleSource::V6(parse_ipv6_cidr("CidrIpv6", &c)?), d));
            }
            for g in p.groups {
                lookup(&self.security_groups, Kind::SecurityGroup, &g)?;
                sources.push((RuleSource::Group(g), None));
            }
            if sources.is_empty() {
                return Err(Ec2Error::MissingParameter {
                    name: "IpRanges, Ipv6Ranges or UserIdGroupPairs",
                });
            }
            for (source, description) in sources {
                out.push(Rule {
                    id: ids::generate(Kind::SecurityGroupRule, env.rng),
                    egress,
                    protocol: protocol.clone(),
                    from_port,
                    to_port,
                    source,
                    description,
                });
            }
        }
        let _ = group_id;
        Ok(out)
    }

    /// AuthorizeSecurityGroupIngress/Egress: adds the rules (all or none; a duplicate is refused) and answers them.
    pub fn authorize_security_group(
        &mut self,
        env: &mut Env,
        group_id: Option<String>,
        egress: bool,
        perms: Vec<Permission>,
    ) -> Result<Vec<Rule>, Ec2Error> {
        let group_id = group_id.ok_or(Ec2Error::MissingParameter { name: "GroupId" })?;
        let g = lookup(&self.security_groups, Kind::SecurityGroup, &group_id)?.clone();
        let new = self.rules_from(env, &group_id, egress, perms)?;
        for r in &new {
            if g.rules.iter().any(|o| o.same_permission(r)) {
                let src = match &r.source {
                    RuleSource::V4(n) => n.to_string(),
                    RuleSource::V6(n) => n.to_string(),
                    RuleSource::Group(g) => g.clone(),
                };
                return Err(Ec2Error::DuplicatePermission {
                    group_id,
                    rule: format!(
                        "peer: {src}, {}, {}",
                        if r.protocol == "-1" {
                            "ALL".to_string()
                        } else {
                            r.protocol.to_uppercase()
                        },
                        if egress { "ALLOW egress" } else { "ALLOW" }
                    ),
                });
            }
        }
        lookup_mut(&mut self.security_groups, Kind::SecurityGroup, &group_id)?
            .rules
            .extend(new.iter().cloned());
        Ok(new)
    }

    /// RevokeSecurityGroupIngress/Egress: removes the rules that match (all or none; a missing one is refused).
    pub fn revoke_security_group(
        &mut self,
        env: &mut Env,
        group_id: Option<String>,
        egress: bool,
        perms: Vec<Permission>,
    ) -> Result<(), Ec2Error> {
        let group_id = group_id.ok_or(Ec2Error::MissingParameter { name: "GroupId" })?;
        lookup(&self.security_groups, Kind::SecurityGroup, &group_id)?;
        let gone = self.rules_from(env, &group_id, egress, perms)?;
        let g = lookup_mut(&mut self.security_groups, Kind::SecurityGroup, &group_id)?;
        for r in &gone {
            let before = g.rules.len();
            g.rules.retain(|o| !o.same_permission(r));
            if g.rules.len() == before {
                return Err(Ec2Error::PermissionNotFound {
                    rule: format!("{} {:?}", r.protocol, r.source),
                });
            }
        }
        Ok(())
    }

    /// DeleteSecurityGroup: refused for a VPC's default group and while network interfaces use it.
    pub fn delete_security_group(&mut self, group_id: Option<String>) -> Result<(), Ec2Error> {
        let group_id = group_id.ok_or(Ec2Error::MissingParameter { name: "GroupId" })?;
        let g = lookup(&self.security_groups, Kind::SecurityGroup, &group_id)?;
        if g.name == "default" {
            return Err(Ec2Error::invalid(
                "GroupId",
                group_id,
                "The default security group of a VPC is deleted with the VPC.",
            ));
        }
        let users: Vec<String> = self
            .network_interfaces
            .values()
            .filter(|e| e.security_groups.contains(&group_id))
            .map(|e| e.id.clone())
            .collect();
        if !users.is_empty() {
            return Err(Ec2Error::DependencyViolation {
                message: format!(
                    "resource {group_id} has a dependent object: network interfaces {}",
                    users.join(", ")
                ),
            });
        }
        self.security_groups.remove(&group_id);
        Ok(())
    }
}
