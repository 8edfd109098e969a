//! EKS resources as the region stores them. A stored resource is live: its status on the wire is
//! `ACTIVE`; create and delete answers report `CREATING` / `DELETING` (the work is done at once),
//! so `aws eks wait cluster-active` and `wait cluster-deleted` return on their first poll.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use addressing::ServiceCidr;
use serde::{Deserialize, Serialize};

/// Tags of an EKS resource, key to value.
pub type Tags = BTreeMap<String, String>;

/// A cluster's one IP family, fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    /// IPv4 pods and services.
    Ipv4,
    /// IPv6 pods and services.
    Ipv6,
}

impl IpFamily {
    /// The wire value (`ipv4` or `ipv6`).
    pub fn as_str(self) -> &'static str {
        match self {
            IpFamily::Ipv4 => "ipv4",
            IpFamily::Ipv6 => "ipv6",
        }
    }

    /// The family named by its wire value; `None` for anything but `ipv4` or `ipv6`.
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
    /// Just created (the answer to a create call).
    Creating,
    /// Live (every stored resource).
    Active,
    /// Being deleted (the answer to a delete call).
    Deleting,
}

impl Status {
    /// The wire value (`CREATING`, `ACTIVE`, `DELETING`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "CREATING",
            Status::Active => "ACTIVE",
            Status::Deleting => "DELETING",
        }
    }
}

/// An EKS cluster: its control plane's place in a VPC, its IP family and its endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// The cluster's name, unique in the region.
    pub name: String,
    /// `arn:aws:eks:REGION:ACCOUNT:cluster/NAME`.
    pub arn: String,
    /// A UUID.
    pub id: String,
    /// When it was created (seconds since the Unix epoch).
    pub created_at: u64,
    /// Kubernetes version (`major.minor`).
    pub version: String,
    /// EKS platform version (`eks.N`).
    pub platform_version: String,
    /// The IAM role the control plane acts as.
    pub role_arn: String,
    /// The VPC of its subnets.
    pub vpc_id: String,
    /// The subnets given at creation (at least two zones).
    pub subnet_ids: Vec<String>,
    /// Additional security groups given at creation.
    pub security_group_ids: Vec<String>,
    /// The security group EKS would create for the control plane; here the VPC's default group.
    pub cluster_security_group_id: String,
    /// Whether the API endpoint is reachable from outside the VPC.
    pub endpoint_public_access: bool,
    /// Whether the API endpoint is reachable from inside the VPC.
    pub endpoint_private_access: bool,
    /// IPv4 ranges allowed to the public endpoint.
    pub public_access_cidrs: Vec<String>,
    /// Pods' and services' IP family.
    pub ip_family: IpFamily,
    /// Of the cluster's family: a generated unique-local /108 for IPv6, a private block for IPv4.
    pub service_cidr: ServiceCidr,
    /// The API server's URL.
    pub endpoint: String,
    /// Base64 of the cluster CA's PEM.
    pub certificate_authority: String,
    /// Kept for stored rows; the issuer served and reported is `<endpoint>/oidc/<id>`.
    pub oidc_issuer: String,
    /// Log types turned on.
    pub logging: BTreeSet<String>,
    /// Tags.
    pub tags: Tags,
    /// The `clientRequestToken` of the create call, if one was given.
    pub client_request_token: Option<String>,
}

/// A node group taint (`key=value:effect`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taint {
    /// The taint's key.
    pub key: String,
    /// Its value, if any.
    pub value: Option<String>,
    /// `NO_SCHEDULE`, `NO_EXECUTE` or `PREFER_NO_SCHEDULE`.
    pub effect: String,
}

/// `LaunchTemplateSpecification`: by id or by name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LaunchTemplateRef {
    /// The template's id (`lt-...`), when referred to by id.
    pub id: Option<String>,
    /// The template's name, when referred to by name.
    pub name: Option<String>,
    /// The template version; `None` for the default.
    pub version: Option<String>,
}

/// A managed node group: instances of one launch configuration in a cluster's subnets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nodegroup {
    /// Its name, unique in its cluster.
    pub name: String,
    /// The cluster's name.
    pub cluster: String,
    /// `arn:aws:eks:REGION:ACCOUNT:nodegroup/CLUSTER/NAME/UUID`.
    pub arn: String,
    /// When it was created (seconds since the Unix epoch).
    pub created_at: u64,
    /// When it was last changed (seconds since the Unix epoch).
    pub modified_at: u64,
    /// Kubernetes version of its nodes.
    pub version: String,
    /// AMI release version of its nodes.
    pub release_version: String,
    /// `ON_DEMAND` or `SPOT`.
    pub capacity_type: String,
    /// Least number of nodes (`scalingConfig.minSize`).
    pub min_size: u32,
    /// Most number of nodes (`scalingConfig.maxSize`).
    pub max_size: u32,
    /// Nodes wanted now (`scalingConfig.desiredSize`); `instances` has this many.
    pub desired_size: u32,
    /// Instance types its nodes may use.
    pub instance_types: Vec<String>,
    /// Subnets its nodes are launched in.
    pub subnets: Vec<String>,
    /// `AL2023_x86_64_STANDARD` and the like.
    pub ami_type: String,
    /// The IAM role of its nodes.
    pub node_role: String,
    /// Kubernetes labels of its nodes.
    pub labels: BTreeMap<String, String>,
    /// Kubernetes taints of its nodes.
    pub taints: Vec<Taint>,
    /// Root volume size in GiB.
    pub disk_size: u32,
    /// The launch template it was created from, if any.
    pub launch_template: Option<LaunchTemplateRef>,
    /// `remoteAccess`: SSH key and source security groups (kept and returned, not enforced).
    #[serde(default)]
    pub remote_access: Option<RemoteAccess>,
    /// `updateConfig.maxUnavailable` (or, when `max_unavailable_percentage` is set, unused).
    #[serde(default = "one")]
    pub max_unavailable: u32,
    /// `updateConfig.maxUnavailablePercentage`, when given instead of a count.
    #[serde(default)]
    pub max_unavailable_percentage: Option<u32>,
    /// The EC2 instances of this group (launched by `run_instances`).
    pub instances: Vec<String>,
    /// Name of the Auto Scaling group that would hold its instances (`eks-NAME-UUID`).
    pub autoscaling_group: String,
    /// Tags.
    pub tags: Tags,
}

