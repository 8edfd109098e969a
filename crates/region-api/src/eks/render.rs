//! Domain resources as botocore's EKS shapes (`Cluster`, `Nodegroup`, `Addon`,
//! `FargateProfile`, `Update`, `AddonInfo`). Timestamps are epoch seconds.

use addressing::ServiceCidr;
use region::eks::catalog::AddonInfo;
use region::eks::health::HealthIssue;
use region::eks::model::*;
use serde_json::{Value, json};

/// Log types of `Logging.clusterLogging`.
pub const LOG_TYPES: &[&str] = &[
    "api",
    "audit",
    "authenticator",
    "controllerManager",
    "scheduler",
];

fn issues(list: &[HealthIssue]) -> Value {
    Value::Array(
        list.iter()
            .map(|i| json!({"code": i.code, "message": i.message, "resourceIds": i.resource_ids}))
            .collect(),
    )
}

/// A cluster; `issuer` is its OIDC issuer as this region serves it (`<endpoint>/oidc/<id>`).
pub fn cluster(c: &Cluster, status: Status, health: &[HealthIssue], issuer: &str) -> Value {
    let mut net =
        json!({"ipFamily": c.ip_family.as_str(), "elasticLoadBalancing": {"enabled": false}});
    match c.service_cidr {
        ServiceCidr::V6(v) => net["serviceIpv6Cidr"] = json!(v.to_string()),
        ServiceCidr::V4(v) => net["serviceIpv4Cidr"] = json!(v.to_string()),
    }
    let (on, off): (Vec<&str>, Vec<&str>) = LOG_TYPES.iter().partition(|t| c.logging.contains(**t));
    let mut logging = Vec::new();
    if !on.is_empty() {
        logging.push(json!({"types": on, "enabled": true}));
    }
    if !off.is_empty() {
        logging.push(json!({"types": off, "enabled": false}));
    }
    json!({
        "name": c.name,
        "arn": c.arn,
        "id": c.id,
        "createdAt": c.created_at,
        "version": c.version,
        "endpoint": c.endpoint,
        "roleArn": c.role_arn,
        "resourcesVpcConfig": {
            "subnetIds": c.subnet_ids,
            "securityGroupIds": c.security_group_ids,
            "clusterSecurityGroupId": c.cluster_security_group_id,
            "vpcId": c.vpc_id,
            "endpointPublicAccess": c.endpoint_public_access,
            "endpointPrivateAccess": c.endpoint_private_access,
            "publicAccessCidrs": c.public_access_cidrs,
        },
        "kubernetesNetworkConfig": net,
        "logging": {"clusterLogging": logging},
        "identity": {"oidc": {"issuer": issuer}},
        "status": status.as_str(),
        "certificateAuthority": {"data": c.certificate_authority},
        "platformVersion": c.platform_version,
        "tags": c.tags,
        "health": {"issues": issues(health)},
        "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"},
        "upgradePolicy": {"supportType": "STANDARD"},
    })
}

pub fn nodegroup(g: &Nodegroup, status: Status) -> Value {
    let mut v = json!({
        "nodegroupName": g.name,
        "nodegroupArn": g.arn,
        "clusterName": g.cluster,
        "version": g.version,
        "releaseVersion": g.release_version,
        "createdAt": g.created_at,
        "modifiedAt": g.modified_at,
        "status": status.as_str(),
        "capacityType": g.capacity_type,
        "scalingConfig": {"minSize": g.min_size, "maxSize": g.max_size, "desiredSize": g.desired_size},
        "instanceTypes": g.instance_types,
        "subnets": g.subnets,
        "amiType": g.ami_type,
        "nodeRole": g.node_role,
        "labels": g.labels,
        "taints": g.taints.iter().map(|t| {
            let mut x = json!({"key": t.key, "effect": t.effect});
            if let Some(v) = &t.value { x["value"] = json!(v); }
            x
        }).collect::<Vec<_>>(),
        "resources": {"autoScalingGroups": [{"name": g.autoscaling_group}]},
        "diskSize": g.disk_size,
        "health": {"issues": []},
        "updateConfig": match g.max_unavailable_percentage {
            Some(p) => json!({"maxUnavailablePercentage": p}),
            None => json!({"maxUnavailable": g.max_unavailable}),
        },
        "tags": g.tags,
    });
    if let Some(r) = &g.remote_access {
        let mut ra = json!({"sourceSecurityGroups": r.source_security_groups});
        if let Some(k) = &r.ec2_ssh_key {
            ra["ec2SshKey"] = json!(k);
        }
        v["remoteAccess"] = ra;
    }
    if let Some(lt) = &g.launch_template {
        let mut l = json!({});
        for (k, val) in [("id", &lt.id), ("name", &lt.name), ("version", &lt.version)] {
            if let Some(x) = val {
                l[k] = json!(x);
            }
        }
        v["launchTemplate"] = l;
    }
    v
}

pub fn addon(a: &Addon, status: Status) -> Value {
    let mut v = json!({
        "addonName": a.name,
        "clusterName": a.cluster,
        "status": status.as_str(),
        "addonVersion": a.version,
        "health": {"issues": []},
        "addonArn": a.arn,
        "createdAt": a.created_at,
        "modifiedAt": a.modified_at,
        "tags": a.tags,
        "publisher": "eks",
        "owner": "aws",
    });
    if let Some(r) = &a.service_account_role_arn {
        v["serviceAccountRoleArn"] = json!(r);
    }
    if let Some(c) = &a.configuration_values {
        v["configurationValues"] = json!(c);
    }
    v
}

pub fn fargate_profile(p: &FargateProfile, status: Status) -> Value {
    json!({
        "fargateProfileName": p.name,
        "fargateProfileArn": p.arn,
        "clusterName": p.cluster,
        "createdAt": p.created_at,
        "podExecutionRoleArn": p.pod_execution_role_arn,
        "subnets": p.subnets,
        "selectors": p.selectors.iter().map(|s| json!({"namespace": s.namespace, "labels": s.labels})).collect::<Vec<_>>(),
        "status": status.as_str(),
        "tags": p.tags,
        "health": {"issues": []},
    })
}

/// An update; `fresh` reports it `InProgress` (the answer to the call that made it).
pub fn update(u: &Update, fresh: bool) -> Value {
    json!({
        "id": u.id,
        "status": if fresh { "InProgress" } else { "Successful" },
        "type": u.kind,
        "params": u.params.iter().map(|(t, v)| json!({"type": t, "value": v})).collect::<Vec<_>>(),
        "createdAt": u.created_at,
        "errors": [],
    })
}

pub fn addon_info(a: &AddonInfo, kubernetes: Option<&str>) -> Value {
    let versions: Vec<Value> = a
        .versions
        .iter()
        .filter(|v| kubernetes.is_none_or(|k| v.kubernetes.contains(&k)))
        .map(|v| {
            json!({
                "addonVersion": v.version,
                "architecture": ["amd64", "arm64"],
                "computeTypes": ["ec2"],
                "compatibilities": v.kubernetes.iter()
                    .filter(|k| kubernetes.is_none_or(|want| want == **k))
                    .map(|k| json!({"clusterVersion": k, "platformVersions": ["*"], "defaultVersion": v.default}))
                    .collect::<Vec<_>>(),
                "requiresConfiguration": false,
                "requiresIamPermissions": a.name == "vpc-cni",
            })
        })
        .collect();
    json!({
        "addonName": a.name,
        "type": a.kind,
        "addonVersions": versions,
        "publisher": "eks",
        "owner": "aws",
        "defaultNamespace": "kube-system",
    })
}
