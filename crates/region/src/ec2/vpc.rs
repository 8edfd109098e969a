//! VPCs, their CIDR blocks, subnets, internet and egress-only gateways, route tables.

use std::collections::BTreeSet;

use addressing::cidr::{AwsIpv4Cidr, CidrError, Ipv4Cidr};
use ipnet::{Ipv4Net, Ipv6Net};

use super::error::Ec2Error;
use super::model::*;
use super::{lookup, lookup_mut, net};
use crate::ids::{
    self, EgressOnlyInternetGatewayId, InternetGatewayId, Kind, RouteTableAssociationId,
    RouteTableId, SubnetId, TypedId, VpcId,
};
use crate::region::Env;
use crate::state::State;

pub use super::subnets::CreateSubnet;

const MAX_CIDRS: usize = 5;

pub(crate) fn overlaps4(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

pub(crate) fn overlaps6(a: Ipv6Net, b: Ipv6Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// CreateVpc as the wire layer parsed it.
#[derive(Debug, Clone)]
pub struct CreateVpc {
    /// The primary IPv4 block; it must be /16 to /28 (refused with `InvalidVpcRange` otherwise).
    pub cidr_block: Ipv4Cidr,
    /// Also allocate an Amazon-provided IPv6 /56.
    pub amazon_provided_ipv6: bool,
    /// The VPC's instance tenancy.
    pub tenancy: Tenancy,
    /// Tags.
    pub tags: Tags,
}

impl CreateVpc {
    /// A VPC with `cidr_block`, default tenancy, no IPv6 block and no tags.
    pub fn new(cidr_block: Ipv4Cidr) -> Self {
        Self {
            cidr_block,
            amazon_provided_ipv6: false,
            tenancy: Tenancy::Default,
            tags: Tags::new(),
        }
    }
}

/// A VPC's instance tenancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tenancy {
    /// Shared hardware (the default).
    #[default]
    Default,
    /// Dedicated instances.
    Dedicated,
    /// Dedicated hosts.
    Host,
}

impl Tenancy {
    /// The tenancy named `s` (`default`, `dedicated` or `host`), if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "default" => Some(Self::Default),
            "dedicated" => Some(Self::Dedicated),
            "host" => Some(Self::Host),
            _ => None,
        }
    }

    /// The tenancy's name, as EC2 reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Dedicated => "dedicated",
            Self::Host => "host",
        }
    }
}

/// The block AssociateVpcCidrBlock adds.
#[derive(Debug, Clone, Copy)]
pub enum VpcBlock {
    /// A secondary IPv4 block (/16 to /28, overlapping none of the VPC's).
    Ipv4(Ipv4Cidr),
    /// An Amazon-provided IPv6 /56.
    AmazonIpv6,
}

/// Where CreateRoute sends a destination.
#[derive(Debug, Clone)]
pub enum RouteTarget {
    /// An internet gateway attached to the table's VPC (IPv4 or IPv6).
    InternetGateway(InternetGatewayId),
    /// An egress-only internet gateway of the table's VPC (IPv6 only).
    EgressOnly(EgressOnlyInternetGatewayId),
}

/// `cidr` as a VPC's IPv4 block (/16 to /28), or why it cannot be one.
pub(crate) fn aws_block(cidr: Ipv4Cidr) -> Result<Ipv4Net, String> {
    AwsIpv4Cidr::try_from(cidr)
        .map(|c| c.to_ipnet())
        .map_err(|e| match e {
            CidrError::PrefixLength { suggestion, .. } => {
                format!("it must be between /16 and /28 (for example {suggestion}).")
            }
            other => other.to_string(),
        })
}

/// What AssociateVpcCidrBlock added.
#[derive(Debug, Clone)]
pub enum CidrAssociation {
    /// An IPv4 block.
    V4(Ipv4Association),
    /// An IPv6 block.
    V6(Ipv6Association),
}

impl State {
    fn amazon_block(&self, env: &mut Env) -> Result<Ipv6Net, Ec2Error> {
        let used: BTreeSet<Ipv6Net> = self.vpcs.values().flat_map(|v| v.ipv6_cidrs()).collect();
        net::pick_vpc_block(&used, env.rng).ok_or(Ec2Error::InsufficientAddresses {
            subnet: "2001:db8::/32 (the region's IPv6 pool)".into(),
            what: "IPv6 /56 blocks",
        })
    }

