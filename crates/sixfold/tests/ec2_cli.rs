//! End to end: the real `sixfold serve` driven by the real AWS CLI (PyPI `awscli`) over the EC2
//! Query API, as a user would build an IPv6-ready VPC.

mod common;

use std::net::Ipv6Addr;

use common::net::{InternetRoutes, egress_only_gateway, route_table, route_to_internet};
use common::query::{post_query, query_headers, signed_query_headers};
use common::{Server, s};
use serde_json::Value;

/// Everything `describe-*` says about the region, for before/after comparisons.
fn snapshot(srv: &Server) -> Vec<Value> {
    [
        vec!["ec2", "describe-vpcs"],
        vec!["ec2", "describe-subnets"],
        vec!["ec2", "describe-route-tables"],
        vec!["ec2", "describe-security-groups"],
        vec!["ec2", "describe-instances"],
        vec!["ec2", "describe-network-interfaces"],
        vec!["ec2", "describe-internet-gateways"],
        vec!["ec2", "describe-egress-only-internet-gateways"],
    ]
    .iter()
    .map(|a| srv.aws(a).json())
    .collect()
}

struct Vpc {
    vpc: String,
    v6: String,
    subnets: Vec<(String, String)>,
}

fn build_dual_stack_vpc(srv: &Server) -> Vpc {
    let v = srv
        .aws(&[
            "ec2",
            "create-vpc",
            "--cidr-block",
            "10.0.0.0/16",
            "--amazon-provided-ipv6-cidr-block",
            "--tag-specifications",
            "ResourceType=vpc,Tags=[{Key=Name,Value=lab}]",
        ])
        .json();
    let vpc = s(&v["Vpc"]["VpcId"]);
    let v6 = s(&v["Vpc"]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]);
    let block: ipnet::Ipv6Net = v6.parse().unwrap();
    assert_eq!(block.prefix_len(), 56, "Amazon-provided VPC blocks are /56");
    assert!(
        "2001:db8::/32"
            .parse::<ipnet::Ipv6Net>()
            .unwrap()
            .contains(&block),
        "{block} must come from 2001:db8::/32"
    );
    let mut subnets = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let sub64 = ipnet::Ipv6Net::new(
            Ipv6Addr::from(u128::from(block.network()) | ((i as u128 + 1) << 64)),
            64,
        )
        .unwrap();
        let out = srv
            .aws(&[
                "ec2",
                "create-subnet",
                "--vpc-id",
                &vpc,
                "--cidr-block",
                &format!("10.0.{}.0/24", i + 1),
                "--ipv6-cidr-block",
                &sub64.to_string(),
                "--availability-zone",
                az,
            ])
            .json();
        let id = s(&out["Subnet"]["SubnetId"]);
        assert_eq!(
            s(&out["Subnet"]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]),
            sub64.to_string()
        );
        assert_eq!(
            out["Subnet"]["AssignIpv6AddressOnCreation"],
            Value::Bool(false),
            "auto-assign is off by default"
        );
        srv.aws(&[
            "ec2",
            "modify-subnet-attribute",
            "--subnet-id",
            &id,
            "--assign-ipv6-address-on-creation",
        ])
        .json();
        subnets.push((id, sub64.to_string()));
    }
    Vpc { vpc, v6, subnets }
}

