//! End to end: the real `sixfold serve` driven by the real AWS CLI over the EKS API (and IAM for
//! the CNI role), plus `sixfold preflight` / `sixfold bootstrap` as clients. Every rule of the
//! IPv6 design is exercised both ways: accepted when right, rejected with the right error type
//! and a message naming the value, the rule id and the fix.

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime};

use common::{Cli, Server, s};
use serde_json::{Value, json};

use common::net::{
    EKS_ROLE as ROLE, NODE_ROLE, attached_internet_gateway, dual_stack_vpc, nth64, subnet,
};

/// A dual-stack VPC with one dual-stack subnet and one IPv4-only subnet.
struct Net {
    vpc: String,
    dual: String,
    v4only: String,
}

fn network(srv: &Server) -> Net {
    let (vpc, block) = dual_stack_vpc(srv);
    let dual = subnet(srv, &vpc, "10.0.1.0/24", Some(&nth64(block, 0)));
    let v4only = subnet(srv, &vpc, "10.0.2.0/24", None);
    Net { vpc, dual, v4only }
}

fn create_cluster(srv: &Server, name: &str, subnet: &str, extra: &[&str]) -> Cli {
    let vpc = format!("subnetIds={subnet}");
    let mut a = vec![
        "eks",
        "create-cluster",
        "--name",
        name,
        "--role-arn",
        ROLE,
        "--resources-vpc-config",
        &vpc,
    ];
    a.extend_from_slice(extra);
    srv.aws(&a)
}

/// A signed raw EKS request (for what the CLI's own validation would never send).
fn raw(srv: &Server, method: &str, path: &str, body: &str, sign: bool) -> (u16, String, Value) {
    let host = srv.endpoint.trim_start_matches("http://").to_string();
    let headers = vec![
        ("host".to_string(), host),
        ("content-type".to_string(), "application/json".to_string()),
    ];
    let (bare, query) = path.split_once('?').unwrap_or((path, ""));
    let req = sigv4::HttpRequest {
        method,
        path: bare,
        query,
        headers: &headers,
        body: body.as_bytes(),
    };
    let params = sigv4::SigningParams {
        region: "us-east-1",
        service: "eks",
        time: SystemTime::now(),
        content_sha256_header: false,
    };
    let mut r = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build()
        .request(method, &format!("{}{path}", srv.endpoint));
    r = r.set("content-type", "application/json");
    if sign {
        for (k, v) in sigv4::sign(&req, &srv.credentials(), &params).unwrap() {
            r = r.set(&k, &v);
        }
    }
    let resp = match r.send_string(body) {
        Ok(x) => x,
        Err(ureq::Error::Status(_, x)) => x,
        Err(e) => panic!("transport: {e}"),
    };
    let status = resp.status();
    let ty = resp.header("x-amzn-ErrorType").unwrap_or("").to_string();
    let v = serde_json::from_str(&resp.into_string().unwrap()).unwrap_or(Value::Null);
    (status, ty, v)
}