    /// CreateVpc: the VPC with its main route table (local routes) and its default security group.
    pub fn create_vpc(&mut self, env: &mut Env, req: CreateVpc) -> Result<Vpc, Ec2Error> {
        let cidr = aws_block(req.cidr_block).map_err(|_| Ec2Error::InvalidVpcRange {
            cidr: req.cidr_block.to_string(),
            reason:
                "a VPC's IPv4 block must be between /16 and /28; try a /16 such as 10.0.0.0/16."
                    .into(),
        })?;
        let tenancy = req.tenancy.as_str().to_string();
        let vpc_id = ids::generate(Kind::Vpc, env.rng);
        let mut ipv6_associations = Vec::new();
        if req.amazon_provided_ipv6 {
            let block = self.amazon_block(env)?;
            ipv6_associations.push(Ipv6Association {
                id: ids::generate(Kind::VpcCidrAssociation, env.rng),
                cidr: block,
                border_group: env.config.name.clone(),
            });
        }
        let rtb_id = ids::generate(Kind::RouteTable, env.rng);
        let sg_id = ids::generate(Kind::SecurityGroup, env.rng);
        let vpc = Vpc {
            id: vpc_id.clone(),
            cidr_block: cidr,
            ipv4_associations: vec![Ipv4Association {
                id: ids::generate(Kind::VpcCidrAssociation, env.rng),
                cidr,
            }],
            ipv6_associations,
            main_route_table: rtb_id.clone(),
            default_security_group: sg_id.clone(),
            tenancy,
            tags: req.tags,
            ipv4_disassociated: vec![],
            ipv6_disassociated: vec![],
            enable_dns_support: true,
            enable_dns_hostnames: false,
            enable_network_address_usage_metrics: false,
        };
        let mut routes = vec![Route {
            destination: Destination::V4(cidr),
            target: Target::Local,
            origin: "CreateRouteTable".into(),
        }];
        routes.extend(vpc.ipv6_cidrs().map(|c| Route {
            destination: Destination::V6(c),
            target: Target::Local,
            origin: "CreateRouteTable".into(),
        }));
        self.route_tables.insert(
            rtb_id.clone(),
            RouteTable {
                id: rtb_id,
                vpc_id: vpc_id.clone(),
                main: true,
                main_association: Some(ids::generate(Kind::RouteTableAssociation, env.rng)),
                routes,
                associations: vec![],
                tags: Tags::new(),
            },
        );
        let mut rules = vec![Rule {
            id: ids::generate(Kind::SecurityGroupRule, env.rng),
            egress: false,
            protocol: "-1".into(),
            from_port: None,
            to_port: None,
            source: RuleSource::Group(sg_id.clone()),
            description: None,
        }];
        rules.push(Rule {
            id: ids::generate(Kind::SecurityGroupRule, env.rng),
            egress: true,
            protocol: "-1".into(),
            from_port: None,
            to_port: None,
            source: RuleSource::V4("0.0.0.0/0".parse().unwrap_or_default()),
            description: None,
        });
        if !vpc.ipv6_associations.is_empty() {
            rules.push(Rule {
                id: ids::generate(Kind::SecurityGroupRule, env.rng),
                egress: true,
                protocol: "-1".into(),
                from_port: None,
                to_port: None,
                source: RuleSource::V6("::/0".parse().unwrap_or_default()),
                description: None,
            });
        }
        self.security_groups.insert(
            sg_id.clone(),
            SecurityGroup {
                id: sg_id,
                name: "default".into(),
                description: "default VPC security group".into(),
                vpc_id: vpc_id.clone(),
                rules,
                tags: Tags::new(),
            },
        );
        self.vpcs.insert(vpc_id, vpc.clone());
        Ok(vpc)
    }

