//! Handlers of the VPC actions: VPCs and their CIDR blocks and attributes, subnets (and their
//! IPv6 blocks: the migration path), internet and egress-only gateways, route tables.

use region::ec2::Ec2Error;
use region::ec2::subnets::{CreateSubnet, RemovedVpcBlock, VpcAttribute};
use region::ec2::vpc::{CidrAssociation, CreateVpc};

use super::{Ctx, ok_return, render};
use crate::query::Params;
use crate::xml::Xml;

pub fn create_vpc(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let req = CreateVpc {
        cidr_block: p.get("CidrBlock"),
        amazon_provided_ipv6: p.bool("AmazonProvidedIpv6CidrBlock")?.unwrap_or(false),
        tenancy: p.get("InstanceTenancy"),
        tags: p.tag_specs("vpc"),
    };
    if p.get("Ipv6CidrBlock").is_some() || p.get("Ipv6Pool").is_some() {
        return Err(Ec2Error::invalid(
            "Ipv6CidrBlock",
            p.get("Ipv6CidrBlock").unwrap_or_default(),
            "Bring-your-own IPv6 pools are not offered here; use --amazon-provided-ipv6-cidr-block.",
        ));
    }
    let v = c.region.write(|s, env| s.create_vpc(env, req.clone()))?;
    let mut x = Xml::new();
    x.open("vpc");
    render::vpc(&mut x, &v, &c.owner);
    x.close("vpc");
    Ok(x)
}

pub fn associate_vpc_cidr_block(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    if p.get("Ipv6IpamPoolId").is_some() || p.get("Ipv4IpamPoolId").is_some() {
        return Err(Ec2Error::Unsupported {
            message: "IPAM pools are not offered by this region; use --amazon-provided-ipv6-cidr-block or --cidr-block.".into(),
        });
    }
    let (vpc_id, a) = c.region.write(|s, env| {
        s.associate_vpc_cidr_block(
            env,
            p.get("VpcId"),
            p.get("CidrBlock"),
            p.bool("AmazonProvidedIpv6CidrBlock")?.unwrap_or(false),
        )
    })?;
    let mut x = Xml::new();
    match a {
        CidrAssociation::V6(a) => {
            x.open("ipv6CidrBlockAssociation");
            render::ipv6_assoc(&mut x, &a, "ipv6CidrBlockState", "associating", true);
            x.close("ipv6CidrBlockAssociation");
        }
        CidrAssociation::V4(a) => {
            x.open("cidrBlockAssociation");
            render::ipv4_assoc(&mut x, &a, "associating");
            x.close("cidrBlockAssociation");
        }
    }
    x.leaf("vpcId", vpc_id);
    Ok(x)
}

pub fn disassociate_vpc_cidr_block(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let (vpc_id, removed) = c
        .region
        .write(|s, _| s.disassociate_vpc_cidr_block(p.get("AssociationId")))?;
    let mut x = Xml::new();
    match removed {
        RemovedVpcBlock::V6(a) => {
            x.open("ipv6CidrBlockAssociation");
            render::ipv6_assoc(&mut x, &a, "ipv6CidrBlockState", "disassociating", true);
            x.close("ipv6CidrBlockAssociation");
        }
        RemovedVpcBlock::V4(a) => {
            x.open("cidrBlockAssociation");
            render::ipv4_assoc(&mut x, &a, "disassociating");
            x.close("cidrBlockAssociation");
        }
    }
    x.leaf("vpcId", vpc_id);
    Ok(x)
}

pub fn describe_vpcs(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let page = c.page(p, None)?;
    let s = c.region.read();
    let vpcs = s.describe_vpcs(&p.list("VpcId"), &p.filters(), &page)?;
    let mut x = Xml::new();
    x.items("vpcSet", &vpcs.items, |x, v| render::vpc(x, v, &c.owner));
    c.next_token(&mut x, &vpcs);
    Ok(x)
}

pub fn describe_vpc_attribute(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let attr = VpcAttribute::parse(
        &p.get("Attribute")
            .ok_or(Ec2Error::MissingParameter { name: "Attribute" })?,
    )?;
    let (vpc_id, value) = c.region.read().vpc_attribute(p.get("VpcId"), attr)?;
    let mut x = Xml::new();
    x.leaf("vpcId", vpc_id);
    x.open(attr.name()).leaf("value", value).close(attr.name());
    Ok(x)
}

pub fn modify_vpc_attribute(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let mut changes = Vec::new();
    for (name, attr) in [
        ("EnableDnsSupport.Value", VpcAttribute::EnableDnsSupport),
        ("EnableDnsHostnames.Value", VpcAttribute::EnableDnsHostnames),
        (
            "EnableNetworkAddressUsageMetrics.Value",
            VpcAttribute::EnableNetworkAddressUsageMetrics,
        ),
    ] {
        if let Some(v) = p.bool(name)? {
            changes.push((attr, v));
        }
    }
    c.region
        .write(|s, _| s.modify_vpc_attribute(p.get("VpcId"), changes.clone()))?;
    Ok(ok_return())
}

