//! Handlers of the VPC actions: VPCs and their CIDR blocks and attributes, subnets (and their
//! IPv6 blocks: the migration path), internet and egress-only gateways, route tables.

use addressing::cidr::{Ipv4Cidr, Ipv6Cidr};
use region::ec2::Ec2Error;
use region::ec2::subnets::{CreateSubnet, RemovedVpcBlock, SubnetBlocks, VpcAttribute};
use region::ec2::vpc::{CidrAssociation, CreateVpc, RouteTarget, Tenancy, VpcBlock};
use region::ids::{
    EgressOnlyInternetGatewayId, InternetGatewayId, RouteTableAssociationId, RouteTableId,
    SubnetCidrAssociationId, SubnetId, VpcCidrAssociationId, VpcId,
};

use super::{Ctx, input, ok_return, render};
use crate::query::Params;
use crate::xml::Xml;

pub fn create_vpc(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    if p.get("Ipv6CidrBlock").is_some() || p.get("Ipv6Pool").is_some() {
        return Err(Ec2Error::invalid(
            "Ipv6CidrBlock",
            p.get("Ipv6CidrBlock").unwrap_or_default(),
            "Bring-your-own IPv6 pools are not offered here; use --amazon-provided-ipv6-cidr-block.",
        ));
    }
    let tenancy = match p.get("InstanceTenancy") {
        None => Tenancy::default(),
        Some(t) => Tenancy::parse(&t).ok_or_else(|| {
            Ec2Error::invalid("InstanceTenancy", t, "Use default, dedicated or host.")
        })?,
    };
    let req = CreateVpc {
        cidr_block: p
            .cidr::<Ipv4Cidr>("CidrBlock")?
            .ok_or(input::missing("CidrBlock"))?,
        amazon_provided_ipv6: p.bool("AmazonProvidedIpv6CidrBlock")?.unwrap_or(false),
        tenancy,
        tags: p.tag_specs("vpc"),
    };
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
    let vpc_id: VpcId = p.id("VpcId")?;
    let block = match (
        p.cidr::<Ipv4Cidr>("CidrBlock")?,
        p.bool("AmazonProvidedIpv6CidrBlock")?.unwrap_or(false),
    ) {
        (Some(_), true) => {
            return Err(Ec2Error::InvalidParameterCombination {
                message: "Give either --cidr-block or --amazon-provided-ipv6-cidr-block, not both."
                    .into(),
            });
        }
        (None, false) => {
            return Err(input::missing("CidrBlock or AmazonProvidedIpv6CidrBlock"));
        }
        (Some(c), false) => VpcBlock::Ipv4(c),
        (None, true) => VpcBlock::AmazonIpv6,
    };
    let (vpc_id, a) = c
        .region
        .write(|s, env| s.associate_vpc_cidr_block(env, &vpc_id, block))?;
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
    let id: VpcCidrAssociationId = p.id("AssociationId")?;
    let (vpc_id, removed) = c.region.write(|s, _| s.disassociate_vpc_cidr_block(&id))?;
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
    let vpcs = s.describe_vpcs(&p.ids::<VpcId>("VpcId")?, &p.filters(), &page)?;
    let mut x = Xml::new();
    x.items("vpcSet", &vpcs.items, |x, v| render::vpc(x, v, &c.owner));
    c.next_token(&mut x, &vpcs);
    Ok(x)
}

pub fn describe_vpc_attribute(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let attr = VpcAttribute::parse(&p.required("Attribute")?)?;
    let vpc_id: VpcId = p.id("VpcId")?;
    let value = c.region.read().vpc_attribute(&vpc_id, attr)?;
    let mut x = Xml::new();
    x.leaf("vpcId", vpc_id);
    x.open(attr.name()).leaf("value", value).close(attr.name());
    Ok(x)
}

pub fn modify_vpc_attribute(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let vpc_id: VpcId = p.id("VpcId")?;
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
    let [(attr, value)] = changes[..] else {
        return Err(Ec2Error::InvalidParameterCombination {
            message: "Give exactly one of --enable-dns-support, --enable-dns-hostnames and --enable-network-address-usage-metrics per call.".into(),
        });
    };
    c.region
        .write(|s, _| s.modify_vpc_attribute(&vpc_id, attr, value))?;
    Ok(ok_return())
}

pub fn delete_vpc(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let vpc_id: VpcId = p.id("VpcId")?;
    c.region.write(|s, _| s.delete_vpc(&vpc_id))?;
    Ok(ok_return())
}

