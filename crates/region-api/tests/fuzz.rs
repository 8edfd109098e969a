//! Property harness for the region's wire parsers: EC2 and ELBv2 Query parameters and filters, EKS
//! rest-json paths and bodies, IAM Query, and the SigV4 `Authorization` header. Every request
//! goes through the real listener and handlers (an in-process region on a MemStore, signed with
//! its key). Whatever is sent, the answer is below 500 and is well-formed XML (EC2, IAM) or JSON
//! (EKS). The checked-in corpus (`tests/corpus/*.txt`: the inputs that once took the region
//! down, and other nasty ones) is replayed on every run, then proptest generates more for a
//! bounded number of cases (a few seconds in all).

mod common;

use std::time::SystemTime;

use common::{Answer, Server};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// A region holding a dual-stack VPC, a subnet and an instance; (server, vpc, subnet, eni).
fn fuzz_region() -> (Server, String, String, String) {
    let srv = Server::start();
    let a = srv.ec2(&[
        ("Action", "CreateVpc"),
        ("CidrBlock", "10.0.0.0/16"),
        ("AmazonProvidedIpv6CidrBlock", "true"),
    ]);
    let root = ec2_client::xml::parse(&a.body).expect("CreateVpc XML");
    let vpc = root.child("vpc").expect("vpc");
    let vpc_id = vpc.child_text("vpcId").expect("vpcId").to_string();
    let v6 = vpc
        .items("ipv6CidrBlockAssociationSet")
        .next()
        .and_then(|i| i.child_text("ipv6CidrBlock"))
        .expect("a /56")
        .replace("/56", "/64");
    let a = srv.ec2(&[
        ("Action", "CreateSubnet"),
        ("VpcId", &vpc_id),
        ("CidrBlock", "10.0.1.0/24"),
        ("Ipv6CidrBlock", &v6),
    ]);
    let root = ec2_client::xml::parse(&a.body).expect("CreateSubnet XML");
    let subnet = root
        .child("subnet")
        .and_then(|s| s.child_text("subnetId"))
        .expect("subnetId")
        .to_string();
    let a = srv.ec2(&[
        ("Action", "RunInstances"),
        ("ImageId", "ami-0123456789abcdef0"),
        ("InstanceType", "m5.large"),
        ("MinCount", "1"),
        ("MaxCount", "1"),
        ("SubnetId", &subnet),
    ]);
    let root = ec2_client::xml::parse(&a.body).expect("RunInstances XML");
    let eni = root
        .items("instancesSet")
        .next()
        .and_then(|i| i.items("networkInterfaceSet").next())
        .and_then(|e| e.child_text("networkInterfaceId"))
        .expect("an ENI")
        .to_string();
    (srv, vpc_id, subnet, eni)
}

fn assert_sound(a: &Answer, what: &str) {
    assert!(a.status < 500, "{what}: answered {}: {}", a.status, a.body);
    a.assert_well_formed(what);
}