pub fn delete_vpc(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    c.region.write(|s, _| s.delete_vpc(p.get("VpcId")))?;
    Ok(ok_return())
}

pub fn create_subnet(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    if p.get("Ipv6IpamPoolId").is_some() || p.get("Ipv4IpamPoolId").is_some() {
        return Err(Ec2Error::Unsupported {
            message: "IPAM pools are not offered by this region; give --cidr-block and/or --ipv6-cidr-block.".into(),
        });
    }
    let req = CreateSubnet {
        vpc_id: p.get("VpcId"),
        cidr_block: p.get("CidrBlock"),
        ipv6_cidr_block: p.get("Ipv6CidrBlock"),
        availability_zone: p.get("AvailabilityZone"),
        availability_zone_id: p.get("AvailabilityZoneId"),
        outpost_arn: p.get("OutpostArn"),
        ipv6_native: p.bool("Ipv6Native")?.unwrap_or(false),
        tags: p.tag_specs("subnet"),
    };
    let sub = c.region.write(|s, env| s.create_subnet(env, req.clone()))?;
    let s = c.region.read();
    let mut x = Xml::new();
    x.open("subnet");
    render::subnet(&mut x, &sub, &s, &c.owner, &c.rname);
    x.close("subnet");
    Ok(x)
}

pub fn associate_subnet_cidr_block(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let (subnet_id, a) = c.region.write(|s, env| {
        s.associate_subnet_cidr_block(
            env,
            p.get("SubnetId"),
            p.get("Ipv6CidrBlock"),
            p.get("Ipv6IpamPoolId"),
        )
    })?;
    let mut x = Xml::new();
    x.open("ipv6CidrBlockAssociation");
    render::ipv6_assoc(&mut x, &a, "ipv6CidrBlockState", "associating", false);
    x.close("ipv6CidrBlockAssociation");
    x.leaf("subnetId", subnet_id);
    Ok(x)
}

pub fn disassociate_subnet_cidr_block(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let (subnet_id, a) = c
        .region
        .write(|s, _| s.disassociate_subnet_cidr_block(p.get("AssociationId")))?;
    let mut x = Xml::new();
    x.open("ipv6CidrBlockAssociation");
    render::ipv6_assoc(&mut x, &a, "ipv6CidrBlockState", "disassociating", false);
    x.close("ipv6CidrBlockAssociation");
    x.leaf("subnetId", subnet_id);
    Ok(x)
}

pub fn modify_subnet_attribute(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let assign = p.bool("AssignIpv6AddressOnCreation.Value")?;
    let public = p.bool("MapPublicIpOnLaunch.Value")?;
    c.region
        .write(|s, _| s.modify_subnet_attribute(p.get("SubnetId"), assign, public))?;
    Ok(ok_return())
}

pub fn describe_subnets(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let page = c.page(p, None)?;
    let s = c.region.read();
    let subnets = s.describe_subnets(&p.list("SubnetId"), &p.filters(), &page)?;
    let mut x = Xml::new();
    x.items("subnetSet", &subnets.items, |x, sub| {
        render::subnet(x, sub, &s, &c.owner, &c.rname)
    });
    c.next_token(&mut x, &subnets);
    Ok(x)
}

pub fn delete_subnet(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    c.region.write(|s, _| s.delete_subnet(p.get("SubnetId")))?;
    Ok(ok_return())
}

pub fn create_internet_gateway(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let tags = p.tag_specs("internet-gateway");
    let g = c
        .region
        .write(|s, env| Ok::<_, Ec2Error>(s.create_internet_gateway(env, tags.clone())))?;
    let mut x = Xml::new();
    x.open("internetGateway");
    render::internet_gateway(&mut x, &g, &c.owner);
    x.close("internetGateway");
    Ok(x)
}

pub fn attach_internet_gateway(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    c.region
        .write(|s, _| s.attach_internet_gateway(p.get("InternetGatewayId"), p.get("VpcId")))?;
    Ok(ok_return())
}

pub fn detach_internet_gateway(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    c.region
        .write(|s, _| s.detach_internet_gateway(p.get("InternetGatewayId"), p.get("VpcId")))?;
    Ok(ok_return())
}

pub fn delete_internet_gateway(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    c.region
        .write(|s, _| s.delete_internet_gateway(p.get("InternetGatewayId")))?;
    Ok(ok_return())
}

