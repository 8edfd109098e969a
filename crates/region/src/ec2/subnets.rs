//! Subnets (dual-stack, IPv4-only and IPv6-only) and the migration path of an existing VPC to
//! IPv6: AssociateSubnetCidrBlock / DisassociateSubnetCidrBlock, DisassociateVpcCidrBlock and the
//! VPC attributes. A block still used (by subnets, addresses of interfaces) cannot be removed.

use addressing::cidr::{Ipv4Cidr, Ipv6Cidr, Subnet64};
use ipnet::{Ipv4Net, Ipv6Net};

use super::error::Ec2Error;
use super::model::*;
use super::vpc::{aws_block, overlaps4, overlaps6};
use super::{lookup, lookup_mut, stored, stored_mut};
use crate::ids::{self, Kind, SubnetCidrAssociationId, SubnetId, VpcCidrAssociationId, VpcId};
use crate::region::Env;
use crate::state::State;
use crate::zones;

/// CreateSubnet as the wire layer parsed it.
#[derive(Debug, Clone)]
pub struct CreateSubnet {
    /// The VPC the subnet is made in.
    pub vpc_id: VpcId,
    /// The subnet's blocks.
    pub blocks: SubnetBlocks,
    /// `AvailabilityZone` (by name).
    pub availability_zone: Option<String>,
    /// `AvailabilityZoneId` (by id).
    pub availability_zone_id: Option<String>,
    /// `OutpostArn`: refused (no Outposts).
    pub outpost_arn: Option<String>,
    /// Tags.
    pub tags: Tags,
}

impl CreateSubnet {
    /// A subnet of `vpc_id` with `blocks`, in the region's first zone, without tags.
    pub fn new(vpc_id: VpcId, blocks: SubnetBlocks) -> Self {
        Self {
            vpc_id,
            blocks,
            availability_zone: None,
            availability_zone_id: None,
            outpost_arn: None,
            tags: Tags::new(),
        }
    }
}

/// The blocks of a new subnet: an IPv4 block inside the VPC's (/16 to /28), an IPv6 /64 inside
/// the VPC's IPv6 blocks, or both. A subnet with only an IPv6 block is IPv6-only.
#[derive(Debug, Clone, Copy)]
pub enum SubnetBlocks {
    /// IPv4 only.
    Ipv4(Ipv4Cidr),
    /// Dual stack.
    DualStack(Ipv4Cidr, Ipv6Cidr),
    /// IPv6 only (EC2's `Ipv6Native`).
    Ipv6Only(Ipv6Cidr),
}

impl SubnetBlocks {
    fn ipv4(self) -> Option<Ipv4Cidr> {
        match self {
            Self::Ipv4(a) | Self::DualStack(a, _) => Some(a),
            Self::Ipv6Only(_) => None,
        }
    }

    fn ipv6(self) -> Option<Ipv6Cidr> {
        match self {
            Self::DualStack(_, b) | Self::Ipv6Only(b) => Some(b),
            Self::Ipv4(_) => None,
        }
    }
}

/// What DisassociateVpcCidrBlock removed.
#[derive(Debug, Clone)]
pub enum RemovedVpcBlock {
    /// An IPv4 block.
    V4(Ipv4Association),
    /// An IPv6 block.
    V6(Ipv6Association),
}

/// A VPC attribute of DescribeVpcAttribute / ModifyVpcAttribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VpcAttribute {
    /// `enableDnsSupport`.
    EnableDnsSupport,
    /// `enableDnsHostnames`.
    EnableDnsHostnames,
    /// `enableNetworkAddressUsageMetrics`.
    EnableNetworkAddressUsageMetrics,
}

impl VpcAttribute {
    /// The wire name (`enableDnsSupport` ...).
    pub fn parse(s: &str) -> Result<Self, Ec2Error> {
        match s {
            "enableDnsSupport" => Ok(Self::EnableDnsSupport),
            "enableDnsHostnames" => Ok(Self::EnableDnsHostnames),
            "enableNetworkAddressUsageMetrics" => Ok(Self::EnableNetworkAddressUsageMetrics),
            other => Err(Ec2Error::invalid(
                "Attribute",
                other,
                "Use enableDnsSupport, enableDnsHostnames or enableNetworkAddressUsageMetrics.",
            )),
        }
    }

