//! End to end with three independent clients: the AWS CLI, boto3 and the AWS SDK for
//! JavaScript v3 drive the same real `sixfold serve`; every reply must parse in all three and the
//! same steps must give the same results. The SDK scripts live in `tests/clients/`.

#![recursion_limit = "256"]

mod common;

use common::Server;
use common::clients::Sdk;
use serde_json::{Value, json};

fn vpc_ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v
        .as_array()
        .expect("a list of VPCs")
        .iter()
        .map(|x| x["VpcId"].as_str().expect("VpcId").to_string())
        .collect();
    ids.sort();
    ids
}

/// Every VPC in a DescribeVpcs answer has the fields all three clients rely on.
fn assert_vpc_shape(who: &str, vpcs: &Value) {
    for v in vpcs.as_array().expect("vpcs") {
        assert!(v["CidrBlock"].as_str().is_some(), "{who}: {v}");
        assert_eq!(v["State"], json!("available"), "{who}: {v}");
        assert_eq!(v["OwnerId"], json!("123456789012"), "{who}: {v}");
        assert_eq!(v["IsDefault"], json!(false), "{who}: {v}");
    }
}

#[test]
fn the_aws_cli_parses_describe_vpcs() {
    let srv = Server::start();
    let made = srv
        .aws(&["ec2", "create-vpc", "--cidr-block", "10.7.0.0/16"])
        .json();
    let id = made["Vpc"]["VpcId"].as_str().expect("VpcId").to_string();
    let vpcs = srv.aws(&["ec2", "describe-vpcs"]).json();
    assert_eq!(vpc_ids(&vpcs["Vpcs"]), vec![id]);
    assert_vpc_shape("aws cli", &vpcs["Vpcs"]);
}

/// `smoke.{py,mjs}` makes a VPC and describes them all; the set must hold it and one made by the
/// AWS CLI before, so the script's parse of a real multi-item reply is checked.
fn sdk_parses_describe_vpcs(sdk: Sdk) {
    let srv = Server::start();
    let before = srv
        .aws(&["ec2", "create-vpc", "--cidr-block", "10.8.0.0/16"])
        .json();
    let out = srv.sdk(sdk, "smoke", &json!({}));
    let mut want = vec![
        before["Vpc"]["VpcId"].as_str().expect("VpcId").to_string(),
        out["created"].as_str().expect("created").to_string(),
    ];
    want.sort();
    assert_eq!(vpc_ids(&out["vpcs"]), want, "{sdk:?} sees every VPC");
    assert_vpc_shape(&format!("{sdk:?}"), &out["vpcs"]);
}

#[test]
fn boto3_parses_describe_vpcs() {
    sdk_parses_describe_vpcs(Sdk::Boto3);
}

#[test]
fn the_js_sdk_parses_describe_vpcs() {
    sdk_parses_describe_vpcs(Sdk::Js);
}

/// The EC2 error code of a failed CLI call (`An error occurred (Code) when ...`).
fn cli_error(c: &common::Cli) -> Value {
    assert_ne!(c.code, 0, "expected a failure, got: {}", c.stdout);
    let code = c
        .stderr
        .split_once("An error occurred (")
        .and_then(|(_, r)| r.split_once(')'))
        .map(|(code, _)| code.to_string())
        .unwrap_or_else(|| panic!("no error code in: {}", c.stderr));
    json!(code)
}

/// The second /64 of a /56.
fn second_64(block: &str) -> String {
    let net: ipnet::Ipv6Net = block.parse().expect("an IPv6 block");
    let a = u128::from(net.network()) | (1u128 << 64);
    format!("{}/64", std::net::Ipv6Addr::from(a))
}

