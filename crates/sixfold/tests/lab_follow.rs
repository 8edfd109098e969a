//! Root end-to-end tests of the reconciling lab: the lab follows its region.
//! - The real AWS CLI scales the lab's node group (`aws eks update-nodegroup-config`) against
//!   the lab's own region, 3 → 4 → 2, and the dataplane follows: a new node with a real agent
//!   and its own /80 from the region whose pods answer, then removed nodes gone with their pods
//!   (CNI DEL), namespaces, processes, router links and kube-proxy backends, their instances
//!   terminated.
//! - Bring your own cluster: a VPC, an IPv6 cluster and a node group made with `aws ec2 ...` /
//!   `aws eks ...` against a `sixfold serve`, brought up with `sixfold up --cluster`, proven,
//!   and followed when the user scales it; the clear refusals of a cluster that is missing, IPv4
//!   or without a node group.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::Server;
use common::lab::{Lab, sixfold_env};
use common::net::route_to_internet;
use serde_json::Value;

/// Generous: convergence takes about a second (bench/lab-converge.sh measures it).
const CONVERGE: Duration = Duration::from_secs(30);

fn scale(lab: &Lab, desired: usize) {
    let s = lab.state();
    let cluster = s["cluster"]["name"]
        .as_str()
        .expect("cluster name")
        .to_owned();
    let ng = s["cluster"]["nodegroup"]
        .as_str()
        .expect("node group")
        .to_owned();
    scale_group(&|args| lab.aws(args), &cluster, &ng, desired);
}

fn scale_group(aws: &dyn Fn(&[&str]) -> common::Cli, cluster: &str, ng: &str, desired: usize) {
    let u = aws(&[
        "eks",
        "update-nodegroup-config",
        "--cluster-name",
        cluster,
        "--nodegroup-name",
        ng,
        "--scaling-config",
        &format!("desiredSize={desired}"),
    ])
    .json();
    assert_eq!(u["update"]["type"], "ConfigUpdate", "{u}");
}

fn names(v: &Value, key: &str) -> BTreeSet<String> {
    v[key]
        .as_array()
        .expect("a list")
        .iter()
        .map(|x| x["name"].as_str().expect("name").to_owned())
        .collect()
}

fn ready(s: &Value, nodes: usize, per_node: usize) -> bool {
    let ns = s["nodes"].as_array().expect("nodes");
    ns.len() == nodes
        && ns.iter().all(|n| n["prefix"].is_string())
        && s["pods"].as_array().expect("pods").len() == nodes * per_node
}

fn instance_states(lab: &Lab, ids: &[String]) -> Vec<String> {
    let mut args = vec!["ec2", "describe-instances", "--instance-ids"];
    args.extend(ids.iter().map(String::as_str));
    let d = lab.aws(&args).json();
    d["Reservations"]
        .as_array()
        .expect("reservations")
        .iter()
        .flat_map(|r| r["Instances"].as_array().expect("instances").iter())
        .map(|i| i["State"]["Name"].as_str().expect("state").to_owned())
        .collect()
}

