//! The node lab of the root tests (`tests/node.rs`): a small VPC built out of network
//! namespaces this process creates, with the REAL parts running in it.
//!
//! ```text
//!                 ┌──────────── vpc (router) namespace ─────────────┐
//!  inet ns        │ lo: 10.254.0.1 ← `sixfold serve` (the region)   │
//!  203.0.113.10 ──┤ wan0                 br0 (the subnet):          │
//!  2001:db8:ffff::10                     10.0.1.1/24, <subnet>::1/64│
//!                 │ routes: each node's /80 via that node's ENI IPv6│
//!                 └───────────┬───────────────────────┬─────────────┘
//!                        eth0 │ node0 ns              │ node1 ns
//!              ENI IPv4 + IPv6 from the region, `sixfold agent` (real, against the region)
//!                  pods: namespaces wired by the real plugins from the agent's conflist
//! ```
//!
//! How a node reaches the region without touching the root namespace: the region listens on
//! 10.254.0.1, an address of the router namespace's `lo`; nodes reach it through their default
//! route (the router), like an in-VPC endpoint. The AWS CLI that creates the VPC runs in the
//! router namespace too (`ip netns exec`). Nothing is added to the root namespace.
//!
//! Everything is removed on drop, even when a test panics: agents (killed by PID), the
//! region, then every namespace (which takes its links, routes and nft tables with it).

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::Command;
use std::time::Duration;
use test_support::aws::s;
// Not every test binary that includes this module uses every helper.
#[allow(unused_imports)]
pub use test_support::{Cli, TestNs, sh, try_sh};

use dataplane::netns::NetNs;
use ipnet::{Ipv4Net, Ipv6Net};

use crate::common::Server;
use crate::node_parts::{Agent, Chain, Responder};

/// Bound of every helper command (`ip`, `nft`, a plugin).
pub const CMD_TIMEOUT: Duration = Duration::from_secs(30);
/// The region's address inside the router namespace.
pub const REGION_IP: &str = "10.254.0.1";
/// The VPC's IPv4 block and the nodes' subnet.
pub const VPC_V4: &str = "10.0.0.0/16";
pub const SUBNET_V4: &str = "10.0.1.0/24";
pub const ROUTER_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
/// The "internet" hosts.
pub const INET_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
pub const INET_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 0x10);
/// The port of the internet hosts' responders.
pub const RESPONDER_PORT: u16 = 7007;

/// Fail loudly (never skip) when not root.
pub fn require_root() {
    test_support::require_root(
        "it creates network namespaces, runs `sixfold agent` and the CNI plugins in them",
    );
}

/// Run a command with input and the node lab's deadline (the child is killed when it passes).
pub fn run_cmd(cmd: Command, stdin: &[u8]) -> Cli {
    test_support::run_with_input(cmd, stdin, CMD_TIMEOUT)
}

/// A network namespace made for one node test (`sfn-<pid>-<n>-<role>`); deleted on drop, even
/// when the test fails.
pub fn node_ns(role: &str) -> TestNs {
    TestNs::new("sfn", role)
}

/// Opening a test namespace for the socket and netlink calls a test makes inside it.
pub trait OpenNs {
    /// The namespace, opened.
    fn open(&self) -> NetNs;
}

impl OpenNs for TestNs {
    fn open(&self) -> NetNs {
        NetNs::open(self.path()).expect("test namespace opens")
    }
}

/// One node: its namespace (with the ENI's addresses on `eth0`) and its real agent.
pub struct Node {
    /// Dropped first: the agent dies before its namespace goes.
    pub agent: Agent,
    pub ns: TestNs,
    pub instance_id: String,
    pub eni_id: String,
    pub ipv4: Ipv4Addr,
    pub ipv6: Ipv6Addr,
    /// The /80 the agent got from the region.
    pub prefix: Ipv6Net,
}

impl Node {
    pub fn chain(&self) -> Chain {
        Chain::new(&self.agent)
    }

    /// Host interfaces made by the plugins.
    pub fn plugin_links(&self) -> Vec<String> {
        self.ns
            .links()
            .into_iter()
            .filter(|l| l.starts_with("eni") || l.starts_with("egr"))
            .collect()
    }
}

/// A pod: a namespace the plugins wire.
pub struct Pod {
    pub ns: TestNs,
    pub container_id: String,
}

impl Pod {
    pub fn new(container_id: &str) -> Pod {
        Pod {
            ns: node_ns("pod"),
            container_id: container_id.to_owned(),
        }
    }
}

