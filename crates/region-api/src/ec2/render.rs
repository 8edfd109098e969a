//! EC2 resources as the XML botocore's `ec2/2016-11-15` model expects.

use region::ec2::model::*;
use region::state::State;

use crate::xml::{Xml, iso8601};

pub fn tags(x: &mut Xml, tags: &Tags) {
    if tags.is_empty() {
        return;
    }
    x.items("tagSet", tags, |x, (k, v)| {
        x.leaf("key", k).leaf("value", v);
    });
}

pub fn vpc(x: &mut Xml, v: &Vpc, owner: &str) {
    let v4 = v
        .ipv4_associations
        .iter()
        .map(|a| (a, "associated"))
        .chain(v.ipv4_disassociated.iter().map(|a| (a, "disassociated")));
    let v6 = v
        .ipv6_associations
        .iter()
        .map(|a| (a, "associated"))
        .chain(v.ipv6_disassociated.iter().map(|a| (a, "disassociated")));
    x.leaf("vpcId", &v.id)
        .leaf("ownerId", owner)
        .leaf("state", "available")
        .leaf("cidrBlock", v.cidr_block)
        .items("cidrBlockAssociationSet", v4, |x, (a, state)| {
            ipv4_assoc(x, a, state)
        })
        .items("ipv6CidrBlockAssociationSet", v6, |x, (a, state)| {
            ipv6_assoc(x, a, "ipv6CidrBlockState", state, true)
        })
        .leaf("dhcpOptionsId", "default")
        .leaf("instanceTenancy", &v.tenancy)
        .leaf("isDefault", false);
    tags(x, &v.tags);
}

/// A VPC IPv4 block association in `state`.
pub fn ipv4_assoc(x: &mut Xml, a: &Ipv4Association, state: &str) {
    x.leaf("associationId", &a.id).leaf("cidrBlock", a.cidr);
    x.open("cidrBlockState")
        .leaf("state", state)
        .close("cidrBlockState");
}

/// An IPv6 block association in `state` (`associating` in the reply that made it,
/// `associated` after, `disassociating`/`disassociated` on the way out); VPC associations
/// (`vpc`) also name their pool and border group.
pub fn ipv6_assoc(x: &mut Xml, a: &Ipv6Association, state_tag: &str, state: &str, vpc: bool) {
    x.leaf("associationId", &a.id).leaf("ipv6CidrBlock", a.cidr);
    x.open(state_tag).leaf("state", state).close(state_tag);
    if vpc {
        x.leaf("networkBorderGroup", &a.border_group)
            .leaf("ipv6Pool", "Amazon");
    }
    x.leaf("ipv6AddressAttribute", "public")
        .leaf("ipSource", "amazon");
}

pub fn subnet(x: &mut Xml, s: &Subnet, state: &State, owner: &str, region: &str) {
    let available = match s.cidr_block {
        Some(c) => {
            let used = state.used_ipv4(&s.id).len() as u64;
            let total = (1u64 << (32 - u32::from(c.prefix_len()))).saturating_sub(5);
            total.saturating_sub(used)
        }
        None => 0,
    };
    let v6 = s
        .ipv6
        .iter()
        .map(|a| (a, "associated"))
        .chain(s.ipv6_disassociated.iter().map(|a| (a, "disassociated")));
    x.leaf("subnetId", &s.id)
        .leaf(
            "subnetArn",
            format!("arn:aws:ec2:{region}:{owner}:subnet/{}", s.id),
        )
        .leaf("state", "available")
        .leaf("vpcId", &s.vpc_id)
        .leaf("ownerId", owner)
        .opt("cidrBlock", s.cidr_block)
        .leaf("availableIpAddressCount", available)
        .leaf("availabilityZone", &s.availability_zone)
        .opt(
            "availabilityZoneId",
            region::zones::id_of(region, &s.availability_zone),
        )
        .leaf("defaultForAz", false)
        .leaf("mapPublicIpOnLaunch", s.map_public_ip_on_launch)
        .leaf("mapCustomerOwnedIpOnLaunch", false)
        .leaf("assignIpv6AddressOnCreation", s.assign_ipv6_on_creation)
        .items("ipv6CidrBlockAssociationSet", v6, |x, (a, st)| {
            ipv6_assoc(x, a, "ipv6CidrBlockState", st, false)
        })
        .leaf("ipv6Native", s.ipv6_native)
        .leaf("enableDns64", false)
        .opt("outpostArn", s.outpost_arn.as_ref());
    // EC2's defaults: IP-based names, except IPv6-only subnets, which only have resource names.
    x.open("privateDnsNameOptionsOnLaunch")
        .leaf(
            "hostnameType",
            if s.ipv6_native {
                "resource-name"
            } else {
                "ip-name"
            },
        )
        .leaf("enableResourceNameDnsARecord", false)
        .leaf("enableResourceNameDnsAAAARecord", false)
        .close("privateDnsNameOptionsOnLaunch");
    tags(x, &s.tags);
}

