//! EKS resources as the region stores them. A stored resource is live: its status on the wire is
//! `ACTIVE`; create and delete answers report `CREATING` / `DELETING` (the work is done at once),
//! so `aws eks wait cluster-active` and `wait cluster-deleted` return on their first poll.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use addressing::ServiceCidr;
use serde::{Deserialize, Serialize};

pub type Tags = BTreeMap<String, String>;

/// A cluster's one IP family, fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    Ipv4,
    Ipv6,
}

impl IpFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            IpFamily::Ipv4 => "ipv4",
            IpFamily::Ipv6 => "ipv6",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ipv4" => Some(IpFamily::Ipv4),
            "ipv6" => Some(IpFamily::Ipv6),
            _ => None,
        }
    }
}

/// The lifecycle state reported on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Active,
    Deleting,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "CREATING",
            Status::Active => "ACTIVE",
            Status::Deleting => "DELETING",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    pub name: String,
    pub arn: String,
    /// A UUID.
    pub id: String,
    pub created_at: u64,
    pub version: String,
    pub platform_version: String,
    pub role_arn: String,
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    /// The security group EKS would create for the control plane; here the VPC's default group.
    pub cluster_security_group_id: String,
    pub endpoint_public_access: bool,
    pub endpoint_private_access: bool,
    pub public_access_cidrs: Vec<String>,
    pub ip_family: IpFamily,
    /// Of the cluster's family: a generated unique-local /108 for IPv6, a private block for IPv4.
    pub service_cidr: ServiceCidr,
    pub endpoint: String,
    /// Base64 of the cluster CA's PEM.
    pub certificate_authority: String,
    /// Kept for stored rows; the issuer served and reported is `<endpoint>/oidc/<id>`.
    pub oidc_issuer: String,
    /// Log types turned on.
    pub logging: BTreeSet<String>,
    pub tags: Tags,
    pub client_request_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taint {
    pub key: String,
    pub value: Option<String>,
    pub effect: String,
}

/// `LaunchTemplateSpecification`: by id or by name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LaunchTemplateRef {
    pub id: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nodegroup {
    pub name: String,
    pub cluster: String,
    pub arn: String,
    pub created_at: u64,
    pub modified_at: u64,
    pub version: String,
    pub release_version: String,
    pub capacity_type: String,
    pub min_size: u32,
    pub max_size: u32,
    pub desired_size: u32,
    pub instance_types: Vec<String>,
    pub subnets: Vec<String>,
    pub ami_type: String,
    pub node_role: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub disk_size: u32,
    pub launch_template: Option<LaunchTemplateRef>,
    /// `remoteAccess`: SSH key and source security groups (kept and returned, not enforced).
    #[serde(default)]
    pub remote_access: Option<RemoteAccess>,
    /// `updateConfig.maxUnavailable` (or, when `max_unavailable_percentage` is set, unused).
    #[serde(default = "one")]
    pub max_unavailable: u32,
    #[serde(default)]
    pub max_unavailable_percentage: Option<u32>,
    /// The EC2 instances of this group (launched by `run_instances`).
    pub instances: Vec<String>,
    pub autoscaling_group: String,
    pub tags: Tags,
}

fn one() -> u32 {
    1
}

/// A node group's `remoteAccess` (`RemoteAccessConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RemoteAccess {
    pub ec2_ssh_key: Option<String>,
    pub source_security_groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addon {
    pub name: String,
    pub cluster: String,
    pub arn: String,
    pub version: String,
    pub service_account_role_arn: Option<String>,
    pub configuration_values: Option<String>,
    pub created_at: u64,
    pub modified_at: u64,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FargateSelector {
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FargateProfile {
    pub name: String,
    pub cluster: String,
    pub arn: String,
    pub created_at: u64,
    pub pod_execution_role_arn: String,
    pub subnets: Vec<String>,
    pub selectors: Vec<FargateSelector>,
    pub tags: Tags,
}

/// One Fargate pod's compute unit: its own network interface in a profile subnet, with its own
/// IPv4 and (in a subnet with an IPv6 CIDR) IPv6 address. The lab places the pod on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FargateUnit {
    pub id: String,
    pub cluster: String,
    pub profile: String,
    pub namespace: String,
    pub pod: String,
    pub subnet_id: String,
    pub eni_id: String,
    pub ipv4: Ipv4Addr,
    pub ipv6: Option<Ipv6Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    pub id: String,
    pub cluster: String,
    pub nodegroup: Option<String>,
    pub addon: Option<String>,
    /// `UpdateType`, e.g. `VpcConfigUpdate`, `LoggingUpdate`, `AddonUpdate`.
    pub kind: String,
    /// `(UpdateParamType, value)`.
    pub params: Vec<(String, String)>,
    pub created_at: u64,
}

/// A `clientRequestToken` seen on an EKS mutating call, and the first result it gave, so a
/// replay answers the same. Keyed `OPERATION/SCOPE/TOKEN` in `eks_request_tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestToken {
    /// A digest of the request (path and body), so a token reused for another request is refused.
    pub fingerprint: String,
    /// What the first call produced: the row key of the resource it created, or the update id.
    pub result: String,
    pub created_at: u64,
}

/// One `Allow` statement of an IAM policy: action and resource patterns (`*` wildcards).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// An IAM role: its trust policy, inline policies and attached managed policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub arn: String,
    pub created_at: u64,
    /// Inline policies by name.
    pub policies: BTreeMap<String, Vec<Statement>>,
    /// `AROA` + 17 random characters (empty in rows stored before it existed).
    #[serde(default)]
    pub role_id: String,
    #[serde(default = "root_path")]
    pub path: String,
    /// The trust policy document as given (JSON).
    #[serde(default)]
    pub assume_role_policy: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Seconds, 3600 to 43200.
    #[serde(default = "one_hour")]
    pub max_session_duration: u32,
    /// ARNs of the attached managed policies, in attach order.
    #[serde(default)]
    pub attached: Vec<String>,
    /// Inline policy documents as given, by name.
    #[serde(default)]
    pub inline_documents: BTreeMap<String, String>,
}

fn root_path() -> String {
    "/".into()
}

fn one_hour() -> u32 {
    3600
}

/// An EC2 launch template, modelled as far as the IPv6 rules need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchTemplate {
    pub id: String,
    pub name: String,
    /// `MetadataOptions.HttpProtocolIpv6=enabled`.
    pub metadata_ipv6: bool,
    pub instance_type: Option<String>,
}