#[test]
fn a_dual_stack_vpc_built_with_the_aws_cli_survives_kill_9() {
    let mut srv = Server::start();
    let Vpc { vpc, v6, subnets } = build_dual_stack_vpc(&srv);

    // Gateways and routes.
    let ids: Vec<&str> = subnets.iter().map(|(id, _)| id.as_str()).collect();
    let InternetRoutes { igw, eigw, rtb } = route_to_internet(&srv, &vpc, &ids);
    let rt = srv
        .aws(&["ec2", "describe-route-tables", "--route-table-ids", &rtb])
        .json();
    let routes = &rt["RouteTables"][0]["Routes"];
    assert!(
        routes
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["DestinationIpv6CidrBlock"] == "::/0"
                && r["EgressOnlyInternetGatewayId"] == eigw.as_str()),
        "{routes}"
    );
    assert!(
        routes
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["DestinationCidrBlock"] == "0.0.0.0/0" && r["GatewayId"] == igw.as_str()),
        "{routes}"
    );
    assert!(
        routes
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["DestinationIpv6CidrBlock"] == v6.as_str() && r["GatewayId"] == "local"),
        "{routes}"
    );
    assert_eq!(
        rt["RouteTables"][0]["Associations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A security group with IPv6 rules.
    let sg = s(&srv
        .aws(&[
            "ec2",
            "create-security-group",
            "--group-name",
            "nodes",
            "--description",
            "cluster nodes",
            "--vpc-id",
            &vpc,
        ])
        .json()["GroupId"]);
    let rules = srv
        .aws(&[
            "ec2",
            "authorize-security-group-ingress",
            "--group-id",
            &sg,
            "--ip-permissions",
            "IpProtocol=-1,Ipv6Ranges=[{CidrIpv6=::/0}]",
            "IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=10.0.0.0/16}]",
        ])
        .json();
    assert_eq!(rules["SecurityGroupRules"].as_array().unwrap().len(), 2);
    // In a VPC with IPv6 a new group already allows all IPv6 out (`::/0`), as EC2 does: adding
    // it again is a duplicate.
    srv.aws(&[
        "ec2",
        "authorize-security-group-egress",
        "--group-id",
        &sg,
        "--ip-permissions",
        "IpProtocol=-1,Ipv6Ranges=[{CidrIpv6=::/0}]",
    ])
    .fails_with("InvalidPermission.Duplicate", "::/0");
    let g = srv
        .aws(&["ec2", "describe-security-groups", "--group-ids", &sg])
        .json();
    let egress = &g["SecurityGroups"][0]["IpPermissionsEgress"];
    assert!(
        egress
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["IpProtocol"] == "-1" && p["Ipv6Ranges"][0]["CidrIpv6"] == "::/0"),
        "a new group in an IPv6 VPC allows all IPv6 egress: {egress}"
    );
    assert_eq!(
        g["SecurityGroups"][0]["SecurityGroupArn"],
        format!("arn:aws:ec2:us-east-1:123456789012:security-group/{sg}").as_str()
    );
    let ingress = &g["SecurityGroups"][0]["IpPermissions"];
    assert!(
        ingress
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["Ipv6Ranges"][0]["CidrIpv6"] == "::/0"),
        "{ingress}"
    );

    // An instance: its primary ENI is dual-stack.
    let run = srv
        .aws(&[
            "ec2",
            "run-instances",
            "--image-id",
            "ami-0123456789abcdef0",
            "--instance-type",
            "m5.large",
            "--subnet-id",
            &subnets[0].0,
            "--security-group-ids",
            &sg,
            "--count",
            "1",
        ])
        .json();
    let inst = &run["Instances"][0];
    let iid = s(&inst["InstanceId"]);
    assert_eq!(inst["State"]["Name"], "running");
    let enis = srv
        .aws(&[
            "ec2",
            "describe-network-interfaces",
            "--filters",
            &format!("Name=attachment.instance-id,Values={iid}"),
        ])
        .json();
    let eni = &enis["NetworkInterfaces"][0];
    let eni_id = s(&eni["NetworkInterfaceId"]);
    assert_eq!(eni["Attachment"]["DeviceIndex"], 0);
    let ipv4: std::net::Ipv4Addr = s(&eni["PrivateIpAddress"]).parse().unwrap();
    assert!(
        "10.0.1.0/24"
            .parse::<ipnet::Ipv4Net>()
            .unwrap()
            .contains(&ipv4)
    );
    let ipv6: Ipv6Addr = s(&eni["Ipv6Addresses"][0]["Ipv6Address"]).parse().unwrap();
    assert!(
        subnets[0]
            .1
            .parse::<ipnet::Ipv6Net>()
            .unwrap()
            .contains(&ipv6),
        "{ipv6} not in {}",
        subnets[0].1
    );

    // Prefix delegation: one /80 on the primary ENI.
    let assigned = srv
        .aws(&[
            "ec2",
            "assign-ipv6-addresses",
            "--network-interface-id",
            &eni_id,
            "--ipv6-prefix-count",
            "1",
        ])
        .json();
    let prefix = s(&assigned["AssignedIpv6Prefixes"][0]);
    let p80: ipnet::Ipv6Net = prefix.parse().unwrap();
    assert_eq!(p80.prefix_len(), 80);
    assert!(
        subnets[0]
            .1
            .parse::<ipnet::Ipv6Net>()
            .unwrap()
            .contains(&p80)
    );
    assert!(
        !p80.contains(&ipv6),
        "the /80 must not hold the ENI's own address"
    );
    let enis = srv
        .aws(&[
            "ec2",
            "describe-network-interfaces",
            "--network-interface-ids",
            &eni_id,
        ])
        .json();
    assert_eq!(
        enis["NetworkInterfaces"][0]["Ipv6Prefixes"][0]["Ipv6Prefix"],
        prefix.as_str()
    );

    // Tags and filters.
    srv.aws(&[
        "ec2",
        "create-tags",
        "--resources",
        &iid,
        &eni_id,
        "--tags",
        "Key=role,Value=node",
    ])
    .json();
    let tagged = srv
        .aws(&[
            "ec2",
            "describe-network-interfaces",
            "--filters",
            "Name=tag:role,Values=node",
        ])
        .json();
    assert_eq!(tagged["NetworkInterfaces"].as_array().unwrap().len(), 1);
    let tags = srv
        .aws(&[
            "ec2",
            "describe-tags",
            "--filters",
            &format!("Name=resource-id,Values={iid}"),
        ])
        .json();
    assert_eq!(tags["Tags"][0]["Key"], "role");
    let by_vpc = srv
        .aws(&[
            "ec2",
            "describe-subnets",
            "--filters",
            &format!("Name=vpc-id,Values={vpc}"),
        ])
        .json();
    assert_eq!(by_vpc["Subnets"].as_array().unwrap().len(), 2);

    // kill -9, restart: everything acknowledged is still there.
    let before = snapshot(&srv);
    srv.kill9_and_restart();
    let after = snapshot(&srv);
    assert_eq!(before, after, "state changed across kill -9 and restart");

    // And the region keeps working: terminate frees the ENI.
    let term = srv
        .aws(&["ec2", "terminate-instances", "--instance-ids", &iid])
        .json();
    assert_eq!(
        term["TerminatingInstances"][0]["CurrentState"]["Name"],
        "terminated"
    );
    let enis = srv
        .aws(&[
            "ec2",
            "describe-network-interfaces",
            "--filters",
            &format!("Name=attachment.instance-id,Values={iid}"),
        ])
        .json();
    assert!(enis["NetworkInterfaces"].as_array().unwrap().is_empty());
}

