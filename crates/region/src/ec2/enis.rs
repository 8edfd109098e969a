//! Network interfaces made on their own (CreateNetworkInterface) and their life: attach to and
//! detach from instances, change their groups, description and source/destination check, delete.
//! Primary interfaces (device index 0) come and go with their instance (see `instances`).

use std::net::Ipv4Addr;

use super::error::Ec2Error;
use super::instances::ipv4_block;
use super::model::*;
use super::{lookup, lookup_mut, net, stored, stored_mut};
use crate::ids::{
    self, AttachmentId, InstanceId, Kind, NetworkInterfaceId, SecurityGroupId, SubnetId,
};
use crate::region::Env;
use crate::state::State;

/// Highest device index an interface may be attached at.
pub const MAX_DEVICE_INDEX: u32 = 31;

/// CreateNetworkInterface as the wire layer parsed it.
#[derive(Debug, Clone)]
pub struct CreateNetworkInterface {
    /// The subnet (one with an IPv4 block).
    pub subnet_id: SubnetId,
    /// `Description` (at most 255 characters).
    pub description: Option<String>,
    /// `SecurityGroupId.N` (default the VPC's default group).
    pub groups: Vec<SecurityGroupId>,
    /// `PrivateIpAddress` (default a free address of the subnet).
    pub private_ip_address: Option<String>,
    /// `Ipv6AddressCount`: how many IPv6 addresses to pick.
    pub ipv6_address_count: Option<u32>,
    /// Tags.
    pub tags: Tags,
    /// `interface` (default), `branch` or `trunk`.
    pub interface_type: Option<String>,
}

/// ModifyNetworkInterfaceAttribute: one attribute per call, as EC2 requires.
#[derive(Debug, Clone)]
pub enum EniAttribute {
    /// `SecurityGroupId.N`: replace the ENI's groups (at least one, all in its VPC).
    Groups(Vec<SecurityGroupId>),
    /// `Description.Value`.
    Description(String),
    /// `SourceDestCheck.Value`.
    SourceDestCheck(bool),
    /// `Attachment.AttachmentId` + `Attachment.DeleteOnTermination`.
    DeleteOnTermination(AttachmentId, bool),
}

impl State {
    /// Security groups given for an interface in `vpc_id`: each must exist and be in that VPC.
    pub(crate) fn groups_in_vpc(
        &self,
        groups: &[SecurityGroupId],
        vpc_id: &str,
    ) -> Result<(), Ec2Error> {
        for g in groups {
            let sg = lookup(&self.security_groups, g)?;
            if sg.vpc_id != vpc_id {
                return Err(Ec2Error::invalid(
                    "SecurityGroupId",
                    g.to_string(),
                    format!(
                        "Security group {g} belongs to {}, not to the interface's VPC {vpc_id}.",
                        sg.vpc_id
                    ),
                ));
            }
        }
        Ok(())
    }

