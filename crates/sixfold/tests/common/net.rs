//! The network most end-to-end tests build first, through the real AWS CLI: a dual-stack VPC
//! (`10.0.0.0/16` and an Amazon-provided /56) and subnets in it.

use ipnet::Ipv6Net;

use super::{Server, s};

/// The control-plane role the EKS tests create clusters with.
pub const EKS_ROLE: &str = "arn:aws:iam::123456789012:role/eks";
/// The node role the EKS tests create node groups with.
pub const NODE_ROLE: &str = "arn:aws:iam::123456789012:role/node";

/// A new dual-stack VPC: (its id, its IPv6 /56).
pub fn dual_stack_vpc(srv: &Server) -> (String, Ipv6Net) {
    let v = srv
        .aws(&[
            "ec2",
            "create-vpc",
            "--cidr-block",
            "10.0.0.0/16",
            "--amazon-provided-ipv6-cidr-block",
        ])
        .json();
    let vpc = s(&v["Vpc"]["VpcId"]);
    let d = srv.aws(&["ec2", "describe-vpcs", "--vpc-ids", &vpc]).json();
    let block = s(&d["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"])
        .parse()
        .expect("the VPC's IPv6 block is a CIDR");
    (vpc, block)
}

/// The `n`th /64 of a VPC's /56, as the CLI takes it.
pub fn nth64(block: Ipv6Net, n: u128) -> String {
    let a = u128::from(block.network()) | (n << 64);
    format!("{}/64", std::net::Ipv6Addr::from(a))
}

/// A new subnet of `vpc` with the IPv4 block `v4` and, when given, the IPv6 /64 `v6`; its id.
pub fn subnet(srv: &Server, vpc: &str, v4: &str, v6: Option<&str>) -> String {
    let mut a = vec!["ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", v4];
    if let Some(v6) = v6 {
        a.extend(["--ipv6-cidr-block", v6]);
    }
    s(&srv.aws(&a).json()["Subnet"]["SubnetId"])
}

/// The gateways and the route table [`route_to_internet`] made.
pub struct InternetRoutes {
    /// The internet gateway (IPv4 `0.0.0.0/0`).
    pub igw: String,
    /// The egress-only internet gateway (IPv6 `::/0`).
    pub eigw: String,
    /// The route table holding both routes.
    pub rtb: String,
}

/// A new internet gateway attached to `vpc`; its id.
pub fn attached_internet_gateway(srv: &Server, vpc: &str) -> String {
    let igw = s(
        &srv.aws(&["ec2", "create-internet-gateway"]).json()["InternetGateway"]["InternetGatewayId"],
    );
    srv.aws(&[
        "ec2",
        "attach-internet-gateway",
        "--internet-gateway-id",
        &igw,
        "--vpc-id",
        vpc,
    ])
    .json();
    igw
}

/// A new egress-only internet gateway of `vpc`; its id.
pub fn egress_only_gateway(srv: &Server, vpc: &str) -> String {
    s(&srv
        .aws(&[
            "ec2",
            "create-egress-only-internet-gateway",
            "--vpc-id",
            vpc,
        ])
        .json()["EgressOnlyInternetGateway"]["EgressOnlyInternetGatewayId"])
}

/// A new route table of `vpc`; its id.
pub fn route_table(srv: &Server, vpc: &str) -> String {
    s(&srv
        .aws(&["ec2", "create-route-table", "--vpc-id", vpc])
        .json()["RouteTable"]["RouteTableId"])
}

/// The way out of a public dual-stack subnet, as EKS wants it: an attached internet gateway
/// for IPv4, an egress-only one for IPv6, and a new route table with both default routes,
/// associated with each of `subnets`.
pub fn route_to_internet(srv: &Server, vpc: &str, subnets: &[&str]) -> InternetRoutes {
    let igw = attached_internet_gateway(srv, vpc);
    let eigw = egress_only_gateway(srv, vpc);
    let rtb = route_table(srv, vpc);
    for (dest_flag, dest, target_flag, target) in [
        (
            "--destination-cidr-block",
            "0.0.0.0/0",
            "--gateway-id",
            &igw,
        ),
        (
            "--destination-ipv6-cidr-block",
            "::/0",
            "--egress-only-internet-gateway-id",
            &eigw,
        ),
    ] {
        srv.aws(&[
            "ec2",
            "create-route",
            "--route-table-id",
            &rtb,
            dest_flag,
            dest,
            target_flag,
            target,
        ])
        .json();
    }
    for sub in subnets {
        srv.aws(&[
            "ec2",
            "associate-route-table",
            "--route-table-id",
            &rtb,
            "--subnet-id",
            sub,
        ])
        .json();
    }
    InternetRoutes { igw, eigw, rtb }
}

/// A new IPv6 EKS cluster `name` on `subnet` (the control-plane role [`EKS_ROLE`]), through the
/// AWS CLI; the cluster as `describe-cluster` answers it.
pub fn ipv6_cluster_on(srv: &Server, name: &str, subnet: &str) -> serde_json::Value {
    srv.aws(&[
        "eks",
        "create-cluster",
        "--name",
        name,
        "--role-arn",
        EKS_ROLE,
        "--resources-vpc-config",
        &format!("subnetIds={subnet}"),
        "--kubernetes-network-config",
        "ipFamily=ipv6",
    ])
    .json();
    srv.aws(&["eks", "describe-cluster", "--name", name]).json()["cluster"].clone()
}