    /// AssociateVpcCidrBlock: adds an IPv4 block or an Amazon-provided IPv6 /56 to the VPC; answers the VPC id and the association.
    pub fn associate_vpc_cidr_block(
        &mut self,
        env: &mut Env,
        vpc_id: &VpcId,
        block: VpcBlock,
    ) -> Result<(VpcId, CidrAssociation), Ec2Error> {
        let vpc = lookup(&self.vpcs, vpc_id)?.clone();
        let assoc = match block {
            VpcBlock::AmazonIpv6 => {
                if vpc.ipv6_associations.len() >= MAX_CIDRS {
                    return Err(Ec2Error::invalid(
                        "AmazonProvidedIpv6CidrBlock",
                        "true",
                        format!(
                            "VPC {vpc_id} already has {MAX_CIDRS} IPv6 blocks, the most a VPC can have."
                        ),
                    ));
                }
                let block = self.amazon_block(env)?;
                CidrAssociation::V6(Ipv6Association {
                    id: ids::generate(Kind::VpcCidrAssociation, env.rng),
                    cidr: block,
                    border_group: env.config.name.clone(),
                })
            }
            VpcBlock::Ipv4(c) => {
                let cidr = aws_block(c).map_err(|reason| Ec2Error::InvalidVpcRange {
                    cidr: c.to_string(),
                    reason,
                })?;
                if let Some(o) = vpc.ipv4_cidrs().find(|o| overlaps4(*o, cidr)) {
                    return Err(Ec2Error::InvalidVpcRange {
                        cidr: c.to_string(),
                        reason: format!("it overlaps {o}, which VPC {vpc_id} already has."),
                    });
                }
                if vpc.ipv4_associations.len() >= MAX_CIDRS {
                    return Err(Ec2Error::invalid(
                        "CidrBlock",
                        c.to_string(),
                        format!("VPC {vpc_id} already has {MAX_CIDRS} IPv4 blocks."),
                    ));
                }
                CidrAssociation::V4(Ipv4Association {
                    id: ids::generate(Kind::VpcCidrAssociation, env.rng),
                    cidr,
                })
            }
        };
        let dest = match &assoc {
            CidrAssociation::V4(a) => Destination::V4(a.cidr),
            CidrAssociation::V6(a) => Destination::V6(a.cidr),
        };
        let rtbs: Vec<String> = self
            .route_tables
            .values()
            .filter(|r| *vpc_id == r.vpc_id)
            .map(|r| r.id.clone())
            .collect();
        for id in rtbs {
            if let Some(rt) = self.route_tables.get_mut(&id) {
                rt.routes.push(Route {
                    destination: dest,
                    target: Target::Local,
                    origin: "CreateRouteTable".into(),
                });
            }
        }
        let v = lookup_mut(&mut self.vpcs, vpc_id)?;
        match &assoc {
            CidrAssociation::V4(a) => v.ipv4_associations.push(a.clone()),
            CidrAssociation::V6(a) => v.ipv6_associations.push(a.clone()),
        }
        Ok((vpc_id.clone(), assoc))
    }

    /// DeleteVpc: refused while subnets, attached or egress-only gateways, non-main route tables or non-default security groups remain.
    pub fn delete_vpc(&mut self, vpc_id: &VpcId) -> Result<(), Ec2Error> {
        let vpc = lookup(&self.vpcs, vpc_id)?.clone();
        let vpc_id = vpc_id.as_str();
        let mut deps: Vec<String> = Vec::new();
        deps.extend(
            self.subnets
                .values()
                .filter(|s| s.vpc_id == vpc_id)
                .map(|s| s.id.clone()),
        );
        deps.extend(
            self.internet_gateways
                .values()
                .filter(|g| g.attached_vpc.as_deref() == Some(vpc_id))
                .map(|g| g.id.clone()),
        );
        deps.extend(
            self.egress_only_gateways
                .values()
                .filter(|g| g.vpc_id == vpc_id)
                .map(|g| g.id.clone()),
        );
        deps.extend(
            self.route_tables
                .values()
                .filter(|r| r.vpc_id == vpc_id && !r.main)
                .map(|r| r.id.clone()),
        );
        deps.extend(
            self.security_groups
                .values()
                .filter(|g| g.vpc_id == vpc_id && g.id != vpc.default_security_group)
                .map(|g| g.id.clone()),
        );
        if !deps.is_empty() {
            return Err(Ec2Error::DependencyViolation {
                message: format!(
                    "The vpc '{vpc_id}' has dependencies and cannot be deleted: {}. Delete or detach them first.",
                    deps.join(", ")
                ),
            });
        }
        self.route_tables.remove(&vpc.main_route_table);
        self.security_groups.remove(&vpc.default_security_group);
        self.vpcs.remove(vpc_id);
        Ok(())
    }

    /// Refuse to remove a gateway while routes still point at it.
    pub(crate) fn no_routes_to(&self, target: &Target, id: &str) -> Result<(), Ec2Error> {
        let users: Vec<&str> = self
            .route_tables
            .values()
            .filter(|r| r.routes.iter().any(|rt| &rt.target == target))
            .map(|r| r.id.as_str())
            .collect();
        if users.is_empty() {
            return Ok(());
        }
        Err(Ec2Error::DependencyViolation {
            message: format!(
                "Routes in {} still point at {id}; delete them first.",
                users.join(", ")
            ),
        })
    }

