//! The AWS-managed policies the EKS guides attach, at `arn:aws:iam::aws:policy/NAME`, with their
//! real documents (AWS managed policy reference; versions as noted). Built in, never stored.

use super::model::Statement;

/// One AWS-managed policy.
#[derive(Debug, Clone, Copy)]
pub struct AwsPolicy {
    /// The policy's name (e.g. `AmazonEKS_CNI_Policy`).
    pub name: &'static str,
    /// The policy id AWS gives it.
    pub policy_id: &'static str,
    /// AWS's description of it.
    pub description: &'static str,
    /// The default version's id.
    pub version: &'static str,
    /// Creation time, epoch seconds.
    pub created_at: u64,
    /// The default version's document (JSON).
    pub document: &'static str,
}

impl AwsPolicy {
    /// `arn:aws:iam::aws:policy/NAME`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::aws:policy/{}", self.name)
    }

    /// The `Allow` statements (the documents are constants proven valid by a test).
    pub fn statements(&self) -> Vec<Statement> {
        crate::eks::roles::parse_policy(self.document).unwrap_or_default()
    }
}

/// `AmazonEKS_CNI_Policy` v5: the VPC CNI's IPv4 permissions. It has **no IPv6 action**.
pub const EKS_CNI: AwsPolicy = AwsPolicy {
    name: "AmazonEKS_CNI_Policy",
    policy_id: "ANPAJWLAS474LDBXNNTM4",
    description: "This policy provides the Amazon VPC CNI Plugin (amazon-vpc-cni-k8s) the permissions it requires to modify the IP address configuration on your EKS worker nodes.",
    version: "v5",
    created_at: 1_527_455_220,
    document: r#"{"Version":"2012-10-17","Statement":[{"Sid":"AmazonEKSCNIPolicy","Effect":"Allow","Action":["ec2:AssignPrivateIpAddresses","ec2:AttachNetworkInterface","ec2:CreateNetworkInterface","ec2:DeleteNetworkInterface","ec2:DescribeInstances","ec2:DescribeTags","ec2:DescribeNetworkInterfaces","ec2:DescribeInstanceTypes","ec2:DescribeSubnets","ec2:DetachNetworkInterface","ec2:ModifyNetworkInterfaceAttribute","ec2:UnassignPrivateIpAddresses"],"Resource":"*"},{"Sid":"AmazonEKSCNIPolicyENITag","Effect":"Allow","Action":["ec2:CreateTags"],"Resource":["arn:aws:ec2:*:*:network-interface/*"]}]}"#,
};

/// `AmazonEKSWorkerNodePolicy` v3.
pub const EKS_WORKER_NODE: AwsPolicy = AwsPolicy {
    name: "AmazonEKSWorkerNodePolicy",
    policy_id: "ANPAIBVMOY52IPQ6HD3PO",
    description: "This policy allows Amazon EKS worker nodes to connect to Amazon EKS Clusters.",
    version: "v3",
    created_at: 1_527_455_340,
    document: r#"{"Version":"2012-10-17","Statement":[{"Sid":"WorkerNodePermissions","Effect":"Allow","Action":["ec2:DescribeInstances","ec2:DescribeInstanceTypes","ec2:DescribeRouteTables","ec2:DescribeSecurityGroups","ec2:DescribeSubnets","ec2:DescribeVolumes","ec2:DescribeVolumesModifications","ec2:DescribeVpcs","eks:DescribeCluster","eks-auth:AssumeRoleForPodIdentity"],"Resource":"*"}]}"#,
};

