//! The EKS request bodies as typed wire structures (botocore's `eks` shapes, the members this
//! region reads), deserialized by [`super::json::decode`]. Each converts into the domain's
//! request, checking what the domain must not see: required members, and the enums whose values
//! the wire fixes. Unknown members are ignored, as the AWS CLI never sends them.

use std::collections::{BTreeMap, BTreeSet};

use region::eks::EksError;
use region::eks::addons::AddonRequest;
use region::eks::catalog::AMI_TYPES;
use region::eks::clusters::{
    CreateCluster, LoggingChange, NetworkConfig, UpdateClusterConfig, VpcConfig,
};
use region::eks::fargate::CreateFargateProfile;
use region::eks::model::{FargateSelector, IpFamily, LaunchTemplateRef, RemoteAccess, Taint};
use region::eks::nodegroups::{CreateNodegroup, UpdateNodegroupConfig};
use serde::Deserialize;

use super::json::{boolean, count, one_of, required, str_list, str_map, string};
use super::render::LOG_TYPES;

type Strings = Option<Vec<String>>;
type StrMap = Option<BTreeMap<String, String>>;

/// `VpcConfigRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VpcConfigBody {
    #[serde(default, deserialize_with = "str_list")]
    subnet_ids: Strings,
    #[serde(default, deserialize_with = "str_list")]
    security_group_ids: Strings,
    #[serde(default, deserialize_with = "boolean")]
    endpoint_public_access: Option<bool>,
    #[serde(default, deserialize_with = "boolean")]
    endpoint_private_access: Option<bool>,
    #[serde(default, deserialize_with = "str_list")]
    public_access_cidrs: Strings,
}

impl From<VpcConfigBody> for VpcConfig {
    fn from(b: VpcConfigBody) -> Self {
        VpcConfig {
            subnet_ids: b.subnet_ids,
            security_group_ids: b.security_group_ids,
            endpoint_public_access: b.endpoint_public_access,
            endpoint_private_access: b.endpoint_private_access,
            public_access_cidrs: b.public_access_cidrs,
        }
    }
}

/// `KubernetesNetworkConfigRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NetworkConfigBody {
    #[serde(default, deserialize_with = "string")]
    ip_family: Option<String>,
    #[serde(default, deserialize_with = "string")]
    service_ipv4_cidr: Option<String>,
    #[serde(default, deserialize_with = "string")]
    service_ipv6_cidr: Option<String>,
}

impl NetworkConfigBody {
    fn into_domain(self) -> Result<NetworkConfig, EksError> {
        Ok(NetworkConfig {
            ip_family: one_of(
                "kubernetesNetworkConfig.ipFamily",
                self.ip_family,
                &["ipv4", "ipv6"],
            )?
            .and_then(|f| IpFamily::parse(&f)),
            service_ipv4_cidr: self.service_ipv4_cidr,
            service_ipv6_cidr: self.service_ipv6_cidr,
        })
    }
}

/// `Logging`: `clusterLogging[]` of (types, enabled).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoggingBody {
    #[serde(default)]
    cluster_logging: Option<Vec<LogSetupBody>>,
}

/// `LogSetup`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogSetupBody {
    #[serde(default, deserialize_with = "str_list")]
    types: Strings,
    #[serde(default, deserialize_with = "boolean")]
    enabled: Option<bool>,
}

impl LoggingBody {
    /// (types to enable, types to disable); an unknown log type is refused.
    fn into_domain(self) -> Result<LoggingChange, EksError> {
        let (mut on, mut off) = (BTreeSet::new(), BTreeSet::new());
        for setup in self.cluster_logging.unwrap_or_default() {
            let types = setup.types.unwrap_or_default();
            if let Some(t) = types.iter().find(|t| !LOG_TYPES.contains(&t.as_str())) {
                return Err(EksError::invalid(
                    "logging.clusterLogging.types",
                    t.clone(),
                    format!("Log types are {}.", LOG_TYPES.join(", ")),
                ));
            }
            let target = if setup.enabled.unwrap_or(false) {
                &mut on
            } else {
                &mut off
            };
            target.extend(types);
        }
        Ok((on, off))
    }
}

/// `OutpostConfigRequest`: its members do not matter here.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct OutpostBody {}