    /// The route table a subnet uses: its explicit association, else the VPC's main table.
    pub fn route_table_of_subnet(&self, subnet: &Subnet) -> Option<&RouteTable> {
        self.route_tables
            .values()
            .find(|r| r.associations.iter().any(|a| a.subnet_id == subnet.id))
            .or_else(|| {
                self.vpcs
                    .get(&subnet.vpc_id)
                    .and_then(|v| self.route_tables.get(&v.main_route_table))
            })
    }

    /// CreateInternetGateway: a new, detached internet gateway.
    pub fn create_internet_gateway(&mut self, env: &mut Env, tags: Tags) -> InternetGateway {
        let g = InternetGateway {
            id: ids::generate(Kind::InternetGateway, env.rng),
            attached_vpc: None,
            tags,
        };
        self.internet_gateways.insert(g.id.clone(), g.clone());
        g
    }

    /// AttachInternetGateway: attaches the gateway to the VPC (each holds at most one).
    pub fn attach_internet_gateway(
        &mut self,
        igw_id: &InternetGatewayId,
        vpc_id: &VpcId,
    ) -> Result<(), Ec2Error> {
        lookup(&self.vpcs, vpc_id)?;
        let g = lookup(&self.internet_gateways, igw_id)?;
        if let Some(v) = &g.attached_vpc {
            return Err(Ec2Error::AlreadyAssociated {
                message: format!(
                    "resource {igw_id} is already attached to network {v}; detach it first."
                ),
            });
        }
        if let Some(o) = self
            .internet_gateways
            .values()
            .find(|o| o.attached_vpc.as_deref() == Some(vpc_id.as_str()))
        {
            return Err(Ec2Error::AlreadyAssociated {
                message: format!(
                    "Network {vpc_id} already has an internet gateway attached ({}).",
                    o.id
                ),
            });
        }
        lookup_mut(&mut self.internet_gateways, igw_id)?.attached_vpc = Some(vpc_id.to_string());
        Ok(())
    }

    /// DetachInternetGateway: detaches the gateway from the VPC it is attached to.
    pub fn detach_internet_gateway(
        &mut self,
        igw_id: &InternetGatewayId,
        vpc_id: &VpcId,
    ) -> Result<(), Ec2Error> {
        let g = lookup(&self.internet_gateways, igw_id)?;
        if g.attached_vpc.as_deref() != Some(vpc_id.as_str()) {
            return Err(Ec2Error::GatewayNotAttached {
                gateway: igw_id.to_string(),
                vpc_id: vpc_id.to_string(),
            });
        }
        self.no_routes_to(
            &Target::InternetGateway(igw_id.to_string()),
            igw_id.as_str(),
        )?;
        lookup_mut(&mut self.internet_gateways, igw_id)?.attached_vpc = None;
        Ok(())
    }

    /// DeleteInternetGateway: refused while it is attached.
    pub fn delete_internet_gateway(&mut self, igw_id: &InternetGatewayId) -> Result<(), Ec2Error> {
        let g = lookup(&self.internet_gateways, igw_id)?;
        if let Some(v) = &g.attached_vpc {
            return Err(Ec2Error::DependencyViolation {
                message: format!(
                    "The internetGateway '{igw_id}' has dependencies and cannot be deleted: it is attached to {v}; detach it first."
                ),
            });
        }
        self.internet_gateways.remove(igw_id.as_str());
        Ok(())
    }

    /// CreateEgressOnlyInternetGateway: a gateway for the VPC's IPv6 traffic out.
    pub fn create_egress_only_internet_gateway(
        &mut self,
        env: &mut Env,
        vpc_id: &VpcId,
        tags: Tags,
    ) -> Result<EgressOnlyInternetGateway, Ec2Error> {
        lookup(&self.vpcs, vpc_id)?;
        let g = EgressOnlyInternetGateway {
            id: ids::generate(Kind::EgressOnlyInternetGateway, env.rng),
            vpc_id: vpc_id.to_string(),
            tags,
        };
        self.egress_only_gateways.insert(g.id.clone(), g.clone());
        Ok(g)
    }

