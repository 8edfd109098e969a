//! Instances and their network interfaces: RunInstances gives each instance a primary ENI with a
//! private IPv4 and, where the subnet auto-assigns IPv6, an IPv6 address; AssignIpv6Addresses
//! adds addresses and delegated /80 prefixes (Nitro and bare-metal instances only).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::Ipv6Net;

use super::error::Ec2Error;
use super::model::*;
use super::{lookup, lookup_mut, net, stored, stored_mut};
use crate::ids::{self, InstanceId, Kind, NetworkInterfaceId, SecurityGroupId, SubnetId};
use crate::region::Env;
use crate::state::State;

/// Most instances one RunInstances call may launch.
pub const MAX_RUN_COUNT: u32 = 100;

/// RunInstances as the wire layer parsed it; members not given are `None` (or empty).
#[derive(Debug, Clone)]
pub struct RunInstances {
    /// The image (`ami-...`).
    pub image_id: String,
    /// `InstanceType` (from the catalogue; default `m5.large`).
    pub instance_type: Option<String>,
    /// At least 1.
    pub min_count: u32,
    /// At least `min_count`, at most [`MAX_RUN_COUNT`].
    pub max_count: u32,
    /// The subnet of the primary ENIs.
    pub subnet_id: SubnetId,
    /// `SecurityGroupId.N` (default the VPC's default group).
    pub security_group_ids: Vec<SecurityGroupId>,
    /// `KeyName`.
    pub key_name: Option<String>,
    /// `Ipv6AddressCount`: IPv6 addresses of each primary ENI.
    pub ipv6_address_count: Option<u32>,
    /// `PrivateIpAddress`: the primary ENI's IPv4 address (only with a count of one).
    pub private_ip_address: Option<String>,
    /// `MetadataOptions.HttpProtocolIpv6=enabled`.
    pub metadata_ipv6: bool,
    /// Tags for the instances (`TagSpecification` of type `instance`).
    pub instance_tags: Tags,
    /// Tags for their primary ENIs (`TagSpecification` of type `network-interface`).
    pub eni_tags: Tags,
    /// `IamInstanceProfile.Arn` or `.Name`.
    pub iam_instance_profile: Option<crate::iam::profiles::ProfileRef>,
}

impl RunInstances {
    /// `count` instances of `instance_type` from `image_id` in `subnet_id`, with the defaults of
    /// every other member.
    pub fn new(image_id: &str, instance_type: &str, count: u32, subnet_id: SubnetId) -> Self {
        Self {
            image_id: image_id.into(),
            instance_type: Some(instance_type.into()),
            min_count: count,
            max_count: count,
            subnet_id,
            security_group_ids: vec![],
            key_name: None,
            ipv6_address_count: None,
            private_ip_address: None,
            metadata_ipv6: false,
            instance_tags: Tags::new(),
            eni_tags: Tags::new(),
            iam_instance_profile: None,
        }
    }
}

/// What RunInstances made.
#[derive(Debug, Clone)]
pub struct Reservation {
    /// `r-...`.
    pub id: String,
    /// The instances launched, in launch-index order.
    pub instances: Vec<Instance>,
}

/// AssignIpv6Addresses as the wire layer parsed it: addresses and/or prefixes, each by count
/// or by list, not both (the wire layer refuses a request asking for neither or both).
#[derive(Debug, Clone, Default)]
pub struct AssignIpv6 {
    /// `Ipv6AddressCount`: how many addresses to pick.
    pub address_count: Option<u32>,
    /// `Ipv6Addresses.N`: addresses to assign.
    pub addresses: Vec<String>,
    /// `Ipv6PrefixCount`: how many /80 prefixes to delegate.
    pub prefix_count: Option<u32>,
    /// `Ipv6Prefix.N`: /80 prefixes to delegate.
    pub prefixes: Vec<String>,
}

/// The IPv4 block of a subnet that needs one (interfaces here always have a private IPv4).
pub(crate) fn ipv4_block(subnet: &Subnet) -> Result<ipnet::Ipv4Net, Ec2Error> {
    subnet.cidr_block.ok_or_else(|| Ec2Error::Unsupported {
        message: format!(
            "Subnet {} is IPv6-only; this region models network interfaces with a private IPv4 address only, so instances and interfaces go in a dual-stack subnet.",
            subnet.id
        ),
    })
}