/// `migration.{py,mjs}` done with the AWS CLI, observation for observation.
fn migration_with_the_aws_cli(srv: &Server) -> Value {
    let aws = |a: &[&str]| srv.aws(a);
    let j = |a: &[&str]| srv.aws(a).json();
    let st = |v: &Value| v.as_str().expect("a string").to_string();
    let mut out = serde_json::Map::new();
    let vpc_id = st(&j(&["ec2", "create-vpc", "--cidr-block", "10.20.0.0/16"])["Vpc"]["VpcId"]);
    j(&["ec2", "wait", "vpc-available", "--vpc-ids", &vpc_id]);
    let subnet_id = st(&j(&[
        "ec2",
        "create-subnet",
        "--vpc-id",
        &vpc_id,
        "--cidr-block",
        "10.20.1.0/24",
        "--availability-zone-id",
        "use1-az2",
    ])["Subnet"]["SubnetId"]);
    j(&[
        "ec2",
        "create-security-group",
        "--group-name",
        "before",
        "--description",
        "made before IPv6",
        "--vpc-id",
        &vpc_id,
    ]);
    let assoc = j(&[
        "ec2",
        "associate-vpc-cidr-block",
        "--vpc-id",
        &vpc_id,
        "--amazon-provided-ipv6-cidr-block",
    ]);
    out.insert(
        "vpc_assoc_reply_state".into(),
        assoc["Ipv6CidrBlockAssociation"]["Ipv6CidrBlockState"]["State"].clone(),
    );
    let vpc = j(&["ec2", "describe-vpcs", "--vpc-ids", &vpc_id])["Vpcs"][0].clone();
    let v6 = vpc["Ipv6CidrBlockAssociationSet"][0].clone();
    out.insert(
        "vpc_assoc_described_state".into(),
        v6["Ipv6CidrBlockState"]["State"].clone(),
    );
    let block = st(&v6["Ipv6CidrBlock"]);
    out.insert(
        "vpc_block_prefix".into(),
        json!(block.split('/').nth(1).unwrap().parse::<u32>().unwrap()),
    );
    out.insert(
        "outside_refused".into(),
        cli_error(&aws(&[
            "ec2",
            "associate-subnet-cidr-block",
            "--subnet-id",
            &subnet_id,
            "--ipv6-cidr-block",
            "2001:db8:ffff:ff00::/64",
        ])),
    );
    out.insert(
        "ipam_refused".into(),
        cli_error(&aws(&[
            "ec2",
            "associate-subnet-cidr-block",
            "--subnet-id",
            &subnet_id,
            "--ipv6-ipam-pool-id",
            "ipam-pool-0123456789abcdef0",
        ])),
    );
    let sassoc = j(&[
        "ec2",
        "associate-subnet-cidr-block",
        "--subnet-id",
        &subnet_id,
        "--ipv6-cidr-block",
        &second_64(&block),
    ]);
    out.insert(
        "subnet_assoc_reply_state".into(),
        sassoc["Ipv6CidrBlockAssociation"]["Ipv6CidrBlockState"]["State"].clone(),
    );
    let sub = j(&["ec2", "describe-subnets", "--subnet-ids", &subnet_id])["Subnets"][0].clone();
    out.insert(
        "subnet_assoc_described_state".into(),
        sub["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlockState"]["State"].clone(),
    );
    out.insert("subnet_zone_id".into(), sub["AvailabilityZoneId"].clone());
    out.insert("subnet_zone".into(), sub["AvailabilityZone"].clone());
    out.insert("subnet_ipv6_native".into(), sub["Ipv6Native"].clone());
    j(&[
        "ec2",
        "modify-subnet-attribute",
        "--subnet-id",
        &subnet_id,
        "--assign-ipv6-address-on-creation",
    ]);
    let after = j(&[
        "ec2",
        "create-security-group",
        "--group-name",
        "after",
        "--description",
        "made after IPv6",
        "--vpc-id",
        &vpc_id,
    ]);
    let groups = j(&[
        "ec2",
        "describe-security-groups",
        "--filters",
        &format!("Name=vpc-id,Values={vpc_id}"),
    ]);
    let group = |name: &str| -> Value {
        groups["SecurityGroups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["GroupName"] == name)
            .cloned()
            .expect(name)
    };
    let v6_egress = |g: &Value| -> bool {
        g["IpPermissionsEgress"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| {
                p["Ipv6Ranges"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|r| r["CidrIpv6"] == "::/0"))
            })
    };
    out.insert(
        "sg_before_v6_egress".into(),
        json!(v6_egress(&group("before"))),
    );
    out.insert(
        "sg_after_v6_egress".into(),
        json!(v6_egress(&group("after"))),
    );
    out.insert(
        "sg_arn_ok".into(),
        json!(
            st(&group("after")["SecurityGroupArn"])
                .ends_with(&format!("security-group/{}", st(&after["GroupId"])))
        ),
    );
    let run = j(&[
        "ec2",
        "run-instances",
        "--image-id",
        "ami-0123456789abcdef0",
        "--instance-type",
        "m5.large",
        "--count",
        "1",
        "--subnet-id",
        &subnet_id,
    ]);
    let iid = st(&run["Instances"][0]["InstanceId"]);
    j(&["ec2", "wait", "instance-running", "--instance-ids", &iid]);
    let inst =
        j(&["ec2", "describe-instances", "--instance-ids", &iid])["Reservations"][0]["Instances"]
            [0]
        .clone();
    out.insert(
        "instance_has_ipv6".into(),
        json!(inst["Ipv6Address"].as_str().is_some_and(|a| !a.is_empty())),
    );
    let sassoc_id = st(&sassoc["Ipv6CidrBlockAssociation"]["AssociationId"]);
    let v6_id = st(&v6["AssociationId"]);
    out.insert(
        "subnet_block_in_use".into(),
        cli_error(&aws(&[
            "ec2",
            "disassociate-subnet-cidr-block",
            "--association-id",
            &sassoc_id,
        ])),
    );
    out.insert(
        "vpc_block_in_use".into(),
        cli_error(&aws(&[
            "ec2",
            "disassociate-vpc-cidr-block",
            "--association-id",
            &v6_id,
        ])),
    );
    let primary = st(&vpc["CidrBlockAssociationSet"][0]["AssociationId"]);
    out.insert(
        "primary_v4_refused".into(),
        cli_error(&aws(&[
            "ec2",
            "disassociate-vpc-cidr-block",
            "--association-id",
            &primary,
        ])),
    );
    j(&["ec2", "terminate-instances", "--instance-ids", &iid]);
    let d = j(&[
        "ec2",
        "disassociate-subnet-cidr-block",
        "--association-id",
        &sassoc_id,
    ]);
    out.insert(
        "subnet_disassoc_reply_state".into(),
        d["Ipv6CidrBlockAssociation"]["Ipv6CidrBlockState"]["State"].clone(),
    );
    let sub = j(&["ec2", "describe-subnets", "--subnet-ids", &subnet_id])["Subnets"][0].clone();
    out.insert(
        "subnet_disassoc_described_state".into(),
        sub["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlockState"]["State"].clone(),
    );
    out.insert(
        "subnet_auto_assign_after".into(),
        sub["AssignIpv6AddressOnCreation"].clone(),
    );
    let d = j(&[
        "ec2",
        "disassociate-vpc-cidr-block",
        "--association-id",
        &v6_id,
    ]);
    out.insert(
        "vpc_disassoc_reply_state".into(),
        d["Ipv6CidrBlockAssociation"]["Ipv6CidrBlockState"]["State"].clone(),
    );
    out.insert(
        "bogus_zone_id".into(),
        cli_error(&aws(&[
            "ec2",
            "create-subnet",
            "--vpc-id",
            &vpc_id,
            "--cidr-block",
            "10.20.9.0/24",
            "--availability-zone-id",
            "bogus-az9",
        ])),
    );
    Value::Object(out)
}