/// The body of CreateCluster.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateClusterBody {
    #[serde(default, deserialize_with = "string")]
    pub(crate) name: Option<String>,
    #[serde(default, deserialize_with = "string")]
    role_arn: Option<String>,
    #[serde(default, deserialize_with = "string")]
    version: Option<String>,
    #[serde(default)]
    resources_vpc_config: Option<VpcConfigBody>,
    #[serde(default)]
    kubernetes_network_config: Option<NetworkConfigBody>,
    /// Only whether it is there matters: a local cluster on Outposts is refused by the rules.
    #[serde(default)]
    outpost_config: Option<OutpostBody>,
    #[serde(default)]
    logging: Option<LoggingBody>,
    #[serde(default, deserialize_with = "str_map")]
    tags: StrMap,
    #[serde(default, deserialize_with = "string")]
    client_request_token: Option<String>,
}

impl CreateClusterBody {
    /// The domain's CreateCluster; `name`, `roleArn` and `resourcesVpcConfig` are required.
    pub(crate) fn into_domain(self) -> Result<CreateCluster, EksError> {
        let name = required(self.name, "name")?;
        let role_arn = required(self.role_arn, "roleArn")?;
        let vpc = required(self.resources_vpc_config, "resourcesVpcConfig")?;
        Ok(CreateCluster {
            name,
            version: self.version,
            role_arn,
            vpc: vpc.into(),
            network: self
                .kubernetes_network_config
                .map(NetworkConfigBody::into_domain)
                .transpose()?
                .unwrap_or_default(),
            outpost: self.outpost_config.is_some(),
            logging: self.logging.map(LoggingBody::into_domain).transpose()?,
            tags: self.tags.unwrap_or_default(),
            client_request_token: self.client_request_token,
        })
    }
}

/// The body of UpdateClusterConfig.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateClusterConfigBody {
    #[serde(default)]
    resources_vpc_config: Option<VpcConfigBody>,
    #[serde(default)]
    kubernetes_network_config: Option<NetworkConfigBody>,
    #[serde(default)]
    logging: Option<LoggingBody>,
}

impl UpdateClusterConfigBody {
    /// The domain's UpdateClusterConfig of cluster `name`: the parts given.
    pub(crate) fn into_domain(self, name: String) -> Result<UpdateClusterConfig, EksError> {
        Ok(UpdateClusterConfig {
            name,
            vpc: self.resources_vpc_config.map(Into::into),
            network: self
                .kubernetes_network_config
                .map(NetworkConfigBody::into_domain)
                .transpose()?,
            logging: self.logging.map(LoggingBody::into_domain).transpose()?,
        })
    }
}

/// `NodegroupScalingConfig`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScalingBody {
    #[serde(default, deserialize_with = "count")]
    min_size: Option<u32>,
    #[serde(default, deserialize_with = "count")]
    max_size: Option<u32>,
    #[serde(default, deserialize_with = "count")]
    desired_size: Option<u32>,
}

/// `Taint`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TaintBody {
    #[serde(default, deserialize_with = "string")]
    key: Option<String>,
    #[serde(default, deserialize_with = "string")]
    value: Option<String>,
    #[serde(default, deserialize_with = "string")]
    effect: Option<String>,
}

fn taints(list: Option<Vec<TaintBody>>) -> Result<Vec<Taint>, EksError> {
    list.unwrap_or_default()
        .into_iter()
        .map(|t| {
            Ok(Taint {
                key: required(t.key, "taints.key")?,
                value: t.value,
                effect: required(
                    one_of(
                        "taints.effect",
                        t.effect,
                        &["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"],
                    )?,
                    "taints.effect",
                )?,
            })
        })
        .collect()
}

/// `RemoteAccessConfig`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RemoteAccessBody {
    #[serde(default, deserialize_with = "string")]
    ec2_ssh_key: Option<String>,
    #[serde(default, deserialize_with = "str_list")]
    source_security_groups: Strings,
}

/// `LaunchTemplateSpecification`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LaunchTemplateBody {
    #[serde(default, deserialize_with = "string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "string")]
    version: Option<String>,
}