    /// CreateNetworkInterface: a detached ENI in the subnet with its addresses picked (or checked).
    pub fn create_network_interface(
        &mut self,
        env: &mut Env,
        req: CreateNetworkInterface,
    ) -> Result<NetworkInterface, Ec2Error> {
        let subnet_id = req.subnet_id.to_string();
        let interface_type = match req.interface_type.as_deref() {
            None | Some("interface") => "interface",
            Some("branch") => "branch",
            Some("trunk") => "trunk",
            Some(other) => {
                return Err(Ec2Error::invalid(
                    "InterfaceType",
                    other,
                    "Use interface (the default), branch or trunk; EFA interfaces are not modelled here.",
                ));
            }
        };
        let subnet = lookup(&self.subnets, &req.subnet_id)?.clone();
        let block = ipv4_block(&subnet)?;
        let vpc = stored(&self.vpcs, Kind::Vpc, &subnet.vpc_id)?.clone();
        self.groups_in_vpc(&req.groups, &vpc.id)?;
        let groups = if req.groups.is_empty() {
            vec![vpc.default_security_group.clone()]
        } else {
            req.groups.into_iter().map(String::from).collect()
        };
        let used4 = self.used_ipv4(&subnet_id);
        let ipv4 = match &req.private_ip_address {
            Some(s) => {
                let a = requested_ipv4(s, &subnet_id, block)?;
                if used4.contains(&a) {
                    return Err(Ec2Error::AddressInUse {
                        address: a.to_string(),
                        subnet: subnet_id,
                    });
                }
                a
            }
            None => net::pick_ipv4(block, &used4).ok_or(Ec2Error::InsufficientAddresses {
                subnet: subnet_id.clone(),
                what: "network interfaces",
            })?,
        };
        let v6_count = match req.ipv6_address_count {
            Some(n) => n,
            None if subnet.assign_ipv6_on_creation => 1,
            None => 0,
        };
        // Without an instance type the per-interface limit is the smallest Nitro one.
        const MAX_V6_UNATTACHED: u32 = 10;
        if v6_count > MAX_V6_UNATTACHED {
            return Err(Ec2Error::invalid(
                "Ipv6AddressCount",
                v6_count.to_string(),
                format!(
                    "Give at most {MAX_V6_UNATTACHED}; add more with assign-ipv6-addresses once attached."
                ),
            ));
        }
        let mut v6 = Vec::new();
        if v6_count > 0 {
            let assoc = subnet.ipv6.as_ref().ok_or_else(|| {
                Ec2Error::invalid(
                    "Ipv6AddressCount",
                    v6_count.to_string(),
                    format!("Subnet {subnet_id} has no IPv6 CIDR block."),
                )
            })?;
            let (mut used6, prefixes) = self.used_ipv6(&subnet_id);
            for _ in 0..v6_count {
                let a = net::pick_ipv6(assoc.cidr, &used6, &prefixes, env.rng).ok_or(
                    Ec2Error::InsufficientAddresses {
                        subnet: subnet_id.clone(),
                        what: "IPv6 addresses",
                    },
                )?;
                used6.insert(a);
                v6.push(a);
            }
        }
        let description = req.description.unwrap_or_default();
        if description.len() > 255 {
            return Err(Ec2Error::invalid(
                "Description",
                format!("{}...", &description[..32]),
                "A description is at most 255 characters.",
            ));
        }
        let eni = NetworkInterface {
            id: ids::generate(Kind::NetworkInterface, env.rng),
            subnet_id: subnet_id.clone(),
            vpc_id: subnet.vpc_id.clone(),
            availability_zone: subnet.availability_zone.clone(),
            mac_address: net::mac(env.rng),
            private_ipv4: ipv4,
            ipv6_addresses: v6,
            ipv6_prefixes: vec![],
            attachment: None,
            security_groups: groups,
            description,
            tags: req.tags,
            source_dest_check: true,
            interface_type: interface_type.into(),
        };
        self.network_interfaces.insert(eni.id.clone(), eni.clone());
        Ok(eni)
    }

    /// DeleteNetworkInterface: refused while the ENI is attached.
    pub fn delete_network_interface(
        &mut self,
        eni_id: &NetworkInterfaceId,
    ) -> Result<(), Ec2Error> {
        let eni = lookup(&self.network_interfaces, eni_id)?;
        if let Some(a) = &eni.attachment {
            return Err(Ec2Error::InvalidNetworkInterfaceInUse {
                eni: eni_id.to_string(),
                instance: a.instance_id.clone(),
            });
        }
        self.network_interfaces.remove(eni_id.as_str());
        Ok(())
    }

    /// AttachNetworkInterface: returns the attachment id.
    pub fn attach_network_interface(
        &mut self,
        env: &mut Env,
        eni: &NetworkInterfaceId,
        instance: &InstanceId,
        index: u32,
    ) -> Result<String, Ec2Error> {
        let eni_id = eni.to_string();
        let instance_id = instance.to_string();
        let eni = lookup(&self.network_interfaces, eni)?.clone();
        let inst = lookup(&self.instances, instance)?.clone();
        if let Some(a) = &eni.attachment {
            return Err(Ec2Error::InvalidNetworkInterfaceInUse {
                eni: eni_id,
                instance: a.instance_id.clone(),
            });
        }
        if !matches!(inst.state, InstanceState::Running | InstanceState::Stopped) {
            return Err(Ec2Error::IncorrectInstanceState {
                instance: instance_id,
                state: inst.state.name(),
            });
        }
        if index == 0 || index > MAX_DEVICE_INDEX {
            return Err(Ec2Error::invalid(
                "DeviceIndex",
                index.to_string(),
                format!("Device index 0 is the primary interface; use 1 to {MAX_DEVICE_INDEX}."),
            ));
        }
        if eni.availability_zone != inst.availability_zone {
            return Err(Ec2Error::invalid(
                "NetworkInterfaceId",
                eni_id,
                format!(
                    "The interface is in {} and instance {instance_id} in {}; they must be in the same availability zone.",
                    eni.availability_zone, inst.availability_zone
                ),
            ));
        }
        let attached: Vec<&NetworkInterface> = self.enis_of_instance(&instance_id).collect();
        if attached.iter().any(|e| {
            e.attachment
                .as_ref()
                .is_some_and(|a| a.device_index == index)
        }) {
            return Err(Ec2Error::InvalidParameterValue {
                name: "DeviceIndex",
                value: index.to_string(),
                fix: format!(
                    "Instance {instance_id} already has an interface at this index; use another."
                ),
            });
        }
        let limit = env
            .catalog
            .get(&inst.instance_type)
            .map(|t| t.max_enis)
            .unwrap_or(u32::MAX);
        if attached.len() as u32 >= limit {
            return Err(Ec2Error::AttachmentLimitExceeded {
                instance: instance_id,
                instance_type: inst.instance_type.clone(),
                limit,
            });
        }
        let id = ids::generate(Kind::Attachment, env.rng);
        stored_mut(
            &mut self.network_interfaces,
            Kind::NetworkInterface,
            &eni_id,
        )?
        .attachment = Some(Attachment {
            id: id.clone(),
            instance_id,
            device_index: index,
            attach_time: env.now,
            delete_on_termination: false,
        });
        Ok(id)
    }