    /// The wire name (`enableDnsSupport` ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::EnableDnsSupport => "enableDnsSupport",
            Self::EnableDnsHostnames => "enableDnsHostnames",
            Self::EnableNetworkAddressUsageMetrics => "enableNetworkAddressUsageMetrics",
        }
    }
}

fn remember<T>(history: &mut Vec<T>, item: T) {
    history.push(item);
    if history.len() > MAX_DISASSOCIATED {
        history.remove(0);
    }
}

impl State {
    /// Check a subnet IPv6 block: a /64 inside one of the VPC's blocks, overlapping no sibling.
    fn check_subnet_ipv6(
        &self,
        vpc: &Vpc,
        subnet_id: Option<&SubnetId>,
        cidr: Ipv6Cidr,
    ) -> Result<Ipv6Net, Ec2Error> {
        let n = Subnet64::try_from(cidr)
            .map_err(|_| Ec2Error::InvalidSubnetRange {
                cidr: cidr.to_string(),
                reason: "a subnet's IPv6 block must be a /64.".into(),
            })?
            .cidr()
            .to_ipnet();
        let vpc_id = &vpc.id;
        if !vpc.ipv6_cidrs().any(|v| v.contains(&n)) {
            let blocks: Vec<String> = vpc.ipv6_cidrs().map(|c| c.to_string()).collect();
            let fix = if blocks.is_empty() {
                format!(
                    "VPC {vpc_id} has no IPv6 block: associate an Amazon-provided IPv6 block with it first."
                )
            } else {
                format!("choose a /64 inside VPC {vpc_id}'s {}.", blocks.join(", "))
            };
            return Err(Ec2Error::InvalidSubnetRange {
                cidr: cidr.to_string(),
                reason: format!("it is not inside the VPC; {fix}"),
            });
        }
        if let Some((o, oc)) = self
            .subnets
            .values()
            .filter(|o| o.vpc_id == *vpc_id && subnet_id.is_none_or(|id| *id != o.id))
            .find_map(|o| {
                let a = o.ipv6.as_ref()?;
                overlaps6(a.cidr, n).then(|| (o.id.clone(), a.cidr.to_string()))
            })
        {
            return Err(Ec2Error::InvalidSubnetConflict {
                cidr: cidr.to_string(),
                other: o,
                other_cidr: oc,
            });
        }
        Ok(n)
    }

    fn check_subnet_ipv4(&self, vpc: &Vpc, block: Ipv4Cidr) -> Result<Ipv4Net, Ec2Error> {
        let cidr = aws_block(block).map_err(|_| Ec2Error::InvalidSubnetRange {
            cidr: block.to_string(),
            reason: "a subnet's IPv4 block must be between /16 and /28.".into(),
        })?;
        let vpc_id = &vpc.id;
        if !vpc.ipv4_cidrs().any(|v| v.contains(&cidr)) {
            let blocks: Vec<String> = vpc.ipv4_cidrs().map(|c| c.to_string()).collect();
            return Err(Ec2Error::InvalidSubnetRange {
                cidr: block.to_string(),
                reason: format!("it is not inside VPC {vpc_id} ({}).", blocks.join(", ")),
            });
        }
        if let Some((o, oc)) = self
            .subnets
            .values()
            .filter(|o| o.vpc_id == *vpc_id)
            .find_map(|o| {
                let c = o.cidr_block?;
                overlaps4(c, cidr).then(|| (o.id.clone(), c.to_string()))
            })
        {
            return Err(Ec2Error::InvalidSubnetConflict {
                cidr: block.to_string(),
                other: o,
                other_cidr: oc,
            });
        }
        Ok(cidr)
    }