    /// DeleteEgressOnlyInternetGateway: removes the gateway.
    pub fn delete_egress_only_internet_gateway(
        &mut self,
        id: &EgressOnlyInternetGatewayId,
    ) -> Result<(), Ec2Error> {
        lookup(&self.egress_only_gateways, id)?;
        self.no_routes_to(
            &Target::EgressOnlyInternetGateway(id.to_string()),
            id.as_str(),
        )?;
        self.egress_only_gateways.remove(id.as_str());
        Ok(())
    }

    /// CreateRouteTable: a new table in the VPC holding its local routes.
    pub fn create_route_table(
        &mut self,
        env: &mut Env,
        vpc_id: &VpcId,
        tags: Tags,
    ) -> Result<RouteTable, Ec2Error> {
        let vpc = lookup(&self.vpcs, vpc_id)?;
        let mut routes: Vec<Route> = vpc
            .ipv4_cidrs()
            .map(|c| Route {
                destination: Destination::V4(c),
                target: Target::Local,
                origin: "CreateRouteTable".into(),
            })
            .collect();
        routes.extend(vpc.ipv6_cidrs().map(|c| Route {
            destination: Destination::V6(c),
            target: Target::Local,
            origin: "CreateRouteTable".into(),
        }));
        let rt = RouteTable {
            id: ids::generate(Kind::RouteTable, env.rng),
            vpc_id: vpc_id.to_string(),
            main: false,
            main_association: None,
            routes,
            associations: vec![],
            tags,
        };
        self.route_tables.insert(rt.id.clone(), rt.clone());
        Ok(rt)
    }

    /// The target a route of `rtb_id` to `destination` may take: a gateway of the table's own
    /// network, and an egress-only gateway only for an IPv6 destination.
    fn route_target(
        &self,
        rtb_id: &RouteTableId,
        destination: &Destination,
        target: RouteTarget,
    ) -> Result<Target, Ec2Error> {
        let rt = lookup(&self.route_tables, rtb_id)?;
        let target = match target {
            RouteTarget::InternetGateway(g) => {
                let igw = lookup(&self.internet_gateways, &g)?;
                if igw.attached_vpc.as_deref() != Some(rt.vpc_id.as_str()) {
                    return Err(Ec2Error::invalid(
                        "GatewayId",
                        g.to_string(),
                        format!(
                            "route table {rtb_id} and network gateway {g} belong to different networks; attach {g} to {} first.",
                            rt.vpc_id
                        ),
                    ));
                }
                Target::InternetGateway(g.into())
            }
            RouteTarget::EgressOnly(e) => {
                let eigw = lookup(&self.egress_only_gateways, &e)?;
                if eigw.vpc_id != rt.vpc_id {
                    return Err(Ec2Error::invalid(
                        "EgressOnlyInternetGatewayId",
                        e.to_string(),
                        format!(
                            "route table {rtb_id} and gateway {e} belong to different networks."
                        ),
                    ));
                }
                if matches!(destination, Destination::V4(_)) {
                    return Err(Ec2Error::invalid(
                        "EgressOnlyInternetGatewayId",
                        e.to_string(),
                        "An egress-only internet gateway carries IPv6 only; route an IPv6 destination such as ::/0 to it, or an IPv4 one to an internet gateway.",
                    ));
                }
                Target::EgressOnlyInternetGateway(e.into())
            }
        };
        Ok(target)
    }

    /// CreateRoute to an internet gateway (IPv4 or IPv6) or an egress-only gateway (IPv6 only).
    pub fn create_route(
        &mut self,
        rtb_id: &RouteTableId,
        destination: Destination,
        target: RouteTarget,
    ) -> Result<(), Ec2Error> {
        let target = self.route_target(rtb_id, &destination, target)?;
        let rt = lookup_mut(&mut self.route_tables, rtb_id)?;
        if rt.routes.iter().any(|r| r.destination == destination) {
            return Err(Ec2Error::RouteAlreadyExists {
                route_table: rtb_id.to_string(),
                destination: destination.to_string(),
            });
        }
        rt.routes.push(Route {
            destination,
            target,
            origin: "CreateRoute".into(),
        });
        Ok(())
    }

