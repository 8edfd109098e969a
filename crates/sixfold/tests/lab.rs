//! End-to-end tests of the lab (root): the real `sixfold up` with its defaults, its address map
//! (`status --output json`) and its matrix, an independent check with `ip netns exec`, and
//! `down` leaving nothing behind (namespaces, links, nftables tables, processes) — also after a
//! crash of `up`, and with `up` working again afterwards. Every spawned command has a timeout;
//! a drop guard runs `down` when a test fails. No silent skip: without root the tests fail.

mod common;

use std::collections::BTreeSet;
use std::net::Ipv6Addr;
use std::process::Command;
use std::time::Duration;

use common::Cli;
use common::lab::{Lab, probe_in, require_plugins, require_root, sixfold_bin, v4, v6};
use serde_json::Value;
use test_support::{ip_json, sh};

/// The root namespace's links and nftables tables (which the lab must never change).
fn root_snapshot() -> (BTreeSet<String>, String) {
    let names = ip_json(&["link", "show"])
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["ifname"].as_str().map(str::to_owned))
        .collect();
    (names, sh(&["nft", "list", "tables"]))
}

fn inside(addr: Ipv6Addr, cidr: &str) -> bool {
    let n: ipnet::Ipv6Net = cidr.parse().unwrap();
    n.contains(&addr)
}

