//! Handlers of the security-group actions: groups, their rules (ingress and egress), and
//! DescribeSecurityGroupRules.

use region::ec2::Ec2Error;
use region::ec2::security_groups::Permission;

use super::{Ctx, ok_return, render};
use crate::query::Params;
use crate::xml::Xml;

fn permissions(p: &Params) -> Vec<Permission> {
    let mut perms: Vec<Permission> = p
        .structs("IpPermissions")
        .into_iter()
        .map(|q| Permission {
            protocol: q.get("IpProtocol"),
            from_port: q.get("FromPort").and_then(|s| s.parse().ok()),
            to_port: q.get("ToPort").and_then(|s| s.parse().ok()),
            ipv4_ranges: q
                .structs("IpRanges")
                .into_iter()
                .filter_map(|r| Some((r.get("CidrIp")?, r.get("Description"))))
                .collect(),
            ipv6_ranges: q
                .structs("Ipv6Ranges")
                .into_iter()
                .filter_map(|r| Some((r.get("CidrIpv6")?, r.get("Description"))))
                .collect(),
            groups: q
                .structs("Groups")
                .into_iter()
                .filter_map(|r| r.get("GroupId"))
                .collect(),
        })
        .collect();
    // The shorthand form: --protocol/--port/--cidr (CidrIp + IpProtocol + FromPort/ToPort).
    if perms.is_empty()
        && (p.get("CidrIp").is_some()
            || p.get("IpProtocol").is_some()
            || p.get("SourceSecurityGroupName").is_some())
    {
        perms.push(Permission {
            protocol: p.get("IpProtocol"),
            from_port: p.get("FromPort").and_then(|s| s.parse().ok()),
            to_port: p.get("ToPort").and_then(|s| s.parse().ok()),
            ipv4_ranges: p.get("CidrIp").map(|c| vec![(c, None)]).unwrap_or_default(),
            ipv6_ranges: vec![],
            groups: vec![],
        });
    }
    perms
}

fn check_ports(p: &Params) -> Result<(), Ec2Error> {
    for q in p.structs("IpPermissions") {
        for f in ["FromPort", "ToPort"] {
            if let Some(v) = q.get(f)
                && v.parse::<i32>().is_err()
            {
                return Err(Ec2Error::invalid(
                    "IpPermissions",
                    v,
                    format!("{f} must be a whole number."),
                ));
            }
        }
    }
    Ok(())
}

pub fn create_security_group(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let tags = p.tag_specs("security-group");
    let g = c.region.write(|s, env| {
        s.create_security_group(
            env,
            p.get("GroupName"),
            p.get("GroupDescription"),
            p.get("VpcId"),
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
    check_ports(p)?;
    let egress = c.action.ends_with("Egress");
    let group_id = p.get("GroupId");
    let rules = c.region.write(|s, env| {
        s.authorize_security_group(env, group_id.clone(), egress, permissions(p))
    })?;
    let mut x = Xml::new();
    x.leaf("return", true);
    let gid = group_id.unwrap_or_default();
    x.items("securityGroupRuleSet", &rules, |x, r| {
        render::rule(x, &gid, r, &c.owner)
    });
    Ok(x)
}

pub fn revoke(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    check_ports(p)?;
    let egress = c.action.ends_with("Egress");
    c.region
        .write(|s, env| s.revoke_security_group(env, p.get("GroupId"), egress, permissions(p)))?;
    Ok(ok_return())
}

pub fn delete_security_group(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    c.region
        .write(|s, _| s.delete_security_group(p.get("GroupId")))?;
    Ok(ok_return())
}

pub fn describe_security_groups(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let page = c.page(p, None)?;
    let s = c.region.read();
    let gs = s.describe_security_groups(
        &p.list("GroupId"),
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