/// What every instance of one RunInstances call shares, checked before anything is allocated.
struct LaunchPlan {
    image_id: String,
    itype: crate::catalog::InstanceType,
    min: u32,
    max: u32,
    subnet: Subnet,
    subnet_v4: ipnet::Ipv4Net,
    groups: Vec<String>,
    v6_count: u32,
    fixed_ip: Option<Ipv4Addr>,
    profile: Option<IamInstanceProfile>,
}

/// IPv6 addresses per primary ENI: the count asked for, else one where the subnet
/// auto-assigns; the subnet must have an IPv6 block and the type must allow that many.
fn launch_ipv6_count(
    asked: Option<u32>,
    subnet: &Subnet,
    itype: &crate::catalog::InstanceType,
) -> Result<u32, Ec2Error> {
    let v6_count = match asked {
        Some(n) => n,
        None if subnet.assign_ipv6_on_creation => 1,
        None => 0,
    };
    if v6_count > 0 && subnet.ipv6.is_none() {
        return Err(Ec2Error::invalid(
            "Ipv6AddressCount",
            v6_count.to_string(),
            format!("Subnet {} has no IPv6 CIDR block.", subnet.id),
        ));
    }
    if v6_count > itype.ipv6_per_eni() {
        return Err(Ec2Error::invalid(
            "Ipv6AddressCount",
            v6_count.to_string(),
            format!(
                "{} supports at most {} IPv6 addresses per interface.",
                itype.name,
                itype.ipv6_per_eni()
            ),
        ));
    }
    Ok(v6_count)
}

/// `PrivateIpAddress`: an assignable address of the subnet, for a single instance only.
fn launch_fixed_ipv4(
    given: Option<&str>,
    subnet: &Subnet,
    subnet_v4: ipnet::Ipv4Net,
    max: u32,
) -> Result<Option<Ipv4Addr>, Ec2Error> {
    let Some(s) = given else {
        return Ok(None);
    };
    let a = super::enis::requested_ipv4(s, &subnet.id, subnet_v4)?;
    if max != 1 {
        return Err(Ec2Error::InvalidParameterCombination {
            message: "A fixed private IPv4 address is for one instance only; launch a single instance (MinCount = MaxCount = 1).".into(),
        });
    }
    Ok(Some(a))
}

/// Prefix delegation, when the request asks for prefixes, needs an interface attached to a
/// Nitro-based or bare-metal instance.
fn check_prefix_delegation(
    eni_id: &str,
    itype: Option<&crate::catalog::InstanceType>,
    req: &AssignIpv6,
) -> Result<(), Ec2Error> {
    let want_prefixes = req.prefix_count.is_some() || !req.prefixes.is_empty();
    if !want_prefixes {
        return Ok(());
    }
    match itype {
        Some(t) if t.supports_prefix_delegation() => Ok(()),
        Some(t) => Err(Ec2Error::Unsupported {
            message: format!(
                "IPv6 prefix delegation is supported only on Nitro-based and bare-metal instances; {} ({}) runs on {:?}. Use a Nitro type such as m5.large.",
                eni_id, t.name, t.hypervisor
            ),
        }),
        None => Err(Ec2Error::Unsupported {
            message: format!(
                "IPv6 prefix delegation needs an interface attached to a Nitro-based instance; {eni_id} is not attached."
            ),
        }),
    }
}