pub fn internet_gateway(x: &mut Xml, g: &InternetGateway, owner: &str) {
    x.leaf("internetGatewayId", &g.id)
        .leaf("ownerId", owner)
        .items("attachmentSet", &g.attached_vpc, |x, v| {
            x.leaf("vpcId", v).leaf("state", "available");
        });
    tags(x, &g.tags);
}

pub fn egress_only_gateway(x: &mut Xml, g: &EgressOnlyInternetGateway) {
    x.leaf("egressOnlyInternetGatewayId", &g.id)
        .items("attachmentSet", [&g.vpc_id], |x, v| {
            x.leaf("vpcId", v).leaf("state", "attached");
        });
    tags(x, &g.tags);
}

pub fn route_table(x: &mut Xml, r: &RouteTable, owner: &str) {
    x.leaf("routeTableId", &r.id)
        .leaf("vpcId", &r.vpc_id)
        .leaf("ownerId", owner);
    x.items("routeSet", &r.routes, |x, rt| {
        match rt.destination {
            Destination::V4(n) => x.leaf("destinationCidrBlock", n),
            Destination::V6(n) => x.leaf("destinationIpv6CidrBlock", n),
        };
        match &rt.target {
            Target::Local => x.leaf("gatewayId", "local"),
            Target::InternetGateway(g) => x.leaf("gatewayId", g),
            Target::EgressOnlyInternetGateway(g) => x.leaf("egressOnlyInternetGatewayId", g),
        };
        x.leaf("state", "active").leaf("origin", &rt.origin);
    });
    x.open("associationSet");
    if let Some(id) = &r.main_association {
        x.open("item")
            .leaf("main", true)
            .leaf("routeTableAssociationId", id)
            .leaf("routeTableId", &r.id)
            .open("associationState")
            .leaf("state", "associated")
            .close("associationState")
            .close("item");
    }
    for a in &r.associations {
        x.open("item")
            .leaf("main", false)
            .leaf("routeTableAssociationId", &a.id)
            .leaf("routeTableId", &r.id)
            .leaf("subnetId", &a.subnet_id)
            .open("associationState")
            .leaf("state", "associated")
            .close("associationState")
            .close("item");
    }
    x.close("associationSet");
    x.open("propagatingVgwSet").close("propagatingVgwSet");
    tags(x, &r.tags);
}

fn permission_key(r: &Rule) -> (String, Option<i32>, Option<i32>) {
    (r.protocol.clone(), r.from_port, r.to_port)
}

