//! Bring your own cluster: `sixfold up --cluster NAME --endpoint-url URL` builds the lab's
//! dataplane for an IPv6 cluster, its VPC and its node group that the user made through the
//! APIs of a running `sixfold serve` (with the AWS CLI, boto3, ...). Nothing is created in the
//! region: the lab reads the cluster (EKS `DescribeCluster`, `ListNodegroups`), its VPC,
//! subnets, gateways and route table (EC2 `Describe*`) and the node group's running instances,
//! and wires those. The credentials are resolved the way the AWS CLI resolves them (`--profile`
//! from `AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`; without it `AWS_ACCESS_KEY_ID`,
//! then `AWS_PROFILE` or `default`) and copied, owner-only, into the lab's state dir, where the
//! agents and the reconciler read them.

use std::io::Write;
use std::path::Path;

use ec2_client::credentials;
use ec2_client::xml::Element;

use crate::eks::Eks;
use crate::error::{LabError, Result};
use crate::plan;
use crate::region::{self, Api, Launched};
use crate::state::{ClusterInfo, RegionInfo, SubnetInfo, VpcInfo};
use crate::up::Build;

/// The cluster to adopt and where its region is.
#[derive(Debug, Clone)]
pub struct Adopt {
    /// The EKS cluster's name.
    pub cluster: String,
    /// The region's endpoint (`http://127.0.0.1:PORT` of a running `sixfold serve`).
    pub endpoint: String,
    /// The credentials profile (`--profile`); `None`: the AWS CLI's default resolution.
    pub profile: Option<String>,
    /// The node group whose instances become the nodes; `None`: the cluster's only one.
    pub nodegroup: Option<String>,
}

