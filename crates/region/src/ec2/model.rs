//! EC2 resources as the region stores them. Derived facts (addresses in use in a subnet, the
//! route table a subnet uses) are computed, not stored, so they cannot disagree.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

pub type Tags = BTreeMap<String, String>;

fn yes() -> bool {
    true
}

/// Disassociated CIDR blocks a VPC or subnet keeps reporting (state `disassociated`), newest
/// last; older ones are forgotten.
pub const MAX_DISASSOCIATED: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vpc {
    pub id: String,
    pub cidr_block: Ipv4Net,
    pub ipv4_associations: Vec<Ipv4Association>,
    pub ipv6_associations: Vec<Ipv6Association>,
    pub main_route_table: String,
    pub default_security_group: String,
    pub tenancy: String,
    pub tags: Tags,
    /// Blocks removed by DisassociateVpcCidrBlock, still reported as `disassociated`.
    #[serde(default)]
    pub ipv4_disassociated: Vec<Ipv4Association>,
    #[serde(default)]
    pub ipv6_disassociated: Vec<Ipv6Association>,
    /// DescribeVpcAttribute / ModifyVpcAttribute (EC2's defaults for a non-default VPC).
    #[serde(default = "yes")]
    pub enable_dns_support: bool,
    #[serde(default)]
    pub enable_dns_hostnames: bool,
    #[serde(default)]
    pub enable_network_address_usage_metrics: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv4Association {
    pub id: String,
    pub cidr: Ipv4Net,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv6Association {
    pub id: String,
    pub cidr: Ipv6Net,
    pub border_group: String,
}

impl Vpc {
    pub fn ipv4_cidrs(&self) -> impl Iterator<Item = Ipv4Net> + '_ {
        self.ipv4_associations.iter().map(|a| a.cidr)
    }
    pub fn ipv6_cidrs(&self) -> impl Iterator<Item = Ipv6Net> + '_ {
        self.ipv6_associations.iter().map(|a| a.cidr)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    /// `None` for an IPv6-only subnet (`Ipv6Native`).
    pub cidr_block: Option<Ipv4Net>,
    pub ipv6: Option<Ipv6Association>,
    pub assign_ipv6_on_creation: bool,
    pub map_public_ip_on_launch: bool,
    pub outpost_arn: Option<String>,
    pub tags: Tags,
    /// An IPv6-only subnet: no IPv4 block at all.
    #[serde(default)]
    pub ipv6_native: bool,
    /// Blocks removed by DisassociateSubnetCidrBlock, still reported as `disassociated`.
    #[serde(default)]
    pub ipv6_disassociated: Vec<Ipv6Association>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InternetGateway {
    pub id: String,
    pub attached_vpc: Option<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressOnlyInternetGateway {
    pub id: String,
    pub vpc_id: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Destination {
    V4(Ipv4Net),
    V6(Ipv6Net),
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::V4(n) => n.fmt(f),
            Destination::V6(n) => n.fmt(f),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    Local,
    InternetGateway(String),
    EgressOnlyInternetGateway(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub destination: Destination,
    pub target: Target,
    /// `CreateRouteTable` (the local routes) or `CreateRoute`.
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTableAssociation {
    pub id: String,
    pub subnet_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTable {
    pub id: String,
    pub vpc_id: String,
    pub main: bool,
    /// Id of the main association (`rtbassoc-...`) when `main`.
    pub main_association: Option<String>,
    pub routes: Vec<Route>,
    pub associations: Vec<RouteTableAssociation>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleSource {
    V4(Ipv4Net),
    V6(Ipv6Net),
    Group(String),
}

/// One security-group rule (EC2's `SecurityGroupRule`), flattened; grouped into
/// `IpPermission`s on output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub egress: bool,
    /// `-1` (all), `tcp`, `udp`, `icmp`, `icmpv6` or a protocol number.
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub source: RuleSource,
    pub description: Option<String>,
}

impl Rule {
    pub fn same_permission(&self, other: &Rule) -> bool {
        self.egress == other.egress
            && self.protocol == other.protocol
            && self.from_port == other.from_port
            && self.to_port == other.to_port
            && self.source == other.source
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    pub vpc_id: String,
    pub rules: Vec<Rule>,
    pub tags: Tags,
}

impl SecurityGroup {
    /// Whether any rule lets IPv6 traffic in (the IPv6 design needs it).
    pub fn allows_ipv6_ingress(&self) -> bool {
        self.rules
            .iter()
            .any(|r| !r.egress && matches!(r.source, RuleSource::V6(_) | RuleSource::Group(_)))
    }
    /// Whether any rule lets IPv6 traffic out.
    pub fn allows_ipv6_egress(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.egress && matches!(r.source, RuleSource::V6(_) | RuleSource::Group(_)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    Pending,
    Running,
    ShuttingDown,
    Terminated,
    Stopping,
    Stopped,
}

impl InstanceState {
    pub fn code(self) -> i32 {
        match self {
            InstanceState::Pending => 0,
            InstanceState::Running => 16,
            InstanceState::ShuttingDown => 32,
            InstanceState::Terminated => 48,
            InstanceState::Stopping => 64,
            InstanceState::Stopped => 80,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            InstanceState::Pending => "pending",
            InstanceState::Running => "running",
            InstanceState::ShuttingDown => "shutting-down",
            InstanceState::Terminated => "terminated",
            InstanceState::Stopping => "stopping",
            InstanceState::Stopped => "stopped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub id: String,
    pub reservation_id: String,
    pub instance_type: String,
    pub image_id: String,
    pub subnet_id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    pub state: InstanceState,
    pub launch_time: u64,
    pub launch_index: u32,
    /// The primary ENI (device index 0); kept after termination for the record.
    pub primary_eni: String,
    /// Copies of the primary ENI's addresses, so a terminated instance still describes itself.
    pub private_ipv4: Ipv4Addr,
    pub ipv6_address: Option<Ipv6Addr>,
    pub security_groups: Vec<String>,
    pub key_name: Option<String>,
    /// Whether the instance metadata service's IPv6 endpoint is enabled.
    pub metadata_ipv6: bool,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: String,
    pub instance_id: String,
    pub device_index: u32,
    pub attach_time: u64,
    /// Primary ENIs go with their instance; ENIs attached later stay (detached) by default.
    #[serde(default = "yes")]
    pub delete_on_termination: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInterface {
    pub id: String,
    pub subnet_id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    pub mac_address: String,
    pub private_ipv4: Ipv4Addr,
    pub ipv6_addresses: Vec<Ipv6Addr>,
    pub ipv6_prefixes: Vec<Ipv6Net>,
    pub attachment: Option<Attachment>,
    pub security_groups: Vec<String>,
    pub description: String,
    pub tags: Tags,
    #[serde(default = "yes")]
    pub source_dest_check: bool,
    /// `interface` (the default), or `branch` / `trunk` (security groups for pods: a pod's own
    /// interface with its own groups, carried over the node's trunk).
    #[serde(default = "interface")]
    pub interface_type: String,
}

fn interface() -> String {
    "interface".into()
}

/// A `ClientToken` seen by an idempotent EC2 call: replaying the same request answers the
/// resources the first one made; the same token on a different request is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientTokenRecord {
    pub action: String,
    /// A stable hash of the request's parameters (all but `ClientToken` and `DryRun`).
    pub fingerprint: String,
    /// What the first request made (e.g. the instance ids of a RunInstances).
    pub ids: Vec<String>,
    pub created: u64,
}

/// A `Filter.N.Name` / `Filter.N.Value.M` pair of a Describe call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}
