//! The lab's fixed plan: names of namespaces and interfaces, and every address the lab chooses
//! itself (the region chooses the rest). Pure: no I/O, so the plan is unit-tested.
//!
//! Every namespace of lab `NAME` starts with `sfl-NAME-`, so `down` can find them all even
//! without the state file. Addresses come only from the documentation ranges (2001:db8::/32,
//! 198.51.100.0/24, 203.0.113.0/24) and from 10.0.0.0/16, and live only inside these namespaces.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{LabError, Result};

/// The VPC's IPv4 block.
pub const VPC_CIDR: &str = "10.0.0.0/16";
/// The availability zones the subnets are spread over (one subnet each).
pub const ZONES: [&str; 2] = ["us-east-1a", "us-east-1b"];
/// The image every instance is launched from (the region checks only its shape).
pub const IMAGE_ID: &str = "ami-0123456789abcdef0";
/// A Nitro instance type (Xen types are refused in IPv6 clusters).
pub const INSTANCE_TYPE: &str = "m5.large";
/// The Kubernetes version of the cluster.
pub const K8S_VERSION: &str = "1.31";

/// The most nodes a lab runs (`up --nodes`, and the node group's `maxSize`).
pub const MAX_NODES: usize = 20;

/// The port every pod server listens on.
pub const POD_PORT: u16 = 8080;
/// The port services expose (DNATed to [`POD_PORT`]).
pub const SERVICE_PORT: u16 = 80;
/// The port every pod also serves HTTP on (`<name> saw <peer>` plus the `X-Forwarded-For` it
/// got), for application load balancers and the load balancer benchmark.
pub const POD_HTTP_PORT: u16 = 80;
/// The port the internet hosts listen on.
pub const INTERNET_PORT: u16 = 80;

/// The internet's IPv4 host (reports the source it sees).
pub const INTERNET_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
/// The internet's IPv6 host.
pub const INTERNET_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 0x10);
/// The internet's side of the IGW link (a /32 on that link).
pub const INTERNET_LINK_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// The IGW's public side (a /32 on the internet link).
pub const IGW_PUBLIC_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The public IPv4 range nodes are mapped into.
pub const PUBLIC_V4_RANGE: &str = "198.51.100.0/24";
/// Router ↔ IGW transit, inside the VPC block: router .1, IGW .2 (a /30).
pub const TRANSIT_ROUTER_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 255, 1);
pub const TRANSIT_IGW_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 255, 2);
/// Link-local addresses of every point-to-point link: the upstream end is `fe80::1`
/// (the VPC router, or a gateway towards the internet), the other end `fe80::2`.
pub const LL_UP: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
pub const LL_DOWN: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2);
/// MTU of the lab's links (EC2 jumbo frames).
pub const MTU: u32 = 9001;

/// Check a lab name: 1..12 lowercase letters and digits, a letter first (it becomes part of
/// namespace names and the cluster name).
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 12
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(LabError::InvalidName {
            name: name.to_owned(),
        })
    }
}

/// The names of one lab's namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    lab: String,
}

impl Names {
    /// Names for lab `lab` (checked with [`check_name`]).
    pub fn new(lab: &str) -> Result<Names> {
        check_name(lab)?;
        Ok(Names {
            lab: lab.to_owned(),
        })
    }

    /// The lab's name.
    pub fn lab(&self) -> &str {
        &self.lab
    }

    /// The prefix every namespace of this lab starts with.
    pub fn prefix(&self) -> String {
        format!("sfl-{}-", self.lab)
    }

    fn ns(&self, role: &str) -> String {
        format!("sfl-{}-{role}", self.lab)
    }

    /// The VPC router.
    pub fn router(&self) -> String {
        self.ns("vpc")
    }
    /// The internet gateway.
    pub fn igw(&self) -> String {
        self.ns("igw")
    }
    /// The egress-only internet gateway.
    pub fn eigw(&self) -> String {
        self.ns("eigw")
    }
    /// The internet.
    pub fn internet(&self) -> String {
        self.ns("inet")
    }
    /// The cluster DNS server.
    pub fn dns(&self) -> String {
        self.ns("dns")
    }
    /// Node `i` (1-based).
    pub fn node(&self, i: usize) -> String {
        self.ns(&format!("node{i}"))
    }
    /// Pod `j` (1-based) of node `i`.
    pub fn pod(&self, i: usize, j: usize) -> String {
        self.ns(&format!("n{i}-pod{j}"))
    }
    /// Fargate unit `i` (1-based).
    pub fn fargate(&self, i: usize) -> String {
        self.ns(&format!("fg{i}"))
    }
    /// The EKS cluster's name.
    pub fn cluster(&self) -> String {
        format!("sixfold-{}", self.lab)
    }
}

/// The Kubernetes name of pod `j` of node `i`.
pub fn pod_name(i: usize, j: usize) -> String {
    format!("web-{i}-{j}")
}

/// The Kubernetes name of Fargate pod `i`.
pub fn fargate_pod_name(i: usize) -> String {
    format!("fargate-{i}")
}

/// The Kubernetes name of service `k` (1-based).
pub fn service_name(k: usize) -> String {
    format!("web{k}")
}

/// The service (1-based) pod number `n` (0-based, in creation order) belongs to.
pub fn service_of(n: usize, services: usize) -> Option<usize> {
    (services > 0).then(|| n % services + 1)
}

/// The router's interface towards node `i`.
pub fn router_node_if(i: usize) -> String {
    format!("node{i}")
}

