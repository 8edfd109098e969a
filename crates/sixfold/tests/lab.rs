//! End-to-end tests of the lab (root): the real `sixfold up` with its defaults, its address map
//! (`status --output json`) and its matrix, an independent check with `ip netns exec`, and
//! `down` leaving nothing behind (namespaces, links, nftables tables, processes) — also after a
//! crash of `up`, and with `up` working again afterwards. Every spawned command has a timeout;
//! a drop guard runs `down` when a test fails. No silent skip: without root the tests fail.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

const UP_TIMEOUT: Duration = Duration::from_secs(180);
const CMD_TIMEOUT: Duration = Duration::from_secs(60);

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the lab tests need root: `sixfold up` creates network namespaces; run the suite as root"
    );
}

fn sixfold_bin() -> &'static str {
    env!("CARGO_BIN_EXE_sixfold")
}

fn require_plugins() {
    let dir = Path::new(sixfold_bin()).parent().unwrap();
    for b in ["sixfold-cni", "sixfold-egress-cni"] {
        assert!(
            dir.join(b).is_file(),
            "{b} is not built next to sixfold in {}; run the tests with --workspace (or `cargo build -p cni` first)",
            dir.display()
        );
    }
}

/// Run a command with a timeout: (success, stdout, stderr).
fn run(program: &str, args: &[&str], timeout: Duration) -> (bool, String, String) {
    let mut cmd = Command::new(program);
    cmd.args(args);
    let out = dataplane::exec::run(cmd, b"", timeout)
        .unwrap_or_else(|e| panic!("{program} {args:?} did not finish: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sixfold(args: &[&str], timeout: Duration) -> (bool, String, String) {
    run(sixfold_bin(), args, timeout)
}

/// One lab, named uniquely per test; `down` on drop unless the test already did.
struct Lab {
    name: String,
    downed: bool,
}

impl Lab {
    fn new() -> Lab {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "t{}x{}",
            std::process::id() % 100_000,
            N.fetch_add(1, Ordering::SeqCst)
        );
        Lab {
            name,
            downed: false,
        }
    }
    fn state_dir(&self) -> PathBuf {
        Path::new("/run/sixfold-lab").join(&self.name)
    }
    fn up(&self, extra: &[&str]) -> (bool, String, String) {
        let mut args = vec!["up", "--name", &self.name];
        args.extend_from_slice(extra);
        sixfold(&args, UP_TIMEOUT)
    }
    fn status(&self) -> Value {
        let (ok, out, err) = sixfold(
            &["status", "--name", &self.name, "--output", "json"],
            CMD_TIMEOUT,
        );
        assert!(ok, "status failed: {err}");
        serde_json::from_str(&out).expect("status --output json prints JSON")
    }
    fn down(&mut self) -> (bool, String, String) {
        self.downed = true;
        sixfold(&["down", "--name", &self.name], CMD_TIMEOUT)
    }
    fn recorded(&self) -> Value {
        let text = std::fs::read(self.state_dir().join("lab.json")).expect("state file");
        serde_json::from_slice(&text).expect("state is JSON")
    }
    fn netns(&self) -> Vec<String> {
        std::fs::read_dir("/run/netns")
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| n.starts_with(&format!("sfl-{}-", self.name)))
                    .collect()
            })
            .unwrap_or_default()
    }
    /// Processes whose command line mentions this lab (by name flag or state dir).
    fn processes(&self) -> Vec<String> {
        let dir = self.state_dir().display().to_string();
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let argv: Vec<String> = raw
                .split(|b| *b == 0)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect();
            let lab_flag = argv
                .windows(2)
                .any(|w| w[0] == "--lab" && w[1] == self.name);
            if lab_flag || argv.iter().any(|a| a.contains(&dir)) {
                out.push(format!("{pid}: {}", argv.join(" ")));
            }
        }
        out
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.downed {
            let _ = sixfold(&["down", "--name", &self.name], CMD_TIMEOUT);
        }
    }
}

/// The root namespace's links and nftables tables (which the lab must never change).
fn root_snapshot() -> (BTreeSet<String>, String) {
    let (_, links, _) = run("ip", &["-j", "link", "show"], CMD_TIMEOUT);
    let links: Value = serde_json::from_str(&links).unwrap_or(Value::Null);
    let names = links
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["ifname"].as_str().map(str::to_owned))
        .collect();
    let (_, tables, _) = run("nft", &["list", "tables"], CMD_TIMEOUT);
    (names, tables)
}

