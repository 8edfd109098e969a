//! EC2 resources as the region stores them. Derived facts (addresses in use in a subnet, the
//! route table a subnet uses) are computed, not stored, so they cannot disagree.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

/// A resource's tags, key to value (at most one value per key, keys in order).
pub type Tags = BTreeMap<String, String>;

fn yes() -> bool {
    true
}

/// Disassociated CIDR blocks a VPC or subnet keeps reporting (state `disassociated`), newest
/// last; older ones are forgotten.
pub const MAX_DISASSOCIATED: usize = 5;

/// A VPC: its primary IPv4 block, further associated blocks and the resources it owns by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vpc {
    /// `vpc-...`, unique in the region.
    pub id: String,
    /// The primary IPv4 block given at creation; it cannot be disassociated.
    pub cidr_block: Ipv4Net,
    /// Every associated IPv4 block, the primary one first.
    pub ipv4_associations: Vec<Ipv4Association>,
    /// Associated IPv6 blocks (Amazon-provided /56s), in association order.
    pub ipv6_associations: Vec<Ipv6Association>,
    /// The route table created with the VPC (`rtb-...`), used by every subnet without an explicit association.
    pub main_route_table: String,
    /// The `default` security group created with the VPC (`sg-...`).
    pub default_security_group: String,
    /// `default`, `dedicated` or `host`.
    pub tenancy: String,
    /// Tags.
    pub tags: Tags,
    /// Blocks removed by DisassociateVpcCidrBlock, still reported as `disassociated`.
    #[serde(default)]
    pub ipv4_disassociated: Vec<Ipv4Association>,
    /// IPv6 blocks removed by DisassociateVpcCidrBlock, still reported as `disassociated`.
    #[serde(default)]
    pub ipv6_disassociated: Vec<Ipv6Association>,
    /// DescribeVpcAttribute / ModifyVpcAttribute (EC2's defaults for a non-default VPC).
    #[serde(default = "yes")]
    pub enable_dns_support: bool,
    /// Whether instances get public DNS host names (EC2's default for a non-default VPC: off).
    #[serde(default)]
    pub enable_dns_hostnames: bool,
    /// Whether Network Address Usage metrics are on (default off).
    #[serde(default)]
    pub enable_network_address_usage_metrics: bool,
}

/// One IPv4 block of a VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv4Association {
    /// `vpc-cidr-assoc-...`, the handle DisassociateVpcCidrBlock takes.
    pub id: String,
    /// The block.
    pub cidr: Ipv4Net,
}

/// One IPv6 block of a VPC or subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv6Association {
    /// `vpc-cidr-assoc-...` or `subnet-cidr-assoc-...`, the handle the Disassociate calls take.
    pub id: String,
    /// The block (a /56 for a VPC, a /64 for a subnet).
    pub cidr: Ipv6Net,
    /// The network border group it was allocated from (the region's name).
    pub border_group: String,
}

impl Vpc {
    /// The VPC's IPv4 blocks, the primary one first.
    pub fn ipv4_cidrs(&self) -> impl Iterator<Item = Ipv4Net> + '_ {
        self.ipv4_associations.iter().map(|a| a.cidr)
    }
    /// The VPC's IPv6 blocks, in association order.
    pub fn ipv6_cidrs(&self) -> impl Iterator<Item = Ipv6Net> + '_ {
        self.ipv6_associations.iter().map(|a| a.cidr)
    }
}

/// A subnet: an IPv4 and/or IPv6 block inside its VPC's, in one availability zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    /// `subnet-...`, unique in the region.
    pub id: String,
    /// The VPC the subnet's blocks lie in.
    pub vpc_id: String,
    /// The zone's name (e.g. `us-east-1a`).
    pub availability_zone: String,
    /// `None` for an IPv6-only subnet (`Ipv6Native`).
    pub cidr_block: Option<Ipv4Net>,
    /// The subnet's IPv6 /64, when it has one (an IPv6-only subnet always does).
    pub ipv6: Option<Ipv6Association>,
    /// Whether new ENIs in the subnet get an IPv6 address without asking (`AssignIpv6AddressOnCreation`).
    pub assign_ipv6_on_creation: bool,
    /// Whether new instances get a public IPv4 address (`MapPublicIpOnLaunch`).
    pub map_public_ip_on_launch: bool,
    /// Always `None` here (no Outposts); kept so the shape matches EC2's.
    pub outpost_arn: Option<String>,
    /// Tags.
    pub tags: Tags,
    /// An IPv6-only subnet: no IPv4 block at all.
    #[serde(default)]
    pub ipv6_native: bool,
    /// Blocks removed by DisassociateSubnetCidrBlock, still reported as `disassociated`.
    #[serde(default)]
    pub ipv6_disassociated: Vec<Ipv6Association>,
}