fn corpus(name: &str) -> Vec<String> {
    let path = format!("{}/tests/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    assert!(lines.len() >= 10, "{path} lost its corpus");
    lines
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Values a parameter may take: ids of the region, numbers at the edges, CIDRs, wildcards,
/// booleans and arbitrary text (control characters and non-ASCII included).
fn value(ids: Vec<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(ids),
        proptest::sample::select(vec![
            "0",
            "1",
            "-1",
            "4294967295",
            "4294967296",
            "16000",
            "1e3",
            "",
            "true",
            "false",
            "maybe",
            "TRUE",
            "10.0.0.0/16",
            "10.0.1.0/28",
            "::/0",
            "2001:db8::/64",
            "2001:db8::/80",
            "fd00::1",
            "tcp",
            "-1",
            "ami-0123456789abcdef0",
            "m5.large",
            "t2.micro",
            "vpc",
            "subnet",
            "instance",
            "network-interface",
            "enabled",
        ])
        .prop_map(str::to_string),
        "[*?a-c]{0,40}",
        ".{0,40}",
        "[\\x00-\\x1f\\x7f]{1,4}",
    ]
}

/// Parameter names: the ones the actions read, with list and structure indices.
fn name() -> impl Strategy<Value = String> {
    let plain = proptest::sample::select(vec![
        "VpcId",
        "SubnetId",
        "CidrBlock",
        "Ipv6CidrBlock",
        "AmazonProvidedIpv6CidrBlock",
        "NetworkInterfaceId",
        "Ipv6AddressCount",
        "Ipv6PrefixCount",
        "ImageId",
        "InstanceType",
        "MinCount",
        "MaxCount",
        "GroupName",
        "GroupDescription",
        "GroupId",
        "RouteTableId",
        "DestinationIpv6CidrBlock",
        "DestinationCidrBlock",
        "GatewayId",
        "InternetGatewayId",
        "EgressOnlyInternetGatewayId",
        "AssociationId",
        "DryRun",
        "Version",
        "PrivateIpAddress",
        "AssignIpv6AddressOnCreation.Value",
        "MetadataOptions.HttpProtocolIpv6",
        "MaxResults",
        "NextToken",
        "ClientToken",
        "LaunchTemplateName",
    ])
    .prop_map(str::to_string);
    let listed = (
        proptest::sample::select(vec![
            "VpcId",
            "SubnetId",
            "InstanceId",
            "ResourceId",
            "Ipv6Addresses",
            "Ipv6Prefix",
            "GroupId",
            "SecurityGroupId",
            "NetworkInterfaceId",
            "InstanceType",
        ]),
        0u32..4,
    )
        .prop_map(|(n, i)| format!("{n}.{i}"));
    let structured = (
        proptest::sample::select(vec![
            "Filter.{i}.Name",
            "Filter.{i}.Value.{j}",
            "Tag.{i}.Key",
            "Tag.{i}.Value",
            "TagSpecification.{i}.ResourceType",
            "TagSpecification.{i}.Tag.{j}.Key",
            "TagSpecification.{i}.Tag.{j}.Value",
            "IpPermissions.{i}.IpProtocol",
            "IpPermissions.{i}.FromPort",
            "IpPermissions.{i}.ToPort",
            "IpPermissions.{i}.Ipv6Ranges.{j}.CidrIpv6",
            "IpPermissions.{i}.IpRanges.{j}.CidrIp",
            "IpPermissions.{i}.IpRanges.{j}.Description",
        ]),
        0u32..3,
        0u32..3,
    )
        .prop_map(|(t, i, j)| {
            t.replace("{i}", &i.to_string())
                .replace("{j}", &j.to_string())
        });
    prop_oneof![3 => plain, 2 => listed, 3 => structured, 1 => ".{0,12}"]
}

#[test]
fn ec2_corpus_and_generated_queries_never_break_the_region() {
    let (srv, vpc, subnet, eni) = fuzz_region();
    for line in corpus("ec2.txt") {
        let body = line
            .replace("{vpc}", &vpc)
            .replace("{subnet}", &subnet)
            .replace("{eni}", &eni);
        assert_sound(&srv.query("ec2", body.as_bytes()), &body);
    }
    let mut actions: Vec<String> = region_api::ec2::action_names()
        .map(|a| a.to_string())
        .collect();
    actions.push("Describe".into());
    let ids = vec![
        vpc,
        subnet,
        eni,
        "vpc-0123456789abcdef0".into(),
        "sg-".into(),
    ];
    let params = proptest::collection::vec((name(), value(ids)), 0..10);
    let strategy = (proptest::sample::select(actions), params);
    runner(256)
        .run(&strategy, |(action, params)| {
            let mut s = form_urlencoded::Serializer::new(String::new());
            s.append_pair("Action", &action)
                .append_pair("Version", "2016-11-15");
            for (k, v) in &params {
                s.append_pair(k, v);
            }
            let body = s.finish();
            let a = srv.query("ec2", body.as_bytes());
            prop_assert!(a.status < 500, "{body}: {} {}", a.status, a.body);
            a.assert_well_formed(&body);
            Ok(())
        })
        .unwrap();
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        ".{0,20}".prop_map(Value::String),
        proptest::sample::select(vec![
            "ipv6",
            "ipv4",
            "1.29",
            "vpc-cni",
            "AL2_x86_64",
            "WINDOWS_CORE_2019_x86_64",
            "m5.large"
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop_oneof![
            proptest::sample::select(vec![
                "name",
                "roleArn",
                "version",
                "resourcesVpcConfig",
                "subnetIds",
                "securityGroupIds",
                "kubernetesNetworkConfig",
                "ipFamily",
                "serviceIpv4Cidr",
                "nodegroupName",
                "subnets",
                "nodeRole",
                "scalingConfig",
                "minSize",
                "maxSize",
                "desiredSize",
                "instanceTypes",
                "amiType",
                "labels",
                "taints",
                "tags",
                "addonName",
                "addonVersion",
                "configurationValues",
                "fargateProfileName",
                "podExecutionRoleArn",
                "selectors",
                "namespace",
                "logging",
                "clusterLogging",
                "types",
                "enabled",
                "launchTemplate",
                "remoteAccess",
            ])
            .prop_map(str::to_string),
            ".{0,8}",
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(keys, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn eks_path() -> impl Strategy<Value = String> {
    let seg = prop_oneof![
        proptest::sample::select(vec![
            "lab", "nope", "vpc-cni", "ng", "fp", "%00", "%2F", "..", ""
        ])
        .prop_map(str::to_string),
        "[a-zA-Z0-9_-]{1,12}",
        ".{0,12}".prop_map(|s| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()),
    ];
    let template = proptest::sample::select(vec![
        "/clusters",
        "/clusters/{a}",
        "/clusters/{a}/update-config",
        "/clusters/{a}/updates",
        "/clusters/{a}/updates/{b}",
        "/clusters/{a}/node-groups",
        "/clusters/{a}/node-groups/{b}",
        "/clusters/{a}/addons",
        "/clusters/{a}/addons/{b}",
        "/clusters/{a}/addons/{b}/update",
        "/addons/supported-versions",
        "/clusters/{a}/fargate-profiles",
        "/clusters/{a}/fargate-profiles/{b}",
        "/tags/{a}",
        "/{a}",
    ]);
    (template, seg.clone(), seg).prop_map(|(t, a, b)| t.replace("{a}", &a).replace("{b}", &b))
}

fn send_eks(srv: &Server, method: &str, target: &str, body: &[u8]) -> Answer {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    srv.send(
        method,
        path,
        query,
        body,
        Some("eks"),
        &[("Content-Type", "application/json")],
    )
}

#[test]
fn eks_corpus_and_generated_bodies_never_break_the_region() {
    let (srv, _, subnet, _) = fuzz_region();
    // A real cluster so that paths under it reach the operations.
    let create = serde_json::json!({
        "name": "lab", "roleArn": "arn:aws:iam::123456789012:role/eks",
        "resourcesVpcConfig": {"subnetIds": [subnet]},
        "kubernetesNetworkConfig": {"ipFamily": "ipv6"},
    });
    let a = send_eks(&srv, "POST", "/clusters", create.to_string().as_bytes());
    assert_eq!(a.status, 200, "{}", a.body);
    for line in corpus("eks.txt") {
        let mut parts = line.splitn(3, ' ');
        let method = parts.next().unwrap_or("GET");
        let target = parts.next().unwrap_or("/");
        let body = parts.next().unwrap_or("");
        assert_sound(&send_eks(&srv, method, target, body.as_bytes()), &line);
    }
    let strategy = (
        proptest::sample::select(vec!["GET", "POST", "DELETE"]),
        eks_path(),
        json_value(),
    );
    runner(160)
        .run(&strategy, |(method, path, body)| {
            let body = if method == "POST" {
                body.to_string()
            } else {
                String::new()
            };
            let a = send_eks(&srv, method, &path, body.as_bytes());
            let what = format!("{method} {path} {body}");
            prop_assert!(a.status < 500, "{what}: {} {}", a.status, a.body);
            a.assert_well_formed(&what);
            Ok(())
        })
        .unwrap();
}

/// Send `DescribeVpcs` with `authorization` in place of a real signature.
fn with_authorization(srv: &Server, authorization: &str) -> Answer {
    let date = sigv4::AmzDate::from_system_time(SystemTime::now()).to_string();
    srv.send(
        "POST",
        "/",
        "",
        b"Action=DescribeVpcs&Version=2016-11-15",
        None,
        &[("X-Amz-Date", &date), ("Authorization", authorization)],
    )
}

#[test]
fn sigv4_corpus_and_mutated_authorization_headers_are_refused_cleanly() {
    let srv = Server::start();
    for line in corpus("auth.txt") {
        let a = with_authorization(&srv, &line);
        assert_sound(&a, &line);
        assert!(a.status >= 400, "{line} was accepted: {}", a.body);
    }
    // A real header for this request, then mutations of it.
    let host = srv.addr.to_string();
    let date = SystemTime::now();
    let headers = vec![
        ("Host".to_string(), host),
        (
            "Content-Type".to_string(),
            "application/x-www-form-urlencoded; charset=utf-8".to_string(),
        ),
    ];
    let signed = sigv4::sign(
        &sigv4::HttpRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: b"Action=DescribeVpcs&Version=2016-11-15",
        },
        &srv.credentials,
        &sigv4::SigningParams {
            region: common::REGION,
            service: "ec2",
            time: date,
            content_sha256_header: false,
        },
    )
    .expect("sign");
    let valid = signed
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.clone())
        .expect("authorization");
    let n = valid.len();
    let mutation = prop_oneof![
        (0..n).prop_map(|i| (i, 1usize, String::new())),
        (0..n, "[ -~]{1,6}").prop_map(|(i, s)| (i, 0usize, s)),
        (0..n, 1usize..20, "[ -~]{0,6}").prop_map(|(i, k, s)| (i, k, s)),
        (
            0..n,
            proptest::sample::select(vec!["=", ",", "/", " ", ";", "Credential=", "Signature="])
        )
            .prop_map(|(i, s)| (i, 0usize, s.to_string())),
    ];
    runner(128)
        .run(&proptest::collection::vec(mutation, 1..4), |muts| {
            let mut h = valid.clone();
            for (i, cut, insert) in muts {
                let i = i.min(h.len());
                let end = (i + cut).min(h.len());
                if h.is_char_boundary(i) && h.is_char_boundary(end) {
                    h.replace_range(i..end, &insert);
                }
            }
            let a = with_authorization(&srv, &h);
            prop_assert!(a.status < 500, "{h}: {} {}", a.status, a.body);
            a.assert_well_formed(&h);
            if h != valid {
                // A changed header may still be valid only if it is equivalent: the same
                // components, whatever the spacing or empty components between commas.
                prop_assert!(
                    a.status >= 400
                        || h.replace(' ', "") == valid.replace(' ', "")
                        || components(&h) == components(&valid),
                    "{h} accepted"
                );
            }
            Ok(())
        })
        .unwrap();
}

/// The parts of an `Authorization` header between spaces and commas, empty ones dropped.
fn components(h: &str) -> Vec<&str> {
    h.split([' ', ',']).filter(|c| !c.is_empty()).collect()
}

/// ELBv2 parameter names, with `member` list and structure indices.
fn elbv2_name() -> impl Strategy<Value = String> {
    let plain = proptest::sample::select(vec![
        "Name",
        "Type",
        "Scheme",
        "IpAddressType",
        "Protocol",
        "Port",
        "VpcId",
        "TargetType",
        "LoadBalancerArn",
        "TargetGroupArn",
        "ListenerArn",
        "Marker",
        "PageSize",
        "HealthCheckProtocol",
        "HealthCheckPort",
        "HealthCheckPath",
        "HealthCheckIntervalSeconds",
        "HealthCheckTimeoutSeconds",
        "HealthyThresholdCount",
        "Matcher.HttpCode",
        "Version",
    ])
    .prop_map(str::to_string);
    let structured = (
        proptest::sample::select(vec![
            "Subnets.member.{i}",
            "SecurityGroups.member.{i}",
            "Names.member.{i}",
            "LoadBalancerArns.member.{i}",
            "ResourceArns.member.{i}",
            "TagKeys.member.{i}",
            "Tags.member.{i}.Key",
            "Tags.member.{i}.Value",
            "Targets.member.{i}.Id",
            "Targets.member.{i}.Port",
            "DefaultActions.member.{i}.Type",
            "DefaultActions.member.{i}.TargetGroupArn",
            "Certificates.member.{i}.CertificateArn",
        ]),
        0u32..3,
    )
        .prop_map(|(t, i)| t.replace("{i}", &i.to_string()));
    prop_oneof![3 => plain, 3 => structured, 1 => ".{0,12}"]
}

#[test]
fn elbv2_corpus_and_generated_queries_never_break_the_region() {
    let (srv, vpc, subnet, _) = fuzz_region();
    for line in corpus("elbv2.txt") {
        let body = line.replace("{vpc}", &vpc).replace("{subnet}", &subnet);
        assert_sound(&srv.query("elasticloadbalancing", body.as_bytes()), &body);
    }
    let a = srv.query(
        "elasticloadbalancing",
        b"Action=DescribeLoadBalancers&Version=2015-12-01",
    );
    assert!(
        a.status == 200 && a.body.contains("<DescribeLoadBalancersResult>"),
        "the fuzz requests reach the ELBv2 handler: {}",
        a.body
    );
    let mut actions: Vec<String> = region_api::elbv2::ACTIONS
        .iter()
        .map(|(a, _)| a.to_string())
        .collect();
    actions.push("CreateRule".into());
    let ids = vec![
        vpc,
        subnet,
        "ip".into(),
        "ipv6".into(),
        "dualstack".into(),
        "network".into(),
        "TCP".into(),
        "forward".into(),
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/a/0".into(),
    ];
    let params = proptest::collection::vec((elbv2_name(), value(ids)), 0..10);
    let strategy = (proptest::sample::select(actions), params);
    runner(256)
        .run(&strategy, |(action, params)| {
            let mut s = form_urlencoded::Serializer::new(String::new());
            s.append_pair("Action", &action)
                .append_pair("Version", "2015-12-01");
            for (k, v) in &params {
                s.append_pair(k, v);
            }
            let body = s.finish();
            let a = srv.query("elasticloadbalancing", body.as_bytes());
            prop_assert!(a.status < 500, "{body}: {} {}", a.status, a.body);
            a.assert_well_formed(&body);
            Ok(())
        })
        .unwrap();
}