#[test]
fn scaling_the_node_group_adds_and_removes_nodes_with_their_pods() {
    let lab = Lab::up(&[
        "--nodes",
        "3",
        "--pods-per-node",
        "2",
        "--services",
        "2",
        "--fargate-pods",
        "0",
    ]);
    let before = lab.state();
    assert!(ready(&before, 3, 2), "{}", before["nodes"]);
    let vpc6: ipnet::Ipv6Net = before["vpc"]["ipv6"].as_str().unwrap().parse().unwrap();

    // 3 → 4: a fourth node with its own /80 and the lab's two pods, which answer.
    scale(&lab, 4);
    let s = lab.wait_for("the fourth node and its pods", CONVERGE, |s| ready(s, 4, 2));
    let prefixes: BTreeSet<String> = s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["prefix"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        prefixes.len(),
        4,
        "every node has its own /80: {prefixes:?}"
    );
    for p in &prefixes {
        let net: ipnet::Ipv6Net = p.parse().unwrap();
        assert_eq!(net.prefix_len(), 80, "{p}");
        assert!(vpc6.contains(&net), "{p} is not inside the VPC's {vpc6}");
    }
    let new = s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| !names(&before, "nodes").contains(n["name"].as_str().unwrap()))
        .expect("a new node")
        .clone();
    // The region delegated exactly that /80 to the new node's ENI.
    let eni = lab
        .aws(&[
            "ec2",
            "describe-network-interfaces",
            "--network-interface-ids",
            new["eni"].as_str().unwrap(),
        ])
        .json();
    assert_eq!(
        eni["NetworkInterfaces"][0]["Ipv6Prefixes"][0]["Ipv6Prefix"], new["prefix"],
        "{eni}"
    );
    assert!(
        lab.namespaces()
            .contains(&new["netns"].as_str().unwrap().to_owned()),
        "the new node's namespace exists"
    );
    let from = &before["pods"][0];
    for p in s["pods"].as_array().unwrap() {
        if p["node"] != new["name"] {
            continue;
        }
        let addr = format!("[{}]:8080", p["ipv6"].as_str().unwrap());
        let out = lab.probe(from["netns"].as_str().unwrap(), &addr);
        assert_eq!(
            out.stdout.trim(),
            format!(
                "{} saw {}",
                p["name"].as_str().unwrap(),
                from["ipv6"].as_str().unwrap()
            ),
            "a pod on the new node answers across the VPC router: {}",
            out.stderr
        );
    }

    // 4 → 2: two nodes go, with everything of theirs.
    scale(&lab, 2);
    let after = lab.wait_for("two nodes left", CONVERGE, |s| ready(s, 2, 2));
    let kept = names(&after, "nodes");
    let removed: Vec<&Value> = s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| !kept.contains(n["name"].as_str().unwrap()))
        .collect();
    assert_eq!(removed.len(), 2);
    let ids: Vec<String> = removed
        .iter()
        .map(|n| n["instance_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        instance_states(&lab, &ids),
        ["terminated", "terminated"],
        "the removed nodes' instances are terminated"
    );
    let spaces = lab.namespaces();
    let gone_pods: Vec<&Value> = s["pods"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !kept.contains(p["node"].as_str().unwrap()))
        .collect();
    assert_eq!(gone_pods.len(), 4);
    for n in &removed {
        let ns = n["netns"].as_str().unwrap().to_owned();
        assert!(!spaces.contains(&ns), "{ns} is left over: {spaces:?}");
        let out = std::process::Command::new("ip")
            .args(["-n", &format!("sfl-{}-vpc", lab.name), "link", "show"])
            .arg(n["name"].as_str().unwrap())
            .output()
            .expect("ip link");
        assert!(
            !out.status.success(),
            "the router still has a link to {}",
            n["name"]
        );
    }
    let recorded: Vec<String> = after["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let roles: Vec<String> = after["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["role"].as_str().unwrap().to_owned())
        .collect();
    for p in &gone_pods {
        let (name, ns) = (p["name"].as_str().unwrap(), p["netns"].as_str().unwrap());
        assert!(!spaces.contains(&ns.to_owned()), "{ns} is left over");
        assert!(!recorded.contains(&ns.to_owned()), "{ns} is still recorded");
        assert!(
            !roles.contains(&format!("pod {name}")),
            "{name}'s responder is recorded"
        );
        assert!(
            common::lab::pids_with_args(&[name, &lab.name]).is_empty(),
            "{name}'s responder still runs"
        );
        assert!(
            after["pods"]
                .as_array()
                .unwrap()
                .iter()
                .all(|q| q["name"] != p["name"]),
            "{name} is still a pod"
        );
    }
    for n in &removed {
        let node = n["name"].as_str().unwrap();
        assert!(
            !roles.contains(&format!("agent {node}")),
            "{node}'s agent is recorded"
        );
    }
    // kube-proxy on the remaining nodes balances only over pods that exist.
    for n in after["nodes"].as_array().unwrap() {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", n["netns"].as_str().unwrap()])
            .args(["nft", "list", "table", "ip6", "sixfold-services"])
            .output()
            .expect("nft");
        let rules = String::from_utf8_lossy(&out.stdout);
        for p in &gone_pods {
            let ip = p["ipv6"].as_str().unwrap();
            assert!(
                !rules.contains(ip),
                "{} still DNATs to {ip}:\n{rules}",
                n["name"]
            );
        }
    }
    // Every convergence went through: CNI DEL of each removed pod included.
    let log = std::fs::read_to_string(lab.state_dir().join("logs/reconciler.log")).unwrap();
    assert!(
        !log.contains("failed"),
        "the reconciler reported a failure:\n{log}"
    );
    assert!(
        log.contains("removed node") && log.contains("added node"),
        "{log}"
    );
    // The pods that stayed still reach each other.
    let (a, b) = (&after["pods"][0], &after["pods"][3]);
    let out = lab.probe(
        a["netns"].as_str().unwrap(),
        &format!("[{}]:8080", b["ipv6"].as_str().unwrap()),
    );
    assert_eq!(
        out.stdout.trim(),
        format!(
            "{} saw {}",
            b["name"].as_str().unwrap(),
            a["ipv6"].as_str().unwrap()
        ),
        "{}",
        out.stderr
    );
}