/// The per-interface limit is checked before anything is allocated, so a huge count
/// (`Ipv6PrefixCount=4294967295`) is refused at once instead of looping through the subnet.
fn check_ipv6_limit(
    env: &Env,
    eni_id: &str,
    eni: &NetworkInterface,
    itype: Option<&crate::catalog::InstanceType>,
    req: &AssignIpv6,
) -> Result<(), Ec2Error> {
    let have = (eni.ipv6_addresses.len() + eni.ipv6_prefixes.len()) as u64;
    let requested = req.addresses.len() as u64
        + req.prefixes.len() as u64
        + u64::from(req.address_count.unwrap_or(0))
        + u64::from(req.prefix_count.unwrap_or(0));
    let (limit, type_name) = match itype {
        Some(t) => (t.ipv6_per_eni(), t.name.clone()),
        None => (
            env.catalog
                .all()
                .map(|t| t.ipv6_per_eni())
                .max()
                .unwrap_or(0),
            "none: the interface is not attached; the limit of the largest type applies".into(),
        ),
    };
    if have + requested > u64::from(limit) {
        return Err(Ec2Error::AddressLimitExceeded {
            eni: eni_id.to_string(),
            instance_type: type_name,
            limit,
            have: u32::try_from(have).unwrap_or(u32::MAX),
            requested: u32::try_from(requested).unwrap_or(u32::MAX),
        });
    }
    Ok(())
}

/// `Ipv6Addresses.N`: each must parse, lie in the subnet's block, not be reserved by AWS and
/// be free; marks them used and returns them in request order.
fn listed_ipv6_addresses(
    subnet_id: &str,
    cidr: Ipv6Net,
    listed: &[String],
    used: &mut BTreeSet<Ipv6Addr>,
    prefixes: &BTreeSet<Ipv6Net>,
) -> Result<Vec<Ipv6Addr>, Ec2Error> {
    let mut new_addrs = Vec::new();
    for s in listed {
        let a: Ipv6Addr = s.parse().map_err(|_| {
            Ec2Error::invalid(
                "Ipv6Addresses",
                s.clone(),
                "Give IPv6 addresses such as 2001:db8::10.",
            )
        })?;
        if !cidr.contains(&a) {
            return Err(Ec2Error::invalid(
                "Ipv6Addresses",
                s.clone(),
                format!("The address is not in subnet {subnet_id}'s {cidr}."),
            ));
        }
        if net::ipv6_reserved(cidr, a) {
            return Err(Ec2Error::invalid(
                "Ipv6Addresses",
                s.clone(),
                format!(
                    "The address is reserved by AWS in subnet {subnet_id} ({cidr}): the first four and the last address of a subnet are; choose another address."
                ),
            ));
        }
        if used.contains(&a) || prefixes.iter().any(|p| p.contains(&a)) {
            return Err(Ec2Error::AddressInUse {
                address: s.clone(),
                subnet: subnet_id.to_string(),
            });
        }
        used.insert(a);
        new_addrs.push(a);
    }
    Ok(new_addrs)
}

/// `Ipv6Prefix.N`: each must be a /80 network in the subnet's block, hold no AWS-reserved
/// address and overlap no address or prefix in use; marks them used and returns them.
fn listed_ipv6_prefixes(
    subnet_id: &str,
    cidr: Ipv6Net,
    listed: &[String],
    used: &BTreeSet<Ipv6Addr>,
    prefixes: &mut BTreeSet<Ipv6Net>,
) -> Result<Vec<Ipv6Net>, Ec2Error> {
    let mut new_prefixes = Vec::new();
    for s in listed {
        let p: Ipv6Net = s.parse().map_err(|_| {
            Ec2Error::invalid(
                "Ipv6Prefixes",
                s.clone(),
                "Give /80 prefixes such as 2001:db8:0:1:2::/80.",
            )
        })?;
        if p.prefix_len() != 80 || p.network() != p.addr() {
            return Err(Ec2Error::invalid(
                "Ipv6Prefixes",
                s.clone(),
                format!(
                    "Delegated IPv6 prefixes are /80 networks, e.g. {}.",
                    Ipv6Net::new(p.addr(), 80).map(|n| n.trunc()).unwrap_or(p)
                ),
            ));
        }
        if !cidr.contains(&p) {
            return Err(Ec2Error::invalid(
                "Ipv6Prefixes",
                s.clone(),
                format!("The prefix is not in subnet {subnet_id}'s {cidr}."),
            ));
        }
        if let Some(r) = net::reserved_in(cidr, p) {
            return Err(Ec2Error::invalid(
                "Ipv6Prefixes",
                s.clone(),
                format!(
                    "The prefix holds {r}, an address AWS reserves in subnet {subnet_id} ({cidr}): the first four and the last address of a subnet are; choose another /80."
                ),
            ));
        }
        if prefixes
            .iter()
            .any(|o| o.contains(&p.network()) || p.contains(&o.network()))
            || used.range(p.network()..=p.broadcast()).next().is_some()
        {
            return Err(Ec2Error::AddressInUse {
                address: s.clone(),
                subnet: subnet_id.to_string(),
            });
        }
        prefixes.insert(p);
        new_prefixes.push(p);
    }
    Ok(new_prefixes)
}

