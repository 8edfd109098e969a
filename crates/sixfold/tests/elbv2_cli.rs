//! End to end: the real `sixfold serve` driven by the real AWS CLI over the Elastic Load
//! Balancing v2 Query API. A dualstack network load balancer with an IPv6 IP target group is
//! how IPv4 clients reach an IPv6 cluster's pods; every family rule AWS enforces between load
//! balancers, target groups, targets and listeners is exercised both ways, and a refused
//! request changes nothing.

mod common;

use std::net::Ipv6Addr;

use common::Server;
use serde_json::{Value, json};

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

/// A dual-stack VPC: two dual-stack subnets (zones a and b) and an IPv4-only one (zone c).
struct Net {
    vpc: String,
    v6_block: ipnet::Ipv6Net,
    dual_a: String,
    dual_b: String,
    v4only: String,
}

fn network(srv: &Server) -> Net {
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
    let v6_block: ipnet::Ipv6Net =
        s(&d["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"])
            .parse()
            .unwrap();
    let subnet = |i: u128, az: &str, v6: bool| {
        let cidr = format!("10.0.{i}.0/24");
        let sub64 = ipnet::Ipv6Net::new(
            Ipv6Addr::from(u128::from(v6_block.network()) | (i << 64)),
            64,
        )
        .unwrap()
        .to_string();
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