/// `AmazonEKSClusterPolicy` v8.
pub const EKS_CLUSTER: AwsPolicy = AwsPolicy {
    name: "AmazonEKSClusterPolicy",
    policy_id: "ANPAIBTLDQMIC6UOIGFWA",
    description: "This policy provides Kubernetes the permissions it requires to manage resources on your behalf.",
    version: "v8",
    created_at: 1_527_455_160,
    document: r#"{"Version":"2012-10-17","Statement":[{"Sid":"AmazonEKSClusterPolicy","Effect":"Allow","Action":["autoscaling:DescribeAutoScalingGroups","autoscaling:UpdateAutoScalingGroup","ec2:AttachVolume","ec2:AuthorizeSecurityGroupIngress","ec2:CreateRoute","ec2:CreateSecurityGroup","ec2:CreateTags","ec2:CreateVolume","ec2:DeleteRoute","ec2:DeleteSecurityGroup","ec2:DeleteVolume","ec2:DescribeInstances","ec2:DescribeRouteTables","ec2:DescribeSecurityGroups","ec2:DescribeSubnets","ec2:DescribeVolumes","ec2:DescribeVolumesModifications","ec2:DescribeVpcs","ec2:DescribeDhcpOptions","ec2:DescribeNetworkInterfaces","ec2:DescribeAvailabilityZones","ec2:DetachVolume","ec2:ModifyInstanceAttribute","ec2:ModifyVolume","ec2:RevokeSecurityGroupIngress","ec2:DescribeAccountAttributes","ec2:DescribeAddresses","ec2:DescribeInternetGateways","ec2:DescribeInstanceTopology","elasticloadbalancing:AddTags","elasticloadbalancing:ApplySecurityGroupsToLoadBalancer","elasticloadbalancing:AttachLoadBalancerToSubnets","elasticloadbalancing:ConfigureHealthCheck","elasticloadbalancing:CreateListener","elasticloadbalancing:CreateLoadBalancer","elasticloadbalancing:CreateLoadBalancerListeners","elasticloadbalancing:CreateLoadBalancerPolicy","elasticloadbalancing:CreateTargetGroup","elasticloadbalancing:DeleteListener","elasticloadbalancing:DeleteLoadBalancer","elasticloadbalancing:DeleteLoadBalancerListeners","elasticloadbalancing:DeleteTargetGroup","elasticloadbalancing:DeregisterInstancesFromLoadBalancer","elasticloadbalancing:DeregisterTargets","elasticloadbalancing:DescribeListeners","elasticloadbalancing:DescribeLoadBalancerAttributes","elasticloadbalancing:DescribeLoadBalancerPolicies","elasticloadbalancing:DescribeLoadBalancers","elasticloadbalancing:DescribeTargetGroupAttributes","elasticloadbalancing:DescribeTargetGroups","elasticloadbalancing:DescribeTargetHealth","elasticloadbalancing:DetachLoadBalancerFromSubnets","elasticloadbalancing:ModifyListener","elasticloadbalancing:ModifyLoadBalancerAttributes","elasticloadbalancing:ModifyTargetGroup","elasticloadbalancing:ModifyTargetGroupAttributes","elasticloadbalancing:RegisterInstancesWithLoadBalancer","elasticloadbalancing:RegisterTargets","elasticloadbalancing:SetLoadBalancerPoliciesForBackendServer","elasticloadbalancing:SetLoadBalancerPoliciesOfListener","kms:DescribeKey"],"Resource":"*"},{"Sid":"AmazonEKSClusterPolicySLRCreate","Effect":"Allow","Action":"iam:CreateServiceLinkedRole","Resource":"arn:aws:iam::*:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing","Condition":{"StringEquals":{"iam:AWSServiceName":"elasticloadbalancing.amazonaws.com"}}}]}"#,
};

/// `AmazonEC2ContainerRegistryReadOnly` v3.
pub const ECR_READ_ONLY: AwsPolicy = AwsPolicy {
    name: "AmazonEC2ContainerRegistryReadOnly",
    policy_id: "ANPAIFYZPA37OOHVIH7KQ",
    description: "Provides read-only access to Amazon EC2 Container Registry repositories.",
    version: "v3",
    created_at: 1_450_717_440,
    document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorizationToken","ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer","ecr:GetRepositoryPolicy","ecr:DescribeRepositories","ecr:ListImages","ecr:DescribeImages","ecr:BatchGetImage","ecr:GetLifecyclePolicy","ecr:GetLifecyclePolicyPreview","ecr:ListTagsForResource","ecr:DescribeImageScanFindings"],"Resource":"*"}]}"#,
};

/// Every AWS-managed policy this region knows.
pub const ALL: [AwsPolicy; 4] = [EKS_CNI, EKS_WORKER_NODE, EKS_CLUSTER, ECR_READ_ONLY];

/// The AWS-managed policy at `arn`, if this region knows it.
pub fn by_arn(arn: &str) -> Option<&'static AwsPolicy> {
    let name = arn.strip_prefix("arn:aws:iam::aws:policy/")?;
    ALL.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_managed_document_parses_and_the_cni_policy_has_no_ipv6_action() {
        for p in ALL {
            assert!(
                crate::eks::roles::parse_policy(p.document).is_ok(),
                "{}",
                p.name
            );
            assert!(!p.statements().is_empty(), "{}", p.name);
        }
        let actions: Vec<String> = EKS_CNI
            .statements()
            .into_iter()
            .flat_map(|s| s.actions)
            .collect();
        assert!(actions.iter().any(|a| a == "ec2:AssignPrivateIpAddresses"));
        assert!(!actions.iter().any(|a| a.contains("Ipv6")));
        assert_eq!(
            by_arn("arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy").map(|p| p.name),
            Some("AmazonEKS_CNI_Policy")
        );
    }
}