/// An internet gateway: two-way internet access for the one VPC it is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InternetGateway {
    /// `igw-...`, unique in the region.
    pub id: String,
    /// The VPC it is attached to, if any (at most one).
    pub attached_vpc: Option<String>,
    /// Tags.
    pub tags: Tags,
}

/// An egress-only internet gateway: IPv6 out of its VPC, replies back, nothing initiated from outside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressOnlyInternetGateway {
    /// `eigw-...`, unique in the region.
    pub id: String,
    /// The VPC it was created in (and attached to for life).
    pub vpc_id: String,
    /// Tags.
    pub tags: Tags,
}

/// Where a route leads: an IPv4 or an IPv6 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Destination {
    /// An IPv4 destination (`DestinationCidrBlock`).
    V4(Ipv4Net),
    /// An IPv6 destination (`DestinationIpv6CidrBlock`).
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

/// What a route sends its traffic to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// The VPC itself (the route of each of its blocks).
    Local,
    /// An internet gateway by id (`igw-...`).
    InternetGateway(String),
    /// An egress-only internet gateway by id (`eigw-...`).
    EgressOnlyInternetGateway(String),
}

/// One route of a route table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The prefix matched.
    pub destination: Destination,
    /// Where matching traffic goes.
    pub target: Target,
    /// `CreateRouteTable` (the local routes) or `CreateRoute`.
    pub origin: String,
}

/// An explicit association of a subnet with a route table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTableAssociation {
    /// `rtbassoc-...`, the handle DisassociateRouteTable and ReplaceRouteTableAssociation take.
    pub id: String,
    /// The associated subnet.
    pub subnet_id: String,
}

/// A route table of a VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTable {
    /// `rtb-...`, unique in the region.
    pub id: String,
    /// The VPC it belongs to.
    pub vpc_id: String,
    /// Whether this is the VPC's main route table (used by subnets with no explicit association).
    pub main: bool,
    /// Id of the main association (`rtbassoc-...`) when `main`.
    pub main_association: Option<String>,
    /// Its routes: the local routes first, then those added by CreateRoute.
    pub routes: Vec<Route>,
    /// Subnets explicitly associated with it.
    pub associations: Vec<RouteTableAssociation>,
    /// Tags.
    pub tags: Tags,
}

/// Who a security-group rule admits (ingress) or reaches (egress).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleSource {
    /// An IPv4 range (`IpRanges`).
    V4(Ipv4Net),
    /// An IPv6 range (`Ipv6Ranges`).
    V6(Ipv6Net),
    /// Members of another security group, by id (`UserIdGroupPairs`).
    Group(String),
}

/// One security-group rule (EC2's `SecurityGroupRule`), flattened; grouped into
/// `IpPermission`s on output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// `sgr-...`, unique in the region.
    pub id: String,
    /// An egress (outbound) rule rather than an ingress one.
    pub egress: bool,
    /// `-1` (all), `tcp`, `udp`, `icmp`, `icmpv6` or a protocol number.
    pub protocol: String,
    /// First port (or ICMP type) of the range; `None` for all.
    pub from_port: Option<i32>,
    /// Last port (or ICMP code) of the range; `None` for all.
    pub to_port: Option<i32>,
    /// The peer it admits or reaches.
    pub source: RuleSource,
    /// The rule's free-text description.
    pub description: Option<String>,
}

impl Rule {
    /// Whether `other` grants the same traffic (direction, protocol, ports, peer), descriptions aside: the test for a duplicate or a matching revoke.
    pub fn same_permission(&self, other: &Rule) -> bool {
        self.egress == other.egress
            && self.protocol == other.protocol
            && self.from_port == other.from_port
            && self.to_port == other.to_port
            && self.source == other.source
    }
}

/// A security group: named, in one VPC, with its ingress and egress rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroup {
    /// `sg-...`, unique in the region.
    pub id: String,
    /// `GroupName`, unique in its VPC.
    pub name: String,
    /// `GroupDescription`.
    pub description: String,
    /// The VPC it belongs to.
    pub vpc_id: String,
    /// Its rules, ingress and egress.
    pub rules: Vec<Rule>,
    /// Tags.
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

/// The life cycle state of an instance (EC2's `InstanceState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    /// Starting (code 0).
    Pending,
    /// Running (code 16).
    Running,
    /// Being terminated (code 32).
    ShuttingDown,
    /// Terminated; kept for the record (code 48).
    Terminated,
    /// Being stopped (code 64).
    Stopping,
    /// Stopped (code 80).
    Stopped,
}

