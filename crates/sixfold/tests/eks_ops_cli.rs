//! End to end with the real AWS CLI: the EKS operations users reach for after creation —
//! tags (which drive the workload health checks), UpdateNodegroupConfig (scaling launches and
//! terminates real region instances), idempotent replays with `--client-request-token`, List
//! pagination with opaque tokens, and the Fargate/node group fidelity fixes.

mod common;

use common::{Server, s};
use serde_json::Value;

use common::net::{EKS_ROLE as ROLE, NODE_ROLE, dual_stack_vpc, nth64, subnet};

/// A dual-stack VPC and a subnet that auto-assigns IPv6; returns the subnet id.
fn dual_stack_subnet(srv: &Server) -> String {
    let (vpc, block) = dual_stack_vpc(srv);
    let subnet = subnet(srv, &vpc, "10.0.1.0/24", Some(&nth64(block, 0)));
    srv.aws(&[
        "ec2",
        "modify-subnet-attribute",
        "--subnet-id",
        &subnet,
        "--assign-ipv6-address-on-creation",
    ])
    .json();
    subnet
}

fn ipv6_cluster(srv: &Server, name: &str, subnet: &str) -> Value {
    srv.aws(&[
        "eks",
        "create-cluster",
        "--name",
        name,
        "--role-arn",
        ROLE,
        "--resources-vpc-config",
        &format!("subnetIds={subnet}"),
        "--kubernetes-network-config",
        "ipFamily=ipv6",
    ])
    .json()["cluster"]
        .clone()
}

fn running_nodes(srv: &Server, cluster: &str, group: &str) -> usize {
    let v = srv
        .aws(&[
            "ec2",
            "describe-instances",
            "--filters",
            &format!("Name=tag:eks:cluster-name,Values={cluster}"),
            &format!("Name=tag:eks:nodegroup-name,Values={group}"),
            "Name=instance-state-name,Values=running",
        ])
        .json();
    v["Reservations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Instances"].as_array().unwrap().len())
        .sum()
}

fn health_codes(srv: &Server, cluster: &str) -> Vec<String> {
    let v = srv
        .aws(&["eks", "describe-cluster", "--name", cluster])
        .json();
    v["cluster"]["health"]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| s(&i["message"]))
        .collect()
}

#[test]
fn tags_change_after_creation_and_health_follows() {
    let srv = Server::start();
    let subnet = dual_stack_subnet(&srv);
    let c = ipv6_cluster(&srv, "tagged", &subnet);
    let arn = s(&c["arn"]);
    assert!(
        !health_codes(&srv, "tagged")
            .iter()
            .any(|m| m.contains("SIX-NO-FSX-LUSTRE"))
    );
    srv.aws(&[
        "eks",
        "tag-resource",
        "--resource-arn",
        &arn,
        "--tags",
        "sixfold.io/storage=fsx-lustre,sixfold.io/aws-load-balancer-controller-target-type=instance,team=net",
    ])
    .json();
    let issues = health_codes(&srv, "tagged");
    assert!(
        issues.iter().any(|m| m.contains("SIX-NO-FSX-LUSTRE")),
        "{issues:?}"
    );
    assert!(
        issues.iter().any(|m| m.contains("SIX-LBC-IP-TARGET")),
        "{issues:?}"
    );
    let tags = srv
        .aws(&["eks", "list-tags-for-resource", "--resource-arn", &arn])
        .json();
    assert_eq!(tags["tags"]["team"], "net");
    srv.aws(&[
        "eks",
        "untag-resource",
        "--resource-arn",
        &arn,
        "--tag-keys",
        "sixfold.io/storage",
        "sixfold.io/aws-load-balancer-controller-target-type",
    ])
    .json();
    let issues = health_codes(&srv, "tagged");
    assert!(
        !issues
            .iter()
            .any(|m| m.contains("SIX-NO-FSX-LUSTRE") || m.contains("SIX-LBC-IP-TARGET")),
        "{issues:?}"
    );
    // Node group ARNs take tags too.
    let g = srv
        .aws(&[
            "eks",
            "create-nodegroup",
            "--cluster-name",
            "tagged",
            "--nodegroup-name",
            "ng",
            "--subnets",
            &subnet,
            "--node-role",
            NODE_ROLE,
            "--scaling-config",
            "minSize=1,maxSize=2,desiredSize=1",
        ])
        .json();
    let ng_arn = s(&g["nodegroup"]["nodegroupArn"]);
    srv.aws(&[
        "eks",
        "tag-resource",
        "--resource-arn",
        &ng_arn,
        "--tags",
        "tier=web",
    ])
    .json();
    let d = srv
        .aws(&[
            "eks",
            "describe-nodegroup",
            "--cluster-name",
            "tagged",
            "--nodegroup-name",
            "ng",
        ])
        .json();
    assert_eq!(d["nodegroup"]["tags"]["tier"], "web");
    // Errors in the service's own form: a bad ARN, an unknown resource, a reserved key.
    srv.aws(&[
        "eks",
        "tag-resource",
        "--resource-arn",
        "not-an-arn",
        "--tags",
        "a=b",
    ])
    .fails_with("BadRequestException", "not-an-arn");
    let gone = arn.replace("cluster/tagged", "cluster/nope");
    srv.aws(&["eks", "list-tags-for-resource", "--resource-arn", &gone])
        .fails_with("NotFoundException", "cluster/nope");
    srv.aws(&[
        "eks",
        "tag-resource",
        "--resource-arn",
        &arn,
        "--tags",
        "aws:x=y",
    ])
    .fails_with("BadRequestException", "aws:");
}

