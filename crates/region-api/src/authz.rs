//! What each request asks IAM for: its action name (`service:Action`) and the resource ARNs it
//! acts on, for every protocol the region serves. The one place these names are decided; the
//! evaluation itself is the domain's ([`region::iam::authz`]). docs/region.md lists the rules.
//!
//! - EC2: `ec2:<Action>`. `Describe*` act on `*`; other actions on the ARNs of the resource ids
//!   they name (`NetworkInterfaceId`, `InstanceId.N`, `ResourceId.N`, `SubnetId`, `VpcId`,
//!   `GroupId`/`SecurityGroupId.N`, `RouteTableId`, gateway ids), or `*` when they name none.
//! - EKS: `eks:<Operation>`, on the cluster's ARN for every route under `/clusters/NAME` (its
//!   node groups, add-ons, Fargate profiles and updates included), the tagged ARN for the tag
//!   operations, `*` otherwise.
//! - IAM: `iam:<Action>`, on the instance profile, role, policy or OIDC provider it names.
//! - ELBv2: `elasticloadbalancing:<Action>`, on the load balancer, target group and listener
//!   ARNs it names (`Describe*`: `*`).
//! - STS: `GetCallerIdentity` needs no permission and `AssumeRoleWithWebIdentity` is
//!   authorized by the role's trust policy, as on AWS.
//! - sixfold's own endpoints: `sixfold:GetRevision`, `sixfold:GetSnapshot`, `sixfold:Watch`
//!   (the change feed, on `*`), `sixfold:ReportTargetHealth` (on `*`),
//!   `sixfold:GetInstanceCredentials` (on the instance's ARN) and
//!   `sixfold:MintServiceAccountToken` (on the cluster's ARN).

use std::collections::BTreeSet;

use crate::eks::ops::Route;
use crate::query::Params;

/// Most distinct resources one request may name for authorization (EC2's own limit for
/// `CreateTags` is 1000 resource ids); more is refused before any evaluation.
pub const MAX_RESOURCES: usize = 1000;

/// A request naming more resources than [`MAX_RESOURCES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "The request names {0} resources; at most {MAX_RESOURCES} may be given in one call: split it."
)]
pub struct TooManyResources(pub usize);

/// The ARN type of an EC2 resource id, by its prefix.
fn ec2_type(id: &str) -> Option<&'static str> {
    let (prefix, _) = id.split_once('-')?;
    Some(match prefix {
        "eni" => "network-interface",
        "i" => "instance",
        "vpc" => "vpc",
        "subnet" => "subnet",
        "sg" => "security-group",
        "rtb" => "route-table",
        "igw" => "internet-gateway",
        "eigw" => "egress-only-internet-gateway",
        "lt" => "launch-template",
        _ => return None,
    })
}

/// Parameters whose values are EC2 resource ids (`Name` or `Name.N`).
const EC2_ID_PARAMS: &[&str] = &[
    "NetworkInterfaceId",
    "InstanceId",
    "ResourceId",
    "SubnetId",
    "VpcId",
    "GroupId",
    "SecurityGroupId",
    "RouteTableId",
    "InternetGatewayId",
    "EgressOnlyInternetGatewayId",
    "LaunchTemplateId",
];