impl State {
    /// IPv4 addresses in use in a subnet.
    pub fn used_ipv4(&self, subnet_id: &str) -> BTreeSet<Ipv4Addr> {
        self.enis_of_subnet(subnet_id)
            .map(|e| e.private_ipv4)
            .collect()
    }

    /// IPv6 addresses and delegated prefixes in use in a subnet.
    pub fn used_ipv6(&self, subnet_id: &str) -> (BTreeSet<Ipv6Addr>, BTreeSet<Ipv6Net>) {
        let mut a = BTreeSet::new();
        let mut p = BTreeSet::new();
        for e in self.enis_of_subnet(subnet_id) {
            a.extend(e.ipv6_addresses.iter().copied());
            p.extend(e.ipv6_prefixes.iter().copied());
        }
        (a, p)
    }

    /// RunInstances: launches the instances, each with a primary ENI in the subnet, as one reservation.
    pub fn run_instances(
        &mut self,
        env: &mut Env,
        req: RunInstances,
    ) -> Result<Reservation, Ec2Error> {
        let plan = self.plan_launch(env, &req)?;
        let reservation_id = ids::generate(Kind::Reservation, env.rng);
        let subnet_id = plan.subnet.id.clone();
        let mut used4 = self.used_ipv4(&subnet_id);
        let (mut used6, prefixes6) = self.used_ipv6(&subnet_id);
        let mut out = Vec::new();
        for index in 0..plan.max {
            let ipv4 = match plan.fixed_ip {
                Some(a) if used4.contains(&a) => {
                    return Err(Ec2Error::AddressInUse {
                        address: a.to_string(),
                        subnet: subnet_id,
                    });
                }
                Some(a) => a,
                None => match net::pick_ipv4(plan.subnet_v4, &used4) {
                    Some(a) => a,
                    None if index >= plan.min => break,
                    None => {
                        return Err(Ec2Error::InsufficientAddresses {
                            subnet: subnet_id,
                            what: "instances",
                        });
                    }
                },
            };
            used4.insert(ipv4);
            let mut v6 = Vec::new();
            if let Some(assoc) = &plan.subnet.ipv6 {
                for _ in 0..plan.v6_count {
                    let a = net::pick_ipv6(assoc.cidr, &used6, &prefixes6, env.rng).ok_or(
                        Ec2Error::InsufficientAddresses {
                            subnet: subnet_id.clone(),
                            what: "IPv6 addresses",
                        },
                    )?;
                    used6.insert(a);
                    v6.push(a);
                }
            }
            let inst = self.launch_one(env, &req, &plan, &reservation_id, index, ipv4, v6);
            out.push(inst);
        }
        Ok(Reservation {
            id: reservation_id,
            instances: out,
        })
    }