#[test]
fn update_nodegroup_config_scales_real_instances_and_keeps_remote_access() {
    let srv = Server::start();
    let subnet = dual_stack_subnet(&srv);
    ipv6_cluster(&srv, "c", &subnet);
    let vpc_sg =
        srv.aws(&["ec2", "describe-security-groups"]).json()["SecurityGroups"][0]["GroupId"]
            .clone();
    let g = srv
        .aws(&[
            "eks",
            "create-nodegroup",
            "--cluster-name",
            "c",
            "--nodegroup-name",
            "ng",
            "--subnets",
            &subnet,
            "--node-role",
            NODE_ROLE,
            "--scaling-config",
            "minSize=1,maxSize=5,desiredSize=2",
            "--labels",
            "role=web",
            "--remote-access",
            &format!("ec2SshKey=ops,sourceSecurityGroups={}", s(&vpc_sg)),
        ])
        .json();
    assert_eq!(g["nodegroup"]["remoteAccess"]["ec2SshKey"], "ops");
    assert_eq!(running_nodes(&srv, "c", "ng"), 2);
    let u = srv
        .aws(&[
            "eks",
            "update-nodegroup-config",
            "--cluster-name",
            "c",
            "--nodegroup-name",
            "ng",
            "--scaling-config",
            "desiredSize=4",
            "--labels",
            "addOrUpdateLabels={tier=front},removeLabels=role",
            "--taints",
            "addOrUpdateTaints=[{key=dedicated,value=web,effect=NO_SCHEDULE}]",
        ])
        .json();
    assert_eq!(u["update"]["type"], "ConfigUpdate");
    assert_eq!(u["update"]["status"], "InProgress");
    let id = s(&u["update"]["id"]);
    assert_eq!(running_nodes(&srv, "c", "ng"), 4);
    let d = srv
        .aws(&[
            "eks",
            "describe-update",
            "--name",
            "c",
            "--nodegroup-name",
            "ng",
            "--update-id",
            &id,
        ])
        .json();
    assert_eq!(d["update"]["status"], "Successful");
    let d = srv
        .aws(&[
            "eks",
            "describe-nodegroup",
            "--cluster-name",
            "c",
            "--nodegroup-name",
            "ng",
        ])
        .json();
    let n = &d["nodegroup"];
    assert_eq!(n["scalingConfig"]["desiredSize"], 4);
    assert_eq!(n["labels"], serde_json::json!({"tier": "front"}));
    assert_eq!(n["taints"][0]["key"], "dedicated");
    assert_eq!(n["remoteAccess"]["ec2SshKey"], "ops");
    assert_eq!(n["remoteAccess"]["sourceSecurityGroups"][0], vpc_sg);
    // Scale in: the surplus nodes are terminated.
    srv.aws(&[
        "eks",
        "update-nodegroup-config",
        "--cluster-name",
        "c",
        "--nodegroup-name",
        "ng",
        "--scaling-config",
        "minSize=0,desiredSize=1",
    ])
    .json();
    assert_eq!(running_nodes(&srv, "c", "ng"), 1);
    // Out of bounds: refused, nothing launched.
    srv.aws(&[
        "eks",
        "update-nodegroup-config",
        "--cluster-name",
        "c",
        "--nodegroup-name",
        "ng",
        "--scaling-config",
        "desiredSize=9",
    ])
    .fails_with("InvalidParameterException", "desiredSize=9");
    assert_eq!(running_nodes(&srv, "c", "ng"), 1);
}