#[test]
fn up_builds_a_proven_ipv6_cluster_and_down_leaves_nothing() {
    require_root();
    require_plugins();
    let before = root_snapshot();
    let mut lab = Lab::named();
    let up = lab.try_up(&["--timings"]);
    assert!(up.ok(), "sixfold up failed:\n{}\n{}", up.stdout, up.stderr);
    let out = up.stdout.clone();

    // The matrix: every path proven, none failed.
    for path in [
        "pod → pod, same node",
        "pod → pod, across nodes",
        "pod → service (ClusterIP)",
        "pod → service (DNS name)",
        "pod → IPv4 internet (via IGW NAT)",
        "pod → IPv6 internet (via EIGW)",
        "internet → pod IPv6 (unsolicited)",
        "Fargate pod → EC2 pod",
        "EC2 pod → Fargate pod",
    ] {
        assert!(out.contains(path), "the matrix lacks {path:?}:\n{out}");
    }
    assert!(!out.contains("FAIL"), "a path failed:\n{out}");
    assert!(out.contains("paths proven"), "{out}");
    let refused = out
        .lines()
        .find(|l| l.starts_with("internet → pod IPv6 (unsolicited)"))
        .expect("the unsolicited row");
    assert!(
        refused.contains("administratively prohibited (EACCES)"),
        "the negative row was not proven by the EIGW's own refusal: {refused}"
    );
    // The policy rows, each proven both ways through the region's API: the negative half names
    // its own refusal, the positive half the answer that came back.
    let row = |path: &str| {
        out.lines()
            .find(|l| l.starts_with(path))
            .unwrap_or_else(|| panic!("the matrix lacks {path:?}:\n{out}"))
            .to_owned()
    };
    use lab::matrix::policy_rows::{ROUTE_MISSING, ROUTE_RESTORED, SG_MISSING, SG_RESTORED};
    let no_route = row(ROUTE_MISSING);
    assert!(
        no_route.contains("DeleteRoute") && no_route.contains("no route (ENETUNREACH)"),
        "the route-missing row was not proven by the router's no-route: {no_route}"
    );
    let dropped = row(SG_MISSING);
    assert!(
        dropped.contains("RevokeSecurityGroupEgress")
            && dropped.contains("timed out, dropped silently: the drop counter of out_eni_"),
        "the security-group row was not proven by a counted silent drop: {dropped}"
    );
    for (path, call) in [
        (ROUTE_RESTORED, "CreateRoute"),
        (SG_RESTORED, "AuthorizeSecurityGroupEgress"),
    ] {
        let back = row(path);
        assert!(
            back.contains(call) && back.contains("internet saw "),
            "{path}: not given back through the API and working again: {back}"
        );
    }

    // The address map.
    let s = lab.status();
    assert_eq!(s["phase"], "up");
    assert_eq!(
        s["cluster"]["source"], "eks",
        "the cluster did not come from EKS: {}",
        s["cluster"]
    );
    assert_eq!(s["cluster"]["nodegroup"], "nodes", "{}", s["cluster"]);
    assert!(s["cluster"]["vpc_cni"].is_string(), "{}", s["cluster"]);
    let cidr = s["cluster"]["service_cidr"].as_str().unwrap().to_owned();
    assert!(cidr.starts_with("fd") && cidr.ends_with("/108"), "{cidr}");
    let net: ipnet::Ipv6Net = cidr.parse().unwrap();
    assert_eq!(
        v6(&s["cluster"]["dns"]),
        Ipv6Addr::from(u128::from(net.network()) | 0xa)
    );
    let nodes = s["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    let vpc4: ipnet::Ipv4Net = "10.0.0.0/16".parse().unwrap();
    let public: ipnet::Ipv4Net = "198.51.100.0/24".parse().unwrap();
    let vpc6 = s["vpc"]["ipv6"].as_str().unwrap().to_owned();
    for n in nodes {
        assert!(vpc4.contains(&v4(&n["ipv4"])), "{n}");
        assert!(public.contains(&v4(&n["public_ipv4"])), "{n}");
        assert!(inside(v6(&n["ipv6"]), &vpc6), "{n}");
        let p = n["prefix"].as_str().expect("every node has its /80");
        assert!(p.ends_with("/80") && inside(p.split('/').next().unwrap().parse().unwrap(), &vpc6));
    }
    let pods = s["pods"].as_array().unwrap();
    let egress: ipnet::Ipv4Net = "169.254.172.0/22".parse().unwrap();
    assert_eq!(pods.iter().filter(|p| p["fargate"] == false).count(), 6);
    assert_eq!(pods.iter().filter(|p| p["fargate"] == true).count(), 1);
    for p in pods {
        if p["fargate"] == true {
            assert!(inside(v6(&p["ipv6"]), &vpc6), "{p}");
            assert!(vpc4.contains(&v4(&p["ipv4"])), "{p}");
            continue;
        }
        let node = nodes.iter().find(|n| n["name"] == p["node"]).unwrap();
        assert!(
            inside(v6(&p["ipv6"]), node["prefix"].as_str().unwrap()),
            "pod {p} outside its node's /80"
        );
        assert!(egress.contains(&v4(&p["ipv4"])), "{p}");
    }
    let services = s["services"].as_array().unwrap();
    assert_eq!(services.len(), 2);
    for v in services {
        assert!(net.contains(&v6(&v["cluster_ip"])), "{v}");
    }

    // Independently, with ip netns exec: a pod on node 1 reaches a pod on node 3 and a ClusterIP.
    let pod = |name: &str| pods.iter().find(|p| p["name"] == name).unwrap().clone();
    let (p1, p3) = (pod("web-1-1"), pod("web-3-1"));
    let ns1 = p1["netns"].as_str().unwrap();
    let target = format!("[{}]:8080", v6(&p3["ipv6"]));
    let Cli {
        code,
        stdout: line,
        stderr: err,
    } = probe_in(ns1, &target);
    assert_eq!(code, 0, "pod on node 1 cannot reach a pod on node 3: {err}");
    assert_eq!(line.trim(), format!("web-3-1 saw {}", v6(&p1["ipv6"])));
    let svc = &services[0];
    let target = format!("[{}]:80", v6(&svc["cluster_ip"]));
    let Cli {
        code,
        stdout: line,
        stderr: err,
    } = probe_in(ns1, &target);
    assert_eq!(
        code, 0,
        "pod on node 1 cannot reach ClusterIP {target}: {err}"
    );
    let backend = line.split(" saw ").next().unwrap().to_owned();
    assert!(
        svc["backends"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b == backend.as_str()),
        "{line} is not from a backend of {svc}"
    );

    // The policy rows gave back what they took: after the proof, pod 1 still reaches the IPv6
    // internet (the route and the egress rule are back, and the dataplane followed).
    let target = format!("[{}]:80", v6(&s["internet"]["ipv6"]));
    let Cli {
        code,
        stdout: line,
        stderr: err,
    } = probe_in(ns1, &target);
    assert_eq!(
        code, 0,
        "after the proof pod 1 cannot reach the IPv6 internet: {err}"
    );
    assert_eq!(line.trim(), format!("internet saw {}", v6(&p1["ipv6"])));
    // The same rows in the JSON the proof writes (`checks.json`, drawn by `sixfold map`).
    let checks: Value = serde_json::from_slice(
        &std::fs::read(lab.state_dir().join("checks.json")).expect("checks.json"),
    )
    .expect("checks.json is JSON");
    for path in [ROUTE_MISSING, ROUTE_RESTORED, SG_MISSING, SG_RESTORED] {
        let c = checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["path"] == path)
            .unwrap_or_else(|| panic!("checks.json lacks {path:?}: {checks}"));
        assert_eq!(c["ok"], true, "{c}");
    }

    // Down leaves nothing.
    let recorded = lab.state();
    let down = lab.down();
    assert!(down.ok(), "down failed:\n{}\n{}", down.stdout, down.stderr);
    assert_nothing_left(&lab, &recorded, &before);
}

