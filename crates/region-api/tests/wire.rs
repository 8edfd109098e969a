//! Hostile requests over the real HTTP listener (in-process region on a MemStore): each answers
//! with a well-formed error in the protocol's own form and changes nothing.

mod common;

use common::Server;

/// A dual-stack VPC and subnet; returns (vpc id, subnet id).
fn vpc_and_subnet(srv: &Server) -> (String, String) {
    let a = srv.ec2(&[
        ("Action", "CreateVpc"),
        ("CidrBlock", "10.0.0.0/16"),
        ("AmazonProvidedIpv6CidrBlock", "true"),
    ]);
    assert_eq!(a.status, 200, "{}", a.body);
    let root = ec2_client::xml::parse(&a.body).unwrap();
    let vpc = root.child("vpc").unwrap();
    let vpc_id = vpc.child_text("vpcId").unwrap().to_string();
    let v6 = vpc
        .items("ipv6CidrBlockAssociationSet")
        .next()
        .and_then(|i| i.child_text("ipv6CidrBlock"))
        .unwrap()
        .replace("/56", "/64");
    let a = srv.ec2(&[
        ("Action", "CreateSubnet"),
        ("VpcId", &vpc_id),
        ("CidrBlock", "10.0.1.0/24"),
        ("Ipv6CidrBlock", &v6),
    ]);
    assert_eq!(a.status, 200, "{}", a.body);
    let root = ec2_client::xml::parse(&a.body).unwrap();
    let subnet = root
        .child("subnet")
        .unwrap()
        .child_text("subnetId")
        .unwrap()
        .to_string();
    (vpc_id, subnet)
}

fn vpc_count(srv: &Server) -> usize {
    let a = srv.ec2(&[("Action", "DescribeVpcs")]);
    assert_eq!(a.status, 200, "{}", a.body);
    a.assert_well_formed("DescribeVpcs");
    ec2_client::xml::parse(&a.body)
        .unwrap()
        .items("vpcSet")
        .count()
}

#[test]
fn control_character_in_the_action_gets_a_well_formed_xml_error() {
    let srv = Server::start();
    for body in [
        &b"Action=DescribeVpcs%00&Version=2016-11-15"[..],
        b"Action=Describe%01Vpcs&Version=2016-11-15",
        b"Action=DescribeVpcs&Version=2016-11-15%1B",
        b"Action=DescribeVpcs&Version=2016-11-15&X%00=1",
        b"Action=%EF%BF%BE&Version=2016-11-15",
    ] {
        let a = srv.query("ec2", body);
        a.assert_well_formed(&String::from_utf8_lossy(body));
        assert_eq!(
            (a.status, a.code().as_str()),
            (400, "InvalidParameterValue"),
            "{}",
            a.body
        );
    }
}

#[test]
fn tag_values_with_control_characters_are_refused_so_describe_still_parses() {
    let srv = Server::start();
    let a = srv.ec2(&[
        ("Action", "CreateVpc"),
        ("CidrBlock", "10.0.0.0/16"),
        ("TagSpecification.1.ResourceType", "vpc"),
        ("TagSpecification.1.Tag.1.Key", "Name"),
        ("TagSpecification.1.Tag.1.Value", "lab\u{1}"),
    ]);
    assert_eq!(
        (a.status, a.code().as_str()),
        (400, "InvalidParameterValue"),
        "{}",
        a.body
    );
    assert!(a.body.contains("U+0001"), "{}", a.body);
    assert_eq!(vpc_count(&srv), 0, "a refused CreateVpc created a VPC");
    let (vpc, _) = vpc_and_subnet(&srv);
    let a = srv.ec2(&[
        ("Action", "CreateTags"),
        ("ResourceId.1", &vpc),
        ("Tag.1.Key", "k\u{7}"),
        ("Tag.1.Value", "v"),
    ]);
    assert_eq!(a.code(), "InvalidParameterValue", "{}", a.body);
    let a = srv.ec2(&[
        ("Action", "CreateSecurityGroup"),
        ("VpcId", &vpc),
        ("GroupName", "g"),
        ("GroupDescription", "d\u{0}"),
    ]);
    assert_eq!(a.code(), "InvalidParameterValue", "{}", a.body);
    // Tab and newline are text XML carries; they are kept.
    let a = srv.ec2(&[
        ("Action", "CreateTags"),
        ("ResourceId.1", &vpc),
        ("Tag.1.Key", "k"),
        ("Tag.1.Value", "a\tb\nc\rd"),
    ]);
    assert_eq!(a.status, 200, "{}", a.body);
    let a = srv.ec2(&[("Action", "DescribeVpcs")]);
    a.assert_well_formed("DescribeVpcs");
    let root = ec2_client::xml::parse(&a.body).unwrap();
    let tag = root
        .items("vpcSet")
        .next()
        .unwrap()
        .items("tagSet")
        .next()
        .unwrap();
    assert_eq!(tag.child("value").unwrap().text, "a\tb\nc\rd");
}