#[test]
fn replayed_client_request_tokens_return_the_first_result() {
    let srv = Server::start();
    let subnet = dual_stack_subnet(&srv);
    ipv6_cluster(&srv, "c", &subnet);
    let ng = |token: &str| {
        srv.aws(&[
            "eks",
            "create-nodegroup",
            "--cluster-name",
            "c",
            "--nodegroup-name",
            "ng",
            "--subnets",
            &subnet,
            "--node-role",
            NODE_ROLE,
            "--scaling-config",
            "minSize=1,maxSize=3,desiredSize=2",
            "--client-request-token",
            token,
        ])
    };
    let a = ng("tok-ng").json();
    let b = ng("tok-ng").json();
    assert_eq!(
        a["nodegroup"]["nodegroupArn"],
        b["nodegroup"]["nodegroupArn"]
    );
    assert_eq!(
        running_nodes(&srv, "c", "ng"),
        2,
        "the replay launched nothing"
    );
    ng("another-token").fails_with("ResourceInUseException", "ng");

    let addon = || {
        srv.aws(&[
            "eks",
            "create-addon",
            "--cluster-name",
            "c",
            "--addon-name",
            "kube-proxy",
            "--client-request-token",
            "tok-addon",
        ])
    };
    let a = addon().json();
    assert_eq!(a["addon"]["addonArn"], addon().json()["addon"]["addonArn"]);

    let update = |token: &str, public: &str| {
        srv.aws(&[
            "eks",
            "update-cluster-config",
            "--name",
            "c",
            "--resources-vpc-config",
            &format!("endpointPublicAccess={public}"),
            "--client-request-token",
            token,
        ])
    };
    let u1 = update("tok-up", "false").json();
    let u2 = update("tok-up", "false").json();
    assert_eq!(u1["update"]["id"], u2["update"]["id"]);
    let ids = srv.aws(&["eks", "list-updates", "--name", "c"]).json();
    assert_eq!(ids["updateIds"].as_array().unwrap().len(), 1, "{ids}");
    // The same token for another request is refused.
    update("tok-up", "true").fails_with("InvalidRequestException", "tok-up");

    let scale = || {
        srv.aws(&[
            "eks",
            "update-nodegroup-config",
            "--cluster-name",
            "c",
            "--nodegroup-name",
            "ng",
            "--scaling-config",
            "desiredSize=3",
            "--client-request-token",
            "tok-scale",
        ])
    };
    assert_eq!(
        scale().json()["update"]["id"],
        scale().json()["update"]["id"]
    );
    assert_eq!(running_nodes(&srv, "c", "ng"), 3);
    // Tokens are durable.
    let mut srv = srv;
    srv.kill9_and_restart();
    let again = srv
        .aws(&[
            "eks",
            "update-cluster-config",
            "--name",
            "c",
            "--resources-vpc-config",
            "endpointPublicAccess=false",
            "--client-request-token",
            "tok-up",
        ])
        .json();
    assert_eq!(again["update"]["id"], u1["update"]["id"]);
}