    /// CreateSubnet: a subnet with blocks inside its VPC's and overlapping no other subnet's, in one zone.
    pub fn create_subnet(&mut self, env: &mut Env, req: CreateSubnet) -> Result<Subnet, Ec2Error> {
        let vpc = lookup(&self.vpcs, &req.vpc_id)?.clone();
        let cidr = match req.blocks.ipv4() {
            Some(c) => Some(self.check_subnet_ipv4(&vpc, c)?),
            None => None,
        };
        let ipv6 = match req.blocks.ipv6() {
            None => None,
            Some(c) => Some(Ipv6Association {
                cidr: self.check_subnet_ipv6(&vpc, None, c)?,
                id: ids::generate(Kind::SubnetCidrAssociation, env.rng),
                border_group: env.config.name.clone(),
            }),
        };
        let ipv6_native = matches!(req.blocks, SubnetBlocks::Ipv6Only(_));
        let zone = zones::resolve(
            &env.config.name,
            req.availability_zone.as_deref(),
            req.availability_zone_id.as_deref(),
        )?;
        if let Some(arn) = req
            .outpost_arn
            .as_ref()
            .filter(|a| !a.starts_with("arn:aws:outposts:"))
        {
            return Err(Ec2Error::invalid(
                "OutpostArn",
                arn.clone(),
                "An Outpost ARN looks like arn:aws:outposts:REGION:ACCOUNT:outpost/op-0123456789abcdef0.",
            ));
        }
        let subnet = Subnet {
            id: ids::generate(Kind::Subnet, env.rng),
            vpc_id: req.vpc_id.into(),
            availability_zone: zone.name,
            cidr_block: cidr,
            ipv6,
            // EC2 turns auto-assign on for IPv6-only subnets (their interfaces need an address).
            assign_ipv6_on_creation: ipv6_native,
            map_public_ip_on_launch: false,
            outpost_arn: req.outpost_arn,
            tags: req.tags,
            ipv6_native,
            ipv6_disassociated: vec![],
        };
        self.subnets.insert(subnet.id.clone(), subnet.clone());
        Ok(subnet)
    }

    /// ModifySubnetAttribute: sets whichever of the two attributes are given.
    pub fn modify_subnet_attribute(
        &mut self,
        subnet_id: &SubnetId,
        assign_ipv6: Option<bool>,
        map_public_ip: Option<bool>,
    ) -> Result<(), Ec2Error> {
        let s = lookup_mut(&mut self.subnets, subnet_id)?;
        if assign_ipv6 == Some(true) && s.ipv6.is_none() {
            return Err(Ec2Error::invalid(
                "AssignIpv6AddressOnCreation",
                "true",
                format!(
                    "Subnet {subnet_id} has no IPv6 CIDR block; associate a /64 of its VPC's IPv6 block with it before turning on IPv6 auto-assign."
                ),
            ));
        }
        if let Some(v) = assign_ipv6 {
            s.assign_ipv6_on_creation = v;
        }
        if let Some(v) = map_public_ip {
            s.map_public_ip_on_launch = v;
        }
        Ok(())
    }

    /// DeleteSubnet: refused while network interfaces remain in it.
    pub fn delete_subnet(&mut self, subnet_id: &SubnetId) -> Result<(), Ec2Error> {
        lookup(&self.subnets, subnet_id)?;
        let enis: Vec<String> = self
            .enis_of_subnet(subnet_id.as_str())
            .map(|e| e.id.clone())
            .collect();
        if !enis.is_empty() {
            return Err(Ec2Error::DependencyViolation {
                message: format!(
                    "The subnet '{subnet_id}' has dependencies and cannot be deleted: network interfaces {}. Delete them (or terminate their instances) first.",
                    enis.join(", ")
                ),
            });
        }
        let rtbs: Vec<String> = self
            .route_tables
            .values()
            .filter(|r| r.associations.iter().any(|a| *subnet_id == a.subnet_id))
            .map(|r| r.id.clone())
            .collect();
        for id in rtbs {
            if let Some(rt) = self.route_tables.get_mut(&id) {
                rt.associations.retain(|a| *subnet_id != a.subnet_id);
            }
        }
        self.subnets.remove(subnet_id.as_str());
        Ok(())
    }