#[test]
fn bad_input_gets_the_ec2_error_and_changes_nothing() {
    let srv = Server::start();
    let Vpc { vpc, v6, subnets } = build_dual_stack_vpc(&srv);
    let xen = srv
        .aws(&[
            "ec2",
            "run-instances",
            "--image-id",
            "ami-0123456789abcdef0",
            "--instance-type",
            "m4.large",
            "--subnet-id",
            &subnets[1].0,
            "--count",
            "1",
        ])
        .json();
    let xen_iid = s(&xen["Instances"][0]["InstanceId"]);
    let xen_eni = s(&srv
        .aws(&[
            "ec2",
            "describe-network-interfaces",
            "--filters",
            &format!("Name=attachment.instance-id,Values={xen_iid}"),
        ])
        .json()["NetworkInterfaces"][0]["NetworkInterfaceId"]);
    let eigw = egress_only_gateway(&srv, &vpc);
    let rtb = route_table(&srv, &vpc);
    let block: ipnet::Ipv6Net = v6.parse().unwrap();
    let outside = ipnet::Ipv6Net::new(
        Ipv6Addr::from(u128::from(block.network()) ^ (1u128 << 80)),
        64,
    )
    .unwrap()
    .to_string();

    let before = snapshot(&srv);
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec!["ec2", "create-vpc", "--cidr-block", "10.0.0.1/16"],
            "InvalidParameterValue",
            "10.0.0.0/16",
        ),
        (
            vec!["ec2", "create-vpc", "--cidr-block", "10.0.0.0/8"],
            "InvalidVpc.Range",
            "/16 and /28",
        ),
        (
            vec!["ec2", "create-vpc", "--cidr-block", "banana"],
            "InvalidParameterValue",
            "banana",
        ),
        (
            vec![
                "ec2",
                "create-subnet",
                "--vpc-id",
                &vpc,
                "--cidr-block",
                "10.1.0.0/24",
            ],
            "InvalidSubnet.Range",
            "not inside VPC",
        ),
        (
            vec![
                "ec2",
                "create-subnet",
                "--vpc-id",
                &vpc,
                "--cidr-block",
                "10.0.1.128/25",
            ],
            "InvalidSubnet.Conflict",
            &subnets[0].0,
        ),
        (
            vec![
                "ec2",
                "create-subnet",
                "--vpc-id",
                &vpc,
                "--cidr-block",
                "10.0.9.0/24",
                "--ipv6-cidr-block",
                &outside,
            ],
            "InvalidSubnet.Range",
            &v6,
        ),
        (
            vec![
                "ec2",
                "create-subnet",
                "--vpc-id",
                &vpc,
                "--cidr-block",
                "10.0.9.0/24",
                "--ipv6-cidr-block",
                &subnets[0].1,
            ],
            "InvalidSubnet.Conflict",
            &subnets[0].0,
        ),
        (
            vec![
                "ec2",
                "create-subnet",
                "--vpc-id",
                "vpc-0000000000000000f",
                "--cidr-block",
                "10.0.9.0/24",
            ],
            "InvalidVpcID.NotFound",
            "vpc-0000000000000000f",
        ),
        (
            vec!["ec2", "describe-vpcs", "--vpc-ids", "vpc-nothex"],
            "InvalidVpcID.Malformed",
            "vpc-nothex",
        ),
        (
            vec![
                "ec2",
                "describe-vpcs",
                "--filters",
                "Name=colour,Values=red",
            ],
            "InvalidParameterValue",
            "colour",
        ),
        (
            vec![
                "ec2",
                "assign-ipv6-addresses",
                "--network-interface-id",
                &xen_eni,
                "--ipv6-prefix-count",
                "1",
            ],
            "UnsupportedOperation",
            "Nitro",
        ),
        (
            vec![
                "ec2",
                "create-route",
                "--route-table-id",
                &rtb,
                "--destination-cidr-block",
                "0.0.0.0/0",
                "--egress-only-internet-gateway-id",
                &eigw,
            ],
            "InvalidParameterValue",
            "IPv6 only",
        ),
        (
            vec![
                "ec2",
                "create-route",
                "--route-table-id",
                &rtb,
                "--destination-ipv6-cidr-block",
                &v6,
                "--egress-only-internet-gateway-id",
                &eigw,
            ],
            "RouteAlreadyExists",
            &v6,
        ),
        (
            vec![
                "ec2",
                "run-instances",
                "--image-id",
                "ami-0123456789abcdef0",
                "--instance-type",
                "z9.huge",
                "--subnet-id",
                &subnets[0].0,
                "--count",
                "1",
            ],
            "InvalidParameterValue",
            "z9.huge",
        ),
        (
            vec![
                "ec2",
                "terminate-instances",
                "--instance-ids",
                "i-0000000000000000f",
            ],
            "InvalidInstanceID.NotFound",
            "i-0000000000000000f",
        ),
        (
            vec!["ec2", "delete-vpc", "--vpc-id", &vpc],
            "DependencyViolation",
            &subnets[0].0,
        ),
    ];
    for (args, code, needle) in &cases {
        srv.aws(args).fails_with(code, needle);
    }
    // The attribute must not be turned on for a subnet without IPv6.
    let v4only = s(&srv
        .aws(&[
            "ec2",
            "create-subnet",
            "--vpc-id",
            &vpc,
            "--cidr-block",
            "10.0.50.0/24",
        ])
        .json()["Subnet"]["SubnetId"]);
    srv.aws(&[
        "ec2",
        "modify-subnet-attribute",
        "--subnet-id",
        &v4only,
        "--assign-ipv6-address-on-creation",
    ])
    .fails_with("InvalidParameterValue", "no IPv6 CIDR block");
    srv.aws(&["ec2", "delete-subnet", "--subnet-id", &v4only])
        .json();
    assert_eq!(
        before,
        snapshot(&srv),
        "a rejected request changed the region"
    );
}