    /// Checks a RunInstances request against the catalogue and the state, in the order EC2
    /// reports problems, and resolves what every launched instance shares.
    fn plan_launch(&self, env: &Env, req: &RunInstances) -> Result<LaunchPlan, Ec2Error> {
        let image_id = req.image_id.clone();
        if !image_id.starts_with("ami-") {
            return Err(Ec2Error::invalid(
                "ImageId",
                image_id,
                "An image id looks like ami-0123456789abcdef0.",
            ));
        }
        let type_name = req
            .instance_type
            .clone()
            .unwrap_or_else(|| "m5.large".into());
        let itype = env
            .catalog
            .get(&type_name)
            .ok_or_else(|| {
                Ec2Error::invalid(
                    "InstanceType",
                    type_name.clone(),
                    "DescribeInstanceTypes lists the types this region offers.",
                )
            })?
            .clone();
        let (min, max) = (req.min_count, req.max_count);
        if min == 0 || min > max || max > MAX_RUN_COUNT {
            return Err(Ec2Error::invalid(
                "MinCount",
                format!("{min}..{max}"),
                format!("Use 1 <= MinCount <= MaxCount <= {MAX_RUN_COUNT}."),
            ));
        }
        let subnet = lookup(&self.subnets, &req.subnet_id)?.clone();
        let subnet_v4 = ipv4_block(&subnet)?;
        let vpc = stored(&self.vpcs, Kind::Vpc, &subnet.vpc_id)?.clone();
        let groups = self.launch_security_groups(&req.security_group_ids, &subnet, &vpc)?;
        let v6_count = launch_ipv6_count(req.ipv6_address_count, &subnet, &itype)?;
        let fixed_ip =
            launch_fixed_ipv4(req.private_ip_address.as_deref(), &subnet, subnet_v4, max)?;
        let profile = self.launch_instance_profile(req.iam_instance_profile.as_ref())?;
        Ok(LaunchPlan {
            image_id,
            itype,
            min,
            max,
            subnet,
            subnet_v4,
            groups,
            v6_count,
            fixed_ip,
            profile,
        })
    }

    /// The security groups of the primary ENIs: each given group must be in the subnet's VPC;
    /// none given means the VPC's default group.
    fn launch_security_groups(
        &self,
        ids_in: &[SecurityGroupId],
        subnet: &Subnet,
        vpc: &Vpc,
    ) -> Result<Vec<String>, Ec2Error> {
        let mut groups = Vec::new();
        for g in ids_in {
            let sg = lookup(&self.security_groups, g)?;
            if sg.vpc_id != subnet.vpc_id {
                return Err(Ec2Error::invalid(
                    "SecurityGroupId",
                    g.to_string(),
                    format!(
                        "Security group {g} belongs to {}, not to the subnet's VPC {}.",
                        sg.vpc_id, subnet.vpc_id
                    ),
                ));
            }
            groups.push(g.to_string());
        }
        if groups.is_empty() {
            groups.push(vpc.default_security_group.clone());
        }
        Ok(groups)
    }

    /// Resolves `IamInstanceProfile.Arn`/`.Name` to the profile the instances carry.
    fn launch_instance_profile(
        &self,
        r: Option<&crate::iam::profiles::ProfileRef>,
    ) -> Result<Option<IamInstanceProfile>, Ec2Error> {
        let Some(r) = r else {
            return Ok(None);
        };
        let p = self.resolve_instance_profile(r).ok_or_else(|| {
            let (member, value) = match r {
                crate::iam::profiles::ProfileRef::Arn(a) => ("IamInstanceProfile.Arn", a),
                crate::iam::profiles::ProfileRef::Name(n) => ("IamInstanceProfile.Name", n),
            };
            Ec2Error::invalid(
                member,
                value.clone(),
                "Invalid IAM Instance Profile: no such instance profile; create it first (IAM CreateInstanceProfile), or name one that ListInstanceProfiles lists.",
            )
        })?;
        Ok(Some(IamInstanceProfile {
            arn: p.arn.clone(),
            id: p.instance_profile_id.clone(),
        }))
    }

