//! End to end: the real `sixfold serve` driven by the real AWS CLI over the Elastic Load
//! Balancing v2 Query API. A dualstack network load balancer with an IPv6 IP target group is
//! how IPv4 clients reach an IPv6 cluster's pods; every family rule AWS enforces between load
//! balancers, target groups, targets and listeners is exercised both ways, and a refused
//! request changes nothing.

mod common;

use std::net::Ipv6Addr;

use common::net::{dual_stack_vpc, nth64};
use common::{Server, s};
use serde_json::{Value, json};

/// A dual-stack VPC: two dual-stack subnets (zones a and b) and an IPv4-only one (zone c).
struct Net {
    vpc: String,
    v6_block: ipnet::Ipv6Net,
    dual_a: String,
    dual_b: String,
    v4only: String,
}

fn network(srv: &Server) -> Net {
    let (vpc, v6_block) = dual_stack_vpc(srv);
    let subnet = |i: u128, az: &str, v6: bool| {
        let cidr = format!("10.0.{i}.0/24");
        let sub64 = nth64(v6_block, i);
        let mut a = vec![
            "ec2",
            "create-subnet",
            "--vpc-id",
            &vpc,
            "--cidr-block",
            &cidr,
            "--availability-zone",
            az,
        ];
        if v6 {
            a.extend(["--ipv6-cidr-block", &sub64]);
        }
        s(&srv.aws(&a).json()["Subnet"]["SubnetId"])
    };
    Net {
        dual_a: subnet(1, "us-east-1a", true),
        dual_b: subnet(2, "us-east-1b", true),
        v4only: subnet(3, "us-east-1c", false),
        vpc,
        v6_block,
    }
}

/// An address inside the VPC's IPv6 block (in its first subnet), as a pod would have.
fn pod_ip(net: &Net, host: u128) -> String {
    Ipv6Addr::from(u128::from(net.v6_block.network()) | (1u128 << 64) | host).to_string()
}

fn create_lb(srv: &Server, name: &str, kind: &str, ip: &str, subnets: &[&str]) -> common::Cli {
    let mut a = vec![
        "elbv2",
        "create-load-balancer",
        "--name",
        name,
        "--type",
        kind,
        "--ip-address-type",
        ip,
        "--subnets",
    ];
    a.extend_from_slice(subnets);
    srv.aws(&a)
}

fn create_tg(srv: &Server, name: &str, vpc: &str, extra: &[&str]) -> common::Cli {
    let mut a = vec![
        "elbv2",
        "create-target-group",
        "--name",
        name,
        "--protocol",
        "TCP",
        "--port",
        "8080",
        "--vpc-id",
        vpc,
    ];
    a.extend_from_slice(extra);
    srv.aws(&a)
}

fn listener(srv: &Server, lb: &str, protocol: &str, port: &str, tg: &str) -> common::Cli {
    srv.aws(&[
        "elbv2",
        "create-listener",
        "--load-balancer-arn",
        lb,
        "--protocol",
        protocol,
        "--port",
        port,
        "--default-actions",
        &format!("Type=forward,TargetGroupArn={tg}"),
    ])
}

/// Everything the ELBv2 describes say, for before/after comparisons.
fn snapshot(srv: &Server, lbs: &[&str], tgs: &[&str]) -> Vec<Value> {
    let mut out = vec![
        srv.aws(&["elbv2", "describe-load-balancers"]).json(),
        srv.aws(&["elbv2", "describe-target-groups"]).json(),
    ];
    for lb in lbs {
        out.push(
            srv.aws(&["elbv2", "describe-listeners", "--load-balancer-arn", lb])
                .json(),
        );
    }
    for tg in tgs {
        out.push(
            srv.aws(&["elbv2", "describe-target-health", "--target-group-arn", tg])
                .json(),
        );
    }
    out
}