fn raw_post(
    srv: &Server,
    body: &str,
    creds: Option<(&sigv4::Credentials, &str, std::time::SystemTime)>,
) -> (u16, String) {
    let headers = match creds {
        Some((c, region, time)) => {
            signed_query_headers(&srv.endpoint, body, c, "ec2", region, time)
        }
        None => query_headers(&srv.endpoint),
    };
    post_query(&srv.endpoint, &headers, body)
}

fn error_code(xml: &str) -> String {
    let a = xml.find("<Code>").map(|i| i + 6).unwrap_or(0);
    let b = xml.find("</Code>").unwrap_or(a);
    xml[a..b].to_string()
}

#[test]
fn every_request_must_be_signed_for_this_region_and_now() {
    let srv = Server::start();
    let creds = srv.credentials();
    let body = "Action=DescribeVpcs&Version=2016-11-15";
    let now = std::time::SystemTime::now();

    let (status, xml) = raw_post(&srv, body, Some((&creds, "us-east-1", now)));
    assert_eq!(status, 200, "{xml}");
    assert!(xml.contains("<DescribeVpcsResponse"), "{xml}");

    let (status, xml) = raw_post(&srv, body, None);
    assert_eq!(
        (status, error_code(&xml).as_str()),
        (401, "MissingAuthenticationToken"),
        "{xml}"
    );

    let wrong = sigv4::Credentials::new(
        creds.access_key_id.clone(),
        "not-the-secret-at-all-not-the-secret-xx",
    );
    let (status, xml) = raw_post(&srv, body, Some((&wrong, "us-east-1", now)));
    assert_eq!(
        (status, error_code(&xml).as_str()),
        (403, "SignatureDoesNotMatch"),
        "{xml}"
    );

    let stranger = sigv4::Credentials::new("AKIAAAAAAAAAAAAAAAAA", "x");
    let (_, xml) = raw_post(&srv, body, Some((&stranger, "us-east-1", now)));
    assert_eq!(error_code(&xml), "AuthFailure", "{xml}");

    let stale = now - std::time::Duration::from_secs(900);
    let (_, xml) = raw_post(&srv, body, Some((&creds, "us-east-1", stale)));
    assert_eq!(error_code(&xml), "RequestExpired", "{xml}");

    // The real CLI signing for another region is refused, naming both regions.
    srv.aws_region("eu-west-1", &["ec2", "describe-vpcs"])
        .fails_with("AuthFailure", "us-east-1");

    // Unknown actions, wrong versions, oversized bodies: EC2 errors, never a 5xx.
    let (status, xml) = raw_post(
        &srv,
        "Action=LaunchRockets&Version=2016-11-15",
        Some((&creds, "us-east-1", now)),
    );
    assert_eq!(
        (status, error_code(&xml).as_str()),
        (400, "InvalidAction"),
        "{xml}"
    );
    assert!(xml.contains("LaunchRockets"));
    let (status, xml) = raw_post(
        &srv,
        "Action=DescribeVpcs&Version=2011-01-01",
        Some((&creds, "us-east-1", now)),
    );
    assert_eq!(
        (status, error_code(&xml).as_str()),
        (400, "InvalidParameterValue"),
        "{xml}"
    );
    let big = format!(
        "Action=CreateTags&Version=2016-11-15&Tag.1.Key=k&Tag.1.Value={}",
        "v".repeat(2 << 20)
    );
    let (status, _) = raw_post(&srv, &big, Some((&creds, "us-east-1", now)));
    assert_eq!(status, 413);
    let (status, xml) = raw_post(&srv, "%%%=&&&Action", Some((&creds, "us-east-1", now)));
    assert_eq!(
        (status, error_code(&xml).as_str()),
        (400, "MissingAction"),
        "{xml}"
    );
}