    /// ReplaceRoute: points the existing route of `destination` at another gateway, in one step
    /// (what Terraform and the console do to move a route). A local route is not replaced.
    pub fn replace_route(
        &mut self,
        rtb_id: &RouteTableId,
        destination: Destination,
        target: RouteTarget,
    ) -> Result<(), Ec2Error> {
        let target = self.route_target(rtb_id, &destination, target)?;
        let rt = lookup_mut(&mut self.route_tables, rtb_id)?;
        let not_found = || Ec2Error::RouteNotFound {
            route_table: rtb_id.to_string(),
            destination: destination.to_string(),
        };
        let route = rt
            .routes
            .iter_mut()
            .find(|r| r.destination == destination && r.target != Target::Local)
            .ok_or_else(not_found)?;
        route.target = target;
        route.origin = "ReplaceRoute".into();
        Ok(())
    }

    /// DeleteRoute: removes the route of the IPv4 or IPv6 destination (local routes stay).
    pub fn delete_route(
        &mut self,
        rtb_id: &RouteTableId,
        destination: Destination,
    ) -> Result<(), Ec2Error> {
        let rt = lookup_mut(&mut self.route_tables, rtb_id)?;
        let before = rt.routes.len();
        rt.routes
            .retain(|r| r.destination != destination || r.target == Target::Local);
        if rt.routes.len() == before {
            return Err(Ec2Error::invalid(
                match destination {
                    Destination::V4(_) => "DestinationCidrBlock",
                    Destination::V6(_) => "DestinationIpv6CidrBlock",
                },
                destination.to_string(),
                format!("There is no deletable route with this destination in {rtb_id}."),
            ));
        }
        Ok(())
    }

    /// AssociateRouteTable: associates the subnet with the table (replacing none); answers the association id.
    pub fn associate_route_table(
        &mut self,
        env: &mut Env,
        rtb_id: &RouteTableId,
        subnet_id: &SubnetId,
    ) -> Result<RouteTableAssociationId, Ec2Error> {
        let rt = lookup(&self.route_tables, rtb_id)?;
        let s = lookup(&self.subnets, subnet_id)?;
        if rt.vpc_id != s.vpc_id {
            return Err(Ec2Error::invalid(
                "SubnetId",
                subnet_id.to_string(),
                format!(
                    "route table {rtb_id} and subnet belong to different networks ({} vs {}).",
                    rt.vpc_id, s.vpc_id
                ),
            ));
        }
        if let Some(o) = self
            .route_tables
            .values()
            .find(|r| r.associations.iter().any(|a| *subnet_id == a.subnet_id))
        {
            return Err(Ec2Error::AlreadyAssociated {
                message: format!(
                    "the specified association for route table {} conflicts with an existing association: subnet {subnet_id} is already associated with it; disassociate it first.",
                    o.id
                ),
            });
        }
        let id = RouteTableAssociationId::generate(env.rng);
        lookup_mut(&mut self.route_tables, rtb_id)?
            .associations
            .push(RouteTableAssociation {
                id: id.to_string(),
                subnet_id: subnet_id.to_string(),
            });
        Ok(id)
    }

    /// DisassociateRouteTable: the subnet goes back to its VPC's main route table.
    pub fn disassociate_route_table(
        &mut self,
        id: &RouteTableAssociationId,
    ) -> Result<(), Ec2Error> {
        let rtb = self
            .route_tables
            .values()
            .find(|r| r.associations.iter().any(|a| *id == a.id))
            .map(|r| r.id.clone())
            .ok_or(Ec2Error::NotFound {
                kind: Kind::RouteTableAssociation,
                id: id.to_string(),
            })?;
        if let Some(rt) = self.route_tables.get_mut(&rtb) {
            rt.associations.retain(|a| *id != a.id);
        }
        Ok(())
    }

    /// DeleteRouteTable: refused for the main table and for a table with associations.
    pub fn delete_route_table(&mut self, rtb_id: &RouteTableId) -> Result<(), Ec2Error> {
        let rt = lookup(&self.route_tables, rtb_id)?;
        if rt.main {
            return Err(Ec2Error::DependencyViolation {
                message: format!(
                    "The routeTable '{rtb_id}' is the main route table of {} and cannot be deleted; delete the VPC instead.",
                    rt.vpc_id
                ),
            });
        }
        if !rt.associations.is_empty() {
            let subnets: Vec<&str> = rt
                .associations
                .iter()
                .map(|a| a.subnet_id.as_str())
                .collect();
            return Err(Ec2Error::DependencyViolation {
                message: format!(
                    "The routeTable '{rtb_id}' has dependencies and cannot be deleted: it is associated with {}.",
                    subnets.join(", ")
                ),
            });
        }
        self.route_tables.remove(rtb_id.as_str());
        Ok(())
    }
}