const ROLE: &str = "arn:aws:iam::123456789012:role/eks";
const NODE_ROLE: &str = "arn:aws:iam::123456789012:role/node";

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// What a user builds with the AWS CLI: a dual-stack VPC (10.20.0.0/16, not the lab's own
/// 10.0.0.0/16) with a /20 subnet that auto-assigns IPv6, an IGW, an EIGW and a route table
/// with both default routes; returns (vpc, subnet ids).
fn user_vpc(srv: &Server) -> (String, Vec<String>) {
    let v = srv
        .aws(&[
            "ec2",
            "create-vpc",
            "--cidr-block",
            "10.20.0.0/16",
            "--amazon-provided-ipv6-cidr-block",
        ])
        .json();
    let vpc = s(&v["Vpc"]["VpcId"]);
    let block: ipnet::Ipv6Net = s(&v["Vpc"]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"])
        .parse()
        .unwrap();
    let v6 = ipnet::Ipv6Net::new(block.network(), 64)
        .unwrap()
        .to_string();
    // The VPC's default security group allows inbound only from itself. The lab's load balancer
    // health-checks the pods from the VPC, so the user lets the VPC's own blocks in, as the
    // embedded lab does (`region::allow_vpc_internal`); without it the targets stay unhealthy
    // (Target.Timeout), exactly as on AWS.
    let sg = s(&srv
        .aws(&[
            "ec2",
            "describe-security-groups",
            "--filters",
            &format!("Name=vpc-id,Values={vpc}"),
            "Name=group-name,Values=default",
        ])
        .json()["SecurityGroups"][0]["GroupId"]);
    srv.aws(&[
        "ec2",
        "authorize-security-group-ingress",
        "--group-id",
        &sg,
        "--ip-permissions",
        &format!(
            "IpProtocol=-1,IpRanges=[{{CidrIp=10.20.0.0/16}}],Ipv6Ranges=[{{CidrIpv6={block}}}]"
        ),
    ])
    .json();
    let id = s(&srv
        .aws(&[
            "ec2",
            "create-subnet",
            "--vpc-id",
            &vpc,
            "--availability-zone",
            "us-east-1b",
            "--cidr-block",
            "10.20.16.0/20",
            "--ipv6-cidr-block",
            &v6,
        ])
        .json()["Subnet"]["SubnetId"]);
    srv.aws(&[
        "ec2",
        "modify-subnet-attribute",
        "--subnet-id",
        &id,
        "--assign-ipv6-address-on-creation",
    ])
    .json();
    route_to_internet(srv, &vpc, &[&id]);
    let subnets = vec![id];
    (vpc, subnets)
}

fn create_cluster(srv: &Server, name: &str, family: &str, subnets: &[String]) {
    srv.aws(&[
        "eks",
        "create-cluster",
        "--name",
        name,
        "--role-arn",
        ROLE,
        "--resources-vpc-config",
        &format!("subnetIds={}", subnets.join(",")),
        "--kubernetes-network-config",
        &format!("ipFamily={family}"),
    ])
    .json();
}

fn create_nodegroup(srv: &Server, cluster: &str, ng: &str, subnets: &[String], desired: usize) {
    srv.aws(&[
        "eks",
        "create-nodegroup",
        "--cluster-name",
        cluster,
        "--nodegroup-name",
        ng,
        "--subnets",
        &subnets[0],
        "--node-role",
        NODE_ROLE,
        "--scaling-config",
        &format!("minSize=1,maxSize=5,desiredSize={desired}"),
    ])
    .json();
}

/// `sixfold up --cluster` that must fail: the message names `needles`, nothing is left.
fn refused(srv: &Server, cluster: &str, needles: &[&str]) {
    let creds = srv.data_dir.join("credentials").display().to_string();
    let name = Lab::unique_name();
    let out = sixfold_env(
        &[
            "up",
            "--name",
            &name,
            "--cluster",
            cluster,
            "--endpoint-url",
            &srv.endpoint,
            "--profile",
            "sixfold",
        ],
        &[("AWS_SHARED_CREDENTIALS_FILE", &creds)],
        common::lab::UP_TIMEOUT,
    );
    assert_ne!(
        out.code, 0,
        "up --cluster {cluster} succeeded: {}",
        out.stdout
    );
    for n in needles {
        assert!(
            out.stderr.contains(n),
            "the refusal of {cluster} does not name {n:?}: {}",
            out.stderr
        );
    }
    let left: Vec<String> = std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(&format!("sfl-{name}-")))
        .collect();
    assert!(left.is_empty(), "a refused up left {left:?}");
    assert!(
        !std::path::Path::new("/run/sixfold-lab")
            .join(&name)
            .exists(),
        "a refused up left its state dir"
    );
}