#[test]
fn the_agent_client_reads_the_delegated_prefix() {
    // The node agent's own EC2 client (crates/ec2-client), unchanged, against the region.
    let srv = Server::start();
    let Vpc { subnets, .. } = build_dual_stack_vpc(&srv);
    let run = srv
        .aws(&[
            "ec2",
            "run-instances",
            "--image-id",
            "ami-0123456789abcdef0",
            "--instance-type",
            "c5.large",
            "--subnet-id",
            &subnets[0].0,
            "--count",
            "1",
        ])
        .json();
    let iid = s(&run["Instances"][0]["InstanceId"]);
    let client =
        ec2_client::Ec2Client::new("us-east-1", Some(&srv.endpoint), srv.credentials()).unwrap();
    let enis = client
        .describe_network_interfaces(&[ec2_client::Filter::attachment_instance_id(&iid)])
        .unwrap();
    assert_eq!(enis.len(), 1);
    assert!(enis[0].ipv6_prefixes.is_empty());
    let got = client
        .assign_ipv6_prefix(&enis[0].network_interface_id, 1)
        .unwrap();
    assert_eq!(got.prefixes.len(), 1);
    let enis = client
        .describe_network_interfaces(&[ec2_client::Filter::attachment_instance_id(&iid)])
        .unwrap();
    assert_eq!(enis[0].ipv6_prefixes, got.prefixes);
    let insts = client.describe_instances(&[&iid]).unwrap();
    assert_eq!(insts[0].network_interfaces[0].ipv6_prefixes, got.prefixes);
}