    /// Records one launched instance and its primary ENI (addresses already picked) and
    /// returns the instance. Ids are drawn in a fixed order: instance, ENI, MAC, attachment.
    #[allow(clippy::too_many_arguments)]
    fn launch_one(
        &mut self,
        env: &mut Env,
        req: &RunInstances,
        plan: &LaunchPlan,
        reservation_id: &str,
        index: u32,
        ipv4: Ipv4Addr,
        v6: Vec<Ipv6Addr>,
    ) -> Instance {
        let subnet = &plan.subnet;
        let instance_id = ids::generate(Kind::Instance, env.rng);
        let eni = NetworkInterface {
            id: ids::generate(Kind::NetworkInterface, env.rng),
            subnet_id: subnet.id.clone(),
            vpc_id: subnet.vpc_id.clone(),
            availability_zone: subnet.availability_zone.clone(),
            mac_address: net::mac(env.rng),
            private_ipv4: ipv4,
            ipv6_addresses: v6.clone(),
            ipv6_prefixes: vec![],
            attachment: Some(Attachment {
                id: ids::generate(Kind::Attachment, env.rng),
                instance_id: instance_id.clone(),
                device_index: 0,
                attach_time: env.now,
                delete_on_termination: true,
            }),
            security_groups: plan.groups.clone(),
            description: String::new(),
            tags: req.eni_tags.clone(),
            source_dest_check: true,
            interface_type: "interface".into(),
        };
        let inst = Instance {
            id: instance_id.clone(),
            reservation_id: reservation_id.to_string(),
            instance_type: plan.itype.name.clone(),
            image_id: plan.image_id.clone(),
            subnet_id: subnet.id.clone(),
            vpc_id: subnet.vpc_id.clone(),
            availability_zone: subnet.availability_zone.clone(),
            state: InstanceState::Running,
            launch_time: env.now,
            launch_index: index,
            primary_eni: eni.id.clone(),
            private_ipv4: ipv4,
            ipv6_address: v6.first().copied(),
            security_groups: plan.groups.clone(),
            key_name: req.key_name.clone(),
            metadata_ipv6: req.metadata_ipv6,
            tags: req.instance_tags.clone(),
            iam_instance_profile: plan.profile.clone(),
        };
        self.network_interfaces.insert(eni.id.clone(), eni);
        self.instances.insert(instance_id, inst.clone());
        inst
    }

    /// Terminate: the primary ENI goes away with its addresses and prefixes. Idempotent for
    /// instances already terminated. Returns (id, previous state, current state).
    pub fn terminate_instances(
        &mut self,
        ids_in: Vec<InstanceId>,
    ) -> Result<Vec<(String, InstanceState, InstanceState)>, Ec2Error> {
        for id in &ids_in {
            lookup(&self.instances, id)?;
        }
        let mut out = Vec::new();
        for id in ids_in {
            let inst = lookup_mut(&mut self.instances, &id)?;
            let id = String::from(id);
            let prev = inst.state;
            inst.state = InstanceState::Terminated;
            let enis: Vec<(String, bool)> = self
                .enis_of_instance(&id)
                .map(|e| {
                    let delete = e
                        .attachment
                        .as_ref()
                        .is_some_and(|a| a.delete_on_termination);
                    (e.id.clone(), delete)
                })
                .collect();
            // The primary ENI (and any attached with delete-on-termination) goes; others are
            // detached and stay, as in EC2.
            for (e, delete) in enis {
                if delete {
                    self.network_interfaces.remove(&e);
                } else if let Some(eni) = self.network_interfaces.get_mut(&e) {
                    eni.attachment = None;
                }
            }
            out.push((id, prev, InstanceState::Terminated));
        }
        Ok(out)
    }

    fn instance_type_of_eni(
        &self,
        env: &Env,
        eni: &NetworkInterface,
    ) -> Option<crate::catalog::InstanceType> {
        let att = eni.attachment.as_ref()?;
        let inst = self.instances.get(&att.instance_id)?;
        env.catalog.get(&inst.instance_type).cloned()
    }