pub fn describe_internet_gateways(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let page = c.page(p, None)?;
    let s = c.region.read();
    let gs = s.describe_internet_gateways(&p.list("InternetGatewayId"), &p.filters(), &page)?;
    let mut x = Xml::new();
    x.items("internetGatewaySet", &gs.items, |x, g| {
        render::internet_gateway(x, g, &c.owner)
    });
    c.next_token(&mut x, &gs);
    Ok(x)
}

pub fn create_egress_only_internet_gateway(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let tags = p.tag_specs("egress-only-internet-gateway");
    let token = c.client_token(p);
    let g = c.region.write(|s, env| {
        if let Some((t, fp)) = &token
            && let Some(ids) = s.client_token_replay(c.action, t, fp)?
            && let Some(g) = ids.first().and_then(|id| s.egress_only_gateways.get(id))
        {
            return Ok(g.clone());
        }
        let g = s.create_egress_only_internet_gateway(env, p.get("VpcId"), tags.clone())?;
        if let Some((t, fp)) = &token {
            s.client_token_record(c.action, t, fp, vec![g.id.clone()], env.now);
        }
        Ok::<_, Ec2Error>(g)
    })?;
    let mut x = Xml::new();
    x.opt("clientToken", p.get("ClientToken"));
    x.open("egressOnlyInternetGateway");
    render::egress_only_gateway(&mut x, &g);
    x.close("egressOnlyInternetGateway");
    Ok(x)
}

pub fn delete_egress_only_internet_gateway(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    c.region.write(|s, _| {
        s.delete_egress_only_internet_gateway(p.get("EgressOnlyInternetGatewayId"))
    })?;
    let mut x = Xml::new();
    x.leaf("returnCode", true);
    Ok(x)
}

pub fn describe_egress_only_internet_gateways(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let page = c.page(p, None)?;
    let s = c.region.read();
    let gs = s.describe_egress_only_gateways(
        &p.list("EgressOnlyInternetGatewayId"),
        &p.filters(),
        &page,
    )?;
    let mut x = Xml::new();
    x.items("egressOnlyInternetGatewaySet", &gs.items, |x, g| {
        render::egress_only_gateway(x, g)
    });
    c.next_token(&mut x, &gs);
    Ok(x)
}

pub fn create_route_table(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let tags = p.tag_specs("route-table");
    let token = c.client_token(p);
    let rt = c.region.write(|s, env| {
        if let Some((t, fp)) = &token
            && let Some(ids) = s.client_token_replay(c.action, t, fp)?
            && let Some(rt) = ids.first().and_then(|id| s.route_tables.get(id))
        {
            return Ok(rt.clone());
        }
        let rt = s.create_route_table(env, p.get("VpcId"), tags.clone())?;
        if let Some((t, fp)) = &token {
            s.client_token_record(c.action, t, fp, vec![rt.id.clone()], env.now);
        }
        Ok::<_, Ec2Error>(rt)
    })?;
    let mut x = Xml::new();
    x.open("routeTable");
    render::route_table(&mut x, &rt, &c.owner);
    x.close("routeTable");
    x.opt("clientToken", p.get("ClientToken"));
    Ok(x)
}

pub fn create_route(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    c.region.write(|s, _| {
        s.create_route(
            p.get("RouteTableId"),
            p.get("DestinationCidrBlock"),
            p.get("DestinationIpv6CidrBlock"),
            p.get("GatewayId"),
            p.get("EgressOnlyInternetGatewayId"),
        )
    })?;
    Ok(ok_return())
}

pub fn delete_route(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    c.region.write(|s, _| {
        s.delete_route(
            p.get("RouteTableId"),
            p.get("DestinationCidrBlock"),
            p.get("DestinationIpv6CidrBlock"),
        )
    })?;
    Ok(ok_return())
}

pub fn associate_route_table(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let id = c
        .region
        .write(|s, env| s.associate_route_table(env, p.get("RouteTableId"), p.get("SubnetId")))?;
    let mut x = Xml::new();
    x.leaf("associationId", id);
    x.open("associationState")
        .leaf("state", "associated")
        .close("associationState");
    Ok(x)
}

pub fn disassociate_route_table(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    c.region
        .write(|s, _| s.disassociate_route_table(p.get("AssociationId")))?;
    Ok(ok_return())
}

pub fn delete_route_table(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    c.region
        .write(|s, _| s.delete_route_table(p.get("RouteTableId")))?;
    Ok(ok_return())
}

pub fn describe_route_tables(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let page = c.page(p, None)?;
    let s = c.region.read();
    let rts = s.describe_route_tables(&p.list("RouteTableId"), &p.filters(), &page)?;
    let mut x = Xml::new();
    x.items("routeTableSet", &rts.items, |x, r| {
        render::route_table(x, r, &c.owner)
    });
    c.next_token(&mut x, &rts);
    Ok(x)
}