fn v6(v: &Value) -> Ipv6Addr {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{v} is not an IPv6 address"))
}

fn v4(v: &Value) -> Ipv4Addr {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{v} is not an IPv4 address"))
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
    let mut lab = Lab::new();
    let (ok, out, err) = lab.up(&["--timings"]);
    assert!(ok, "sixfold up failed:\n{out}\n{err}");

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
    let (ok, line, err) = run(
        "ip",
        &[
            "netns",
            "exec",
            ns1,
            sixfold_bin(),
            "lab-probe",
            "--connect",
            &target,
        ],
        CMD_TIMEOUT,
    );
    assert!(ok, "pod on node 1 cannot reach a pod on node 3: {err}");
    assert_eq!(line.trim(), format!("web-3-1 saw {}", v6(&p1["ipv6"])));
    let svc = &services[0];
    let target = format!("[{}]:80", v6(&svc["cluster_ip"]));
    let (ok, line, err) = run(
        "ip",
        &[
            "netns",
            "exec",
            ns1,
            sixfold_bin(),
            "lab-probe",
            "--connect",
            &target,
        ],
        CMD_TIMEOUT,
    );
    assert!(ok, "pod on node 1 cannot reach ClusterIP {target}: {err}");
    let backend = line.split(" saw ").next().unwrap().to_owned();
    assert!(
        svc["backends"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b == backend.as_str()),
        "{line} is not from a backend of {svc}"
    );

    // Down leaves nothing.
    let recorded = lab.recorded();
    let (ok, out, err) = lab.down();
    assert!(ok, "down failed:\n{out}\n{err}");
    assert_nothing_left(&lab, &recorded, &before);
}

fn assert_nothing_left(lab: &Lab, recorded: &Value, before: &(BTreeSet<String>, String)) {
    assert!(lab.netns().is_empty(), "namespaces left: {:?}", lab.netns());
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
    let mut lab = Lab::new();
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
    let (ok, out, err) = lab.down();
    assert!(ok, "down after a crash failed:\n{out}\n{err}");
    assert_nothing_left(&lab, &recorded, &before);
    // Idempotent.
    let (ok, out, err) = lab.down();
    assert!(ok, "a second down failed:\n{out}\n{err}");
    // Up again works.
    lab.downed = false;
    let (ok, out, err) = lab.up(&[
        "--nodes",
        "2",
        "--pods-per-node",
        "1",
        "--fargate-pods",
        "0",
        "--services",
        "1",
    ]);
    assert!(ok, "up after down failed:\n{out}\n{err}");
    assert!(!out.contains("FAIL"), "{out}");
    let recorded = lab.recorded();
    let (ok, out, err) = lab.down();
    assert!(ok, "down failed:\n{out}\n{err}");
    assert_nothing_left(&lab, &recorded, &before);
}

#[test]
fn invalid_flags_are_refused_before_anything_is_built() {
    require_root();
    let lab = Lab::new();
    let (ok, _, err) = lab.up(&["--services", "99"]);
    assert!(!ok);
    assert!(err.contains("--services"), "{err}");
    assert!(lab.netns().is_empty());
    assert!(!lab.state_dir().exists());
}

#[test]
fn down_reports_a_dead_agent_once_per_node_and_still_removes_everything() {
    require_root();
    require_plugins();
    let before = root_snapshot();
    let mut lab = Lab::new();
    let (ok, out, err) = lab.up(&[
        "--nodes",
        "2",
        "--pods-per-node",
        "3",
        "--fargate-pods",
        "0",
        "--services",
        "0",
    ]);
    assert!(ok, "up failed:\n{out}\n{err}");
    let recorded = lab.recorded();
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
    while Path::new(&format!("/proc/{pid}/cmdline")).exists()
        && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent did not die"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (ok, out, err) = lab.down();
    assert!(ok, "down failed:\n{out}\n{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning for the dead agent of node1, not one per pod:\n{err}"
    );
    assert!(
        warnings[0].contains("agent of node1") && warnings[0].contains("3 pods"),
        "{err}"
    );
    // node2's agent still ran: its pods got their DEL.
    assert!(out.contains("CNI DEL for 3 pods"), "{out}");
    assert_nothing_left(&lab, &recorded, &before);
}