#[test]
fn every_list_call_pages_with_opaque_tokens() {
    let srv = Server::start();
    let subnet = dual_stack_subnet(&srv);
    // ListAddons and ListFargateProfiles page through the same helper (list_children), covered
    // by the unit tests; the CLI walks two lists here to keep the run short.
    for c in ["a", "b", "c"] {
        ipv6_cluster(&srv, c, &subnet);
    }
    for n in ["n1", "n2", "n3"] {
        srv.aws(&[
            "eks",
            "create-nodegroup",
            "--cluster-name",
            "a",
            "--nodegroup-name",
            n,
            "--subnets",
            &subnet,
            "--node-role",
            NODE_ROLE,
            "--scaling-config",
            "minSize=0,maxSize=1,desiredSize=0",
        ])
        .json();
    }
    // The CLI follows the tokens page by page (maxResults=1) and gets every item once.
    for (args, key, want) in [
        (vec!["list-clusters"], "clusters", vec!["a", "b", "c"]),
        (
            vec!["list-nodegroups", "--cluster-name", "a"],
            "nodegroups",
            vec!["n1", "n2", "n3"],
        ),
    ] {
        let mut a = vec!["eks"];
        a.extend(args.iter().copied());
        a.extend(["--page-size", "1"]);
        let v = srv.aws(&a).json();
        let got: Vec<String> = v[key].as_array().unwrap().iter().map(s).collect();
        assert_eq!(got, want, "{args:?}");
        // One page by hand: a token comes back, not the next name itself.
        let mut a = vec!["eks"];
        a.extend(args.iter().copied());
        a.extend(["--max-results", "1", "--no-paginate"]);
        let v = srv.aws(&a).json();
        let token = s(&v["nextToken"]);
        assert!(token.len() > 16 && token != want[1], "{token}");
        let mut a = vec!["eks"];
        a.extend(args.iter().copied());
        a.extend([
            "--max-results",
            "1",
            "--no-paginate",
            "--next-token",
            &token,
        ]);
        assert_eq!(srv.aws(&a).json()[key][0], want[1]);
        // A forged token and a bad page size are refused.
        let mut a = vec!["eks"];
        a.extend(args.iter().copied());
        a.extend(["--no-paginate", "--next-token", "bogus"]);
        srv.aws(&a)
            .fails_with("InvalidParameterException", "nextToken");
    }
    srv.aws(&[
        "eks",
        "list-clusters",
        "--max-results",
        "101",
        "--no-paginate",
    ])
    .fails_with("InvalidParameterException", "maxResults");
    // A token of one list is refused by another.
    let t = s(&srv
        .aws(&[
            "eks",
            "list-clusters",
            "--max-results",
            "1",
            "--no-paginate",
        ])
        .json()["nextToken"]);
    srv.aws(&[
        "eks",
        "list-addons",
        "--cluster-name",
        "a",
        "--no-paginate",
        "--next-token",
        &t,
    ])
    .fails_with("InvalidParameterException", "ListAddons");
}

#[test]
fn fargate_duplicates_are_409_and_selectors_are_limited_to_five() {
    let srv = Server::start();
    let subnet = dual_stack_subnet(&srv);
    ipv6_cluster(&srv, "c", &subnet);
    let fp = |name: &str, selectors: &str| {
        srv.aws(&[
            "eks",
            "create-fargate-profile",
            "--cluster-name",
            "c",
            "--fargate-profile-name",
            name,
            "--pod-execution-role-arn",
            "arn:aws:iam::123456789012:role/pod",
            "--subnets",
            &subnet,
            "--selectors",
            selectors,
        ])
    };
    let six = (0..6)
        .map(|i| format!("{{\"namespace\":\"ns{i}\"}}"))
        .collect::<Vec<_>>()
        .join(",");
    fp("many", &format!("[{six}]")).fails_with("InvalidParameterException", "selectors");
    let five = (0..5)
        .map(|i| format!("{{\"namespace\":\"ns{i}\"}}"))
        .collect::<Vec<_>>()
        .join(",");
    fp("fp", &format!("[{five}]")).json();
    fp("fp", "[{\"namespace\":\"default\"}]").fails_with("ResourceInUseException", "fp");
}