impl Adopt {
    fn err(&self, problem: impl Into<String>, fix: impl Into<String>) -> LabError {
        LabError::Adopt {
            cluster: self.cluster.clone(),
            endpoint: self.endpoint.clone(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// Check that `url` is `http://IP:PORT` on loopback: the lab talks to a local `sixfold serve`
/// only (its agents reach it through a forwarder on the same port).
pub fn check_endpoint(url: &str) -> Result<()> {
    let bad = |detail: &str| LabError::InvalidFlag {
        flag: "--endpoint-url",
        detail: format!(
            "{url:?} {detail}; give the URL `sixfold serve` printed, e.g. http://127.0.0.1:4570"
        ),
    };
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad("is not an http:// URL"))?
        .trim_end_matches('/');
    let addr: std::net::SocketAddr = rest.parse().map_err(|_| bad("is not http://IP:PORT"))?;
    if !addr.ip().is_loopback() || addr.port() == 0 {
        return Err(bad(
            "is not a loopback address with a port (the lab runs on this machine only)",
        ));
    }
    Ok(())
}

/// Resolve the credentials as the AWS CLI does and write them, owner-only, to
/// `<state dir>/credentials` under the profile the lab uses; connect to the region.
pub(crate) fn connect(b: &mut Build<'_>, a: &Adopt) -> Result<Api> {
    check_endpoint(&a.endpoint)?;
    let creds = match &a.profile {
        Some(p) => credentials::from_profile(&credentials::default_credentials_path(), p),
        None => credentials::default_chain(),
    }
    .map_err(|e| LabError::InvalidFlag {
        flag: "--profile",
        detail: e.to_string(),
    })?;
    let path = b.cfg.state_dir.join("credentials");
    let mut text = format!(
        "[{}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        region::PROFILE,
        creds.access_key_id,
        creds.secret_access_key
    );
    if let Some(t) = &creds.session_token {
        text.push_str(&format!("aws_session_token = {t}\n"));
    }
    write_private(&path, &text)?;
    let info = RegionInfo {
        endpoint: a.endpoint.trim_end_matches('/').to_owned(),
        data_dir: b.cfg.state_dir.clone(),
        credentials: path,
    };
    let api = Api::connect(&info)?;
    b.state.region = Some(info);
    b.state.save()?;
    Ok(api)
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(LabError::io("writing the lab's credentials", path))?;
    f.write_all(text.as_bytes())
        .map_err(LabError::io("writing the lab's credentials", path))
}

/// Read the cluster, its VPC and its node group's instances (see the module doc).
pub(crate) fn adopt(
    b: &mut Build<'_>,
    api: &Api,
    a: &Adopt,
) -> Result<(VpcInfo, ClusterInfo, Vec<Launched>)> {
    let eks = Eks::new(&api.info.endpoint, region::REGION, api.credentials.clone());
    eks.require()?;
    let c = match eks.get(&format!("/clusters/{}", a.cluster))? {
        (200, v) => v["cluster"].clone(),
        (404, _) => {
            let list = eks.get("/clusters").map(|(_, v)| v["clusters"].clone());
            return Err(a.err(
                "no such cluster",
                format!(
                    "create it with `aws eks create-cluster --name {} --kubernetes-network-config ipFamily=ipv6 ...`, or pick one of {}",
                    a.cluster,
                    list.map(|l| l.to_string()).unwrap_or_else(|_| "the region's clusters".into())
                ),
            ));
        }
        (status, v) => {
            return Err(a.err(
                format!("DescribeCluster answered HTTP {status}: {}", v["message"]),
                "check --endpoint-url and the credentials (--profile)",
            ));
        }
    };
    let family = c["kubernetesNetworkConfig"]["ipFamily"]
        .as_str()
        .unwrap_or("ipv4");
    if family != "ipv6" {
        return Err(a.err(
            format!("its ipFamily is {family}, and the lab builds IPv6 clusters"),
            "create an IPv6 cluster (`aws eks create-cluster ... --kubernetes-network-config ipFamily=ipv6`); the family cannot be changed later",
        ));
    }
    let cidr = c["kubernetesNetworkConfig"]["serviceIpv6Cidr"]
        .as_str()
        .ok_or_else(|| {
            a.err(
                "it has no serviceIpv6Cidr",
                "recreate it with ipFamily=ipv6",
            )
        })?
        .to_owned();
    let parsed: addressing::service::ServiceCidr108 = cidr
        .parse()
        .map_err(|e| a.err(format!("service CIDR {cidr}: {e}"), "recreate the cluster"))?;
    let vpc_id = c["resourcesVpcConfig"]["vpcId"]
        .as_str()
        .ok_or_else(|| a.err("it names no VPC", "recreate it with --resources-vpc-config"))?
        .to_owned();
    let sg = c["resourcesVpcConfig"]["clusterSecurityGroupId"]
        .as_str()
        .or_else(|| c["resourcesVpcConfig"]["securityGroupIds"][0].as_str())
        .unwrap_or_default()
        .to_owned();
    let vpc = describe_vpc(api, a, &vpc_id, sg)?;
    let ng = pick_nodegroup(&eks, a)?;
    let ids = region::nodegroup_instances(api, &a.cluster, &ng)?;
    if ids.is_empty() || ids.len() > plan::MAX_NODES {
        return Err(a.err(
            format!("node group {ng} runs {} instances", ids.len()),
            format!(
                "scale it to 1..{} nodes: `aws eks update-nodegroup-config --cluster-name {} --nodegroup-name {ng} --scaling-config desiredSize=2`",
                plan::MAX_NODES,
                a.cluster
            ),
        ));
    }
    let launched = region::describe(api, &ids)?;
    let nodes = launched.len();
    if b.cfg.services > nodes * b.cfg.pods_per_node {
        return Err(LabError::InvalidFlag {
            flag: "--services",
            detail: format!(
                "every service needs a pod: node group {ng} has {nodes} nodes, so use at most {} services with --pods-per-node {}",
                nodes * b.cfg.pods_per_node,
                b.cfg.pods_per_node
            ),
        });
    }
    let version = eks
        .get(&format!("/clusters/{}/addons/vpc-cni", a.cluster))
        .ok()
        .filter(|(s, _)| *s == 200)
        .and_then(|(_, v)| v["addon"]["addonVersion"].as_str().map(str::to_owned));
    let cluster = ClusterInfo {
        name: a.cluster.clone(),
        ip_family: "ipv6".into(),
        service_cidr: cidr,
        dns: parsed.cluster_dns(),
        source: "eks".into(),
        nodegroup: Some(ng),
        vpc_cni: version,
        // The lab creates nothing in an adopted region: its agents use the lab's credentials.
        cni_role: None,
        cni_node_role: false,
    };
    Ok((vpc, cluster, launched))
}

fn pick_nodegroup(eks: &Eks, a: &Adopt) -> Result<String> {
    let (_, v) = eks.get(&format!("/clusters/{}/node-groups", a.cluster))?;
    let groups: Vec<String> = v["nodegroups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(str::to_owned))
        .collect();
    let create = format!(
        "create one: `aws eks create-nodegroup --cluster-name {} --nodegroup-name ng --subnets ... --node-role ... --scaling-config minSize=1,maxSize={},desiredSize=2`",
        a.cluster,
        plan::MAX_NODES
    );
    match (&a.nodegroup, groups.as_slice()) {
        (_, []) => Err(a.err("it has no node group", create)),
        (Some(want), gs) if gs.contains(want) => Ok(want.clone()),
        (Some(want), gs) => Err(a.err(
            format!("it has no node group {want}"),
            format!("pick one of {gs:?} with --nodegroup"),
        )),
        (None, [one]) => Ok(one.clone()),
        (None, gs) => Err(a.err(
            format!("it has {} node groups", gs.len()),
            format!("pick one of {gs:?} with --nodegroup"),
        )),
    }
}

fn first_text(e: &Element, set: &str, key: &str) -> Option<String> {
    e.items(set)
        .find_map(|i| i.child_text(key))
        .map(str::to_owned)
}

/// The VPC, its subnets (those with an IPv6 block), gateways and route table.
fn describe_vpc(api: &Api, a: &Adopt, vpc_id: &str, sg: String) -> Result<VpcInfo> {
    let r = api.call("DescribeVpcs", &[("VpcId.1", vpc_id)])?;
    let v = r.items("vpcSet").next().ok_or_else(|| {
        a.err(
            format!("its VPC {vpc_id} does not exist"),
            "recreate the cluster in an existing VPC",
        )
    })?;
    let ipv4 = v.child_text("cidrBlock").unwrap_or_default().to_owned();
    let ipv6 = first_text(v, "ipv6CidrBlockAssociationSet", "ipv6CidrBlock").ok_or_else(|| {
        a.err(
            format!("its VPC {vpc_id} has no IPv6 block"),
            format!("`aws ec2 associate-vpc-cidr-block --vpc-id {vpc_id} --amazon-provided-ipv6-cidr-block`"),
        )
    })?;
    let filter = [("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", vpc_id)];
    let r = api.call("DescribeSubnets", &filter)?;
    let mut subnets: Vec<SubnetInfo> = r
        .items("subnetSet")
        .filter_map(|s| {
            Some(SubnetInfo {
                id: s.child_text("subnetId")?.to_owned(),
                zone: s.child_text("availabilityZone")?.to_owned(),
                ipv4: s.child_text("cidrBlock")?.to_owned(),
                ipv6: first_text(s, "ipv6CidrBlockAssociationSet", "ipv6CidrBlock")?,
            })
        })
        .collect();
    subnets.sort_by(|x, y| x.zone.cmp(&y.zone).then(x.id.cmp(&y.id)));
    if subnets.is_empty() {
        return Err(a.err(
            format!("VPC {vpc_id} has no dual-stack subnet"),
            "create subnets with both an IPv4 and an IPv6 block (`aws ec2 create-subnet --cidr-block ... --ipv6-cidr-block ...`)",
        ));
    }
    let f = [
        ("Filter.1.Name", "attachment.vpc-id"),
        ("Filter.1.Value.1", vpc_id),
    ];
    let igw = first_text(
        &api.call("DescribeInternetGateways", &f)?,
        "internetGatewaySet",
        "internetGatewayId",
    )
    .unwrap_or_default();
    let eigw = api
        .call("DescribeEgressOnlyInternetGateways", &[])?
        .items("egressOnlyInternetGatewaySet")
        .find(|g| {
            g.items("attachmentSet")
                .any(|at| at.child_text("vpcId") == Some(vpc_id))
        })
        .and_then(|g| {
            g.child_text("egressOnlyInternetGatewayId")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let rt = first_text(
        &api.call("DescribeRouteTables", &filter)?,
        "routeTableSet",
        "routeTableId",
    )
    .unwrap_or_default();
    // Both blocks must parse: the router's routes are made from them.
    for (what, block) in [("IPv4", &ipv4), ("IPv6", &ipv6)] {
        if block.parse::<ipnet::IpNet>().is_err() {
            return Err(a.err(
                format!("its VPC's {what} block {block:?} is not a CIDR"),
                "check the region",
            ));
        }
    }
    Ok(VpcInfo {
        id: vpc_id.to_owned(),
        ipv4,
        ipv6,
        subnets,
        internet_gateway: igw,
        egress_only_gateway: eigw,
        route_table: rt,
        security_group: sg,
    })
}