fn assert_nothing_left(lab: &Lab, recorded: &Value, before: &(BTreeSet<String>, String)) {
    assert!(
        lab.namespaces().is_empty(),
        "namespaces left: {:?}",
        lab.namespaces()
    );
    assert!(
        lab.processes().is_empty(),
        "processes left: {:?}",
        lab.processes()
    );
    for p in recorded["processes"].as_array().into_iter().flatten() {
        let pid = p["pid"].as_u64().unwrap();
        let argv: Vec<String> = p["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        let now = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|raw| {
                raw.split(|b| *b == 0)
                    .filter(|s| !s.is_empty())
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        assert_ne!(now, argv, "process {pid} ({}) is still running", p["role"]);
    }
    assert!(!lab.state_dir().exists(), "state dir left");
    let after = root_snapshot();
    assert_eq!(after.0, before.0, "links of the root namespace changed");
    assert_eq!(
        after.1, before.1,
        "nftables tables of the root namespace changed"
    );
}

#[test]
fn down_cleans_up_after_a_crashed_up_and_up_works_again() {
    require_root();
    require_plugins();
    let before = root_snapshot();
    let mut lab = Lab::named();
    // Start up and kill it with SIGKILL in the middle of building.
    let mut child = Command::new(sixfold_bin())
        .args([
            "up",
            "--name",
            &lab.name,
            "--nodes",
            "2",
            "--pods-per-node",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let _ = child.kill();
    let _ = child.wait();
    let recorded = std::fs::read(lab.state_dir().join("lab.json"))
        .ok()
        .and_then(|t| serde_json::from_slice(&t).ok())
        .unwrap_or(Value::Null);
    let down = lab.down();
    assert!(
        down.ok(),
        "down after a crash failed:\n{}\n{}",
        down.stdout,
        down.stderr
    );
    assert_nothing_left(&lab, &recorded, &before);
    // Idempotent.
    let down = lab.down();
    assert!(
        down.ok(),
        "a second down failed:\n{}\n{}",
        down.stdout,
        down.stderr
    );
    // Up again works.
    let up = lab.try_up(&[
        "--nodes",
        "2",
        "--pods-per-node",
        "1",
        "--fargate-pods",
        "0",
        "--services",
        "1",
    ]);
    assert!(
        up.ok(),
        "up after down failed:\n{}\n{}",
        up.stdout,
        up.stderr
    );
    assert!(!up.stdout.contains("FAIL"), "{}", up.stdout);
    let recorded = lab.state();
    let down = lab.down();
    assert!(down.ok(), "down failed:\n{}\n{}", down.stdout, down.stderr);
    assert_nothing_left(&lab, &recorded, &before);
}

#[test]
fn invalid_flags_are_refused_before_anything_is_built() {
    require_root();
    let mut lab = Lab::named();
    let up = lab.try_up(&["--services", "99"]);
    assert!(!up.ok());
    assert!(up.stderr.contains("--services"), "{}", up.stderr);
    assert!(lab.namespaces().is_empty());
    assert!(!lab.state_dir().exists());
}

#[test]
fn down_reports_a_dead_agent_once_per_node_and_still_removes_everything() {
    require_root();
    require_plugins();
    let before = root_snapshot();
    let mut lab = Lab::up(&[
        "--nodes",
        "2",
        "--pods-per-node",
        "3",
        "--fargate-pods",
        "0",
        "--services",
        "0",
    ]);
    let recorded = lab.state();
    let agent = recorded["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["role"] == "agent node1")
        .unwrap_or_else(|| panic!("no agent node1 in {recorded}"));
    let pid = i32::try_from(agent["pid"].as_u64().unwrap()).unwrap();
    // SAFETY: kill has no memory preconditions; the pid is the lab's own agent of node1.
    assert_eq!(
        unsafe { libc::kill(pid, libc::SIGKILL) },
        0,
        "killing the agent"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent did not die"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let down = lab.down();
    assert!(down.ok(), "down failed:\n{}\n{}", down.stdout, down.stderr);
    let warnings: Vec<&str> = down
        .stderr
        .lines()
        .filter(|l| l.contains("warning"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning for the dead agent of node1, not one per pod:\n{}",
        down.stderr
    );
    assert!(
        warnings[0].contains("agent of node1") && warnings[0].contains("3 pods"),
        "{}",
        down.stderr
    );
    // node2's agent still ran: its pods got their DEL.
    assert!(
        down.stdout.contains("CNI DEL for 3 pods"),
        "{}",
        down.stdout
    );
    assert_nothing_left(&lab, &recorded, &before);
}