fn permissions(x: &mut Xml, tag: &str, rules: &[&Rule], owner: &str) {
    let mut keys: Vec<(String, Option<i32>, Option<i32>)> = Vec::new();
    for r in rules {
        let k = permission_key(r);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    x.items(tag, keys, |x, k| {
        let group: Vec<&&Rule> = rules.iter().filter(|r| permission_key(r) == k).collect();
        x.leaf("ipProtocol", &k.0)
            .opt("fromPort", k.1)
            .opt("toPort", k.2);
        x.items(
            "groups",
            group.iter().filter_map(|r| match &r.source {
                RuleSource::Group(g) => Some((g, r)),
                _ => None,
            }),
            |x, (g, r)| {
                x.leaf("groupId", g)
                    .leaf("userId", owner)
                    .opt("description", r.description.as_ref());
            },
        );
        x.items(
            "ipRanges",
            group.iter().filter_map(|r| match &r.source {
                RuleSource::V4(n) => Some((n, r)),
                _ => None,
            }),
            |x, (n, r)| {
                x.leaf("cidrIp", n)
                    .opt("description", r.description.as_ref());
            },
        );
        x.items(
            "ipv6Ranges",
            group.iter().filter_map(|r| match &r.source {
                RuleSource::V6(n) => Some((n, r)),
                _ => None,
            }),
            |x, (n, r)| {
                x.leaf("cidrIpv6", n)
                    .opt("description", r.description.as_ref());
            },
        );
        x.open("prefixListIds").close("prefixListIds");
    });
}

/// `arn:aws:ec2:REGION:ACCOUNT:security-group/sg-...`.
pub fn security_group_arn(region: &str, owner: &str, id: &str) -> String {
    format!("arn:aws:ec2:{region}:{owner}:security-group/{id}")
}

pub fn security_group(x: &mut Xml, g: &SecurityGroup, owner: &str, region: &str) {
    x.leaf("ownerId", owner)
        .leaf("groupId", &g.id)
        .leaf("securityGroupArn", security_group_arn(region, owner, &g.id))
        .leaf("groupName", &g.name)
        .leaf("groupDescription", &g.description)
        .leaf("vpcId", &g.vpc_id);
    let ingress: Vec<&Rule> = g.rules.iter().filter(|r| !r.egress).collect();
    let egress: Vec<&Rule> = g.rules.iter().filter(|r| r.egress).collect();
    permissions(x, "ipPermissions", &ingress, owner);
    permissions(x, "ipPermissionsEgress", &egress, owner);
    tags(x, &g.tags);
}

pub fn rule(x: &mut Xml, group_id: &str, r: &Rule, owner: &str) {
    x.leaf("securityGroupRuleId", &r.id)
        .leaf("groupId", group_id)
        .leaf("groupOwnerId", owner)
        .leaf("isEgress", r.egress)
        .leaf("ipProtocol", &r.protocol)
        .leaf("fromPort", r.from_port.unwrap_or(-1))
        .leaf("toPort", r.to_port.unwrap_or(-1));
    match &r.source {
        RuleSource::V4(n) => x.leaf("cidrIpv4", n),
        RuleSource::V6(n) => x.leaf("cidrIpv6", n),
        RuleSource::Group(g) => x
            .open("referencedGroupInfo")
            .leaf("groupId", g)
            .close("referencedGroupInfo"),
    };
    x.opt("description", r.description.as_ref());
}

fn group_set(x: &mut Xml, groups: &[String], state: &State) {
    x.items("groupSet", groups, |x, g| {
        x.leaf("groupId", g);
        if let Some(sg) = state.security_groups.get(g) {
            x.leaf("groupName", &sg.name);
        }
    });
}

fn ipv6_addresses(x: &mut Xml, e: &NetworkInterface) {
    x.items(
        "ipv6AddressesSet",
        e.ipv6_addresses.iter().enumerate(),
        |x, (i, a)| {
            x.leaf("ipv6Address", a).leaf("isPrimaryIpv6", i == 0);
        },
    );
    x.items("ipv6PrefixSet", &e.ipv6_prefixes, |x, p| {
        x.leaf("ipv6Prefix", p);
    });
}

fn private_dns(ip: std::net::Ipv4Addr, region: &str) -> String {
    let domain = if region == "us-east-1" {
        "ec2.internal".to_string()
    } else {
        format!("{region}.compute.internal")
    };
    format!("ip-{}.{domain}", ip.to_string().replace('.', "-"))
}

pub fn network_interface(
    x: &mut Xml,
    e: &NetworkInterface,
    state: &State,
    owner: &str,
    region: &str,
) {
    x.leaf("networkInterfaceId", &e.id)
        .leaf("subnetId", &e.subnet_id)
        .leaf("vpcId", &e.vpc_id)
        .leaf("availabilityZone", &e.availability_zone)
        .leaf("description", &e.description)
        .leaf("ownerId", owner)
        .leaf("requesterManaged", false)
        .leaf(
            "status",
            if e.attachment.is_some() {
                "in-use"
            } else {
                "available"
            },
        )
        .leaf("macAddress", &e.mac_address)
        .leaf("privateIpAddress", e.private_ipv4)
        .leaf("privateDnsName", private_dns(e.private_ipv4, region))
        .leaf("sourceDestCheck", e.source_dest_check)
        .leaf("interfaceType", &e.interface_type);
    group_set(x, &e.security_groups, state);
    if let Some(a) = &e.attachment {
        x.open("attachment")
            .leaf("attachmentId", &a.id)
            .leaf("instanceId", &a.instance_id)
            .leaf("instanceOwnerId", owner)
            .leaf("deviceIndex", a.device_index)
            .leaf("networkCardIndex", 0)
            .leaf("status", "attached")
            .leaf("attachTime", iso8601(a.attach_time))
            .leaf("deleteOnTermination", a.delete_on_termination)
            .close("attachment");
    }
    x.items("privateIpAddressesSet", [e.private_ipv4], |x, ip| {
        x.leaf("privateIpAddress", ip)
            .leaf("privateDnsName", private_dns(ip, region))
            .leaf("primary", true);
    });
    ipv6_addresses(x, e);
    x.opt("ipv6Address", e.ipv6_addresses.first());
    tags(x, &e.tags);
}

pub fn instance(x: &mut Xml, i: &Instance, state: &State, owner: &str, region: &str) {
    x.leaf("instanceId", &i.id).leaf("imageId", &i.image_id);
    x.open("instanceState")
        .leaf("code", i.state.code())
        .leaf("name", i.state.name())
        .close("instanceState");
    x.leaf("privateDnsName", private_dns(i.private_ipv4, region))
        .leaf("dnsName", "")
        .leaf("reason", "")
        .opt("keyName", i.key_name.as_ref())
        .leaf("amiLaunchIndex", i.launch_index)
        .leaf("instanceType", &i.instance_type)
        .leaf("launchTime", iso8601(i.launch_time));
    x.open("placement")
        .leaf("availabilityZone", &i.availability_zone)
        .leaf("tenancy", "default")
        .close("placement");
    x.open("monitoring")
        .leaf("state", "disabled")
        .close("monitoring");
    x.leaf("subnetId", &i.subnet_id)
        .leaf("vpcId", &i.vpc_id)
        .leaf("privateIpAddress", i.private_ipv4);
    x.opt("ipv6Address", i.ipv6_address);
    x.leaf("sourceDestCheck", true);
    if let Some(p) = &i.iam_instance_profile {
        x.open("iamInstanceProfile")
            .leaf("arn", &p.arn)
            .leaf("id", &p.id)
            .close("iamInstanceProfile");
    }
    group_set(x, &i.security_groups, state);
    x.leaf("architecture", "x86_64")
        .leaf("rootDeviceType", "ebs")
        .leaf("rootDeviceName", "/dev/xvda")
        .leaf("virtualizationType", "hvm")
        .leaf("hypervisor", "xen")
        .leaf("enaSupport", true);
    x.open("metadataOptions")
        .leaf("state", "applied")
        .leaf("httpTokens", "required")
        .leaf("httpPutResponseHopLimit", 2)
        .leaf("httpEndpoint", "enabled")
        .leaf(
            "httpProtocolIpv6",
            if i.metadata_ipv6 {
                "enabled"
            } else {
                "disabled"
            },
        )
        .leaf("instanceMetadataTags", "disabled")
        .close("metadataOptions");
    let enis: Vec<&NetworkInterface> = state.enis_of_instance(&i.id).collect();
    // botocore reads the members of InstanceNetworkInterface and ignores the rest, so the
    // full NetworkInterface rendering serves here too.
    x.items("networkInterfaceSet", enis, |x, e| {
        network_interface(x, e, state, owner, region)
    });
    tags(x, &i.tags);
}

pub fn hypervisor(t: &region::catalog::InstanceType) -> &'static str {
    match t.hypervisor {
        region::catalog::Hypervisor::Nitro => "nitro",
        region::catalog::Hypervisor::Xen => "xen",
        region::catalog::Hypervisor::Unknown => "unknown",
    }
}

