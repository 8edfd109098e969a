//! Root end-to-end test of the reconciling lab: the node group follows the region. The real
//! AWS CLI scales the lab's node group (`aws eks update-nodegroup-config`) against the lab's own
//! region, 3 → 4 → 2, and the lab's dataplane follows: a new node with a real agent and its own
//! /80 from the region whose pods answer, then removed nodes gone with their pods (CNI DEL),
//! namespaces, processes, router links and kube-proxy backends, their instances terminated.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::lab::Lab;
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
    let u = lab
        .aws(&[
            "eks",
            "update-nodegroup-config",
            "--cluster-name",
            &cluster,
            "--nodegroup-name",
            &ng,
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