/// `ec2:<Action>` and the resources of an EC2 request.
pub fn ec2(
    region: &str,
    account: &str,
    action: &str,
    p: &Params,
) -> Result<Vec<String>, TooManyResources> {
    if action.starts_with("Describe") {
        return Ok(Vec::new());
    }
    let mut out = BTreeSet::new();
    for (k, v) in p.iter() {
        let base = k.split('.').next().unwrap_or(k);
        if !EC2_ID_PARAMS.contains(&base) {
            continue;
        }
        if let Some(t) = ec2_type(v) {
            out.insert(format!("arn:aws:ec2:{region}:{account}:{t}/{v}"));
            if out.len() > MAX_RESOURCES {
                return Err(TooManyResources(out.len()));
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// The EKS operation name and resources of a route.
pub fn eks(region: &str, account: &str, route: &Route) -> (&'static str, Vec<String>) {
    let cluster = |c: &str| vec![format!("arn:aws:eks:{region}:{account}:cluster/{c}")];
    match route {
        Route::CreateCluster => ("CreateCluster", Vec::new()),
        Route::ListClusters => ("ListClusters", Vec::new()),
        Route::DescribeAddonVersions => ("DescribeAddonVersions", Vec::new()),
        Route::DescribeCluster(c) => ("DescribeCluster", cluster(c)),
        Route::DeleteCluster(c) => ("DeleteCluster", cluster(c)),
        Route::UpdateClusterConfig(c) => ("UpdateClusterConfig", cluster(c)),
        Route::ListUpdates(c) => ("ListUpdates", cluster(c)),
        Route::DescribeUpdate(c, _) => ("DescribeUpdate", cluster(c)),
        Route::CreateNodegroup(c) => ("CreateNodegroup", cluster(c)),
        Route::ListNodegroups(c) => ("ListNodegroups", cluster(c)),
        Route::DescribeNodegroup(c, _) => ("DescribeNodegroup", cluster(c)),
        Route::DeleteNodegroup(c, _) => ("DeleteNodegroup", cluster(c)),
        Route::UpdateNodegroupConfig(c, _) => ("UpdateNodegroupConfig", cluster(c)),
        Route::CreateAddon(c) => ("CreateAddon", cluster(c)),
        Route::ListAddons(c) => ("ListAddons", cluster(c)),
        Route::DescribeAddon(c, _) => ("DescribeAddon", cluster(c)),
        Route::UpdateAddon(c, _) => ("UpdateAddon", cluster(c)),
        Route::DeleteAddon(c, _) => ("DeleteAddon", cluster(c)),
        Route::CreateFargateProfile(c) => ("CreateFargateProfile", cluster(c)),
        Route::ListFargateProfiles(c) => ("ListFargateProfiles", cluster(c)),
        Route::DescribeFargateProfile(c, _) => ("DescribeFargateProfile", cluster(c)),
        Route::DeleteFargateProfile(c, _) => ("DeleteFargateProfile", cluster(c)),
        Route::TagResource(a) => ("TagResource", vec![a.clone()]),
        Route::UntagResource(a) => ("UntagResource", vec![a.clone()]),
        Route::ListTagsForResource(a) => ("ListTagsForResource", vec![a.clone()]),
    }
}

/// The resource of an IAM request: the instance profile, role, policy or OIDC provider it
/// names, in that order (`*` when none). `role_arn` gives a role's ARN (its path included).
pub fn iam(account: &str, p: &Params, role_arn: impl Fn(&str) -> Option<String>) -> Vec<String> {
    if let Some(n) = p.get("InstanceProfileName") {
        return vec![format!("arn:aws:iam::{account}:instance-profile/{n}")];
    }
    if let Some(n) = p.get("RoleName") {
        return vec![role_arn(&n).unwrap_or_else(|| format!("arn:aws:iam::{account}:role/{n}"))];
    }
    for k in ["PolicyArn", "OpenIDConnectProviderArn"] {
        if let Some(a) = p.get(k) {
            return vec![a];
        }
    }
    Vec::new()
}

/// The resources of an ELBv2 request: the ARNs it names (`Describe*`: `*`).
pub fn elbv2(action: &str, p: &Params) -> Result<Vec<String>, TooManyResources> {
    if action.starts_with("Describe") {
        return Ok(Vec::new());
    }
    let mut out = BTreeSet::new();
    for (k, v) in p.iter() {
        let base = k.split('.').next().unwrap_or(k);
        if matches!(
            base,
            "LoadBalancerArn" | "TargetGroupArn" | "ListenerArn" | "ResourceArns"
        ) {
            out.insert(v.to_string());
            if out.len() > MAX_RESOURCES {
                return Err(TooManyResources(out.len()));
            }
        }
    }
    Ok(out.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec2_requests_act_on_the_arns_of_the_ids_they_name() {
        let p = Params::parse(
            b"Action=AssignIpv6Addresses&NetworkInterfaceId=eni-0a&Ipv6PrefixCount=1",
        );
        assert_eq!(
            ec2("us-east-1", "1", "AssignIpv6Addresses", &p).unwrap(),
            vec!["arn:aws:ec2:us-east-1:1:network-interface/eni-0a"]
        );
        let p =
            Params::parse(b"Action=CreateTags&ResourceId.1=eni-0a&ResourceId.2=vpc-1&Tag.1.Key=k");
        assert_eq!(ec2("r", "1", "CreateTags", &p).unwrap().len(), 2);
        let p = Params::parse(b"Action=DescribeInstances&InstanceId.1=i-1");
        assert!(ec2("r", "1", "DescribeInstances", &p).unwrap().is_empty());
        let many: String = (0..=MAX_RESOURCES)
            .map(|i| format!("ResourceId.{i}=eni-{i:x}&"))
            .collect();
        assert!(ec2("r", "1", "CreateTags", &Params::parse(many.as_bytes())).is_err());
    }

    #[test]
    fn eks_operations_act_on_their_cluster_and_iam_on_the_entity_named() {
        let (op, r) = eks(
            "us-east-1",
            "1",
            &Route::DescribeNodegroup("c".into(), "ng".into()),
        );
        assert_eq!(op, "DescribeNodegroup");
        assert_eq!(r, vec!["arn:aws:eks:us-east-1:1:cluster/c"]);
        assert!(eks("r", "1", &Route::ListClusters).1.is_empty());
        let p = Params::parse(b"Action=AddRoleToInstanceProfile&InstanceProfileName=p&RoleName=r");
        assert_eq!(
            iam("1", &p, |_| None),
            vec!["arn:aws:iam::1:instance-profile/p"]
        );
        let p = Params::parse(
            b"Action=AttachRolePolicy&RoleName=r&PolicyArn=arn:aws:iam::aws:policy/X",
        );
        assert_eq!(
            iam("1", &p, |n| Some(format!("arn:aws:iam::1:role/eks/{n}"))),
            vec!["arn:aws:iam::1:role/eks/r"]
        );
    }
}