#[test]
fn a_dualstack_nlb_forwards_to_ipv6_ip_targets_and_every_call_round_trips() {
    let mut srv = Server::start();
    let net = network(&srv);
    let lb = create_lb(
        &srv,
        "web",
        "network",
        "dualstack",
        &[&net.dual_a, &net.dual_b],
    )
    .json();
    let l = &lb["LoadBalancers"][0];
    let lb_arn = s(&l["LoadBalancerArn"]);
    assert!(
        lb_arn.starts_with(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/web/"
        ),
        "{lb_arn}"
    );
    let dns = s(&l["DNSName"]);
    assert!(
        dns.starts_with("web-") && dns.ends_with(".elb.us-east-1.amazonaws.com"),
        "{dns}"
    );
    assert_eq!(l["Type"], "network");
    assert_eq!(l["Scheme"], "internet-facing");
    assert_eq!(l["IpAddressType"], "dualstack");
    assert_eq!(l["VpcId"], json!(net.vpc));
    assert_eq!(l["State"]["Code"], "active");
    let zones: Vec<String> = l["AvailabilityZones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| format!("{}={}", s(&z["ZoneName"]), s(&z["SubnetId"])))
        .collect();
    assert_eq!(
        zones,
        vec![
            format!("us-east-1a={}", net.dual_a),
            format!("us-east-1b={}", net.dual_b)
        ]
    );

    let tg = create_tg(
        &srv,
        "pods",
        &net.vpc,
        &[
            "--target-type",
            "ip",
            "--ip-address-type",
            "ipv6",
            "--health-check-protocol",
            "HTTP",
            "--health-check-path",
            "/healthz",
            "--health-check-interval-seconds",
            "10",
            "--healthy-threshold-count",
            "3",
            "--tags",
            "Key=app,Value=web",
        ],
    )
    .json();
    let t = &tg["TargetGroups"][0];
    let tg_arn = s(&t["TargetGroupArn"]);
    assert!(tg_arn.contains(":targetgroup/pods/"), "{tg_arn}");
    assert_eq!(t["TargetType"], "ip");
    assert_eq!(t["IpAddressType"], "ipv6");
    assert_eq!(t["Protocol"], "TCP");
    assert_eq!(t["Port"], 8080);
    assert_eq!(t["HealthCheckProtocol"], "HTTP");
    assert_eq!(t["HealthCheckPath"], "/healthz");
    assert_eq!(t["HealthCheckPort"], "traffic-port");
    assert_eq!(t["HealthCheckIntervalSeconds"], 10);
    assert_eq!(t["HealthyThresholdCount"], 3);
    assert_eq!(t["UnhealthyThresholdCount"], 2);
    assert_eq!(t["Matcher"]["HttpCode"], "200");
    assert_eq!(t["LoadBalancerArns"], json!([]));

    let (p1, p2, p3) = (pod_ip(&net, 0x10), pod_ip(&net, 0x11), pod_ip(&net, 0x12));
    srv.aws(&[
        "elbv2",
        "register-targets",
        "--target-group-arn",
        &tg_arn,
        "--targets",
        &format!("Id={p1}"),
        &format!("Id={p2},Port=9090"),
        &format!("Id={p3}"),
    ])
    .json();
    // Not yet used by a listener: every target is `unused`.
    let h = srv
        .aws(&[
            "elbv2",
            "describe-target-health",
            "--target-group-arn",
            &tg_arn,
        ])
        .json();
    let rows = h["TargetHealthDescriptions"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["TargetHealth"]["State"] == "unused"
        && r["TargetHealth"]["Reason"] == "Target.NotInUse"));
    assert_eq!(rows[1]["Target"], json!({"Id": p2, "Port": 9090}));
    assert_eq!(rows[1]["HealthCheckPort"], "9090");

    let li = listener(&srv, &lb_arn, "TCP", "80", &tg_arn).json();
    let li_arn = s(&li["Listeners"][0]["ListenerArn"]);
    assert!(li_arn.contains(":listener/net/web/"), "{li_arn}");
    assert_eq!(li["Listeners"][0]["DefaultActions"][0]["Type"], "forward");
    assert_eq!(
        li["Listeners"][0]["DefaultActions"][0]["TargetGroupArn"],
        json!(tg_arn)
    );
    // In use now: `initial` until the lab's probes say otherwise.
    let h = srv
        .aws(&[
            "elbv2",
            "describe-target-health",
            "--target-group-arn",
            &tg_arn,
            "--targets",
            &format!("Id={p1}"),
            "Id=2001:db8::dead",
        ])
        .json();
    assert_eq!(
        h["TargetHealthDescriptions"][0]["TargetHealth"]["State"],
        "initial"
    );
    assert_eq!(
        h["TargetHealthDescriptions"][1]["TargetHealth"]["State"],
        "unused"
    );
    assert_eq!(
        h["TargetHealthDescriptions"][1]["TargetHealth"]["Reason"],
        "Target.NotRegistered"
    );
    let d = srv
        .aws(&[
            "elbv2",
            "describe-target-groups",
            "--load-balancer-arn",
            &lb_arn,
        ])
        .json();
    assert_eq!(d["TargetGroups"][0]["LoadBalancerArns"], json!([lb_arn]));
    let d = srv
        .aws(&[
            "elbv2",
            "describe-listeners",
            "--load-balancer-arn",
            &lb_arn,
        ])
        .json();
    assert_eq!(d["Listeners"][0]["Port"], 80);
    assert_eq!(d["Listeners"][0]["Protocol"], "TCP");
    let d = srv
        .aws(&["elbv2", "describe-listeners", "--listener-arns", &li_arn])
        .json();
    assert_eq!(d["Listeners"][0]["LoadBalancerArn"], json!(lb_arn));

    srv.aws(&[
        "elbv2",
        "deregister-targets",
        "--target-group-arn",
        &tg_arn,
        "--targets",
        &format!("Id={p2},Port=9090"),
    ])
    .json();
    let h = srv
        .aws(&[
            "elbv2",
            "describe-target-health",
            "--target-group-arn",
            &tg_arn,
        ])
        .json();
    let ids: Vec<String> = h["TargetHealthDescriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| s(&r["Target"]["Id"]))
        .collect();
    assert_eq!(ids, vec![p1.clone(), p3.clone()]);

    // Tags on all three kinds.
    srv.aws(&[
        "elbv2",
        "add-tags",
        "--resource-arns",
        &lb_arn,
        &li_arn,
        "--tags",
        "Key=team,Value=net",
        "Key=env,Value=lab",
    ])
    .json();
    srv.aws(&[
        "elbv2",
        "remove-tags",
        "--resource-arns",
        &lb_arn,
        "--tag-keys",
        "env",
    ])
    .json();
    let t = srv
        .aws(&[
            "elbv2",
            "describe-tags",
            "--resource-arns",
            &lb_arn,
            &tg_arn,
            &li_arn,
        ])
        .json();
    assert_eq!(
        t["TagDescriptions"][0]["Tags"],
        json!([{"Key": "team", "Value": "net"}])
    );
    assert_eq!(
        t["TagDescriptions"][1]["Tags"],
        json!([{"Key": "app", "Value": "web"}])
    );
    assert_eq!(
        t["TagDescriptions"][2]["Tags"],
        json!([{"Key": "env", "Value": "lab"}, {"Key": "team", "Value": "net"}])
    );

    // Pages, by names and by ARNs.
    let lb2 = create_lb(
        &srv,
        "api",
        "application",
        "ipv4",
        &[&net.dual_a, &net.v4only],
    )
    .json();
    let lb2_arn = s(&lb2["LoadBalancers"][0]["LoadBalancerArn"]);
    assert_eq!(lb2["LoadBalancers"][0]["Type"], "application");
    assert_eq!(
        lb2["LoadBalancers"][0]["SecurityGroups"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "an ALB without security groups gets the VPC's default one"
    );
    // One per page. (AWS CLI v1 treats elbv2's --page-size as a manual pagination argument: it
    // turns automatic pagination off and hands NextMarker through, to be passed as --marker.)
    let p = srv
        .aws(&["elbv2", "describe-load-balancers", "--page-size", "1"])
        .json();
    assert_eq!(p["LoadBalancers"].as_array().unwrap().len(), 1);
    let marker = s(&p["NextMarker"]);
    let p2 = srv
        .aws(&[
            "elbv2",
            "describe-load-balancers",
            "--page-size",
            "1",
            "--marker",
            &marker,
        ])
        .json();
    assert_eq!(p2["LoadBalancers"].as_array().unwrap().len(), 1);
    assert!(p2.get("NextMarker").is_none(), "{p2}");
    assert_ne!(
        p["LoadBalancers"][0]["LoadBalancerArn"],
        p2["LoadBalancers"][0]["LoadBalancerArn"]
    );
    let all = srv.aws(&["elbv2", "describe-load-balancers"]).json();
    assert_eq!(all["LoadBalancers"].as_array().unwrap().len(), 2);
    srv.aws(&["elbv2", "describe-load-balancers", "--marker", "junk"])
        .fails_with("ValidationError", "'junk' for Marker");
    let by_name = srv
        .aws(&["elbv2", "describe-load-balancers", "--names", "api"])
        .json();
    assert_eq!(
        by_name["LoadBalancers"][0]["LoadBalancerArn"],
        json!(lb2_arn)
    );
    let by_arn = srv
        .aws(&[
            "elbv2",
            "describe-target-groups",
            "--target-group-arns",
            &tg_arn,
        ])
        .json();
    assert_eq!(by_arn["TargetGroups"][0]["TargetGroupName"], "pods");

    // The state survives a kill -9.
    let before = snapshot(&srv, &[&lb_arn], &[&tg_arn]);
    srv.kill9_and_restart();
    assert_eq!(snapshot(&srv, &[&lb_arn], &[&tg_arn]), before);

    // Teardown: listener, then the group (in use until then), then the load balancers.
    srv.aws(&[
        "elbv2",
        "delete-target-group",
        "--target-group-arn",
        &tg_arn,
    ])
    .fails_with("ResourceInUse", &li_arn);
    srv.aws(&["elbv2", "delete-listener", "--listener-arn", &li_arn])
        .json();
    srv.aws(&[
        "elbv2",
        "delete-target-group",
        "--target-group-arn",
        &tg_arn,
    ])
    .json();
    srv.aws(&[
        "elbv2",
        "delete-load-balancer",
        "--load-balancer-arn",
        &lb_arn,
    ])
    .json();
    srv.aws(&[
        "elbv2",
        "delete-load-balancer",
        "--load-balancer-arn",
        &lb_arn,
    ])
    .json();
    srv.aws(&[
        "elbv2",
        "delete-load-balancer",
        "--load-balancer-arn",
        &lb2_arn,
    ])
    .json();
    assert_eq!(
        srv.aws(&["elbv2", "describe-load-balancers"]).json()["LoadBalancers"],
        json!([])
    );
    assert_eq!(
        srv.aws(&["elbv2", "describe-target-groups"]).json()["TargetGroups"],
        json!([])
    );
}

#[test]
fn every_family_rule_is_refused_with_the_aws_code_and_changes_nothing() {
    let srv = Server::start();
    let net = network(&srv);
    // A dualstack load balancer needs IPv6 in every subnet.
    create_lb(
        &srv,
        "web",
        "network",
        "dualstack",
        &[&net.dual_a, &net.v4only],
    )
    .fails_with("InvalidSubnet", &net.v4only);
    create_lb(
        &srv,
        "web",
        "network",
        "dualstack",
        &["subnet-0000000000000dead"],
    )
    .fails_with("SubnetNotFound", "subnet-0000000000000dead");
    let v4 = s(
        &create_lb(&srv, "v4", "network", "ipv4", &[&net.dual_a, &net.v4only]).json()["LoadBalancers"]
            [0]["LoadBalancerArn"],
    );
    srv.aws(&[
        "elbv2",
        "set-ip-address-type",
        "--load-balancer-arn",
        &v4,
        "--ip-address-type",
        "dualstack",
    ])
    .fails_with("InvalidSubnet", &net.v4only);
    let ds = s(&create_lb(
        &srv,
        "ds",
        "network",
        "dualstack",
        &[&net.dual_a, &net.dual_b],
    )
    .json()["LoadBalancers"][0]["LoadBalancerArn"]);
    create_lb(&srv, "ds", "network", "ipv4", &[&net.dual_a])
        .fails_with("DuplicateLoadBalancerName", "'ds'");
    create_lb(&srv, "no_underscores", "network", "ipv4", &[&net.dual_a])
        .fails_with("ValidationError", "'no_underscores' for Name");

    // IPv6 target groups take IP targets only.
    create_tg(
        &srv,
        "inst6",
        &net.vpc,
        &["--target-type", "instance", "--ip-address-type", "ipv6"],
    )
    .fails_with("ValidationError", "--target-type ip");
    let tg6 = s(&create_tg(
        &srv,
        "pods6",
        &net.vpc,
        &["--target-type", "ip", "--ip-address-type", "ipv6"],
    )
    .json()["TargetGroups"][0]["TargetGroupArn"]);
    let tg4 = s(
        &create_tg(&srv, "pods4", &net.vpc, &["--target-type", "ip"]).json()["TargetGroups"][0]["TargetGroupArn"],
    );
    create_tg(&srv, "pods6", &net.vpc, &["--target-type", "ip"])
        .fails_with("DuplicateTargetGroupName", "'pods6'");
    create_tg(
        &srv,
        "hc",
        &net.vpc,
        &[
            "--health-check-interval-seconds",
            "10",
            "--health-check-timeout-seconds",
            "10",
        ],
    )
    .fails_with("ValidationError", "'10' for HealthCheckTimeoutSeconds");

    // Targets have the group's family and lie in the VPC's blocks.
    let outside6 = Ipv6Addr::from(u128::from(net.v6_block.network()) ^ (1u128 << 72)).to_string();
    let register = |tg: &str, id: &str| {
        srv.aws(&[
            "elbv2",
            "register-targets",
            "--target-group-arn",
            tg,
            "--targets",
            &format!("Id={id}"),
        ])
    };
    register(&tg6, "10.0.1.10").fails_with("InvalidTarget", "'10.0.1.10' is not an IPv6 address");
    register(&tg6, &outside6).fails_with("InvalidTarget", &format!("'{outside6}' is outside VPC"));
    register(&tg4, &pod_ip(&net, 7)).fails_with("InvalidTarget", "is not an IPv4 address");
    register(&tg4, "192.0.2.1").fails_with("InvalidTarget", "10.0.0.0/16");
    srv.aws(&[
        "elbv2",
        "deregister-targets",
        "--target-group-arn",
        &tg6,
        "--targets",
        &format!("Id={}", pod_ip(&net, 7)),
    ])
    .fails_with("InvalidTarget", "is not registered");
    register(&tg6, &pod_ip(&net, 7)).json();
    register(&tg4, "10.0.1.10").json();

    // An ipv6 group needs a dualstack load balancer; on an NLB, a TCP or TLS listener.
    listener(&srv, &v4, "TCP", "80", &tg6).fails_with("InvalidConfigurationRequest", "dualstack");
    let udp6 = s(&srv
        .aws(&[
            "elbv2",
            "create-target-group",
            "--name",
            "udp6",
            "--protocol",
            "UDP",
            "--port",
            "53",
            "--vpc-id",
            &net.vpc,
            "--target-type",
            "ip",
            "--ip-address-type",
            "ipv6",
        ])
        .json()["TargetGroups"][0]["TargetGroupArn"]);
    listener(&srv, &ds, "UDP", "53", &udp6)
        .fails_with("IncompatibleProtocols", "TCP and TLS listeners only");
    listener(&srv, &ds, "HTTP", "80", &tg6)
        .fails_with("UnsupportedProtocol", "network load balancer");
    let li = s(&listener(&srv, &ds, "TCP", "80", &tg6).json()["Listeners"][0]["ListenerArn"]);
    listener(&srv, &ds, "TCP", "80", &tg4).fails_with("DuplicateListener", "port 80");
    srv.aws(&[
        "elbv2",
        "set-ip-address-type",
        "--load-balancer-arn",
        &ds,
        "--ip-address-type",
        "ipv4",
    ])
    .fails_with("InvalidConfigurationRequest", "pods6");

    // Unknown resources are named.
    let gone_lb = v4.replace("/v4/", "/nope/");
    srv.aws(&[
        "elbv2",
        "describe-load-balancers",
        "--load-balancer-arns",
        &gone_lb,
    ])
    .fails_with("LoadBalancerNotFound", &gone_lb);
    srv.aws(&["elbv2", "describe-load-balancers", "--names", "nope"])
        .fails_with("LoadBalancerNotFound", "'nope'");
    srv.aws(&["elbv2", "describe-target-groups", "--names", "nope"])
        .fails_with("TargetGroupNotFound", "'nope'");
    let gone_li = format!("{li}0");
    srv.aws(&["elbv2", "delete-listener", "--listener-arn", &gone_li])
        .fails_with("ListenerNotFound", &gone_li);
    srv.aws(&[
        "elbv2",
        "add-tags",
        "--resource-arns",
        &gone_lb,
        "--tags",
        "Key=a,Value=b",
    ])
    .fails_with("LoadBalancerNotFound", &gone_lb);
    let many: Vec<String> = (0..51).map(|i| format!("Key=k{i},Value=v")).collect();
    let mut a = vec!["elbv2", "add-tags", "--resource-arns", &ds, "--tags"];
    a.extend(many.iter().map(String::as_str));
    srv.aws(&a).fails_with("TooManyTags", "51 tags");
    let targets: Vec<String> = (0..101)
        .map(|i| format!("Id={}", pod_ip(&net, 100 + i)))
        .collect();
    let mut a = vec![
        "elbv2",
        "register-targets",
        "--target-group-arn",
        &tg6,
        "--targets",
    ];
    a.extend(targets.iter().map(String::as_str));
    srv.aws(&a).fails_with("ValidationError", "101 targets");

    // None of the refusals above changed anything.
    let lbs = srv.aws(&["elbv2", "describe-load-balancers"]).json();
    let names: Vec<String> = lbs["LoadBalancers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| s(&l["LoadBalancerName"]))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"v4".to_string()) && names.contains(&"ds".to_string()));
    let ip_types: Vec<&Value> = lbs["LoadBalancers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["IpAddressType"])
        .collect();
    assert!(ip_types.contains(&&json!("ipv4")) && ip_types.contains(&&json!("dualstack")));
    let h = srv
        .aws(&[
            "elbv2",
            "describe-target-health",
            "--target-group-arn",
            &tg6,
        ])
        .json();
    assert_eq!(h["TargetHealthDescriptions"].as_array().unwrap().len(), 1);
    assert_eq!(
        srv.aws(&["elbv2", "describe-tags", "--resource-arns", &ds])
            .json()["TagDescriptions"][0]["Tags"],
        json!([])
    );
    assert_eq!(
        srv.aws(&["elbv2", "describe-listeners", "--load-balancer-arn", &ds])
            .json()["Listeners"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn instance_targets_that_are_nodes_of_an_ipv6_cluster_are_refused_by_six_elb_instance_target() {
    let srv = Server::start();
    let net = network(&srv);
    srv.aws(&[
        "ec2",
        "modify-subnet-attribute",
        "--subnet-id",
        &net.dual_a,
        "--assign-ipv6-address-on-creation",
    ])
    .json();
    srv.aws(&[
        "eks",
        "create-cluster",
        "--name",
        "six",
        "--role-arn",
        "arn:aws:iam::123456789012:role/eks",
        "--resources-vpc-config",
        &format!("subnetIds={}", net.dual_a),
        "--kubernetes-network-config",
        "ipFamily=ipv6",
    ])
    .json();
    srv.aws(&[
        "eks",
        "create-nodegroup",
        "--cluster-name",
        "six",
        "--nodegroup-name",
        "ng",
        "--node-role",
        "arn:aws:iam::123456789012:role/node",
        "--subnets",
        &net.dual_a,
        "--instance-types",
        "m5.large",
        "--scaling-config",
        "minSize=1,maxSize=1,desiredSize=1",
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
    let node = s(&r["Reservations"][0]["Instances"][0]["InstanceId"]);
    // A plain instance of the same VPC is a fine instance target.
    let plain = s(&srv
        .aws(&[
            "ec2",
            "run-instances",
            "--image-id",
            "ami-0123456789abcdef0",
            "--instance-type",
            "m5.large",
            "--subnet-id",
            &net.dual_b,
            "--count",
            "1",
        ])
        .json()["Instances"][0]["InstanceId"]);
    let tg = s(
        &create_tg(&srv, "nodes", &net.vpc, &["--target-type", "instance"]).json()["TargetGroups"]
            [0]["TargetGroupArn"],
    );
    srv.aws(&["elbv2", "register-targets", "--target-group-arn", &tg, "--targets", &format!("Id={node}")])
        .fails_with(
            "InvalidTarget",
            &format!("[SIX-ELB-INSTANCE-TARGET] Instance '{node}' is a node of node group ng of the ipv6 cluster six"),
        );
    // Both at once: the node refuses the whole call, so the plain instance is not added either.
    srv.aws(&[
        "elbv2",
        "register-targets",
        "--target-group-arn",
        &tg,
        "--targets",
        &format!("Id={plain}"),
        &format!("Id={node}"),
    ])
    .fails_with("InvalidTarget", "--target-type ip --ip-address-type ipv6");
    assert_eq!(
        srv.aws(&["elbv2", "describe-target-health", "--target-group-arn", &tg])
            .json()["TargetHealthDescriptions"],
        json!([])
    );
    srv.aws(&[
        "elbv2",
        "register-targets",
        "--target-group-arn",
        &tg,
        "--targets",
        &format!("Id={plain}"),
    ])
    .json();
    let h = srv
        .aws(&["elbv2", "describe-target-health", "--target-group-arn", &tg])
        .json();
    assert_eq!(
        h["TargetHealthDescriptions"][0]["Target"]["Id"],
        json!(plain)
    );
    assert_eq!(h["TargetHealthDescriptions"][0]["Target"]["Port"], 8080);
    srv.aws(&[
        "elbv2",
        "register-targets",
        "--target-group-arn",
        &tg,
        "--targets",
        "Id=i-0000000000000dead",
    ])
    .fails_with("InvalidTarget", "'i-0000000000000dead' does not exist");
}