    /// DetachNetworkInterface by attachment id. The primary interface cannot be detached.
    pub fn detach_network_interface(&mut self, id: &AttachmentId) -> Result<(), Ec2Error> {
        let eni = self
            .network_interfaces
            .values()
            .find(|e| e.attachment.as_ref().is_some_and(|a| *id == a.id))
            .cloned()
            .ok_or(Ec2Error::NotFound {
                kind: Kind::Attachment,
                id: id.to_string(),
            })?;
        if eni.attachment.as_ref().is_some_and(|a| a.device_index == 0) {
            return Err(Ec2Error::OperationNotPermitted {
                message: format!(
                    "{} is the primary network interface (device index 0) of its instance and cannot be detached; terminate the instance instead.",
                    eni.id
                ),
            });
        }
        stored_mut(
            &mut self.network_interfaces,
            Kind::NetworkInterface,
            &eni.id,
        )?
        .attachment = None;
        Ok(())
    }

    /// ModifyNetworkInterfaceAttribute: applies every change or none.
    pub fn modify_network_interface_attribute(
        &mut self,
        eni_id: &NetworkInterfaceId,
        change: EniAttribute,
    ) -> Result<(), Ec2Error> {
        let eni = lookup(&self.network_interfaces, eni_id)?.clone();
        if let EniAttribute::Groups(g) = &change {
            self.groups_in_vpc(g, &eni.vpc_id)?;
        }
        if let EniAttribute::DeleteOnTermination(att, _) = &change
            && eni.attachment.as_ref().is_none_or(|a| *att != a.id)
        {
            return Err(Ec2Error::NotFound {
                kind: Kind::Attachment,
                id: att.to_string(),
            });
        }
        let e = lookup_mut(&mut self.network_interfaces, eni_id)?;
        match change {
            EniAttribute::Groups(g) => {
                let mut seen = Vec::new();
                for x in g.into_iter().map(String::from) {
                    if !seen.contains(&x) {
                        seen.push(x);
                    }
                }
                e.security_groups = seen;
            }
            EniAttribute::Description(d) => e.description = d,
            EniAttribute::SourceDestCheck(v) => e.source_dest_check = v,
            EniAttribute::DeleteOnTermination(_, v) => {
                if let Some(a) = e.attachment.as_mut() {
                    a.delete_on_termination = v;
                }
            }
        }
        Ok(())
    }
}

/// A `PrivateIpAddress` asked for: an IPv4 address the subnet `subnet_id` (`block`) may assign
/// (not its network, broadcast or AWS-reserved addresses). Whether it is free is the caller's.
pub(super) fn requested_ipv4(
    s: &str,
    subnet_id: &str,
    block: ipnet::Ipv4Net,
) -> Result<Ipv4Addr, Ec2Error> {
    let a: Ipv4Addr = s.parse().map_err(|_| {
        Ec2Error::invalid("PrivateIpAddress", s.to_string(), "Give an IPv4 address.")
    })?;
    if !net::ipv4_assignable(block, a) {
        return Err(Ec2Error::invalid(
            "PrivateIpAddress",
            s.to_string(),
            format!("Address is not an assignable address of subnet {subnet_id} ({block})."),
        ));
    }
    Ok(a)
}
