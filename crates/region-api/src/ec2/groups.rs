//! Handlers of the security-group actions: groups, their rules (ingress and egress), and
//! DescribeSecurityGroupRules.

use addressing::cidr::{Ipv4Cidr, Ipv6Cidr};
use region::ec2::Ec2Error;
use region::ec2::security_groups::{Permission, normalize_protocol};
use region::ids::{SecurityGroupId, VpcId};

use super::{Ctx, input, ok_return, render};
use crate::query::Params;
use crate::xml::Xml;

/// One permission: its protocol, ports and sources, parsed and checked for presence.
fn permission(
    q: &Params,
    ipv4_ranges: Vec<(Ipv4Cidr, Option<String>)>,
    ipv6_ranges: Vec<(Ipv6Cidr, Option<String>)>,
    groups: Vec<SecurityGroupId>,
) -> Result<Permission, Ec2Error> {
    let given = q.required("IpProtocol")?;
    let protocol = normalize_protocol(&given).ok_or_else(|| {
        Ec2Error::invalid(
            "IpProtocol",
            given.clone(),
            "Use tcp, udp, icmp, icmpv6, -1 (all) or a protocol number 0-255.",
        )
    })?;
    let from_port = q.int::<i32>("FromPort")?;
    let to_port = q.int::<i32>("ToPort")?;
    if matches!(protocol.as_str(), "tcp" | "udp") {
        from_port.ok_or(input::missing("FromPort"))?;
        to_port.ok_or(input::missing("ToPort"))?;
    }
    if ipv4_ranges.is_empty() && ipv6_ranges.is_empty() && groups.is_empty() {
        return Err(input::missing("IpRanges, Ipv6Ranges or UserIdGroupPairs"));
    }
    Ok(Permission {
        protocol,
        from_port,
        to_port,
        ipv4_ranges,
        ipv6_ranges,
        groups,
    })
}

/// The `IpPermissions.N` of an Authorize/Revoke call, or its shorthand form
/// (`--protocol/--port/--cidr`: `IpProtocol` + `FromPort`/`ToPort` + `CidrIp`); at least one.
fn permissions(p: &Params) -> Result<Vec<Permission>, Ec2Error> {
    let mut perms = Vec::new();
    for q in p.structs("IpPermissions") {
        let mut v4 = Vec::new();
        for r in q.structs("IpRanges") {
            if let Some(c) = r.cidr::<Ipv4Cidr>("CidrIp")? {
                v4.push((c, r.get("Description")));
            }
        }
        let mut v6 = Vec::new();
        for r in q.structs("Ipv6Ranges") {
            if let Some(c) = r.cidr::<Ipv6Cidr>("CidrIpv6")? {
                v6.push((c, r.get("Description")));
            }
        }
        let mut groups = Vec::new();
        for r in q.structs("Groups") {
            groups.extend(r.opt_id::<SecurityGroupId>("GroupId")?);
        }
        perms.push(permission(&q, v4, v6, groups)?);
    }
    if perms.is_empty()
        && (p.get("CidrIp").is_some()
            || p.get("IpProtocol").is_some()
            || p.get("SourceSecurityGroupName").is_some())
    {
        let v4 = p.cidr::<Ipv4Cidr>("CidrIp")?.map(|c| (c, None));
        perms.push(permission(p, v4.into_iter().collect(), vec![], vec![])?);
    }
    if perms.is_empty() {
        return Err(input::missing("IpPermissions"));
    }
    Ok(perms)
}

pub fn create_security_group(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let tags = p.tag_specs("security-group");
    let name = p.required("GroupName")?;
    let description = p.required("GroupDescription")?;
    let vpc_id: VpcId = p.id("VpcId")?;
    let g = c.region.write(|s, env| {
        s.create_security_group(
            env,
            name.clone(),
            description.clone(),
            &vpc_id,
            tags.clone(),
        )
    })?;
    let mut x = Xml::new();
    x.leaf("groupId", &g.id);
    render::tags(&mut x, &g.tags);
    x.leaf(
        "securityGroupArn",
        render::security_group_arn(&c.rname, &c.owner, &g.id),
    );
    Ok(x)
}

pub fn authorize(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let egress = c.action.ends_with("Egress");
    let group_id: SecurityGroupId = p.id("GroupId")?;
    let perms = permissions(p)?;
    let rules = c
        .region
        .write(|s, env| s.authorize_security_group(env, &group_id, egress, perms.clone()))?;
    let mut x = Xml::new();
    x.leaf("return", true);
    x.items("securityGroupRuleSet", &rules, |x, r| {
        render::rule(x, group_id.as_str(), r, &c.owner)
    });
    Ok(x)
}

pub fn revoke(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let egress = c.action.ends_with("Egress");
    let group_id: SecurityGroupId = p.id("GroupId")?;
    let perms = permissions(p)?;
    c.region
        .write(|s, env| s.revoke_security_group(env, &group_id, egress, perms.clone()))?;
    Ok(ok_return())
}

pub fn delete_security_group(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let group_id: SecurityGroupId = p.id("GroupId")?;
    c.region.write(|s, _| s.delete_security_group(&group_id))?;
    Ok(ok_return())
}

pub fn describe_security_groups(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let page = c.page(p, None)?;
    let s = c.region.read();
    let gs = s.describe_security_groups(
        &p.ids::<SecurityGroupId>("GroupId")?,
        &p.list("GroupName"),
        &p.filters(),
        &page,
    )?;
    let mut x = Xml::new();
    x.items("securityGroupInfo", &gs.items, |x, g| {
        render::security_group(x, g, &c.owner, &c.rname)
    });
    c.next_token(&mut x, &gs);
    Ok(x)
}

pub fn describe_security_group_rules(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let page = c.page(p, None)?;
    let s = c.region.read();
    let rules =
        s.describe_security_group_rules(&p.list("SecurityGroupRuleId"), &p.filters(), &page)?;
    let mut x = Xml::new();
    x.items("securityGroupRuleSet", &rules.items, |x, (g, r)| {
        render::rule(x, g, r, &c.owner)
    });
    c.next_token(&mut x, &rules);
    Ok(x)
}