#[test]
fn a_cluster_the_user_built_is_brought_up_with_cluster_and_followed() {
    common::lab::require_root();
    let srv = Server::start();
    let (vpc, subnets) = user_vpc(&srv);
    create_cluster(&srv, "mine", "ipv6", &subnets);
    create_cluster(&srv, "old", "ipv4", &subnets);
    create_cluster(&srv, "bare", "ipv6", &subnets);
    create_nodegroup(&srv, "mine", "workers", &subnets, 2);

    refused(
        &srv,
        "nope",
        &["\"nope\"", "no such cluster", "aws eks create-cluster"],
    );
    refused(
        &srv,
        "old",
        &["\"old\"", "ipFamily is ipv4", "ipFamily=ipv6"],
    );
    refused(
        &srv,
        "bare",
        &["\"bare\"", "no node group", "aws eks create-nodegroup"],
    );

    let creds = srv.data_dir.join("credentials").display().to_string();
    let lab = Lab::up_env(
        &[
            "--cluster",
            "mine",
            "--endpoint-url",
            &srv.endpoint,
            "--profile",
            "sixfold",
            "--pods-per-node",
            "1",
            "--services",
            "1",
        ],
        &[("AWS_SHARED_CREDENTIALS_FILE", &creds)],
    );
    assert!(lab.up.stdout.contains("paths proven"), "{}", lab.up.stdout);
    assert!(!lab.up.stdout.contains("FAIL"), "{}", lab.up.stdout);
    let st = lab.state();
    assert_eq!(st["cluster"]["name"], "mine");
    assert_eq!(st["cluster"]["nodegroup"], "workers");
    assert_eq!(st["vpc"]["id"], vpc.as_str());
    assert_eq!(st["vpc"]["ipv4"], "10.20.0.0/16");
    assert_eq!(st["region"]["endpoint"], srv.endpoint.trim_end_matches('/'));
    // The nodes are exactly the user's node group instances, addressed from its subnets.
    let group: BTreeSet<String> = srv
        .aws(&[
            "ec2",
            "describe-instances",
            "--filters",
            "Name=tag:eks:nodegroup-name,Values=workers",
            "Name=instance-state-name,Values=running",
        ])
        .json()["Reservations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Instances"].as_array().unwrap().iter())
        .map(|i| s(&i["InstanceId"]))
        .collect();
    let nodes: BTreeSet<String> = st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| s(&n["instance_id"]))
        .collect();
    assert_eq!(nodes, group);
    let v4: ipnet::Ipv4Net = "10.20.16.0/20".parse().unwrap();
    for n in st["nodes"].as_array().unwrap() {
        assert!(
            v4.contains(&s(&n["ipv4"]).parse::<std::net::Ipv4Addr>().unwrap()),
            "{n}"
        );
        assert!(
            n["prefix"].as_str().is_some_and(|p| p.ends_with("/80")),
            "{n}"
        );
    }
    // The user scales their node group; the lab follows.
    scale_group(&|args| srv.aws(args), "mine", "workers", 3);
    lab.wait_for("the user's third node", CONVERGE, |s| ready(s, 3, 1));
    drop(lab);
    // `down` removed the lab, not the user's region: the node group's instances still run.
    let still = srv
        .aws(&[
            "ec2",
            "describe-instances",
            "--filters",
            "Name=tag:eks:nodegroup-name,Values=workers",
            "Name=instance-state-name,Values=running",
        ])
        .json()["Reservations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Instances"].as_array().unwrap().len())
        .sum::<usize>();
    assert_eq!(still, 3, "the user's instances are the user's");
}