/// An `InstanceTypeInfo`. vCPUs, memory and processor come from the catalogue's estimates by
/// family and size (see `region::catalog`).
pub fn instance_type(x: &mut Xml, t: &region::catalog::InstanceType) {
    x.leaf("instanceType", &t.name)
        .leaf("currentGeneration", true)
        .leaf("bareMetal", t.bare_metal);
    if !t.bare_metal || t.hypervisor != region::catalog::Hypervisor::Unknown {
        x.leaf("hypervisor", hypervisor(t));
    }
    x.open("processorInfo")
        .values("supportedArchitectures", [t.architecture()])
        .leaf("manufacturer", t.manufacturer())
        .close("processorInfo");
    x.open("vCpuInfo")
        .leaf("defaultVCpus", t.vcpus())
        .leaf("defaultCores", t.vcpus().div_ceil(2).max(1))
        .leaf("defaultThreadsPerCore", if t.vcpus() > 1 { 2 } else { 1 })
        .close("vCpuInfo");
    x.open("memoryInfo")
        .leaf("sizeInMiB", t.memory_mib())
        .close("memoryInfo");
    x.open("networkInfo")
        .leaf("maximumNetworkInterfaces", t.max_enis)
        .leaf("ipv4AddressesPerInterface", t.ipv4_per_eni)
        .leaf("ipv6AddressesPerInterface", t.ipv6_per_eni())
        .leaf("ipv6Supported", true)
        .leaf("maximumNetworkCards", 1)
        .close("networkInfo");
}

pub fn launch_template(x: &mut Xml, t: &region::eks::model::LaunchTemplate, now: u64) {
    x.leaf("launchTemplateId", &t.id)
        .leaf("launchTemplateName", &t.name)
        .leaf("createTime", iso8601(now))
        .leaf("defaultVersionNumber", 1)
        .leaf("latestVersionNumber", 1);
}