/// What every client must observe along the migration (AWS's behaviour).
fn migration_expected() -> Value {
    json!({
        "vpc_assoc_reply_state": "associating",
        "vpc_assoc_described_state": "associated",
        "vpc_block_prefix": 56,
        "outside_refused": "InvalidSubnet.Range",
        "ipam_refused": "UnsupportedOperation",
        "subnet_assoc_reply_state": "associating",
        "subnet_assoc_described_state": "associated",
        "subnet_zone_id": "use1-az2",
        "subnet_zone": "us-east-1b",
        "subnet_ipv6_native": false,
        "sg_before_v6_egress": false,
        "sg_after_v6_egress": true,
        "sg_arn_ok": true,
        "instance_has_ipv6": true,
        "subnet_block_in_use": "DependencyViolation",
        "vpc_block_in_use": "DependencyViolation",
        "primary_v4_refused": "OperationNotPermitted",
        "subnet_disassoc_reply_state": "disassociating",
        "subnet_disassoc_described_state": "disassociated",
        "subnet_auto_assign_after": false,
        "vpc_disassoc_reply_state": "disassociating",
        "bogus_zone_id": "InvalidParameterValue",
    })
}

#[test]
fn the_migration_of_an_ipv4_vpc_to_dual_stack_gives_the_same_results_in_all_three_clients() {
    let srv = Server::start();
    let want = migration_expected();
    assert_eq!(migration_with_the_aws_cli(&srv), want, "the AWS CLI");
    for sdk in Sdk::ALL {
        assert_eq!(srv.sdk(sdk, "migration", &json!({})), want, "{sdk:?}");
    }
}