/// Regression: a removed node's number comes back with the next scale-up; its old node dir
/// (conflist of the dead agent) made the new node look ready before its agent had its /80.
#[test]
fn a_node_number_that_comes_back_gets_a_fresh_agent_and_its_own_80() {
    let lab = Lab::up(&[
        "--nodes",
        "2",
        "--pods-per-node",
        "1",
        "--services",
        "1",
        "--fargate-pods",
        "0",
    ]);
    scale(&lab, 3);
    let three = lab.wait_for("a third node", CONVERGE, |s| ready(s, 3, 1));
    scale(&lab, 2);
    let two = lab.wait_for("back to two nodes", CONVERGE, |s| ready(s, 2, 1));
    let gone: Vec<String> = names(&three, "nodes")
        .difference(&names(&two, "nodes"))
        .cloned()
        .collect();
    scale(&lab, 3);
    let again = lab.wait_for("a third node again", CONVERGE, |s| ready(s, 3, 1));
    let back: Vec<String> = names(&again, "nodes")
        .difference(&names(&two, "nodes"))
        .cloned()
        .collect();
    assert_eq!(
        back, gone,
        "the removed node's number is the one that comes back"
    );
    let node = again["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == back[0].as_str())
        .unwrap();
    let old = three["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == back[0].as_str())
        .unwrap();
    assert_ne!(node["instance_id"], old["instance_id"]);
    assert_ne!(
        node["prefix"], old["prefix"],
        "a fresh /80 for a fresh instance"
    );
    let eni = lab
        .aws(&[
            "ec2",
            "describe-network-interfaces",
            "--network-interface-ids",
            node["eni"].as_str().unwrap(),
        ])
        .json();
    assert_eq!(
        eni["NetworkInterfaces"][0]["Ipv6Prefixes"][0]["Ipv6Prefix"], node["prefix"],
        "{eni}"
    );
    let pod = again["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["node"] == back[0].as_str())
        .unwrap();
    let from = &again["pods"][0];
    let out = lab.probe(
        from["netns"].as_str().unwrap(),
        &format!("[{}]:8080", pod["ipv6"].as_str().unwrap()),
    );
    assert!(
        out.stdout
            .starts_with(&format!("{} saw ", pod["name"].as_str().unwrap())),
        "{} / {}",
        out.stdout,
        out.stderr
    );
    let log = std::fs::read_to_string(lab.state_dir().join("logs/reconciler.log")).unwrap();
    assert!(!log.contains("failed"), "{log}");
}