    /// AssociateSubnetCidrBlock: give an existing subnet its IPv6 /64 (the migration path).
    pub fn associate_subnet_cidr_block(
        &mut self,
        env: &mut Env,
        subnet_id: &SubnetId,
        block: Ipv6Cidr,
    ) -> Result<(SubnetId, Ipv6Association), Ec2Error> {
        let subnet = lookup(&self.subnets, subnet_id)?.clone();
        if let Some(a) = &subnet.ipv6 {
            return Err(Ec2Error::AlreadyAssociated {
                message: format!(
                    "Subnet {subnet_id} already has IPv6 block {} ({}); a subnet has at most one. Disassociate it first to change it.",
                    a.cidr, a.id
                ),
            });
        }
        let vpc = stored(&self.vpcs, Kind::Vpc, &subnet.vpc_id)?.clone();
        let cidr = self.check_subnet_ipv6(&vpc, Some(subnet_id), block)?;
        let assoc = Ipv6Association {
            id: ids::generate(Kind::SubnetCidrAssociation, env.rng),
            cidr,
            border_group: env.config.name.clone(),
        };
        lookup_mut(&mut self.subnets, subnet_id)?.ipv6 = Some(assoc.clone());
        Ok((subnet_id.clone(), assoc))
    }

    /// DisassociateSubnetCidrBlock: remove a subnet's IPv6 block once no interface uses it.
    pub fn disassociate_subnet_cidr_block(
        &mut self,
        id: &SubnetCidrAssociationId,
    ) -> Result<(String, Ipv6Association), Ec2Error> {
        let subnet = self
            .subnets
            .values()
            .find(|s| s.ipv6.as_ref().is_some_and(|a| *id == a.id))
            .cloned()
            .ok_or(Ec2Error::NotFound {
                kind: Kind::SubnetCidrAssociation,
                id: id.to_string(),
            })?;
        if subnet.ipv6_native {
            return Err(Ec2Error::Unsupported {
                message: format!(
                    "Subnet {} is IPv6-only: its IPv6 block cannot be removed; delete the subnet instead.",
                    subnet.id
                ),
            });
        }
        let users: Vec<String> = self
            .enis_of_subnet(&subnet.id)
            .filter(|e| !e.ipv6_addresses.is_empty() || !e.ipv6_prefixes.is_empty())
            .map(|e| e.id.clone())
            .collect();
        if !users.is_empty() {
            return Err(Ec2Error::DependencyViolation {
                message: format!(
                    "The IPv6 block of subnet {} is in use by network interfaces {}; unassign their IPv6 addresses and prefixes (or delete them) first.",
                    subnet.id,
                    users.join(", ")
                ),
            });
        }
        let s = stored_mut(&mut self.subnets, Kind::Subnet, &subnet.id)?;
        let assoc = s.ipv6.take().ok_or(Ec2Error::NotFound {
            kind: Kind::SubnetCidrAssociation,
            id: id.to_string(),
        })?;
        s.assign_ipv6_on_creation = false;
        remember(&mut s.ipv6_disassociated, assoc.clone());
        Ok((subnet.id, assoc))
    }