fn one() -> u32 {
    1
}

/// A node group's `remoteAccess` (`RemoteAccessConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RemoteAccess {
    /// The EC2 key pair to allow SSH with.
    pub ec2_ssh_key: Option<String>,
    /// Security groups allowed to SSH (empty: any source).
    pub source_security_groups: Vec<String>,
}

/// An EKS add-on installed in a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addon {
    /// The add-on's name (from the catalogue, e.g. `vpc-cni`).
    pub name: String,
    /// The cluster's name.
    pub cluster: String,
    /// `arn:aws:eks:REGION:ACCOUNT:addon/CLUSTER/NAME/UUID`.
    pub arn: String,
    /// The add-on version installed.
    pub version: String,
    /// The IAM role its service account assumes, if any.
    pub service_account_role_arn: Option<String>,
    /// Its configuration (JSON or YAML text, as given).
    pub configuration_values: Option<String>,
    /// When it was created (seconds since the Unix epoch).
    pub created_at: u64,
    /// When it was last changed (seconds since the Unix epoch).
    pub modified_at: u64,
    /// Tags.
    pub tags: Tags,
}

/// Which pods a Fargate profile runs: a namespace and labels all of which must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FargateSelector {
    /// The pods' Kubernetes namespace.
    pub namespace: String,
    /// Labels a pod must all carry.
    pub labels: BTreeMap<String, String>,
}

/// A Fargate profile: the pods of its selectors run on Fargate in its subnets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FargateProfile {
    /// Its name, unique in its cluster.
    pub name: String,
    /// The cluster's name.
    pub cluster: String,
    /// `arn:aws:eks:REGION:ACCOUNT:fargateprofile/CLUSTER/NAME/UUID`.
    pub arn: String,
    /// When it was created (seconds since the Unix epoch).
    pub created_at: u64,
    /// The IAM role its pods' infrastructure acts as.
    pub pod_execution_role_arn: String,
    /// Private subnets its pods are placed in.
    pub subnets: Vec<String>,
    /// Which pods it runs (at most five selectors).
    pub selectors: Vec<FargateSelector>,
    /// Tags.
    pub tags: Tags,
}

/// One Fargate pod's compute unit: its own network interface in a profile subnet, with its own
/// IPv4 and (in a subnet with an IPv6 CIDR) IPv6 address. The lab places the pod on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FargateUnit {
    /// A UUID.
    pub id: String,
    /// The cluster's name.
    pub cluster: String,
    /// The Fargate profile it was placed by.
    pub profile: String,
    /// The pod's Kubernetes namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The subnet of its interface.
    pub subnet_id: String,
    /// Its interface (`eni-...`).
    pub eni_id: String,
    /// The pod's IPv4 address.
    pub ipv4: Ipv4Addr,
    /// The pod's IPv6 address, when the subnet has an IPv6 CIDR.
    pub ipv6: Option<Ipv6Addr>,
}

/// An update record (`DescribeUpdate`): what changed in a cluster, node group or add-on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// A UUID.
    pub id: String,
    /// The cluster's name.
    pub cluster: String,
    /// The node group updated, if it was one.
    pub nodegroup: Option<String>,
    /// The add-on updated, if it was one.
    pub addon: Option<String>,
    /// `UpdateType`, e.g. `VpcConfigUpdate`, `LoggingUpdate`, `AddonUpdate`.
    pub kind: String,
    /// `(UpdateParamType, value)`.
    pub params: Vec<(String, String)>,
    /// When it was made (seconds since the Unix epoch).
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
    /// When the token was first used (seconds since the Unix epoch).
    pub created_at: u64,
}

/// One `Allow` statement of an IAM policy: action and resource patterns (`*` wildcards).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// Action patterns (`eks:Describe*`).
    pub actions: Vec<String>,
    /// Resource patterns (ARNs, `*`).
    pub resources: Vec<String>,
}

/// An IAM role: its trust policy, inline policies and attached managed policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// The role's name, unique in the account.
    pub name: String,
    /// `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
    pub arn: String,
    /// When it was created (seconds since the Unix epoch).
    pub created_at: u64,
    /// Inline policies by name.
    pub policies: BTreeMap<String, Vec<Statement>>,
    /// `AROA` + 17 random characters (empty in rows stored before it existed).
    #[serde(default)]
    pub role_id: String,
    /// The role's path (`/` unless given).
    #[serde(default = "root_path")]
    pub path: String,
    /// The trust policy document as given (JSON).
    #[serde(default)]
    pub assume_role_policy: String,
    /// Free-text description.
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
    /// `lt-...`, unique in the region.
    pub id: String,
    /// Its name, unique in the region.
    pub name: String,
    /// `MetadataOptions.HttpProtocolIpv6=enabled`.
    pub metadata_ipv6: bool,
    /// The instance type it launches, if it names one.
    pub instance_type: Option<String>,
}
