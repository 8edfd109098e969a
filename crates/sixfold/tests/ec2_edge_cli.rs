//! End to end with the real AWS CLI and boto3: the EC2 edge parses every id and CIDR before the
//! region sees the request. A malformed id is answered with AWS's own `...Malformed` code naming
//! the value (whichever family it belongs to), a required parameter left out with
//! `MissingParameter` naming the wire parameter, a CIDR with host bits with the network to write;
//! none of them changes the region.

mod common;

use common::clients::Sdk;
use common::net::subnet;
use common::{Server, s};
use serde_json::{Value, json};

/// Everything a refused request could have changed, as the AWS CLI describes it.
fn snapshot(srv: &Server) -> Vec<Value> {
    [
        "describe-vpcs",
        "describe-subnets",
        "describe-security-groups",
    ]
    .iter()
    .map(|c| srv.aws(&["ec2", c]).json())
    .collect()
}

/// Ids that are well formed but name nothing: the edge answers before any lookup.
const RTB: &str = "rtb-0123456789abcdef0";
const IGW: &str = "igw-0123456789abcdef0";
const SG: &str = "sg-0123456789abcdef0";
const ENI: &str = "eni-0123456789abcdef0";

#[test]
fn malformed_ids_and_missing_parameters_are_refused_at_the_edge_with_the_aws_cli() {
    let srv = Server::start();
    let vpc = s(&srv
        .aws(&["ec2", "create-vpc", "--cidr-block", "10.0.0.0/16"])
        .json()["Vpc"]["VpcId"]);
    let sub = subnet(&srv, &vpc, "10.0.1.0/24", None);

    let before = snapshot(&srv);
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        // VPCs and route tables.
        (
            vec!["ec2", "delete-vpc", "--vpc-id", "vpc-NOTHEX"],
            "InvalidVpcID.Malformed",
            "vpc-NOTHEX",
        ),
        (
            vec!["ec2", "create-vpc"],
            "MissingParameter",
            "parameter CidrBlock",
        ),
        (
            vec![
                "ec2",
                "create-route",
                "--route-table-id",
                RTB,
                "--gateway-id",
                IGW,
            ],
            "MissingParameter",
            "DestinationCidrBlock or DestinationIpv6CidrBlock",
        ),
        // Subnets: a subnet id where a VPC id belongs is malformed for that parameter.
        (
            vec![
                "ec2",
                "create-subnet",
                "--vpc-id",
                &sub,
                "--cidr-block",
                "10.0.9.0/24",
            ],
            "InvalidVpcID.Malformed",
            &sub,
        ),
        (
            vec!["ec2", "create-subnet", "--vpc-id", &vpc],
            "MissingParameter",
            "parameter CidrBlock",
        ),
        // Security groups.
        (
            vec!["ec2", "delete-security-group", "--group-id", "sg-zz"],
            "InvalidGroupId.Malformed",
            "sg-zz",
        ),
        (
            vec!["ec2", "authorize-security-group-ingress", "--group-id", SG],
            "MissingParameter",
            "parameter IpPermissions",
        ),
        // Network interfaces and instances.
        (
            vec![
                "ec2",
                "delete-network-interface",
                "--network-interface-id",
                "eni-nope",
            ],
            "InvalidNetworkInterfaceId.Malformed",
            "eni-nope",
        ),
        (
            vec![
                "ec2",
                "attach-network-interface",
                "--network-interface-id",
                ENI,
                "--instance-id",
                "i-XYZ",
                "--device-index",
                "1",
            ],
            "InvalidInstanceID.Malformed",
            "i-XYZ",
        ),
    ];
    for (args, code, needle) in &cases {
        srv.aws(args).fails_with(code, needle);
    }
    assert_eq!(
        before,
        snapshot(&srv),
        "a request refused at the edge changed the region"
    );
}

#[test]
fn boto3_without_its_own_checks_gets_missing_parameter_and_malformed_from_the_region() {
    let srv = Server::start();
    let out = srv.sdk(Sdk::Boto3, "edge", &json!({}));
    let expect = |name: &str, code: &str, needle: &str| {
        let r = &out[name];
        assert_eq!(r["error"], code, "{name}: {r}");
        let message = r["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{name}: {message:?} lacks {needle:?}"
        );
    };
    for (name, param) in [
        ("delete_vpc_without_vpc_id", "VpcId"),
        ("create_subnet_without_vpc_id", "VpcId"),
        ("delete_subnet_without_subnet_id", "SubnetId"),
        ("create_route_table_without_vpc_id", "VpcId"),
        ("delete_group_without_group_id", "GroupId"),
        ("create_group_without_vpc_id", "VpcId"),
        ("delete_eni_without_eni_id", "NetworkInterfaceId"),
        ("create_eni_without_subnet_id", "SubnetId"),
        ("assign_ipv6_without_eni_id", "NetworkInterfaceId"),
    ] {
        expect(
            name,
            "MissingParameter",
            &format!("The request must contain the parameter {param}."),
        );
    }
    expect(
        "delete_vpc_malformed",
        "InvalidVpcID.Malformed",
        "vpc-NOTHEX",
    );
    expect(
        "create_subnet_with_a_subnet_id_as_vpc",
        "InvalidVpcID.Malformed",
        "subnet-",
    );
    expect(
        "delete_subnet_malformed",
        "InvalidSubnetID.Malformed",
        "subnet-12",
    );
    expect(
        "delete_group_malformed",
        "InvalidGroupId.Malformed",
        "sg-zz",
    );
    expect(
        "delete_eni_malformed",
        "InvalidNetworkInterfaceId.Malformed",
        "eni-!",
    );
    expect(
        "describe_vpcs_one_malformed",
        "InvalidVpcID.Malformed",
        "vpc-0",
    );
    assert_eq!(
        out["unchanged"], true,
        "a refused request changed the region"
    );
}