#[test]
fn dry_run_maybe_is_refused() {
    let srv = Server::start();
    let a = srv.ec2(&[("Action", "DescribeVpcs"), ("DryRun", "maybe")]);
    assert_eq!(
        (a.status, a.code().as_str()),
        (400, "InvalidParameterValue"),
        "{}",
        a.body
    );
    assert!(a.body.contains("maybe"), "{}", a.body);
}

#[test]
fn dry_run_checks_the_request_and_changes_nothing() {
    let srv = Server::start();
    // Invalid parameters are reported as such, not as DryRunOperation.
    let a = srv.ec2(&[
        ("Action", "CreateVpc"),
        ("CidrBlock", "10.0.0.0/8"),
        ("DryRun", "true"),
    ]);
    assert_eq!(a.code(), "InvalidVpc.Range", "{}", a.body);
    let a = srv.ec2(&[
        ("Action", "DeleteVpc"),
        ("VpcId", "vpc-0123456789abcdef0"),
        ("DryRun", "true"),
    ]);
    assert_eq!(a.code(), "InvalidVpcID.NotFound", "{}", a.body);
    // A valid one answers 412 DryRunOperation and creates nothing.
    let a = srv.ec2(&[
        ("Action", "CreateVpc"),
        ("CidrBlock", "10.0.0.0/16"),
        ("DryRun", "true"),
    ]);
    assert_eq!(
        (a.status, a.code().as_str()),
        (412, "DryRunOperation"),
        "{}",
        a.body
    );
    assert_eq!(vpc_count(&srv), 0);
    let (vpc, subnet) = vpc_and_subnet(&srv);
    let a = srv.ec2(&[
        ("Action", "RunInstances"),
        ("ImageId", "ami-0123456789abcdef0"),
        ("InstanceType", "m5.large"),
        ("MinCount", "1"),
        ("MaxCount", "1"),
        ("SubnetId", &subnet),
        ("DryRun", "true"),
    ]);
    assert_eq!(
        (a.status, a.code().as_str()),
        (412, "DryRunOperation"),
        "{}",
        a.body
    );
    let a = srv.ec2(&[("Action", "DescribeInstances")]);
    assert!(
        !a.body.contains("<instanceId>"),
        "a dry run launched an instance: {}",
        a.body
    );
    let a = srv.ec2(&[("Action", "DeleteVpc"), ("VpcId", &vpc), ("DryRun", "TRUE")]);
    assert_eq!(a.code(), "DependencyViolation", "{}", a.body);
    assert_eq!(vpc_count(&srv), 1);
}

/// Launch one m5.large in `subnet`; returns its primary interface.
fn instance_eni(srv: &Server, subnet: &str) -> String {
    let a = srv.ec2(&[
        ("Action", "RunInstances"),
        ("ImageId", "ami-0123456789abcdef0"),
        ("InstanceType", "m5.large"),
        ("MinCount", "1"),
        ("MaxCount", "1"),
        ("SubnetId", subnet),
    ]);
    assert_eq!(a.status, 200, "{}", a.body);
    let root = ec2_client::xml::parse(&a.body).unwrap();
    let inst = root.items("instancesSet").next().unwrap();
    inst.items("networkInterfaceSet")
        .next()
        .and_then(|e| e.child_text("networkInterfaceId"))
        .unwrap()
        .to_string()
}

#[test]
fn huge_ipv6_counts_are_answered_at_once_with_the_per_interface_limit() {
    let srv = Server::start();
    let (_, subnet) = vpc_and_subnet(&srv);
    let eni = instance_eni(&srv, &subnet);
    for (param, n) in [
        ("Ipv6PrefixCount", "4294967295"),
        ("Ipv6AddressCount", "4294967295"),
        ("Ipv6PrefixCount", "16000"),
    ] {
        let a = srv.ec2(&[
            ("Action", "AssignIpv6Addresses"),
            ("NetworkInterfaceId", &eni),
            (param, n),
        ]);
        assert_eq!(
            a.code(),
            "PrivateIpAddressLimitExceeded",
            "{param}={n}: {}",
            a.body
        );
    }
    let a = srv.ec2(&[
        ("Action", "AssignIpv6Addresses"),
        ("NetworkInterfaceId", &eni),
        ("Ipv6PrefixCount", "4294967296"),
    ]);
    assert_eq!(a.code(), "InvalidParameterValue", "{}", a.body);
    let a = srv.ec2(&[
        ("Action", "RunInstances"),
        ("ImageId", "ami-0123456789abcdef0"),
        ("MinCount", "4294967295"),
        ("MaxCount", "4294967295"),
        ("SubnetId", &subnet),
    ]);
    assert_eq!(a.code(), "InvalidParameterValue", "{}", a.body);
}