/// The target of `dest` in `rtb`, as `describe-route-tables` answers it.
fn route_target_of(srv: &Server, rtb: &str, key: &str, dest: &str) -> Value {
    let d = srv
        .aws(&["ec2", "describe-route-tables", "--route-table-ids", rtb])
        .json();
    let routes = d["RouteTables"][0]["Routes"].as_array().unwrap().clone();
    routes
        .into_iter()
        .find(|r| r[key] == dest)
        .unwrap_or_else(|| panic!("no route to {dest} in {d}"))
}

#[test]
fn replace_route_moves_a_route_to_another_gateway_and_refuses_what_it_cannot_replace() {
    let srv = Server::start();
    let v = build_dual_stack_vpc(&srv);
    let InternetRoutes { igw, eigw, rtb } = route_to_internet(&srv, &v.vpc, &[&v.subnets[0].0]);
    let six = "DestinationIpv6CidrBlock";
    // `aws ec2 replace-route` of `dest` (IPv4 when it has a dot) in the table to `target`
    // (`--gateway-id ID` or `--egress-only-internet-gateway-id ID`; none to leave it out).
    let replace = |dest: &str, target: &[&str]| {
        let flag = if dest.contains('.') {
            "--destination-cidr-block"
        } else {
            "--destination-ipv6-cidr-block"
        };
        let mut args = vec!["ec2", "replace-route", "--route-table-id", &rtb, flag, dest];
        args.extend_from_slice(target);
        srv.aws(&args)
    };

    // ::/0 moves from the egress-only gateway to the internet gateway (what makes a subnet's
    // pods reachable from the internet) and back, in one call each.
    replace("::/0", &["--gateway-id", &igw]).json();
    let r = route_target_of(&srv, &rtb, six, "::/0");
    assert_eq!(r["GatewayId"], igw.as_str(), "{r}");
    assert!(r.get("EgressOnlyInternetGatewayId").is_none(), "{r}");
    replace("::/0", &["--egress-only-internet-gateway-id", &eigw]).json();
    let r = route_target_of(&srv, &rtb, six, "::/0");
    assert_eq!(r["EgressOnlyInternetGatewayId"], eigw.as_str(), "{r}");

    // What cannot be replaced is refused with AWS's code, naming the value, and changes nothing.
    let before = snapshot(&srv);
    replace("2001:db8:ffff::/48", &["--gateway-id", &igw])
        .fails_with("InvalidRoute.NotFound", "2001:db8:ffff::/48");
    replace(&v.v6, &["--gateway-id", &igw]).fails_with("InvalidRoute.NotFound", &v.v6);
    replace("0.0.0.0/0", &["--egress-only-internet-gateway-id", &eigw])
        .fails_with("InvalidParameterValue", "IPv6 only");
    replace("::/0", &[]).fails_with("MissingParameter", "GatewayId");
    assert_eq!(
        before,
        snapshot(&srv),
        "a refused replace-route changed the region"
    );
}
