//! End to end with the real AWS CLI: the EC2 surface of issue 9 that the migration and real tools
//! touch first: IPv6-only subnets (and EKS refusing them for ipv6 clusters), the CLI's automatic
//! pagination over every paged Describe, ClientToken idempotency that survives `kill -9`, network
//! interfaces, VPC attributes and the fields AWS always returns. boto3 and the JS SDK drive the
//! same steps in `three_clients.rs`.

mod common;

use common::net::{dual_stack_vpc, nth64};
use common::{Server, s};

#[test]
fn an_ipv6_only_subnet_is_made_as_ec2_makes_it_and_an_ipv6_cluster_refuses_it() {
    let srv = Server::start();
    let (vpc, block) = dual_stack_vpc(&srv);
    let sub = srv
        .aws(&[
            "ec2",
            "create-subnet",
            "--vpc-id",
            &vpc,
            "--ipv6-native",
            "--ipv6-cidr-block",
            &nth64(block, 1),
            "--availability-zone-id",
            "use1-az3",
        ])
        .json()["Subnet"]
        .clone();
    assert!(sub.get("CidrBlock").is_none(), "no IPv4 block: {sub}");
    assert_eq!(sub["Ipv6Native"], true);
    assert_eq!(sub["AssignIpv6AddressOnCreation"], true);
    assert_eq!(sub["AvailabilityZone"], "us-east-1c");
    assert_eq!(
        sub["PrivateDnsNameOptionsOnLaunch"]["HostnameType"],
        "resource-name"
    );
    let id = s(&sub["SubnetId"]);
    // Refused as EC2 refuses them: with an IPv4 block, or without an IPv6 one.
    srv.aws(&[
        "ec2",
        "create-subnet",
        "--vpc-id",
        &vpc,
        "--ipv6-native",
        "--cidr-block",
        "10.0.5.0/24",
        "--ipv6-cidr-block",
        &nth64(block, 2),
    ])
    .fails_with("InvalidParameterCombination", "--cidr-block 10.0.5.0/24");
    srv.aws(&["ec2", "create-subnet", "--vpc-id", &vpc, "--ipv6-native"])
        .fails_with("InvalidParameterCombination", "--ipv6-cidr-block");
    // Its only block cannot be taken away; instances need a dual-stack subnet here.
    let assoc = s(&sub["Ipv6CidrBlockAssociationSet"][0]["AssociationId"]);
    srv.aws(&[
        "ec2",
        "disassociate-subnet-cidr-block",
        "--association-id",
        &assoc,
    ])
    .fails_with("UnsupportedOperation", "IPv6-only");
    // An ipv6 cluster's nodes are dual-stack: its subnets may not be IPv6-only.
    let vpc_config = format!("subnetIds={id}");
    srv.aws(&[
        "eks",
        "create-cluster",
        "--name",
        "v6only",
        "--role-arn",
        "arn:aws:iam::123456789012:role/eks",
        "--resources-vpc-config",
        &vpc_config,
        "--kubernetes-network-config",
        "ipFamily=ipv6",
    ])
    .fails_with("InvalidParameterException", "[SIX-SUBNET-DUAL-STACK]");
    srv.aws(&["eks", "describe-cluster", "--name", "v6only"])
        .fails_with("ResourceNotFoundException", "v6only");
}