    /// AssignIpv6Addresses: addresses by count or by value, and/or prefixes by count or value.
    pub fn assign_ipv6(
        &mut self,
        env: &mut Env,
        eni: &NetworkInterfaceId,
        req: AssignIpv6,
    ) -> Result<(String, Vec<Ipv6Addr>, Vec<Ipv6Net>), Ec2Error> {
        let eni_id = eni.to_string();
        let eni = lookup(&self.network_interfaces, eni)?.clone();
        let subnet = stored(&self.subnets, Kind::Subnet, &eni.subnet_id)?.clone();
        let Some(assoc) = subnet.ipv6.clone() else {
            return Err(Ec2Error::invalid(
                "NetworkInterfaceId",
                eni_id,
                format!(
                    "Subnet {} of this interface has no IPv6 CIDR block; add one to the subnet first.",
                    subnet.id
                ),
            ));
        };
        let itype = self.instance_type_of_eni(env, &eni);
        check_prefix_delegation(&eni_id, itype.as_ref(), &req)?;
        check_ipv6_limit(env, &eni_id, &eni, itype.as_ref(), &req)?;
        let (mut used, mut prefixes) = self.used_ipv6(&subnet.id);
        let mut new_addrs =
            listed_ipv6_addresses(&subnet.id, assoc.cidr, &req.addresses, &mut used, &prefixes)?;
        for _ in 0..req.address_count.unwrap_or(0) {
            let a = net::pick_ipv6(assoc.cidr, &used, &prefixes, env.rng).ok_or(
                Ec2Error::InsufficientAddresses {
                    subnet: subnet.id.clone(),
                    what: "IPv6 addresses",
                },
            )?;
            used.insert(a);
            new_addrs.push(a);
        }
        let mut new_prefixes =
            listed_ipv6_prefixes(&subnet.id, assoc.cidr, &req.prefixes, &used, &mut prefixes)?;
        for _ in 0..req.prefix_count.unwrap_or(0) {
            let p = net::pick_prefix80(assoc.cidr, &used, &prefixes, env.rng).ok_or(
                Ec2Error::InsufficientAddresses {
                    subnet: subnet.id.clone(),
                    what: "IPv6 /80 prefixes",
                },
            )?;
            prefixes.insert(p);
            new_prefixes.push(p);
        }
        let e = stored_mut(
            &mut self.network_interfaces,
            Kind::NetworkInterface,
            &eni_id,
        )?;
        e.ipv6_addresses.extend(new_addrs.iter().copied());
        e.ipv6_prefixes.extend(new_prefixes.iter().copied());
        Ok((eni_id, new_addrs, new_prefixes))
    }

