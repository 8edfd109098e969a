//! Security groups and their rules (IPv4 and IPv6 ranges, group references).

use addressing::cidr::{Ipv4Cidr, Ipv6Cidr};

use super::error::Ec2Error;
use super::model::*;
use super::{lookup, lookup_mut};
use crate::ids::{self, Kind, SecurityGroupId, VpcId};
use crate::region::Env;
use crate::state::State;

/// One permission of an Authorize/Revoke call, as the wire layer parsed it: a protocol, its
/// ports and at least one source.
#[derive(Debug, Clone)]
pub struct Permission {
    /// The protocol as [`normalize_protocol`] names it: `-1` (all), `tcp`, `udp`, `icmp`,
    /// `icmpv6` or a protocol number.
    pub protocol: String,
    /// The first port (or ICMP type); `tcp` and `udp` always have one.
    pub from_port: Option<i32>,
    /// The last port (or ICMP code); `tcp` and `udp` always have one.
    pub to_port: Option<i32>,
    /// IPv4 sources, each with its optional description.
    pub ipv4_ranges: Vec<(Ipv4Cidr, Option<String>)>,
    /// IPv6 sources, each with its optional description.
    pub ipv6_ranges: Vec<(Ipv6Cidr, Option<String>)>,
    /// Peer security groups.
    pub groups: Vec<SecurityGroupId>,
}

/// The protocol `p` names (`tcp`, `6`, `all`, ...), as rules store it; `None` if it names none.
pub fn normalize_protocol(p: &str) -> Option<String> {
    Some(match p.to_ascii_lowercase().as_str() {
        "-1" | "all" => "-1".into(),
        "tcp" | "6" => "tcp".into(),
        "udp" | "17" => "udp".into(),
        "icmp" | "1" => "icmp".into(),
        "icmpv6" | "58" => "icmpv6".into(),
        other if other.parse::<u8>().is_ok() => other.into(),
        _ => return None,
    })
}

impl State {
    /// CreateSecurityGroup: a group with no ingress rules that allows all IPv4 egress (and all IPv6 egress in a VPC with an IPv6 block); the name must be new in the VPC.
    pub fn create_security_group(
        &mut self,
        env: &mut Env,
        name: String,
        description: String,
        vpc_id: &VpcId,
        tags: Tags,
    ) -> Result<SecurityGroup, Ec2Error> {
        let has_ipv6 = !lookup(&self.vpcs, vpc_id)?.ipv6_associations.is_empty();
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
            .any(|g| *vpc_id == g.vpc_id && g.name == name)
        {
            return Err(Ec2Error::DuplicateGroup {
                name,
                vpc_id: vpc_id.to_string(),
            });
        }
        let g = SecurityGroup {
            id: ids::generate(Kind::SecurityGroup, env.rng),
            name,
            description,
            vpc_id: vpc_id.to_string(),
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
        egress: bool,
        perms: Vec<Permission>,
    ) -> Result<Vec<Rule>, Ec2Error> {
        let mut out = Vec::new();
        for p in perms {
            let protocol = p.protocol;
            let (from_port, to_port) = match (protocol.as_str(), p.from_port, p.to_port) {
                ("tcp" | "udp", Some(f), Some(t)) => {
                    if !(0..=65535).contains(&f) || !(0..=65535).contains(&t) || f > t {
                        return Err(Ec2Error::invalid(
                            "FromPort",
                            format!("{f}-{t}"),
                            "Ports are 0-65535 with FromPort <= ToPort.",
                        ));
                    }
                    (Some(f), Some(t))
                }
                ("-1", _, _) => (None, None),
                (_, f, t) => (f, t),
            };
            let mut sources: Vec<(RuleSource, Option<String>)> = Vec::new();
            for (c, d) in p.ipv4_ranges {
                sources.push((RuleSource::V4(c.to_ipnet()), d));
            }
            for (c, d) in p.ipv6_ranges {
                sources.push((RuleSource::V6(c.to_ipnet()), d));
            }
            for g in p.groups {
                lookup(&self.security_groups, &g)?;
                sources.push((RuleSource::Group(g.into()), None));
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
        Ok(out)
    }

    /// AuthorizeSecurityGroupIngress/Egress: adds the rules (all or none; a duplicate is refused) and answers them.
    pub fn authorize_security_group(
        &mut self,
        env: &mut Env,
        group_id: &SecurityGroupId,
        egress: bool,
        perms: Vec<Permission>,
    ) -> Result<Vec<Rule>, Ec2Error> {
        let g = lookup(&self.security_groups, group_id)?.clone();
        let new = self.rules_from(env, egress, perms)?;
        for r in &new {
            if g.rules.iter().any(|o| o.same_permission(r)) {
                let src = match &r.source {
                    RuleSource::V4(n) => n.to_string(),
                    RuleSource::V6(n) => n.to_string(),
                    RuleSource::Group(g) => g.clone(),
                };
                return Err(Ec2Error::DuplicatePermission {
                    group_id: group_id.to_string(),
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
        lookup_mut(&mut self.security_groups, group_id)?
            .rules
            .extend(new.iter().cloned());
        Ok(new)
    }

    /// RevokeSecurityGroupIngress/Egress: removes the rules that match (all or none; a missing one is refused).
    pub fn revoke_security_group(
        &mut self,
        env: &mut Env,
        group_id: &SecurityGroupId,
        egress: bool,
        perms: Vec<Permission>,
    ) -> Result<(), Ec2Error> {
        lookup(&self.security_groups, group_id)?;
        let gone = self.rules_from(env, egress, perms)?;
        let g = lookup_mut(&mut self.security_groups, group_id)?;
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
    pub fn delete_security_group(&mut self, group_id: &SecurityGroupId) -> Result<(), Ec2Error> {
        let g = lookup(&self.security_groups, group_id)?;
        if g.name == "default" {
            return Err(Ec2Error::invalid(
                "GroupId",
                group_id.to_string(),
                "The default security group of a VPC is deleted with the VPC.",
            ));
        }
        let users: Vec<String> = self
            .network_interfaces
            .values()
            .filter(|e| e.security_groups.iter().any(|g| *group_id == *g))
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
        self.security_groups.remove(group_id.as_str());
        Ok(())
    }
}