#[test]
fn the_aws_cli_pages_through_every_paged_describe_and_client_tokens_survive_kill_9() {
    let mut srv = Server::start();
    let (vpc, block) = dual_stack_vpc(&srv);
    for i in 0..6 {
        srv.aws(&[
            "ec2",
            "create-vpc",
            "--cidr-block",
            &format!("10.{}.0.0/16", 50 + i),
        ])
        .json();
    }
    let subnet = s(&srv
        .aws(&[
            "ec2",
            "create-subnet",
            "--vpc-id",
            &vpc,
            "--cidr-block",
            "10.0.1.0/24",
            "--ipv6-cidr-block",
            &nth64(block, 1),
        ])
        .json()["Subnet"]["SubnetId"]);
    let run = |srv: &Server, token: &str, itype: &str| {
        srv.aws(&[
            "ec2",
            "run-instances",
            "--image-id",
            "ami-0123456789abcdef0",
            "--instance-type",
            itype,
            "--count",
            "6",
            "--subnet-id",
            &subnet,
            "--client-token",
            token,
        ])
    };
    let first = run(&srv, "fleet-1", "m5.large").json();
    let ids: Vec<String> = first["Instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| s(&i["InstanceId"]))
        .collect();
    assert_eq!(ids.len(), 6);
    // The token mapping is durable: after kill -9 a replay still answers the first launch.
    srv.kill9_and_restart();
    let again = run(&srv, "fleet-1", "m5.large").json();
    let again_ids: Vec<String> = again["Instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| s(&i["InstanceId"]))
        .collect();
    assert_eq!(again_ids, ids, "a replay answers the first result");
    run(&srv, "fleet-1", "m5.xlarge").fails_with("IdempotentParameterMismatch", "fleet-1");
    // The CLI pages (MaxResults=5 per call) and must see everything exactly once.
    for (args, key, want) in [
        (vec!["ec2", "describe-vpcs"], "Vpcs", 7),
        (
            vec!["ec2", "describe-network-interfaces"],
            "NetworkInterfaces",
            6,
        ),
        (vec!["ec2", "describe-security-groups"], "SecurityGroups", 7),
        (vec!["ec2", "describe-route-tables"], "RouteTables", 7),
        (vec!["ec2", "describe-subnets"], "Subnets", 1),
    ] {
        let mut a = args.clone();
        a.extend(["--page-size", "5"]);
        let got = srv.aws(&a).json();
        let items = got[key].as_array().unwrap();
        assert_eq!(items.len(), want, "{args:?}: {got}");
    }
    let got = srv
        .aws(&["ec2", "describe-instances", "--page-size", "5"])
        .json();
    let n: usize = got["Reservations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Instances"].as_array().unwrap().len())
        .sum();
    assert_eq!(n, 6, "{got}");
    // A hand-made token is refused; so is MaxResults beyond the model's bounds.
    srv.aws(&[
        "ec2",
        "describe-vpcs",
        "--max-results",
        "5",
        "--next-token",
        "0011ffee00112233445566778899aabbccddeeff0011",
    ])
    .fails_with("InvalidPaginationToken", "NextToken");
    srv.aws(&["ec2", "describe-route-tables", "--max-results", "101"])
        .fails_with("InvalidParameterValue", "5 to 100");
}

#[test]
fn network_interfaces_attach_detach_and_change_with_the_aws_cli() {
    let srv = Server::start();
    let (vpc, block) = dual_stack_vpc(&srv);
    let subnet = s(&srv
        .aws(&[
            "ec2",
            "create-subnet",
            "--vpc-id",
            &vpc,
            "--cidr-block",
            "10.0.1.0/24",
            "--ipv6-cidr-block",
            &nth64(block, 1),
        ])
        .json()["Subnet"]["SubnetId"]);
    let iid = s(&srv
        .aws(&[
            "ec2",
            "run-instances",
            "--image-id",
            "ami-0123456789abcdef0",
            "--instance-type",
            "t3.micro",
            "--count",
            "1",
            "--subnet-id",
            &subnet,
        ])
        .json()["Instances"][0]["InstanceId"]);
    let sg = s(&srv
        .aws(&[
            "ec2",
            "create-security-group",
            "--group-name",
            "pods",
            "--description",
            "pods",
            "--vpc-id",
            &vpc,
        ])
        .json()["GroupId"]);
    let eni = srv
        .aws(&[
            "ec2",
            "create-network-interface",
            "--subnet-id",
            &subnet,
            "--groups",
            &sg,
            "--description",
            "branch",
            "--ipv6-address-count",
            "1",
        ])
        .json()["NetworkInterface"]
        .clone();
    let eid = s(&eni["NetworkInterfaceId"]);
    assert_eq!(eni["Status"], "available");
    assert_eq!(eni["Ipv6Addresses"].as_array().unwrap().len(), 1);
    let att = s(&srv
        .aws(&[
            "ec2",
            "attach-network-interface",
            "--network-interface-id",
            &eid,
            "--instance-id",
            &iid,
            "--device-index",
            "1",
        ])
        .json()["AttachmentId"]);
    // t3.micro takes 2 interfaces: a third is refused.
    let third = s(&srv
        .aws(&["ec2", "create-network-interface", "--subnet-id", &subnet])
        .json()["NetworkInterface"]["NetworkInterfaceId"]);
    srv.aws(&[
        "ec2",
        "attach-network-interface",
        "--network-interface-id",
        &third,
        "--instance-id",
        &iid,
        "--device-index",
        "2",
    ])
    .fails_with("AttachmentLimitExceeded", "t3.micro");
    let filter = format!("Name=attachment.instance-id,Values={iid}");
    let mine = srv
        .aws(&["ec2", "describe-network-interfaces", "--filters", &filter])
        .json();
    assert_eq!(mine["NetworkInterfaces"].as_array().unwrap().len(), 2);
    srv.aws(&[
        "ec2",
        "delete-network-interface",
        "--network-interface-id",
        &eid,
    ])
    .fails_with("InvalidNetworkInterface.InUse", &iid);
    srv.aws(&[
        "ec2",
        "modify-network-interface-attribute",
        "--network-interface-id",
        &eid,
        "--groups",
        &sg,
        "--no-source-dest-check",
    ])
    .fails_with("InvalidParameterCombination", "one attribute");
    srv.aws(&[
        "ec2",
        "modify-network-interface-attribute",
        "--network-interface-id",
        &eid,
        "--no-source-dest-check",
    ])
    .json();
    srv.aws(&[
        "ec2",
        "modify-network-interface-attribute",
        "--network-interface-id",
        &eid,
        "--groups",
        "sg-00000000000000000",
    ])
    .fails_with("InvalidGroup.NotFound", "sg-00000000000000000");
    let e = srv
        .aws(&[
            "ec2",
            "describe-network-interfaces",
            "--network-interface-ids",
            &eid,
        ])
        .json()["NetworkInterfaces"][0]
        .clone();
    assert_eq!(e["SourceDestCheck"], false);
    assert_eq!(e["Attachment"]["DeleteOnTermination"], false);
    // Terminating the instance keeps (and detaches) an interface attached later.
    srv.aws(&["ec2", "terminate-instances", "--instance-ids", &iid])
        .json();
    let e = srv
        .aws(&[
            "ec2",
            "describe-network-interfaces",
            "--network-interface-ids",
            &eid,
        ])
        .json()["NetworkInterfaces"][0]
        .clone();
    assert_eq!(e["Status"], "available", "{e}");
    srv.aws(&["ec2", "detach-network-interface", "--attachment-id", &att])
        .fails_with("InvalidAttachmentID.NotFound", &att);
    srv.aws(&[
        "ec2",
        "delete-network-interface",
        "--network-interface-id",
        &eid,
    ])
    .json();
    // VPC attributes: one per call, hostnames need DNS support.
    let a = srv
        .aws(&[
            "ec2",
            "describe-vpc-attribute",
            "--vpc-id",
            &vpc,
            "--attribute",
            "enableDnsSupport",
        ])
        .json();
    assert_eq!(a["EnableDnsSupport"]["Value"], true);
    srv.aws(&[
        "ec2",
        "modify-vpc-attribute",
        "--vpc-id",
        &vpc,
        "--no-enable-dns-support",
    ])
    .json();
    srv.aws(&[
        "ec2",
        "modify-vpc-attribute",
        "--vpc-id",
        &vpc,
        "--enable-dns-hostnames",
    ])
    .fails_with("InvalidParameterValue", "enableDnsSupport");
    // Zones and instance types carry the fields AWS always returns.
    let z = srv.aws(&["ec2", "describe-availability-zones"]).json();
    assert_eq!(z["AvailabilityZones"][0]["GroupName"], "us-east-1");
    assert_eq!(z["AvailabilityZones"][0]["NetworkBorderGroup"], "us-east-1");
    assert_eq!(
        z["AvailabilityZones"][0]["OptInStatus"],
        "opt-in-not-required"
    );
    let t = srv
        .aws(&[
            "ec2",
            "describe-instance-types",
            "--instance-types",
            "c6g.2xlarge",
        ])
        .json()["InstanceTypes"][0]
        .clone();
    assert_eq!(t["VCpuInfo"]["DefaultVCpus"], 8);
    assert_eq!(t["MemoryInfo"]["SizeInMiB"], 16384);
    assert_eq!(t["ProcessorInfo"]["SupportedArchitectures"][0], "arm64");
    let igw = s(
        &srv.aws(&["ec2", "create-internet-gateway"]).json()["InternetGateway"]["InternetGatewayId"],
    );
    srv.aws(&[
        "ec2",
        "detach-internet-gateway",
        "--internet-gateway-id",
        &igw,
        "--vpc-id",
        &vpc,
    ])
    .fails_with("Gateway.NotAttached", &igw);
}