pub fn create_subnet(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    if p.get("Ipv6IpamPoolId").is_some() || p.get("Ipv4IpamPoolId").is_some() {
        return Err(Ec2Error::Unsupported {
            message: "IPAM pools are not offered by this region; give --cidr-block and/or --ipv6-cidr-block.".into(),
        });
    }
    let vpc_id: VpcId = p.id("VpcId")?;
    let v4 = p.cidr::<Ipv4Cidr>("CidrBlock")?;
    let v6 = p.cidr::<Ipv6Cidr>("Ipv6CidrBlock")?;
    let blocks = match (p.bool("Ipv6Native")?.unwrap_or(false), v4, v6) {
        (true, Some(c), _) => {
            return Err(Ec2Error::InvalidParameterCombination {
                message: format!(
                    "An IPv6-only subnet (--ipv6-native) has no IPv4 block: drop --cidr-block {c}."
                ),
            });
        }
        (true, None, None) => {
            return Err(Ec2Error::InvalidParameterCombination {
                message: "An IPv6-only subnet (--ipv6-native) needs --ipv6-cidr-block, a /64 of the VPC's IPv6 block.".into(),
            });
        }
        (true, None, Some(b)) => SubnetBlocks::Ipv6Only(b),
        (false, None, _) => return Err(input::missing("CidrBlock")),
        (false, Some(a), None) => SubnetBlocks::Ipv4(a),
        (false, Some(a), Some(b)) => SubnetBlocks::DualStack(a, b),
    };
    let req = CreateSubnet {
        vpc_id,
        blocks,
        availability_zone: p.get("AvailabilityZone"),
        availability_zone_id: p.get("AvailabilityZoneId"),
        outpost_arn: p.get("OutpostArn"),
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
    let subnet_id: SubnetId = p.id("SubnetId")?;
    if let Some(pool) = p.get("Ipv6IpamPoolId") {
        return Err(Ec2Error::Unsupported {
            message: format!(
                "IPAM pools ({pool}) are not offered by this region; give --ipv6-cidr-block, a /64 of the VPC's Amazon-provided block."
            ),
        });
    }
    let block = p
        .cidr::<Ipv6Cidr>("Ipv6CidrBlock")?
        .ok_or(input::missing("Ipv6CidrBlock"))?;
    let (subnet_id, a) = c
        .region
        .write(|s, env| s.associate_subnet_cidr_block(env, &subnet_id, block))?;
    let mut x = Xml::new();
    x.open("ipv6CidrBlockAssociation");
    render::ipv6_assoc(&mut x, &a, "ipv6CidrBlockState", "associating", false);
    x.close("ipv6CidrBlockAssociation");
    x.leaf("subnetId", subnet_id);
    Ok(x)
}

pub fn disassociate_subnet_cidr_block(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let id: SubnetCidrAssociationId = p.id("AssociationId")?;
    let (subnet_id, a) = c
        .region
        .write(|s, _| s.disassociate_subnet_cidr_block(&id))?;
    let mut x = Xml::new();
    x.open("ipv6CidrBlockAssociation");
    render::ipv6_assoc(&mut x, &a, "ipv6CidrBlockState", "disassociating", false);
    x.close("ipv6CidrBlockAssociation");
    x.leaf("subnetId", subnet_id);
    Ok(x)
}

pub fn modify_subnet_attribute(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let subnet_id: SubnetId = p.id("SubnetId")?;
    let assign = p.bool("AssignIpv6AddressOnCreation.Value")?;
    let public = p.bool("MapPublicIpOnLaunch.Value")?;
    if assign.is_none() && public.is_none() {
        return Err(input::missing(
            "AssignIpv6AddressOnCreation or MapPublicIpOnLaunch",
        ));
    }
    c.region
        .write(|s, _| s.modify_subnet_attribute(&subnet_id, assign, public))?;
    Ok(ok_return())
}

pub fn describe_subnets(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let page = c.page(p, None)?;
    let s = c.region.read();
    let subnets = s.describe_subnets(&p.ids::<SubnetId>("SubnetId")?, &p.filters(), &page)?;
    let mut x = Xml::new();
    x.items("subnetSet", &subnets.items, |x, sub| {
        render::subnet(x, sub, &s, &c.owner, &c.rname)
    });
    c.next_token(&mut x, &subnets);
    Ok(x)
}

pub fn delete_subnet(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let subnet_id: SubnetId = p.id("SubnetId")?;
    c.region.write(|s, _| s.delete_subnet(&subnet_id))?;
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
    let igw: InternetGatewayId = p.id("InternetGatewayId")?;
    let vpc_id: VpcId = p.id("VpcId")?;
    c.region
        .write(|s, _| s.attach_internet_gateway(&igw, &vpc_id))?;
    Ok(ok_return())
}

pub fn detach_internet_gateway(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let igw: InternetGatewayId = p.id("InternetGatewayId")?;
    let vpc_id: VpcId = p.id("VpcId")?;
    c.region
        .write(|s, _| s.detach_internet_gateway(&igw, &vpc_id))?;
    Ok(ok_return())
}

pub fn delete_internet_gateway(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let igw: InternetGatewayId = p.id("InternetGatewayId")?;
    c.region.write(|s, _| s.delete_internet_gateway(&igw))?;
    Ok(ok_return())
}

pub fn describe_internet_gateways(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let page = c.page(p, None)?;
    let s = c.region.read();
    let gs = s.describe_internet_gateways(
        &p.ids::<InternetGatewayId>("InternetGatewayId")?,
        &p.filters(),
        &page,
    )?;
    let mut x = Xml::new();
    x.items("internetGatewaySet", &gs.items, |x, g| {
        render::internet_gateway(x, g, &c.owner)
    });
    c.next_token(&mut x, &gs);
    Ok(x)
}

pub fn create_egress_only_internet_gateway(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let tags = p.tag_specs("egress-only-internet-gateway");
    let vpc_id: VpcId = p.id("VpcId")?;
    let token = c.client_token(p);
    let g = c.region.write(|s, env| {
        if let Some((t, fp)) = &token
            && let Some(ids) = s.client_token_replay(c.action, t, fp)?
            && let Some(g) = ids.first().and_then(|id| s.egress_only_gateways.get(id))
        {
            return Ok(g.clone());
        }
        let g = s.create_egress_only_internet_gateway(env, &vpc_id, tags.clone())?;
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
    let id: EgressOnlyInternetGatewayId = p.id("EgressOnlyInternetGatewayId")?;
    c.region
        .write(|s, _| s.delete_egress_only_internet_gateway(&id))?;
    let mut x = Xml::new();
    x.leaf("returnCode", true);
    Ok(x)
}

pub fn describe_egress_only_internet_gateways(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let page = c.page(p, None)?;
    let s = c.region.read();
    let gs = s.describe_egress_only_gateways(
        &p.ids::<EgressOnlyInternetGatewayId>("EgressOnlyInternetGatewayId")?,
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
    let vpc_id: VpcId = p.id("VpcId")?;
    let token = c.client_token(p);
    let rt = c.region.write(|s, env| {
        if let Some((t, fp)) = &token
            && let Some(ids) = s.client_token_replay(c.action, t, fp)?
            && let Some(rt) = ids.first().and_then(|id| s.route_tables.get(id))
        {
            return Ok(rt.clone());
        }
        let rt = s.create_route_table(env, &vpc_id, tags.clone())?;
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

/// The one gateway a CreateRoute/ReplaceRoute names: `GatewayId` or `EgressOnlyInternetGatewayId`.
fn route_target(p: &Params) -> Result<RouteTarget, Ec2Error> {
    match (p.get("GatewayId"), p.get("EgressOnlyInternetGatewayId")) {
        (Some(g), None) if g == "local" => Err(Ec2Error::invalid(
            "GatewayId",
            g,
            "Local routes are created with the route table; target an internet gateway (igw-...).",
        )),
        (Some(_), None) => Ok(RouteTarget::InternetGateway(p.id("GatewayId")?)),
        (None, Some(_)) => Ok(RouteTarget::EgressOnly(
            p.id("EgressOnlyInternetGatewayId")?,
        )),
        (None, None) => Err(input::missing("GatewayId or EgressOnlyInternetGatewayId")),
        (Some(_), Some(_)) => Err(Ec2Error::InvalidParameterCombination {
            message:
                "Give exactly one route target: --gateway-id or --egress-only-internet-gateway-id."
                    .into(),
        }),
    }
}

pub fn create_route(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let rtb: RouteTableId = p.id("RouteTableId")?;
    let destination = p.destination()?;
    let target = route_target(p)?;
    c.region
        .write(|s, _| s.create_route(&rtb, destination, target.clone()))?;
    Ok(ok_return())
}

pub fn replace_route(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let rtb: RouteTableId = p.id("RouteTableId")?;
    let destination = p.destination()?;
    let target = route_target(p)?;
    c.region
        .write(|s, _| s.replace_route(&rtb, destination, target.clone()))?;
    Ok(ok_return())
}

pub fn delete_route(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let rtb: RouteTableId = p.id("RouteTableId")?;
    let destination = p.destination()?;
    c.region.write(|s, _| s.delete_route(&rtb, destination))?;
    Ok(ok_return())
}

pub fn associate_route_table(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let rtb: RouteTableId = p.id("RouteTableId")?;
    let subnet_id: SubnetId = p.id("SubnetId")?;
    let id = c
        .region
        .write(|s, env| s.associate_route_table(env, &rtb, &subnet_id))?;
    let mut x = Xml::new();
    x.leaf("associationId", id);
    x.open("associationState")
        .leaf("state", "associated")
        .close("associationState");
    Ok(x)
}

pub fn disassociate_route_table(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let id: RouteTableAssociationId = p.id("AssociationId")?;
    c.region.write(|s, _| s.disassociate_route_table(&id))?;
    Ok(ok_return())
}

pub fn delete_route_table(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let rtb: RouteTableId = p.id("RouteTableId")?;
    c.region.write(|s, _| s.delete_route_table(&rtb))?;
    Ok(ok_return())
}

pub fn describe_route_tables(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let page = c.page(p, None)?;
    let s = c.region.read();
    let rts =
        s.describe_route_tables(&p.ids::<RouteTableId>("RouteTableId")?, &p.filters(), &page)?;
    let mut x = Xml::new();
    x.items("routeTableSet", &rts.items, |x, r| {
        render::route_table(x, r, &c.owner)
    });
    c.next_token(&mut x, &rts);
    Ok(x)
}