/// The body of CreateNodegroup.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateNodegroupBody {
    #[serde(default, deserialize_with = "string")]
    nodegroup_name: Option<String>,
    #[serde(default, deserialize_with = "str_list")]
    subnets: Strings,
    #[serde(default, deserialize_with = "string")]
    node_role: Option<String>,
    #[serde(default)]
    scaling_config: Option<ScalingBody>,
    #[serde(default, deserialize_with = "count")]
    disk_size: Option<u32>,
    #[serde(default, deserialize_with = "str_list")]
    instance_types: Strings,
    #[serde(default, deserialize_with = "string")]
    ami_type: Option<String>,
    #[serde(default, deserialize_with = "str_map")]
    labels: StrMap,
    #[serde(default)]
    taints: Option<Vec<TaintBody>>,
    #[serde(default, deserialize_with = "str_map")]
    tags: StrMap,
    #[serde(default)]
    launch_template: Option<LaunchTemplateBody>,
    #[serde(default, deserialize_with = "string")]
    capacity_type: Option<String>,
    #[serde(default, deserialize_with = "string")]
    version: Option<String>,
    #[serde(default, deserialize_with = "string")]
    release_version: Option<String>,
    #[serde(default)]
    remote_access: Option<RemoteAccessBody>,
}

impl CreateNodegroupBody {
    /// The domain's CreateNodegroup in `cluster`; `nodegroupName`, `subnets` and `nodeRole`
    /// are required.
    pub(crate) fn into_domain(self, cluster: String) -> Result<CreateNodegroup, EksError> {
        let name = required(self.nodegroup_name, "nodegroupName")?;
        let subnets = required(self.subnets, "subnets")?;
        let node_role = required(self.node_role, "nodeRole")?;
        let scaling = self.scaling_config.unwrap_or_default();
        Ok(CreateNodegroup {
            cluster,
            name,
            min_size: scaling.min_size,
            max_size: scaling.max_size,
            desired_size: scaling.desired_size,
            disk_size: self.disk_size,
            subnets,
            instance_types: self.instance_types,
            ami_type: one_of("amiType", self.ami_type, AMI_TYPES)?,
            node_role,
            labels: self.labels.unwrap_or_default(),
            taints: taints(self.taints)?,
            tags: self.tags.unwrap_or_default(),
            launch_template: self.launch_template.map(|l| LaunchTemplateRef {
                id: l.id,
                name: l.name,
                version: l.version,
            }),
            capacity_type: one_of(
                "capacityType",
                self.capacity_type,
                &["ON_DEMAND", "SPOT", "CAPACITY_BLOCK"],
            )?,
            version: self.version,
            release_version: self.release_version,
            remote_access: self.remote_access.map(|r| RemoteAccess {
                ec2_ssh_key: r.ec2_ssh_key,
                source_security_groups: r.source_security_groups.unwrap_or_default(),
            }),
        })
    }
}

/// `UpdateLabelsPayload`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LabelsUpdateBody {
    #[serde(default, deserialize_with = "str_map")]
    add_or_update_labels: StrMap,
    #[serde(default, deserialize_with = "str_list")]
    remove_labels: Strings,
}

/// `UpdateTaintsPayload`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaintsUpdateBody {
    #[serde(default)]
    add_or_update_taints: Option<Vec<TaintBody>>,
    #[serde(default)]
    remove_taints: Option<Vec<TaintBody>>,
}

/// `NodegroupUpdateConfig`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateConfigBody {
    #[serde(default, deserialize_with = "count")]
    max_unavailable: Option<u32>,
    #[serde(default, deserialize_with = "count")]
    max_unavailable_percentage: Option<u32>,
}

/// The body of UpdateNodegroupConfig.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateNodegroupConfigBody {
    #[serde(default)]
    scaling_config: Option<ScalingBody>,
    #[serde(default)]
    labels: Option<LabelsUpdateBody>,
    #[serde(default)]
    taints: Option<TaintsUpdateBody>,
    #[serde(default)]
    update_config: Option<UpdateConfigBody>,
}

impl UpdateNodegroupConfigBody {
    /// The domain's UpdateNodegroupConfig of node group `name` in `cluster`.
    pub(crate) fn into_domain(
        self,
        cluster: String,
        name: String,
    ) -> Result<UpdateNodegroupConfig, EksError> {
        let scaling = self.scaling_config.unwrap_or_default();
        let labels = self.labels.unwrap_or_default();
        let t = self.taints.unwrap_or_default();
        let uc = self.update_config.unwrap_or_default();
        Ok(UpdateNodegroupConfig {
            cluster,
            name,
            min_size: scaling.min_size,
            max_size: scaling.max_size,
            desired_size: scaling.desired_size,
            add_labels: labels.add_or_update_labels.unwrap_or_default(),
            remove_labels: labels.remove_labels.unwrap_or_default(),
            add_taints: taints(t.add_or_update_taints)?,
            remove_taints: taints(t.remove_taints)?,
            max_unavailable: uc.max_unavailable,
            max_unavailable_percentage: uc.max_unavailable_percentage,
        })
    }
}