#[test]
fn killer_filters_are_refused_or_answered_at_once() {
    let srv = Server::start();
    let (vpc, _) = vpc_and_subnet(&srv);
    let long = "a".repeat(60);
    let a = srv.ec2(&[
        ("Action", "CreateTags"),
        ("ResourceId.1", &vpc),
        ("Tag.1.Key", "Name"),
        ("Tag.1.Value", &long),
    ]);
    assert_eq!(a.status, 200, "{}", a.body);
    let stars = "*".repeat(60_000);
    let a = srv.ec2(&[
        ("Action", "DescribeVpcs"),
        ("Filter.1.Name", "vpc-id"),
        ("Filter.1.Value.1", &stars),
    ]);
    assert_eq!(a.code(), "InvalidParameterValue", "{}", a.body);
    let backtrack = format!("{}*b", "*a".repeat(14));
    let a = srv.ec2(&[
        ("Action", "DescribeVpcs"),
        ("Filter.1.Name", "tag:Name"),
        ("Filter.1.Value.1", &backtrack),
    ]);
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(!a.body.contains("<vpcId>"), "{}", a.body);
    let a = srv.ec2(&[
        ("Action", "DescribeVpcs"),
        ("Filter.1.Name", "tag:Name"),
        ("Filter.1.Value.1", "*a*a*"),
    ]);
    assert!(a.body.contains(&vpc), "{}", a.body);
}

#[test]
fn ten_thousand_create_time_tags_or_a_huge_value_are_not_stored() {
    let srv = Server::start();
    let mut pairs: Vec<(String, String)> = vec![
        ("Action".into(), "CreateVpc".into()),
        ("CidrBlock".into(), "10.0.0.0/16".into()),
        ("TagSpecification.1.ResourceType".into(), "vpc".into()),
    ];
    for i in 1..=10_000 {
        pairs.push((format!("TagSpecification.1.Tag.{i}.Key"), format!("k{i}")));
        pairs.push((format!("TagSpecification.1.Tag.{i}.Value"), "v".into()));
    }
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let a = srv.ec2(&refs);
    assert_eq!(a.code(), "TagLimitExceeded", "{}", a.body);
    let huge = "x".repeat(900_000);
    let a = srv.ec2(&[
        ("Action", "CreateVpc"),
        ("CidrBlock", "10.0.0.0/16"),
        ("TagSpecification.1.ResourceType", "vpc"),
        ("TagSpecification.1.Tag.1.Key", "Name"),
        ("TagSpecification.1.Tag.1.Value", &huge),
    ]);
    assert_eq!(
        a.code(),
        "InvalidParameterValue",
        "{}",
        &a.body[..a.body.len().min(500)]
    );
    assert!(a.body.len() < 4096, "the error echoed the huge value");
    let (vpc, _) = vpc_and_subnet(&srv);
    let a = srv.ec2(&[
        ("Action", "CreateSecurityGroup"),
        ("VpcId", &vpc),
        ("GroupName", "g"),
        ("GroupDescription", &huge[..256]),
    ]);
    assert_eq!(a.code(), "InvalidParameterValue", "{}", a.body);
    assert_eq!(vpc_count(&srv), 1);
}

#[test]
fn eks_and_iam_inputs_are_bounded_and_free_of_control_characters() {
    let srv = Server::start();
    let tags: serde_json::Map<String, serde_json::Value> = (0..10_000)
        .map(|i| (format!("k{i}"), serde_json::json!("v")))
        .collect();
    let huge = "r".repeat(900_000);
    for body in [
        serde_json::json!({"name": "lab\u{1}", "roleArn": "arn:aws:iam::123456789012:role/eks", "resourcesVpcConfig": {}}),
        serde_json::json!({"name": "lab", "roleArn": huge, "resourcesVpcConfig": {}}),
        serde_json::json!({"name": "lab", "roleArn": "arn:aws:iam::123456789012:role/eks", "resourcesVpcConfig": {}, "tags": tags}),
        serde_json::json!({"name": "a".repeat(101), "roleArn": "arn:aws:iam::123456789012:role/eks", "resourcesVpcConfig": {}}),
    ] {
        let a = srv.eks("POST", "/clusters", body.to_string().as_bytes());
        a.assert_well_formed("CreateCluster");
        assert_eq!(
            (a.status, a.error_type.as_deref()),
            (400, Some("InvalidParameterException")),
            "{}",
            &a.body[..a.body.len().min(400)]
        );
        assert!(a.body.len() < 4096, "the error echoed the whole input");
    }
    let a = srv.eks("GET", "/clusters/lab%01", b"");
    a.assert_well_formed("DescribeCluster");
    assert_eq!(
        a.error_type.as_deref(),
        Some("InvalidParameterException"),
        "{}",
        a.body
    );
    let a = srv.eks("GET", "/clusters", b"");
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        v["clusters"],
        serde_json::json!([]),
        "a refused request created a cluster"
    );
    let a = srv.query(
        "iam",
        b"Action=CreateRole&Version=2010-05-08&RoleName=r%01&AssumeRolePolicyDocument=%7B%7D",
    );
    a.assert_well_formed("CreateRole");
    assert_eq!(
        (a.status, a.code().as_str()),
        (400, "ValidationError"),
        "{}",
        a.body
    );
}