/// The whole lab. Field order is drop order: nodes (agents, then namespaces), the region,
/// the internet host, the router, the temp dir.
pub struct Lab {
    pub nodes: Vec<Node>,
    pub region: Server,
    pub inet: TestNs,
    pub router: TestNs,
    pub subnet_id: String,
    pub subnet_v6: Ipv6Net,
    pub router_v6: Ipv6Addr,
    pub dir: tempfile::TempDir,
}

impl Lab {
    /// Build the VPC, the region and `nodes` nodes with running agents.
    pub fn new(nodes: usize) -> Lab {
        require_root();
        let dir = tempfile::tempdir().expect("tempdir");
        let router = node_ns("vpc");
        router.sysctl(&[
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1",
            "net.ipv6.conf.default.accept_dad=0",
        ]);
        router.ip(&["addr", "add", &format!("{REGION_IP}/32"), "dev", "lo"]);
        let region = Server::start_in_netns(
            &router.name,
            &dir.path().join("region"),
            &format!("{REGION_IP}:0"),
        );

        // The VPC, through the region's API with the real AWS CLI.
        let vpc = region
            .aws(&[
                "ec2",
                "create-vpc",
                "--cidr-block",
                VPC_V4,
                "--amazon-provided-ipv6-cidr-block",
            ])
            .json();
        let vpc_id = s(&vpc["Vpc"]["VpcId"]);
        let v56: Ipv6Net = s(&vpc["Vpc"]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"])
            .parse()
            .expect("VPC IPv6 block");
        let subnet_v6 = Ipv6Net::new(
            Ipv6Addr::from(u128::from(v56.network()) | (1u128 << 64)),
            64,
        )
        .expect("a /64");
        let sub = region
            .aws(&[
                "ec2",
                "create-subnet",
                "--vpc-id",
                &vpc_id,
                "--cidr-block",
                SUBNET_V4,
                "--ipv6-cidr-block",
                &subnet_v6.to_string(),
                "--availability-zone",
                "us-east-1a",
            ])
            .json();
        let subnet_id = s(&sub["Subnet"]["SubnetId"]);
        region
            .aws(&[
                "ec2",
                "modify-subnet-attribute",
                "--subnet-id",
                &subnet_id,
                "--assign-ipv6-address-on-creation",
            ])
            .json();
        let instances: Vec<String> = if nodes == 0 {
            Vec::new()
        } else {
            let run = region
                .aws(&[
                    "ec2",
                    "run-instances",
                    "--image-id",
                    "ami-0123456789abcdef0",
                    "--instance-type",
                    "m5.large",
                    "--subnet-id",
                    &subnet_id,
                    "--count",
                    &nodes.to_string(),
                ])
                .json();
            run["Instances"]
                .as_array()
                .expect("instances")
                .iter()
                .map(|i| s(&i["InstanceId"]))
                .collect()
        };
        assert_eq!(instances.len(), nodes);

        // The router: the subnet as a bridge, the internet behind wan0.
        let router_v6 = Ipv6Addr::from(u128::from(subnet_v6.network()) | 1);
        router.ip(&["link", "add", "br0", "type", "bridge"]);
        router.ip(&["addr", "add", &format!("{ROUTER_V4}/24"), "dev", "br0"]);
        router.ip(&[
            "addr",
            "add",
            &format!("{router_v6}/64"),
            "dev",
            "br0",
            "nodad",
        ]);
        router.ip(&["link", "set", "br0", "up"]);
        let inet = node_ns("inet");
        inet.sysctl(&["net.ipv6.conf.default.accept_dad=0"]);
        router.ip(&[
            "link", "add", "wan0", "type", "veth", "peer", "name", "eth0", "netns", &inet.name,
        ]);
        router.ip(&["addr", "add", "203.0.113.1/24", "dev", "wan0"]);
        router.ip(&["addr", "add", "2001:db8:ffff::1/64", "dev", "wan0", "nodad"]);
        router.ip(&["link", "set", "wan0", "up"]);
        inet.ip(&["addr", "add", &format!("{INET_V4}/24"), "dev", "eth0"]);
        inet.ip(&[
            "addr",
            "add",
            &format!("{INET_V6}/64"),
            "dev",
            "eth0",
            "nodad",
        ]);
        inet.ip(&["link", "set", "eth0", "up"]);
        inet.ip(&["route", "add", "default", "via", "203.0.113.1"]);
        inet.ip(&["-6", "route", "add", "default", "via", "2001:db8:ffff::1"]);

        let mut lab = Lab {
            nodes: Vec::new(),
            region,
            inet,
            router,
            subnet_id,
            subnet_v6,
            router_v6,
            dir,
        };
        for (i, iid) in instances.iter().enumerate() {
            let node = lab.start_node(i, iid);
            lab.nodes.push(node);
        }
        lab
    }

    /// Wire the namespace of instance `instance_id` to the subnet with its ENI's addresses,
    /// start its agent, and route its /80 to it from the router.
    fn start_node(&self, i: usize, instance_id: &str) -> Node {
        let enis = self
            .region
            .aws(&[
                "ec2",
                "describe-network-interfaces",
                "--filters",
                &format!("Name=attachment.instance-id,Values={instance_id}"),
            ])
            .json();
        let eni = enis["NetworkInterfaces"]
            .as_array()
            .expect("interfaces")
            .iter()
            .find(|e| e["Attachment"]["DeviceIndex"] == 0)
            .unwrap_or_else(|| panic!("{instance_id} has no primary ENI: {enis}"))
            .clone();
        let eni_id = s(&eni["NetworkInterfaceId"]);
        let ipv4: Ipv4Addr = s(&eni["PrivateIpAddress"]).parse().expect("ENI IPv4");
        let ipv6: Ipv6Addr = s(&eni["Ipv6Addresses"][0]["Ipv6Address"])
            .parse()
            .expect("ENI IPv6");
        let sub4: Ipv4Net = SUBNET_V4.parse().expect("literal");
        assert!(sub4.contains(&ipv4) && self.subnet_v6.contains(&ipv6));

        let ns = node_ns(&format!("node{i}"));
        ns.sysctl(&["net.ipv6.conf.default.accept_dad=0"]);
        let port = format!("n{i}");
        ns.ip(&[
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            &port,
            "netns",
            &self.router.name,
        ]);
        self.router
            .ip(&["link", "set", &port, "master", "br0", "up"]);
        ns.ip(&["addr", "add", &format!("{ipv4}/24"), "dev", "eth0"]);
        // The ENI's IPv6 as a /128 with everything else via the router: as in a VPC, where the
        // router answers for the whole subnet (other nodes' pods live in the same /64).
        ns.ip(&[
            "addr",
            "add",
            &format!("{ipv6}/128"),
            "dev",
            "eth0",
            "nodad",
        ]);
        ns.ip(&["link", "set", "eth0", "up"]);
        ns.ip(&["route", "add", "default", "via", &ROUTER_V4.to_string()]);
        ns.ip(&[
            "-6",
            "route",
            "add",
            &format!("{}/128", self.router_v6),
            "dev",
            "eth0",
        ]);
        ns.ip(&[
            "-6",
            "route",
            "add",
            "default",
            "via",
            &self.router_v6.to_string(),
            "dev",
            "eth0",
        ]);

        let agent = Agent::start(
            &ns.name,
            &self.dir.path().join(format!("node{i}")),
            instance_id,
            &self.region,
        );
        let status = agent.status();
        let prefix: Ipv6Net = status.prefix.parse().expect("agent prefix");
        assert_eq!(prefix.prefix_len(), 80, "a node gets a /80: {status:?}");
        assert!(
            self.subnet_v6.contains(&prefix),
            "{prefix} is not in the subnet {}",
            self.subnet_v6
        );
        assert_eq!(
            status.node_ipv4, ipv4,
            "the agent SNATs to the ENI's primary IPv4"
        );
        // As the VPC does once the prefix is delegated: route it to the node.
        self.router.ip(&[
            "-6",
            "route",
            "add",
            &prefix.to_string(),
            "via",
            &ipv6.to_string(),
            "dev",
            "br0",
        ]);
        Node {
            agent,
            ns,
            instance_id: instance_id.to_owned(),
            eni_id,
            ipv4,
            ipv6,
            prefix,
        }
    }

    /// The /80s the region says each ENI holds (DescribeNetworkInterfaces).
    pub fn region_prefixes(&self, eni_id: &str) -> Vec<Ipv6Net> {
        let v = self
            .region
            .aws(&[
                "ec2",
                "describe-network-interfaces",
                "--network-interface-ids",
                eni_id,
            ])
            .json();
        v["NetworkInterfaces"][0]["Ipv6Prefixes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["Ipv6Prefix"].as_str()?.parse().ok())
            .collect()
    }

    /// Start a responder on the internet host (IPv4 and IPv6).
    pub fn internet_responders(&self) -> (Responder, Responder) {
        let ns = self.inet.open();
        (
            Responder::start(&ns, SocketAddr::new(IpAddr::V4(INET_V4), RESPONDER_PORT)),
            Responder::start(&ns, SocketAddr::new(IpAddr::V6(INET_V6), RESPONDER_PORT)),
        )
    }
}
