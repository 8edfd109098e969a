//! The lab's region: `sixfold serve` started in the background on the root namespace's
//! loopback (port 0), and the VPC/EC2 calls the lab makes THROUGH ITS API with the signed EC2
//! Query client, as any AWS client would.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

use ec2_client::xml::Element;
use ec2_client::{Ec2Client, Filter, credentials};

use crate::error::{LabError, Result};
use crate::plan;
use crate::procs;
use crate::state::{LabState, Process, RegionInfo, SubnetInfo, VpcInfo};

/// The region's name.
pub const REGION: &str = "us-east-1";
/// The profile `sixfold serve` writes into its credentials file.
pub const PROFILE: &str = "sixfold";

/// A connection to the lab's region.
#[derive(Debug, Clone)]
pub struct Api {
    pub ec2: Ec2Client,
    pub info: RegionInfo,
    pub credentials: sigv4::Credentials,
}

/// Start the region (`sixfold serve --listen 127.0.0.1:0`) and wait until it listens.
pub fn start(exe: &Path, state_dir: &Path) -> Result<(Process, Api)> {
    let data_dir = state_dir.join("region");
    std::fs::create_dir_all(&data_dir)
        .map_err(LabError::io("creating the region dir", &data_dir))?;
    let log = state_dir.join("logs").join("region.log");
    let argv = procs::argv([
        exe.as_os_str(),
        "serve".as_ref(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--data-dir".as_ref(),
        data_dir.as_os_str(),
        "--region".as_ref(),
        REGION.as_ref(),
    ]);
    let p = procs::spawn("region", None, &argv, &log)?;
    let mut endpoint = None;
    let result = procs::wait_for(
        "the region to listen",
        Duration::from_secs(10),
        &log,
        || {
            endpoint = std::fs::read_to_string(&log).ok().and_then(|t| {
                t.lines()
                    .find_map(|l| l.split("listening on ").nth(1).map(|s| s.trim().to_owned()))
            });
            endpoint.is_some() || !procs::alive(p.pid)
        },
    );
    let endpoint = match (result, endpoint) {
        (Ok(()), Some(e)) => e,
        (Err(e), _) => return Err(e),
        (Ok(()), None) => {
            return Err(LabError::Command {
                what: "starting the region".into(),
                detail: format!("it exited; see {}", log.display()),
            });
        }
    };
    let creds_path = data_dir.join("credentials");
    let creds = credentials::from_profile(&creds_path, PROFILE).map_err(|e| LabError::Command {
        what: "reading the region's credentials".into(),
        detail: e.to_string(),
    })?;
    let ec2 =
        Ec2Client::new(REGION, Some(&endpoint), creds.clone()).map_err(|source| LabError::Ec2 {
            action: "connect".into(),
            source: Box::new(source),
        })?;
    let info = RegionInfo {
        endpoint,
        data_dir,
        credentials: creds_path,
    };
    Ok((
        p,
        Api {
            ec2,
            info,
            credentials: creds,
        },
    ))
}

impl Api {
    /// Reconnect to a recorded region.
    pub fn connect(info: &RegionInfo) -> Result<Api> {
        let creds = credentials::from_profile(&info.credentials, PROFILE).map_err(|e| {
            LabError::Command {
                what: "reading the region's credentials".into(),
                detail: e.to_string(),
            }
        })?;
        let ec2 =
            Ec2Client::new(REGION, Some(&info.endpoint), creds.clone()).map_err(|source| {
                LabError::Ec2 {
                    action: "connect".into(),
                    source: Box::new(source),
                }
            })?;
        Ok(Api {
            ec2,
            info: info.clone(),
            credentials: creds,
        })
    }

    /// One EC2 Query call.
    pub fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<Element> {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.ec2
            .call(action, &params)
            .map_err(|source| LabError::Ec2 {
                action: action.to_owned(),
                source: Box::new(source),
            })
    }
}

fn text(root: &Element, path: &[&str], action: &str) -> Result<String> {
    let mut e = root;
    for (i, p) in path.iter().enumerate() {
        if i + 1 == path.len() {
            return e
                .child_text(p)
                .map(str::to_owned)
                .ok_or_else(|| LabError::Reply {
                    action: action.to_owned(),
                    detail: format!("no <{}>", path.join("/")),
                });
        }
        e = e.child(p).ok_or_else(|| LabError::Reply {
            action: action.to_owned(),
            detail: format!("no <{}>", path.join("/")),
        })?;
    }
    Err(LabError::Reply {
        action: action.to_owned(),
        detail: "empty path".into(),
    })
}

fn tags(kind: &str, name: &str, lab: &str) -> Vec<(String, String)> {
    vec![
        ("TagSpecification.1.ResourceType".into(), kind.into()),
        ("TagSpecification.1.Tag.1.Key".into(), "Name".into()),
        ("TagSpecification.1.Tag.1.Value".into(), name.into()),
        ("TagSpecification.1.Tag.2.Key".into(), "sixfold:lab".into()),
        ("TagSpecification.1.Tag.2.Value".into(), lab.into()),
    ]
}

fn with<'a>(
    base: &'a [(&'a str, &'a str)],
    extra: &'a [(String, String)],
) -> Vec<(&'a str, &'a str)> {
    base.iter()
        .copied()
        .chain(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .collect()
}

/// Create the dual-stack VPC, its subnets (IPv6 auto-assign on), the gateways and routes
/// (0.0.0.0/0 → IGW, ::/0 → EIGW) and a security group allowing IPv6.
pub fn build_vpc(api: &Api, lab: &str) -> Result<VpcInfo> {
    let t = tags("vpc", &format!("sixfold-{lab}"), lab);
    let r = api.call(
        "CreateVpc",
        &with(
            &[
                ("CidrBlock", plan::VPC_CIDR),
                ("AmazonProvidedIpv6CidrBlock", "true"),
            ],
            &t,
        ),
    )?;
    let vpc_id = text(&r, &["vpc", "vpcId"], "CreateVpc")?;
    let ipv6 = r
        .child("vpc")
        .and_then(|v| v.items("ipv6CidrBlockAssociationSet").next())
        .and_then(|a| a.child_text("ipv6CidrBlock"))
        .map(str::to_owned)
        .ok_or_else(|| LabError::Reply {
            action: "CreateVpc".into(),
            detail: "no Amazon-provided IPv6 block in the reply".into(),
        })?;
    let v56: ipnet::Ipv6Net = ipv6.parse().map_err(|_| LabError::Reply {
        action: "CreateVpc".into(),
        detail: format!("IPv6 block {ipv6:?} is not a CIDR"),
    })?;
    let mut subnets = Vec::new();
    for (z, zone) in plan::ZONES.iter().enumerate() {
        let v4 = plan::subnet_v4(z);
        let v6 = plan::subnet_v6(v56, z).to_string();
        let t = tags("subnet", &format!("sixfold-{lab}-{zone}"), lab);
        let r = api.call(
            "CreateSubnet",
            &with(
                &[
                    ("VpcId", &vpc_id),
                    ("CidrBlock", &v4),
                    ("Ipv6CidrBlock", &v6),
                    ("AvailabilityZone", zone),
                ],
                &t,
            ),
        )?;
        let id = text(&r, &["subnet", "subnetId"], "CreateSubnet")?;
        api.call(
            "ModifySubnetAttribute",
            &[
                ("SubnetId", &id),
                ("AssignIpv6AddressOnCreation.Value", "true"),
            ],
        )?;
        subnets.push(SubnetInfo {
            id,
            zone: (*zone).to_owned(),
            ipv4: v4,
            ipv6: v6,
        });
    }
    let r = api.call(
        "CreateInternetGateway",
        &with(
            &[],
            &tags("internet-gateway", &format!("sixfold-{lab}"), lab),
        ),
    )?;
    let igw = text(
        &r,
        &["internetGateway", "internetGatewayId"],
        "CreateInternetGateway",
    )?;
    api.call(
        "AttachInternetGateway",
        &[("InternetGatewayId", &igw), ("VpcId", &vpc_id)],
    )?;
    let r = api.call("CreateEgressOnlyInternetGateway", &[("VpcId", &vpc_id)])?;
    let eigw = text(
        &r,
        &["egressOnlyInternetGateway", "egressOnlyInternetGatewayId"],
        "CreateEgressOnlyInternetGateway",
    )?;
    let r = api.call("CreateRouteTable", &[("VpcId", &vpc_id)])?;
    let rt = text(&r, &["routeTable", "routeTableId"], "CreateRouteTable")?;
    api.call(
        "CreateRoute",
        &[
            ("RouteTableId", &rt),
            ("DestinationCidrBlock", "0.0.0.0/0"),
            ("GatewayId", &igw),
        ],
    )?;
    api.call(
        "CreateRoute",
        &[
            ("RouteTableId", &rt),
            ("DestinationIpv6CidrBlock", "::/0"),
            ("EgressOnlyInternetGatewayId", &eigw),
        ],
    )?;
    for s in &subnets {
        api.call(
            "AssociateRouteTable",
            &[("RouteTableId", &rt), ("SubnetId", &s.id)],
        )?;
    }
    let r = api.call(
        "CreateSecurityGroup",
        &[
            ("GroupName", &format!("sixfold-{lab}-nodes")),
            ("GroupDescription", "sixfold lab nodes: all IPv6, VPC IPv4"),
            ("VpcId", &vpc_id),
        ],
    )?;
    let sg = text(&r, &["groupId"], "CreateSecurityGroup")?;
    api.call(
        "AuthorizeSecurityGroupIngress",
        &[
            ("GroupId", &sg),
            ("IpPermissions.1.IpProtocol", "-1"),
            ("IpPermissions.1.Ipv6Ranges.1.CidrIpv6", "::/0"),
            ("IpPermissions.1.IpRanges.1.CidrIp", plan::VPC_CIDR),
        ],
    )?;
    allow_vpc_internal(api, &vpc_id, &ipv6)?;
    Ok(VpcInfo {
        id: vpc_id,
        ipv4: plan::VPC_CIDR.to_owned(),
        ipv6,
        subnets,
        internet_gateway: igw,
        egress_only_gateway: eigw,
        route_table: rt,
        security_group: sg,
    })
}

/// The VPC's default security group is the cluster security group EKS gives every node (and
/// Fargate pod); it allows inbound only from itself. The lab's other parts in the VPC (Fargate
/// units, load balancers, the DNS server's replies come back as established anyway) talk to the
/// pods too, so the group also allows everything from the VPC's own blocks — and nothing from
/// the internet, which must be authorized explicitly (security groups are enforced on the
/// lab's packets, see `policy`).
fn allow_vpc_internal(api: &Api, vpc_id: &str, ipv6: &str) -> Result<()> {
    let r = api.call(
        "DescribeSecurityGroups",
        &[
            ("Filter.1.Name", "vpc-id"),
            ("Filter.1.Value.1", vpc_id),
            ("Filter.2.Name", "group-name"),
            ("Filter.2.Value.1", "default"),
        ],
    )?;
    let sg = r
        .items("securityGroupInfo")
        .find_map(|g| g.child_text("groupId").map(str::to_owned))
        .ok_or_else(|| LabError::Reply {
            action: "DescribeSecurityGroups".into(),
            detail: format!("{vpc_id} has no default security group"),
        })?;
    api.call(
        "AuthorizeSecurityGroupIngress",
        &[
            ("GroupId", &sg),
            ("IpPermissions.1.IpProtocol", "-1"),
            ("IpPermissions.1.Ipv6Ranges.1.CidrIpv6", ipv6),
            (
                "IpPermissions.1.Ipv6Ranges.1.Description",
                "sixfold lab: the VPC's own IPv6 block",
            ),
            ("IpPermissions.1.IpRanges.1.CidrIp", plan::VPC_CIDR),
            (
                "IpPermissions.1.IpRanges.1.Description",
                "sixfold lab: the VPC's own IPv4 block",
            ),
        ],
    )?;
    Ok(())
}

/// What the region says about one instance's primary ENI.
#[derive(Debug, Clone)]
pub struct Launched {
    pub instance_id: String,
    pub eni: String,
    pub subnet: String,
    pub ipv4: Ipv4Addr,
    pub ipv6: Ipv6Addr,
    pub mac: Option<String>,
    pub prefix: Option<String>,
}

/// `RunInstances` of `count` instances in `subnet`, tagged `role`.
pub fn run_instances(
    api: &Api,
    vpc: &VpcInfo,
    subnet: &str,
    count: usize,
    lab: &str,
    role: &str,
) -> Result<Vec<String>> {
    let n = count.to_string();
    let t = tags("instance", &format!("sixfold-{lab}-{role}"), lab);
    let r = api.call(
        "RunInstances",
        &with(
            &[
                ("ImageId", plan::IMAGE_ID),
                ("InstanceType", plan::INSTANCE_TYPE),
                ("MinCount", &n),
                ("MaxCount", &n),
                ("SubnetId", subnet),
                ("SecurityGroupId.1", &vpc.security_group),
            ],
            &t,
        ),
    )?;
    let ids: Vec<String> = r
        .items("instancesSet")
        .filter_map(|i| i.child_text("instanceId").map(str::to_owned))
        .collect();
    if ids.len() != count {
        return Err(LabError::Reply {
            action: "RunInstances".into(),
            detail: format!("asked for {count} instances, got {}", ids.len()),
        });
    }
    Ok(ids)
}

/// The primary ENI of each instance, as DescribeInstances reports it (in `ids` order).
pub fn describe(api: &Api, ids: &[String]) -> Result<Vec<Launched>> {
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let insts = api
        .ec2
        .describe_instances(&refs)
        .map_err(|source| LabError::Ec2 {
            action: "DescribeInstances".into(),
            source: Box::new(source),
        })?;
    ids.iter()
        .map(|id| {
            let i = insts
                .iter()
                .find(|i| &i.instance_id == id)
                .ok_or_else(|| LabError::Reply {
                    action: "DescribeInstances".into(),
                    detail: format!("{id} is missing"),
                })?;
            let eni = i.primary_interface().ok_or_else(|| LabError::Reply {
                action: "DescribeInstances".into(),
                detail: format!("{id} has no primary network interface"),
            })?;
            let bad = |what: &str| LabError::Reply {
                action: "DescribeInstances".into(),
                detail: format!("{id} has no {what}; is IPv6 auto-assign on in its subnet?"),
            };
            Ok(Launched {
                instance_id: id.clone(),
                eni: eni.network_interface_id.clone(),
                subnet: eni.subnet_id.clone().ok_or_else(|| LabError::Reply {
                    action: "DescribeInstances".into(),
                    detail: format!("{id}'s network interface names no subnet"),
                })?,
                ipv4: eni
                    .private_ipv4
                    .or(i.private_ipv4)
                    .ok_or_else(|| bad("IPv4"))?,
                ipv6: eni
                    .ipv6_addresses
                    .first()
                    .copied()
                    .or(i.ipv6_address)
                    .ok_or_else(|| bad("IPv6 address"))?,
                mac: eni.mac_address.clone(),
                prefix: eni.ipv6_prefixes.first().map(|p| p.to_string()),
            })
        })
        .collect()
}

/// Instances tagged `key=value` (e.g. a node group's), running.
pub fn instances_tagged(api: &Api, key: &str, value: &str) -> Result<Vec<String>> {
    running_instances(
        api,
        &[
            ("Filter.1.Name", &format!("tag:{key}")),
            ("Filter.1.Value.1", value),
            ("Filter.2.Name", "instance-state-name"),
            ("Filter.2.Value.1", "running"),
        ],
    )
}

/// The ids of the instances `DescribeInstances` answers with `filters` (which should ask
/// for the running ones), sorted.
fn running_instances(api: &Api, filters: &[(&str, &str)]) -> Result<Vec<String>> {
    let root = api.call("DescribeInstances", filters)?;
    let mut ids: Vec<String> = root
        .items("reservationSet")
        .flat_map(|r| r.items("instancesSet"))
        .filter_map(|i| i.child_text("instanceId").map(str::to_owned))
        .collect();
    ids.sort();
    Ok(ids)
}

/// The running instances of node group `nodegroup` of cluster `cluster` (EKS tags them
/// `eks:cluster-name` and `eks:nodegroup-name`), sorted.
pub fn nodegroup_instances(api: &Api, cluster: &str, nodegroup: &str) -> Result<Vec<String>> {
    running_instances(
        api,
        &[
            ("Filter.1.Name", "tag:eks:cluster-name"),
            ("Filter.1.Value.1", cluster),
            ("Filter.2.Name", "tag:eks:nodegroup-name"),
            ("Filter.2.Value.1", nodegroup),
            ("Filter.3.Name", "instance-state-name"),
            ("Filter.3.Value.1", "running"),
        ],
    )
}

/// The /80 delegated to an ENI (after the agent asked for it).
pub fn eni_prefix(api: &Api, eni: &str) -> Result<Option<String>> {
    let enis = api
        .ec2
        .describe_network_interfaces(&[Filter::network_interface_id(eni)])
        .map_err(|source| LabError::Ec2 {
            action: "DescribeNetworkInterfaces".into(),
            source: Box::new(source),
        })?;
    Ok(enis
        .first()
        .and_then(|e| e.ipv6_prefixes.first())
        .map(|p| p.to_string()))
}

/// Record helper: the state's region info.
pub fn record(state: &mut LabState, api: &Api) {
    state.region = Some(api.info.clone());
}