#[test]
fn seed_command_prints_the_generated_108_and_state_survives_kill_9() {
    let mut srv = Server::start();
    let net = network(&srv);
    let c = create_cluster(
        &srv,
        "my-cluster",
        &net.dual,
        &["--kubernetes-network-config", "ipFamily=ipv6"],
    )
    .json();
    assert_eq!(c["cluster"]["status"], "CREATING");
    assert_eq!(
        c["cluster"]["arn"],
        "arn:aws:eks:us-east-1:123456789012:cluster/my-cluster"
    );
    srv.aws(&["eks", "wait", "cluster-active", "--name", "my-cluster"])
        .json();
    let out = srv.aws(&[
        "eks",
        "describe-cluster",
        "--name",
        "my-cluster",
        "--query",
        "cluster.kubernetesNetworkConfig.serviceIpv6Cidr",
        "--output",
        "text",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let cidr = out.stdout.trim().to_string();
    let net108: ipnet::Ipv6Net = cidr
        .parse()
        .unwrap_or_else(|_| panic!("not a CIDR: {cidr:?}"));
    assert_eq!(net108.prefix_len(), 108);
    assert!(cidr.starts_with("fd"), "{cidr}");

    // update-kubeconfig writes the cluster's endpoint and CA.
    let kube = srv.data_dir.join("kubeconfig");
    let kc = srv.aws(&[
        "eks",
        "update-kubeconfig",
        "--name",
        "my-cluster",
        "--kubeconfig",
        kube.to_str().unwrap(),
    ]);
    assert_eq!(kc.code, 0, "{}", kc.stderr);
    let text = std::fs::read_to_string(&kube).unwrap();
    assert!(
        text.contains("arn:aws:eks:us-east-1:123456789012:cluster/my-cluster"),
        "{text}"
    );
    assert!(text.contains("certificate-authority-data"), "{text}");

    // bootstrap reads the CIDR from the region: cluster DNS is <prefix>::a.
    let b = srv.sixfold(&[
        "bootstrap",
        "my-cluster",
        "--ip-family",
        "ipv6",
        "--instance-type",
        "m5.large",
        "--node-ip",
        "2001:db8::10",
        "--output",
        "json",
    ]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    let b: Value = serde_json::from_str(&b.stdout).unwrap();
    assert_eq!(b["serviceCidr"], cidr.as_str());
    assert_eq!(
        b["clusterDns"],
        format!("{}a", cidr.trim_end_matches("/108"))
    );
    assert_eq!(b["maxPods"], 110);
    let b = srv.sixfold(&[
        "bootstrap",
        "--service-ipv6-cidr",
        "fd12:3456:789a::/108",
        "--instance-type",
        "m5.8xlarge",
        "--node-ip",
        "2001:db8::10",
    ]);
    assert!(
        b.stdout.contains("cluster-dns: fd12:3456:789a::a") && b.stdout.contains("max-pods: 250"),
        "{}",
        b.stdout
    );
    let b = srv.sixfold(&[
        "bootstrap",
        "--ip-family",
        "ipv4",
        "--service-ipv6-cidr",
        "fd12:3456:789a::/108",
        "--max-pods",
        "5",
    ]);
    assert_ne!(b.code, 0);
    assert!(
        b.stderr.contains("SIX-BOOTSTRAP-FAMILY-CONFLICT"),
        "{}",
        b.stderr
    );

    srv.kill9_and_restart();
    let again = srv
        .aws(&["eks", "describe-cluster", "--name", "my-cluster"])
        .json();
    assert_eq!(
        again["cluster"]["kubernetesNetworkConfig"]["serviceIpv6Cidr"],
        cidr.as_str()
    );
    assert_eq!(again["cluster"]["status"], "ACTIVE");

    let d = srv
        .aws(&["eks", "delete-cluster", "--name", "my-cluster"])
        .json();
    assert_eq!(d["cluster"]["status"], "DELETING");
    srv.aws(&["eks", "wait", "cluster-deleted", "--name", "my-cluster"])
        .json();
    srv.aws(&["eks", "describe-cluster", "--name", "my-cluster"])
        .fails_with("ResourceNotFoundException", "my-cluster");
}

#[test]
fn cluster_rules_both_ways() {
    let srv = Server::start();
    let net = network(&srv);
    let v6 = ["--kubernetes-network-config", "ipFamily=ipv6"];
    let mut old = v6.to_vec();
    old.extend(["--kubernetes-version", "1.20"]);
    create_cluster(&srv, "a", &net.dual, &old)
        .fails_with("InvalidParameterException", "SIX-IPV6-K8S-VERSION");
    create_cluster(
        &srv,
        "a",
        &net.dual,
        &[
            "--kubernetes-network-config",
            "ipFamily=ipv6,serviceIpv4Cidr=10.100.0.0/16",
        ],
    )
    .fails_with("InvalidParameterException", "SIX-NO-DUAL-STACK");
    create_cluster(&srv, "a", &net.v4only, &v6).fails_with(
        "InvalidParameterException",
        &format!("[SIX-SUBNET-DUAL-STACK] Subnet {}", net.v4only),
    );
    let mut outpost = v6.to_vec();
    outpost.extend(["--outpost-config", "outpostArns=arn:aws:outposts:us-east-1:123456789012:outpost/op-1,controlPlaneInstanceType=m5.large"]);
    create_cluster(&srv, "a", &net.dual, &outpost)
        .fails_with("InvalidParameterException", "SIX-NO-OUTPOSTS");
    let v4 = |c: &str| format!("ipFamily=ipv4,serviceIpv4Cidr={c}");
    create_cluster(
        &srv,
        "a",
        &net.v4only,
        &["--kubernetes-network-config", &v4("8.8.0.0/16")],
    )
    .fails_with("InvalidParameterException", "SIX-IPV4-SVC-CIDR-PRIVATE");
    create_cluster(
        &srv,
        "a",
        &net.v4only,
        &["--kubernetes-network-config", &v4("10.100.0.0/25")],
    )
    .fails_with("InvalidParameterException", "SIX-IPV4-SVC-CIDR-LENGTH");
    create_cluster(
        &srv,
        "a",
        &net.v4only,
        &["--kubernetes-network-config", &v4("10.0.0.0/16")],
    )
    .fails_with("InvalidParameterException", "SIX-IPV4-SVC-CIDR-OVERLAP");
    assert_eq!(
        srv.aws(&["eks", "list-clusters"]).json()["clusters"],
        json!([]),
        "rejected creates change nothing"
    );

    // Accepted: ipv6 on 1.21, an ipv4 cluster with the default and with a chosen CIDR.
    let mut ok = v6.to_vec();
    ok.extend(["--kubernetes-version", "1.21"]);
    assert_eq!(
        create_cluster(&srv, "six", &net.dual, &ok).json()["cluster"]["kubernetesNetworkConfig"]["ipFamily"],
        "ipv6"
    );
    let four = create_cluster(&srv, "four", &net.v4only, &[]).json();
    assert_eq!(
        four["cluster"]["kubernetesNetworkConfig"]["serviceIpv4Cidr"],
        "172.20.0.0/16"
    );
    let chosen = create_cluster(
        &srv,
        "four-b",
        &net.v4only,
        &["--kubernetes-network-config", &v4("192.168.0.0/16")],
    )
    .json();
    assert_eq!(
        chosen["cluster"]["kubernetesNetworkConfig"]["serviceIpv4Cidr"],
        "192.168.0.0/16"
    );
    create_cluster(&srv, "six", &net.dual, &ok).fails_with("ResourceInUseException", "six");

    // The family never changes.
    srv.aws(&[
        "eks",
        "update-cluster-config",
        "--name",
        "four",
        "--kubernetes-network-config",
        "ipFamily=ipv6",
    ])
    .fails_with("InvalidParameterException", "SIX-IPFAMILY-IMMUTABLE");
    srv.aws(&[
        "eks",
        "update-cluster-config",
        "--name",
        "six",
        "--kubernetes-network-config",
        "ipFamily=ipv4",
    ])
    .fails_with("InvalidParameterException", "SIX-IPFAMILY-IMMUTABLE");
    let u = srv
        .aws(&[
            "eks",
            "update-cluster-config",
            "--name",
            "six",
            "--logging",
            r#"{"clusterLogging":[{"types":["api"],"enabled":true}]}"#,
        ])
        .json();
    assert_eq!(u["update"]["type"], "LoggingUpdate");
    let id = s(&u["update"]["id"]);
    assert_eq!(
        srv.aws(&[
            "eks",
            "describe-update",
            "--name",
            "six",
            "--update-id",
            &id
        ])
        .json()["update"]["status"],
        "Successful"
    );
    assert_eq!(
        srv.aws(&["eks", "list-updates", "--name", "six"]).json()["updateIds"],
        json!([id])
    );
    assert_eq!(
        srv.aws(&["eks", "describe-cluster", "--name", "six"])
            .json()["cluster"]["kubernetesNetworkConfig"]["ipFamily"],
        "ipv6"
    );
}

#[test]
fn nodegroup_rules_both_ways() {
    let srv = Server::start();
    let net = network(&srv);
    create_cluster(
        &srv,
        "c",
        &net.dual,
        &["--kubernetes-network-config", "ipFamily=ipv6"],
    )
    .json();
    let ng = |name: &str, extra: &[&str]| {
        let mut a = vec![
            "eks",
            "create-nodegroup",
            "--cluster-name",
            "c",
            "--nodegroup-name",
            name,
            "--node-role",
            NODE_ROLE,
            "--subnets",
            &net.dual,
        ];
        a.extend_from_slice(extra);
        srv.aws(&a)
    };
    ng("ng", &[]).fails_with(
        "InvalidParameterException",
        &format!("[SIX-NODE-SUBNET-AUTO-IPV6] Node subnet {}", net.dual),
    );
    srv.aws(&[
        "ec2",
        "modify-subnet-attribute",
        "--subnet-id",
        &net.dual,
        "--assign-ipv6-address-on-creation",
    ]);
    ng("ng", &["--ami-type", "WINDOWS_CORE_2022_x86_64"]).fails_with(
        "InvalidParameterException",
        "[SIX-NO-WINDOWS] amiType WINDOWS_CORE_2022_x86_64",
    );
    ng("ng", &["--instance-types", "m4.large"]).fails_with(
        "InvalidParameterException",
        "[SIX-NITRO-ONLY] Instance type m4.large",
    );
    // A launch template that turns on the metadata service's IPv6 endpoint is refused.
    let lt = srv
        .aws(&[
            "ec2",
            "create-launch-template",
            "--launch-template-name",
            "imds6",
            "--launch-template-data",
            "MetadataOptions={HttpProtocolIpv6=enabled}",
        ])
        .json();
    let lt_id = s(&lt["LaunchTemplate"]["LaunchTemplateId"]);
    ng("ng", &["--launch-template", &format!("id={lt_id}")])
        .fails_with("InvalidParameterException", "SIX-NO-IMDS-IPV6");
    let lt4 = srv
        .aws(&[
            "ec2",
            "create-launch-template",
            "--launch-template-name",
            "imds4",
            "--launch-template-data",
            "MetadataOptions={HttpProtocolIpv6=disabled}",
        ])
        .json();
    assert_eq!(lt4["LaunchTemplate"]["LaunchTemplateName"], "imds4");
    let mut v4sub = vec![
        "eks",
        "create-nodegroup",
        "--cluster-name",
        "c",
        "--nodegroup-name",
        "x",
        "--node-role",
        NODE_ROLE,
        "--subnets",
        &net.v4only,
    ];
    v4sub.push("--ami-type");
    v4sub.push("AL2023_x86_64_STANDARD");
    srv.aws(&v4sub)
        .fails_with("InvalidParameterException", "SIX-SUBNET-DUAL-STACK");
    assert_eq!(
        srv.aws(&["ec2", "describe-instances"]).json()["Reservations"],
        json!([]),
        "nothing launched"
    );

    let g = ng(
        "ng",
        &[
            "--instance-types",
            "c5.metal",
            "--scaling-config",
            "minSize=1,maxSize=3,desiredSize=2",
        ],
    )
    .json();
    assert_eq!(g["nodegroup"]["status"], "CREATING");
    srv.aws(&[
        "eks",
        "wait",
        "nodegroup-active",
        "--cluster-name",
        "c",
        "--nodegroup-name",
        "ng",
    ])
    .json();
    let r = srv
        .aws(&[
            "ec2",
            "describe-instances",
            "--filters",
            "Name=tag:eks:nodegroup-name,Values=ng",
        ])
        .json();
    let insts: Vec<Value> = r["Reservations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|x| x["Instances"].as_array().unwrap().clone())
        .collect();
    assert_eq!(insts.len(), 2);
    for i in &insts {
        assert!(
            i["Ipv6Address"].is_string()
                || i["NetworkInterfaces"][0]["Ipv6Addresses"][0]["Ipv6Address"].is_string(),
            "dual-stack node: {i}"
        );
        assert_eq!(i["InstanceType"], "c5.metal");
    }
    assert_eq!(
        srv.aws(&["eks", "list-nodegroups", "--cluster-name", "c"])
            .json()["nodegroups"],
        json!(["ng"])
    );
    srv.aws(&["eks", "delete-cluster", "--name", "c"])
        .fails_with("ResourceInUseException", "node groups ng");
    assert_eq!(
        srv.aws(&[
            "eks",
            "delete-nodegroup",
            "--cluster-name",
            "c",
            "--nodegroup-name",
            "ng"
        ])
        .json()["nodegroup"]["status"],
        "DELETING"
    );
    srv.aws(&[
        "eks",
        "wait",
        "nodegroup-deleted",
        "--cluster-name",
        "c",
        "--nodegroup-name",
        "ng",
    ])
    .json();
    let r = srv
        .aws(&[
            "ec2",
            "describe-instances",
            "--filters",
            "Name=tag:eks:nodegroup-name,Values=ng",
        ])
        .json();
    for res in r["Reservations"].as_array().unwrap() {
        for i in res["Instances"].as_array().unwrap() {
            assert_eq!(i["State"]["Name"], "terminated");
        }
    }
}

#[test]
fn addon_rules_both_ways() {
    let srv = Server::start();
    let net = network(&srv);
    srv.aws(&[
        "ec2",
        "modify-subnet-attribute",
        "--subnet-id",
        &net.dual,
        "--assign-ipv6-address-on-creation",
    ]);
    create_cluster(
        &srv,
        "c",
        &net.dual,
        &["--kubernetes-network-config", "ipFamily=ipv6"],
    )
    .json();
    let addon = |extra: &[&str]| {
        let mut a = vec![
            "eks",
            "create-addon",
            "--cluster-name",
            "c",
            "--addon-name",
            "vpc-cni",
        ];
        a.extend_from_slice(extra);
        srv.aws(&a)
    };
    addon(&["--addon-version", "v1.9.3-eksbuild.1"]).fails_with(
        "InvalidParameterException",
        "[SIX-CNI-MIN-VERSION] vpc-cni v1.9.3-eksbuild.1",
    );
    addon(&[
        "--configuration-values",
        r#"{"env":{"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG":"true"}}"#,
    ])
    .fails_with("InvalidParameterException", "SIX-NO-CUSTOM-NETWORKING");
    addon(&[
        "--configuration-values",
        r#"{"env":{"ENABLE_PREFIX_DELEGATION":"false"}}"#,
    ])
    .fails_with("InvalidParameterException", "SIX-PREFIX-DELEGATION");
    let cni_role = "arn:aws:iam::123456789012:role/cni";
    addon(&["--service-account-role-arn", cni_role])
        .fails_with("InvalidParameterException", "SIX-CNI-IPV6-POLICY");
    srv.aws(&[
        "iam",
        "create-role",
        "--role-name",
        "cni",
        "--assume-role-policy-document",
        "{}",
    ])
    .json();
    let partial = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:Describe*","ec2:CreateTags"],"Resource":"*"}]}"#;
    srv.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "cni",
        "--policy-name",
        "p",
        "--policy-document",
        partial,
    ]);
    addon(&["--service-account-role-arn", cni_role])
        .fails_with("InvalidParameterException", "lacks ec2:AssignIpv6Addresses");
    let full = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:AssignIpv6Addresses","ec2:DescribeInstances","ec2:DescribeTags","ec2:DescribeNetworkInterfaces","ec2:DescribeInstanceTypes"],"Resource":"*"},{"Effect":"Allow","Action":"ec2:CreateTags","Resource":"arn:aws:ec2:*:*:network-interface/*"}]}"#;
    srv.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "cni",
        "--policy-name",
        "p",
        "--policy-document",
        full,
    ]);
    let a = addon(&[
        "--addon-version",
        "v1.10.1-eksbuild.1",
        "--service-account-role-arn",
        cni_role,
        "--configuration-values",
        r#"{"env":{"WARM_PREFIX_TARGET":"1"}}"#,
    ])
    .json();
    assert_eq!(a["addon"]["status"], "CREATING");
    assert_eq!(
        srv.aws(&[
            "eks",
            "describe-addon",
            "--cluster-name",
            "c",
            "--addon-name",
            "vpc-cni"
        ])
        .json()["addon"]["addonVersion"],
        "v1.10.1-eksbuild.1"
    );
    srv.aws(&[
        "eks",
        "create-nodegroup",
        "--cluster-name",
        "c",
        "--nodegroup-name",
        "ng",
        "--node-role",
        NODE_ROLE,
        "--subnets",
        &net.dual,
        "--scaling-config",
        "minSize=1,maxSize=1,desiredSize=1",
    ])
    .json();
    srv.aws(&[
        "eks",
        "update-addon",
        "--cluster-name",
        "c",
        "--addon-name",
        "vpc-cni",
        "--addon-version",
        "v1.9.3-eksbuild.1",
    ])
    .fails_with("InvalidRequestException", "SIX-CNI-DOWNGRADE-NODES");
    let u = srv
        .aws(&[
            "eks",
            "update-addon",
            "--cluster-name",
            "c",
            "--addon-name",
            "vpc-cni",
            "--addon-version",
            "v1.18.3-eksbuild.1",
        ])
        .json();
    assert_eq!(u["update"]["type"], "AddonUpdate");
    let v = srv
        .aws(&[
            "eks",
            "describe-addon-versions",
            "--addon-name",
            "vpc-cni",
            "--kubernetes-version",
            "1.31",
        ])
        .json();
    assert!(v["addons"][0]["addonVersions"].as_array().unwrap().len() >= 3);
    assert_eq!(
        srv.aws(&["eks", "list-addons", "--cluster-name", "c"])
            .json()["addons"],
        json!(["vpc-cni"])
    );
    assert_eq!(
        srv.aws(&[
            "eks",
            "delete-addon",
            "--cluster-name",
            "c",
            "--addon-name",
            "vpc-cni"
        ])
        .json()["addon"]["status"],
        "DELETING"
    );
    srv.aws(&[
        "eks",
        "describe-addon",
        "--cluster-name",
        "c",
        "--addon-name",
        "vpc-cni",
    ])
    .fails_with("ResourceNotFoundException", "vpc-cni");
}

#[test]
fn fargate_rules_both_ways() {
    let srv = Server::start();
    let net = network(&srv);
    create_cluster(
        &srv,
        "c",
        &net.dual,
        &["--kubernetes-network-config", "ipFamily=ipv6"],
    )
    .json();
    let fp = |subnet: &str| {
        srv.aws(&[
            "eks",
            "create-fargate-profile",
            "--cluster-name",
            "c",
            "--fargate-profile-name",
            "fp",
            "--pod-execution-role-arn",
            "arn:aws:iam::123456789012:role/pod",
            "--subnets",
            subnet,
            "--selectors",
            "namespace=default",
        ])
    };
    fp(&net.v4only).fails_with(
        "InvalidParameterException",
        &format!("[SIX-FARGATE-SUBNET-IPV6] Fargate subnet {}", net.v4only),
    );
    assert_eq!(fp(&net.dual).json()["fargateProfile"]["status"], "CREATING");
    let d = srv
        .aws(&[
            "eks",
            "describe-fargate-profile",
            "--cluster-name",
            "c",
            "--fargate-profile-name",
            "fp",
        ])
        .json();
    assert_eq!(d["fargateProfile"]["status"], "ACTIVE");
    assert_eq!(
        srv.aws(&["eks", "list-fargate-profiles", "--cluster-name", "c"])
            .json()["fargateProfileNames"],
        json!(["fp"])
    );
    srv.aws(&[
        "eks",
        "delete-fargate-profile",
        "--cluster-name",
        "c",
        "--fargate-profile-name",
        "fp",
    ])
    .json();
    srv.aws(&[
        "eks",
        "describe-fargate-profile",
        "--cluster-name",
        "c",
        "--fargate-profile-name",
        "fp",
    ])
    .fails_with("ResourceNotFoundException", "fp");
}

#[test]
fn preflight_reports_what_the_reference_lets_fail_later() {
    let srv = Server::start();
    let net = network(&srv);
    let sg = s(&srv
        .aws(&[
            "ec2",
            "create-security-group",
            "--group-name",
            "v4only",
            "--description",
            "no v6",
            "--vpc-id",
            &net.vpc,
        ])
        .json()["GroupId"]);
    let sgs = format!("subnetIds={},securityGroupIds={sg}", net.dual);
    srv.aws(&[
        "eks", "create-cluster", "--name", "bad", "--role-arn", ROLE, "--resources-vpc-config", &sgs, "--kubernetes-network-config", "ipFamily=ipv6",
        "--tags", "sixfold.io/storage=fsx-lustre,sixfold.io/aws-load-balancer-controller-version=2.2.0,sixfold.io/aws-load-balancer-controller-target-type=instance",
    ])
    .json();
    let p = srv.sixfold(&["preflight", "--cluster", "bad", "--output", "json"]);
    assert_ne!(p.code, 0, "blocking issues exit non-zero: {}", p.stdout);
    let v: Value = serde_json::from_str(&p.stdout).unwrap();
    let ids: Vec<String> = v["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| s(&i["id"]))
        .collect();
    for want in [
        "SIX-ROUTE-IPV6-DEFAULT",
        "SIX-SG-IPV6",
        "SIX-NO-FSX-LUSTRE",
        "SIX-LBC-VERSION",
        "SIX-LBC-IP-TARGET",
    ] {
        assert!(ids.iter().any(|i| i == want), "{want} missing from {ids:?}");
    }
    let sg_issue = v["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "SIX-SG-IPV6")
        .unwrap();
    assert_eq!(sg_issue["resourceIds"], json!([sg]));
    // The same issues are in DescribeCluster's health.
    let h = srv
        .aws(&["eks", "describe-cluster", "--name", "bad"])
        .json();
    assert!(h["cluster"]["health"]["issues"].as_array().unwrap().len() >= 5);

    // Fix the route: a clean cluster passes.
    let igw = attached_internet_gateway(&srv, &net.vpc);
    let rtb = s(&srv
        .aws(&[
            "ec2",
            "describe-route-tables",
            "--filters",
            &format!("Name=vpc-id,Values={}", net.vpc),
        ])
        .json()["RouteTables"][0]["RouteTableId"]);
    srv.aws(&[
        "ec2",
        "create-route",
        "--route-table-id",
        &rtb,
        "--destination-ipv6-cidr-block",
        "::/0",
        "--gateway-id",
        &igw,
    ])
    .json();
    create_cluster(
        &srv,
        "good",
        &net.dual,
        &[
            "--kubernetes-network-config",
            "ipFamily=ipv6",
            "--tags",
            "sixfold.io/aws-load-balancer-controller-version=v2.4.0",
        ],
    )
    .json();
    let p = srv.sixfold(&["preflight", "--cluster", "good"]);
    assert_eq!(p.code, 0, "{}\n{}", p.stdout, p.stderr);
    assert!(p.stdout.contains("ok: no issues"), "{}", p.stdout);
    let p = srv.sixfold(&["preflight", "--cluster", "nope"]);
    assert_ne!(p.code, 0);
    assert!(
        p.stderr.contains("ResourceNotFoundException"),
        "{}",
        p.stderr
    );
}

#[test]
fn two_hundred_clusters_get_two_hundred_distinct_service_cidrs() {
    let srv = Server::start();
    let net = network(&srv);
    let creds = srv.credentials();
    let script = r#"
import json, sys, botocore.session
ep, key, secret, subnet = sys.argv[1:5]
c = botocore.session.get_session().create_client('eks', region_name='us-east-1', endpoint_url=ep, aws_access_key_id=key, aws_secret_access_key=secret)
cidrs = []
for i in range(200):
    r = c.create_cluster(name='bulk-%03d' % i, roleArn='arn:aws:iam::123456789012:role/eks', resourcesVpcConfig={'subnetIds': [subnet]}, kubernetesNetworkConfig={'ipFamily': 'ipv6'})
    cidrs.append(r['cluster']['kubernetesNetworkConfig']['serviceIpv6Cidr'])
names, kw, pages = [], {'maxResults': 30}, 0
while True:
    r = c.list_clusters(**kw); names += r['clusters']; pages += 1
    if 'nextToken' not in r: break
    kw['nextToken'] = r['nextToken']
print(json.dumps({'cidrs': cidrs, 'names': names, 'pages': pages}))
"#;
    let mut cmd = Command::new("python3");
    cmd.args([
        "-c",
        script,
        &srv.endpoint,
        &creds.access_key_id,
        &creds.secret_access_key,
        &net.dual,
    ])
    .env("AWS_CONFIG_FILE", "/dev/null");
    let out = common::run(cmd, Duration::from_secs(300));
    let v = out.json();
    let cidrs: std::collections::BTreeSet<String> =
        v["cidrs"].as_array().unwrap().iter().map(s).collect();
    assert_eq!(cidrs.len(), 200, "distinct service CIDRs");
    assert!(
        cidrs
            .iter()
            .all(|c| c.starts_with("fd") && c.ends_with("::/108"))
    );
    assert_eq!(v["names"].as_array().unwrap().len(), 200);
    assert_eq!(v["pages"], 7, "pages of 30");
    // The CLI pages too.
    let l = srv
        .aws(&["eks", "list-clusters", "--page-size", "64"])
        .json();
    assert_eq!(l["clusters"].as_array().unwrap().len(), 200);
}

#[test]
fn bad_input_gets_a_4xx_naming_the_member_and_changes_nothing() {
    let srv = Server::start();
    let net = network(&srv);
    let ok = json!({"name": "x", "roleArn": ROLE, "resourcesVpcConfig": {"subnetIds": [net.dual]}, "kubernetesNetworkConfig": {"ipFamily": "ipv6"}});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b.to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "not valid JSON"),
        (with("name", json!(5)), "name must be a string"),
        (with("name", json!("-bad name")), "-bad name"),
        (
            with("kubernetesNetworkConfig", json!({"ipFamily": "ipv5"})),
            "ipFamily must be one of: ipv4, ipv6",
        ),
        (
            with(
                "kubernetesNetworkConfig",
                json!({"ipFamily": "ipv6", "serviceIpv6Cidr": "fd00::/108"}),
            ),
            "SIX-SERVICE-CIDR-GENERATED",
        ),
        (
            with("resourcesVpcConfig", json!({"subnetIds": "subnet-1"})),
            "resourcesVpcConfig.subnetIds must be a list of strings",
        ),
        (
            with(
                "resourcesVpcConfig",
                json!({"subnetIds": ["subnet-0123456789abcdef0"]}),
            ),
            "subnet-0123456789abcdef0",
        ),
        (with("roleArn", json!("eks-role")), "roleArn"),
        (
            json!({"name": "x", "resourcesVpcConfig": {}}).to_string(),
            "roleArn",
        ),
    ];
    for (body, needle) in cases {
        let (status, ty, v) = raw(&srv, "POST", "/clusters", &body, true);
        assert_eq!(
            (status, ty.as_str()),
            (400, "InvalidParameterException"),
            "{body}: {v}"
        );
        assert!(s(&v["message"]).contains(needle), "{body}: {v}");
    }
    let (status, ty, _) = raw(&srv, "GET", "/no-such-thing", "", true);
    assert_eq!((status, ty.as_str()), (404, "UnknownOperationException"));
    let (status, ty, _) = raw(&srv, "GET", "/clusters/nope", "", true);
    assert_eq!((status, ty.as_str()), (404, "ResourceNotFoundException"));
    let (status, ty, _) = raw(&srv, "GET", "/clusters", "", false);
    assert_eq!(
        (status, ty.as_str()),
        (403, "MissingAuthenticationTokenException")
    );
    for (q, needle) in [
        ("maxResults=0", "maxResults"),
        ("maxResults=many", "maxResults"),
        ("nextToken=zz", "nextToken"),
    ] {
        let (status, ty, v) = raw(&srv, "GET", &format!("/clusters?{q}"), "", true);
        assert_eq!(
            (status, ty.as_str()),
            (400, "InvalidParameterException"),
            "{q}: {v}"
        );
        assert!(s(&v["message"]).contains(needle), "{v}");
    }
    assert_eq!(
        srv.aws(&["eks", "list-clusters"]).json()["clusters"],
        json!([]),
        "nothing changed"
    );
}