    /// DisassociateVpcCidrBlock: remove a secondary IPv4 block or an IPv6 block no subnet uses;
    /// its local routes go with it. The primary IPv4 block stays for the VPC's life.
    pub fn disassociate_vpc_cidr_block(
        &mut self,
        id: &VpcCidrAssociationId,
    ) -> Result<(String, RemovedVpcBlock), Ec2Error> {
        let id = id.as_str();
        let vpc = self
            .vpcs
            .values()
            .find(|v| {
                v.ipv4_associations.iter().any(|a| a.id == id)
                    || v.ipv6_associations.iter().any(|a| a.id == id)
            })
            .cloned()
            .ok_or(Ec2Error::NotFound {
                kind: Kind::VpcCidrAssociation,
                id: id.to_string(),
            })?;
        let subnets = self.subnets.values().filter(|s| s.vpc_id == vpc.id);
        let (removed, users, dest): (RemovedVpcBlock, Vec<String>, Destination) = if let Some(a) =
            vpc.ipv4_associations.iter().find(|a| a.id == id)
        {
            if a.cidr == vpc.cidr_block {
                return Err(Ec2Error::OperationNotPermitted {
                    message: format!(
                        "{} is the primary IPv4 block of {}; it cannot be disassociated (delete the VPC instead).",
                        a.cidr, vpc.id
                    ),
                });
            }
            let users = subnets
                .filter(|s| s.cidr_block.is_some_and(|c| a.cidr.contains(&c)))
                .map(|s| s.id.clone())
                .collect();
            (
                RemovedVpcBlock::V4(a.clone()),
                users,
                Destination::V4(a.cidr),
            )
        } else {
            let a =
                vpc.ipv6_associations
                    .iter()
                    .find(|a| a.id == id)
                    .ok_or(Ec2Error::NotFound {
                        kind: Kind::VpcCidrAssociation,
                        id: id.to_string(),
                    })?;
            let users = subnets
                .filter(|s| s.ipv6.as_ref().is_some_and(|b| a.cidr.contains(&b.cidr)))
                .map(|s| s.id.clone())
                .collect();
            (
                RemovedVpcBlock::V6(a.clone()),
                users,
                Destination::V6(a.cidr),
            )
        };
        if !users.is_empty() {
            return Err(Ec2Error::DependencyViolation {
                message: format!(
                    "The CIDR block {dest} of {} is in use by subnets {}; disassociate their blocks or delete them first.",
                    vpc.id,
                    users.join(", ")
                ),
            });
        }
        let rtbs: Vec<String> = self
            .route_tables
            .values()
            .filter(|r| r.vpc_id == vpc.id)
            .map(|r| r.id.clone())
            .collect();
        for r in rtbs {
            if let Some(rt) = self.route_tables.get_mut(&r) {
                rt.routes
                    .retain(|x| !(x.destination == dest && x.target == Target::Local));
            }
        }
        let v = stored_mut(&mut self.vpcs, Kind::Vpc, &vpc.id)?;
        match &removed {
            RemovedVpcBlock::V4(a) => {
                v.ipv4_associations.retain(|x| x.id != a.id);
                remember(&mut v.ipv4_disassociated, a.clone());
            }
            RemovedVpcBlock::V6(a) => {
                v.ipv6_associations.retain(|x| x.id != a.id);
                remember(&mut v.ipv6_disassociated, a.clone());
            }
        }
        Ok((vpc.id, removed))
    }

    /// DescribeVpcAttribute.
    pub fn vpc_attribute(&self, vpc_id: &VpcId, attr: VpcAttribute) -> Result<bool, Ec2Error> {
        let v = lookup(&self.vpcs, vpc_id)?;
        let value = match attr {
            VpcAttribute::EnableDnsSupport => v.enable_dns_support,
            VpcAttribute::EnableDnsHostnames => v.enable_dns_hostnames,
            VpcAttribute::EnableNetworkAddressUsageMetrics => {
                v.enable_network_address_usage_metrics
            }
        };
        Ok(value)
    }

    /// ModifyVpcAttribute: sets one attribute (EC2 takes one per call).
    pub fn modify_vpc_attribute(
        &mut self,
        vpc_id: &VpcId,
        attr: VpcAttribute,
        value: bool,
    ) -> Result<(), Ec2Error> {
        let v = lookup_mut(&mut self.vpcs, vpc_id)?;
        if attr == VpcAttribute::EnableDnsHostnames && value && !v.enable_dns_support {
            return Err(Ec2Error::invalid(
                "EnableDnsHostnames",
                "true",
                format!("VPC {vpc_id} has DNS support off; turn enableDnsSupport on first."),
            ));
        }
        match attr {
            VpcAttribute::EnableDnsSupport => v.enable_dns_support = value,
            VpcAttribute::EnableDnsHostnames => v.enable_dns_hostnames = value,
            VpcAttribute::EnableNetworkAddressUsageMetrics => {
                v.enable_network_address_usage_metrics = value
            }
        }
        Ok(())
    }
}