/// The router's interface towards Fargate unit `i`.
pub fn router_fargate_if(i: usize) -> String {
    format!("fg{i}")
}

/// The public IPv4 the IGW maps node `i` (1-based) to: 198.51.100.(10 + i).
pub fn node_public_v4(i: usize) -> Result<Ipv4Addr> {
    let host = u8::try_from(10 + i)
        .ok()
        .filter(|h| *h < 255)
        .ok_or_else(|| LabError::InvalidFlag {
            flag: "--nodes",
            detail: format!("at most 244 nodes fit into {PUBLIC_V4_RANGE}"),
        })?;
    Ok(Ipv4Addr::new(198, 51, 100, host))
}

/// The subnet (index into [`ZONES`]) node `i` (1-based) lives in: round robin.
pub fn node_zone(i: usize) -> usize {
    (i - 1) % ZONES.len()
}

/// The IPv4 block of subnet `z`: 10.0.z.0/24.
pub fn subnet_v4(z: usize) -> String {
    format!("10.0.{z}.0/24")
}

/// The IPv4 gateway of subnet `z` (the VPC router's address on its node links): 10.0.z.1.
pub fn subnet_gateway_v4(z: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, z as u8, 1)
}

/// The VPC router's address in a subnet (its first host, as in a VPC) and the subnet's prefix
/// length, from its IPv4 block: `10.0.1.0/24` → `(10.0.1.1, 24)`.
pub fn subnet_gateway(cidr: &str) -> Result<(Ipv4Addr, u8)> {
    let net: ipnet::Ipv4Net = cidr.parse().map_err(|_| LabError::Reply {
        action: "DescribeSubnets".into(),
        detail: format!("subnet IPv4 block {cidr:?} is not a CIDR"),
    })?;
    if net.prefix_len() > 28 {
        return Err(LabError::Reply {
            action: "DescribeSubnets".into(),
            detail: format!("subnet {cidr} is smaller than a VPC subnet can be (/28)"),
        });
    }
    Ok((
        Ipv4Addr::from(u32::from(net.network()) + 1),
        net.prefix_len(),
    ))
}

/// The /64 of subnet `z` inside the VPC's /56.
pub fn subnet_v6(vpc56: ipnet::Ipv6Net, z: usize) -> ipnet::Ipv6Net {
    let base = u128::from(vpc56.network()) | ((z as u128) << 64);
    // A /64 built from a network address is always valid.
    ipnet::Ipv6Net::new(Ipv6Addr::from(base), 64).unwrap_or(vpc56)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_subnet_gateway_is_its_first_host() {
        assert_eq!(
            super::subnet_gateway("10.0.1.0/24").unwrap(),
            (std::net::Ipv4Addr::new(10, 0, 1, 1), 24)
        );
        assert_eq!(
            super::subnet_gateway("172.31.32.0/20").unwrap(),
            (std::net::Ipv4Addr::new(172, 31, 32, 1), 20)
        );
        assert!(super::subnet_gateway("10.0.0.0/30").is_err());
        assert!(super::subnet_gateway("nope").is_err());
    }

    use super::*;

    #[test]
    fn names_share_the_lab_prefix() {
        let n = Names::new("t1").unwrap();
        for ns in [
            n.router(),
            n.igw(),
            n.eigw(),
            n.internet(),
            n.dns(),
            n.node(3),
            n.pod(3, 10),
            n.fargate(1),
        ] {
            assert!(ns.starts_with(&n.prefix()), "{ns}");
        }
        assert_eq!(n.pod(1, 2), "sfl-t1-n1-pod2");
        assert_eq!(n.cluster(), "sixfold-t1");
    }

    #[test]
    fn lab_names_are_checked() {
        for bad in ["", "Lab", "1lab", "a-b", "abcdefghijklm", "a/b"] {
            assert!(Names::new(bad).is_err(), "{bad:?}");
        }
        assert!(Names::new("lab").is_ok());
    }

    #[test]
    fn addresses_come_from_documentation_and_vpc_ranges() {
        let public: ipnet::Ipv4Net = PUBLIC_V4_RANGE.parse().unwrap();
        assert!(public.contains(&node_public_v4(1).unwrap()));
        assert!(public.contains(&IGW_PUBLIC_V4));
        let inet: ipnet::Ipv4Net = "203.0.113.0/24".parse().unwrap();
        assert!(inet.contains(&INTERNET_V4) && inet.contains(&INTERNET_LINK_V4));
        let doc6: ipnet::Ipv6Net = "2001:db8::/32".parse().unwrap();
        assert!(doc6.contains(&INTERNET_V6));
        let vpc: ipnet::Ipv4Net = VPC_CIDR.parse().unwrap();
        assert!(vpc.contains(&TRANSIT_ROUTER_V4) && vpc.contains(&subnet_gateway_v4(1)));
        assert!(node_public_v4(245).is_err());
    }

    #[test]
    fn subnets_are_carved_from_the_vpc_block() {
        let v: ipnet::Ipv6Net = "2001:db8:0:100::/56".parse().unwrap();
        assert_eq!(subnet_v6(v, 1).to_string(), "2001:db8:0:101::/64");
        assert_eq!(subnet_v4(1), "10.0.1.0/24");
        assert_eq!(node_zone(1), 0);
        assert_eq!(node_zone(2), 1);
        assert_eq!(node_zone(3), 0);
    }

    #[test]
    fn pods_spread_over_services() {
        assert_eq!(service_of(0, 2), Some(1));
        assert_eq!(service_of(3, 2), Some(2));
        assert_eq!(service_of(3, 0), None);
    }
}