#[test]
fn the_ec2_surface_tools_touch_first_gives_the_same_results_in_boto3_and_the_js_sdk() {
    let zones: Vec<Value> = (0..6u8)
        .map(|i| {
            let l = (b'a' + i) as char;
            json!([
                format!("us-east-1{l}"),
                format!("use1-az{}", i + 1),
                "us-east-1",
                "us-east-1",
                "opt-in-not-required"
            ])
        })
        .collect();
    let want = json!({
        // 12 VPCs paged 5 at a time; 6 instances and their 6 primary ENIs.
        "vpc_pages": 3, "vpcs_paged": 12, "vpc_ids_unique": true,
        "max_results_3": "InvalidParameterValue",
        "route_tables_max_101": "InvalidParameterValue",
        "garbled_token": "InvalidPaginationToken",
        "token_of_another_action": "InvalidPaginationToken",
        "instance_pages": 2, "instances_paged": 6,
        "ids_with_max_results": "InvalidParameterCombination",
        "eni_pages": 2, "enis_paged": 6,
        "replay_same_instance": true,
        "replay_other_request": "IdempotentParameterMismatch",
        "reservations_after_replay": 2,
        "eni_replay_same": true, "eni_status_new": "available", "eni_has_ipv6": true,
        "enis_of_instance": 2,
        "delete_attached": "InvalidNetworkInterface.InUse",
        "detach_primary": "OperationNotPermitted",
        "eni_groups": 2, "eni_source_dest_check": false, "eni_description": "trunk 2",
        "eni_status_attached": "in-use", "eni_status_detached": "available",
        "eni_gone": "InvalidNetworkInterfaceID.NotFound",
        "dns_support": true, "dns_hostnames_before": false, "dns_hostnames_after": true,
        "nau_metrics": false,
        "v6only_cidr": null, "v6only_native": true, "v6only_auto_assign": true,
        "v6only_hostname_type": "resource-name",
        "v6only_with_v4": "InvalidParameterCombination",
        "v6only_without_v6": "InvalidParameterCombination",
        "detach_unattached_igw": "Gateway.NotAttached",
        "default_sg_rules": ["egress:0.0.0.0/0", "egress:::/0", "ingress:group"],
        "zones": zones,
        "m5_large": [2, 8192, ["x86_64"]],
        "subnet_fields": [false, "ip-name"],
    });
    for sdk in Sdk::ALL {
        // A fresh region per client: the counts above are of one run.
        let srv = Server::start();
        assert_eq!(srv.sdk(sdk, "surface", &json!({})), want, "{sdk:?}");
    }
}