    /// UnassignIpv6Addresses: removes the listed addresses and prefixes from the ENI; answers the ENI id and what was removed.
    pub fn unassign_ipv6(
        &mut self,
        eni: &NetworkInterfaceId,
        addresses: Vec<String>,
        prefixes: Vec<String>,
    ) -> Result<(String, Vec<Ipv6Addr>, Vec<Ipv6Net>), Ec2Error> {
        let eni_id = eni.to_string();
        let eni = lookup(&self.network_interfaces, eni)?.clone();
        let mut gone_a = Vec::new();
        for s in &addresses {
            let a: Ipv6Addr = s.parse().map_err(|_| {
                Ec2Error::invalid("Ipv6Addresses", s.clone(), "Give IPv6 addresses.")
            })?;
            if !eni.ipv6_addresses.contains(&a) {
                return Err(Ec2Error::invalid(
                    "Ipv6Addresses",
                    s.clone(),
                    format!("The address is not assigned to {eni_id}."),
                ));
            }
            gone_a.push(a);
        }
        let mut gone_p = Vec::new();
        for s in &prefixes {
            let p: Ipv6Net = s
                .parse()
                .map_err(|_| Ec2Error::invalid("Ipv6Prefixes", s.clone(), "Give /80 prefixes."))?;
            if !eni.ipv6_prefixes.contains(&p) {
                return Err(Ec2Error::invalid(
                    "Ipv6Prefixes",
                    s.clone(),
                    format!("The prefix is not assigned to {eni_id}."),
                ));
            }
            gone_p.push(p);
        }
        let e = stored_mut(
            &mut self.network_interfaces,
            Kind::NetworkInterface,
            &eni_id,
        )?;
        e.ipv6_addresses.retain(|a| !gone_a.contains(a));
        e.ipv6_prefixes.retain(|p| !gone_p.contains(p));
        if let Some(att) = e.attachment.clone().filter(|a| a.device_index == 0) {
            let first = e.ipv6_addresses.first().copied();
            if let Some(i) = self.instances.get_mut(&att.instance_id) {
                i.ipv6_address = first;
            }
        }
        Ok((eni_id, gone_a, gone_p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::testing::World;

    /// A world with one m5.large in a dual-stack subnet; returns (world, eni id, subnet /64).
    fn one_instance() -> (World, String, Ipv6Net) {
        let mut w = World::new();
        let (_, subnet) = w.vpc(true);
        let r = w
            .with(|s, env| {
                s.run_instances(
                    env,
                    RunInstances::new(
                        "ami-0123456789abcdef0",
                        "m5.large",
                        1,
                        SubnetId::parse(&subnet).unwrap(),
                    ),
                )
            })
            .unwrap();
        let cidr = w
            .state
            .subnets
            .get(&subnet)
            .unwrap()
            .ipv6
            .as_ref()
            .unwrap()
            .cidr;
        (w, r.instances[0].primary_eni.clone(), cidr)
    }

    fn assign(w: &mut World, eni: &str, req: AssignIpv6) -> Result<usize, Ec2Error> {
        let eni = NetworkInterfaceId::parse(eni).unwrap();
        w.with(|s, env| s.assign_ipv6(env, &eni, req.clone()))
            .map(|(_, a, p)| a.len() + p.len())
    }

    /// Run `f` on another thread and fail if it does not answer within 10 s.
    fn answers_promptly<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("answered without looping through the subnet")
    }

    #[test]
    fn huge_ipv6_prefix_or_address_count_is_refused_before_any_allocation() {
        for (addrs, prefixes) in [
            (None, Some(u32::MAX)),
            (Some(u32::MAX), None),
            (None, Some(16_000)),
            (Some(u32::MAX), Some(u32::MAX)),
        ] {
            let (got, eni_after) = answers_promptly(move || {
                let (mut w, eni, _) = one_instance();
                let got = assign(
                    &mut w,
                    &eni,
                    AssignIpv6 {
                        address_count: addrs,
                        prefix_count: prefixes,
                        ..Default::default()
                    },
                );
                (got, w.state.network_interfaces.get(&eni).unwrap().clone())
            });
            match got {
                Err(Ec2Error::AddressLimitExceeded { limit, .. }) => assert_eq!(limit, 10),
                other => panic!("expected the per-interface limit, got {other:?}"),
            }
            assert!(eni_after.ipv6_prefixes.is_empty());
        }
    }

    #[test]
    fn ipv6_count_within_the_limit_is_still_assigned() {
        let (mut w, eni, _) = one_instance();
        let n = assign(
            &mut w,
            &eni,
            AssignIpv6 {
                prefix_count: Some(2),
                address_count: Some(3),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(n, 5);
        let err = assign(
            &mut w,
            &eni,
            AssignIpv6 {
                prefix_count: Some(10),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("has 5"), "{err}");
    }

    #[test]
    fn explicit_reserved_ipv6_addresses_are_refused() {
        let (mut w, eni, cidr) = one_instance();
        let base = u128::from(cidr.network());
        let last = u128::from(cidr.broadcast());
        for a in [base, base + 1, base + 2, base + 3, last] {
            let addr = Ipv6Addr::from(a).to_string();
            let err = assign(
                &mut w,
                &eni,
                AssignIpv6 {
                    addresses: vec![addr.clone()],
                    ..Default::default()
                },
            )
            .unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(err, Ec2Error::InvalidParameterValue { .. }),
                "{msg}"
            );
            assert!(msg.contains(&addr) && msg.contains("reserved"), "{msg}");
        }
        let ok = Ipv6Addr::from(base + 4).to_string();
        assert_eq!(
            assign(
                &mut w,
                &eni,
                AssignIpv6 {
                    addresses: vec![ok],
                    ..Default::default()
                },
            )
            .unwrap(),
            1
        );
        assert_eq!(
            w.state
                .network_interfaces
                .get(&eni)
                .unwrap()
                .ipv6_addresses
                .len(),
            1
        );
    }

    #[test]
    fn explicit_prefixes_holding_reserved_addresses_are_refused() {
        let (mut w, eni, cidr) = one_instance();
        let first = Ipv6Net::new(cidr.network(), 80).unwrap();
        let last = Ipv6Net::new(cidr.broadcast(), 80).unwrap().trunc();
        for p in [first, last] {
            let err = assign(
                &mut w,
                &eni,
                AssignIpv6 {
                    prefixes: vec![p.to_string()],
                    ..Default::default()
                },
            )
            .unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("reserve"), "{msg}");
            assert!(matches!(err, Ec2Error::InvalidParameterValue { .. }));
        }
    }
}