/// The body of CreateAddon and UpdateAddon.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddonBody {
    #[serde(default, deserialize_with = "string")]
    addon_name: Option<String>,
    #[serde(default, deserialize_with = "string")]
    addon_version: Option<String>,
    #[serde(default, deserialize_with = "string")]
    service_account_role_arn: Option<String>,
    #[serde(default, deserialize_with = "string")]
    configuration_values: Option<String>,
    #[serde(default, deserialize_with = "string")]
    resolve_conflicts: Option<String>,
    #[serde(default, deserialize_with = "str_map")]
    tags: StrMap,
}

impl AddonBody {
    /// The domain's request for an add-on of `cluster`: the one named in the path (UpdateAddon)
    /// or, when `path_name` is `None`, by the required `addonName` (CreateAddon).
    /// `resolveConflicts` is checked and otherwise unused (nothing here conflicts).
    pub(crate) fn into_domain(
        self,
        cluster: String,
        path_name: Option<String>,
    ) -> Result<AddonRequest, EksError> {
        let name = match path_name {
            Some(n) => n,
            None => required(self.addon_name, "addonName")?,
        };
        one_of(
            "resolveConflicts",
            self.resolve_conflicts,
            &["OVERWRITE", "NONE", "PRESERVE"],
        )?;
        Ok(AddonRequest {
            cluster,
            name,
            version: self.addon_version,
            service_account_role_arn: self.service_account_role_arn,
            configuration_values: self.configuration_values,
            tags: self.tags.unwrap_or_default(),
        })
    }
}

/// `FargateProfileSelector`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SelectorBody {
    #[serde(default, deserialize_with = "string")]
    namespace: Option<String>,
    #[serde(default, deserialize_with = "str_map")]
    labels: StrMap,
}

/// The body of CreateFargateProfile.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateFargateProfileBody {
    #[serde(default, deserialize_with = "string")]
    fargate_profile_name: Option<String>,
    #[serde(default, deserialize_with = "string")]
    pod_execution_role_arn: Option<String>,
    #[serde(default, deserialize_with = "str_list")]
    subnets: Strings,
    #[serde(default)]
    selectors: Option<Vec<SelectorBody>>,
    #[serde(default, deserialize_with = "str_map")]
    tags: StrMap,
}

impl CreateFargateProfileBody {
    /// The domain's CreateFargateProfile in `cluster`; `fargateProfileName` and
    /// `podExecutionRoleArn` are required (a selector without a namespace is the domain's to
    /// refuse).
    pub(crate) fn into_domain(self, cluster: String) -> Result<CreateFargateProfile, EksError> {
        Ok(CreateFargateProfile {
            cluster,
            name: required(self.fargate_profile_name, "fargateProfileName")?,
            pod_execution_role_arn: required(self.pod_execution_role_arn, "podExecutionRoleArn")?,
            subnets: self.subnets,
            selectors: self
                .selectors
                .unwrap_or_default()
                .into_iter()
                .map(|s| FargateSelector {
                    namespace: s.namespace.unwrap_or_default(),
                    labels: s.labels.unwrap_or_default(),
                })
                .collect(),
            tags: self.tags.unwrap_or_default(),
        })
    }
}

/// The body of TagResource.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TagsBody {
    #[serde(default, deserialize_with = "str_map")]
    pub(crate) tags: StrMap,
}

/// The body of the service-account token minting call (`/sixfold/clusters/NAME/service-account-token`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MintBody {
    #[serde(default, deserialize_with = "string")]
    pub(crate) namespace: Option<String>,
    #[serde(default, deserialize_with = "string")]
    pub(crate) service_account: Option<String>,
    #[serde(default, deserialize_with = "string")]
    pub(crate) audience: Option<String>,
    #[serde(default, deserialize_with = "count")]
    pub(crate) expiration_seconds: Option<u32>,
}