impl InstanceState {
    /// EC2's numeric state code (the low byte of `InstanceState.Code`).
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
    /// EC2's state name (`running`, `shutting-down`, ...).
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

/// An EC2 instance (here a record of the node: the lab or a test runs the machine itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// `i-...`, unique in the region.
    pub id: String,
    /// `r-...`, shared by the instances of one RunInstances.
    pub reservation_id: String,
    /// The instance type's name (from the catalogue).
    pub instance_type: String,
    /// The AMI id it was launched from.
    pub image_id: String,
    /// The subnet of its primary ENI.
    pub subnet_id: String,
    /// The VPC of that subnet.
    pub vpc_id: String,
    /// The zone of that subnet.
    pub availability_zone: String,
    /// Its life cycle state.
    pub state: InstanceState,
    /// When it was launched (seconds since the Unix epoch).
    pub launch_time: u64,
    /// Its index within its RunInstances call (`AmiLaunchIndex`).
    pub launch_index: u32,
    /// The primary ENI (device index 0); kept after termination for the record.
    pub primary_eni: String,
    /// Copies of the primary ENI's addresses, so a terminated instance still describes itself.
    pub private_ipv4: Ipv4Addr,
    /// The primary ENI's first IPv6 address, if it has one.
    pub ipv6_address: Option<Ipv6Addr>,
    /// Security group ids of the primary ENI.
    pub security_groups: Vec<String>,
    /// The key pair name given at launch.
    pub key_name: Option<String>,
    /// Whether the instance metadata service's IPv6 endpoint is enabled.
    pub metadata_ipv6: bool,
    /// Tags.
    pub tags: Tags,
    /// The IAM instance profile it was launched with (its role's credentials are what the
    /// instance metadata service hands out).
    #[serde(default)]
    pub iam_instance_profile: Option<IamInstanceProfile>,
}

/// An instance's IAM instance profile association, as DescribeInstances shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IamInstanceProfile {
    /// `arn:aws:iam::ACCOUNT:instance-profile/NAME`.
    pub arn: String,
    /// The profile's `AIPA...` id.
    pub id: String,
}

/// An ENI's attachment to an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// `eni-attach-...`, the handle DetachNetworkInterface takes.
    pub id: String,
    /// The instance it is attached to.
    pub instance_id: String,
    /// The device index on that instance (0 is the primary ENI).
    pub device_index: u32,
    /// When it was attached (seconds since the Unix epoch).
    pub attach_time: u64,
    /// Primary ENIs go with their instance; ENIs attached later stay (detached) by default.
    #[serde(default = "yes")]
    pub delete_on_termination: bool,
}

/// An elastic network interface: a MAC with addresses and delegated IPv6 prefixes, in one subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInterface {
    /// `eni-...`, unique in the region.
    pub id: String,
    /// Its subnet.
    pub subnet_id: String,
    /// Its subnet's VPC.
    pub vpc_id: String,
    /// Its subnet's zone.
    pub availability_zone: String,
    /// Its MAC address (`02:...`, unique in the region).
    pub mac_address: String,
    /// Its primary private IPv4 address (in its subnet's IPv4 block).
    pub private_ipv4: Ipv4Addr,
    /// Its IPv6 addresses, each in the subnet's /64 and unique there.
    pub ipv6_addresses: Vec<Ipv6Addr>,
    /// Its delegated IPv6 prefixes (/80s in the subnet's /64, for pods), each unique there.
    pub ipv6_prefixes: Vec<Ipv6Net>,
    /// The instance it is attached to, if any.
    pub attachment: Option<Attachment>,
    /// Its security group ids.
    pub security_groups: Vec<String>,
    /// Free-text description.
    pub description: String,
    /// Tags.
    pub tags: Tags,
    /// Whether the instance must be the source or destination of its traffic (EC2's default: yes).
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
    /// The action the token was first used with.
    pub action: String,
    /// A stable hash of the request's parameters (all but `ClientToken` and `DryRun`).
    pub fingerprint: String,
    /// What the first request made (e.g. the instance ids of a RunInstances).
    pub ids: Vec<String>,
    /// When it was first used (seconds since the Unix epoch).
    pub created: u64,
}

/// A `Filter.N.Name` / `Filter.N.Value.M` pair of a Describe call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// The filter's name (e.g. `vpc-id`, `tag:Name`).
    pub name: String,
    /// The values; a resource matches when it matches any of them.
    pub values: Vec<String>,
}
