//! End-to-end tests of workloads in a running lab (root): `sixfold pod run` on a chosen node
//! and on the emptiest one, reached from another pod with `sixfold exec` and the lab's probe,
//! listed as JSON; `pod delete` running the real CNI DEL (the agent's own status and list show
//! the address released and cooling, the namespace is gone); two concurrent runs of one name
//! (one wins); a run whose chain fails half-way (nothing left, the address back with the
//! agent); `down` running DEL for every pod (the agents' logs show each release) and going on
//! past a DEL that fails (a dead agent); `status --env` pointing the real AWS CLI at the lab's
//! region. Every spawned command has a timeout; a drop guard runs `down`. Without root the
//! tests fail (no silent skip).

mod common;

use std::io::Read;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agent_api::{Request, Response};
use common::Cli;
use common::lab::{Lab, sixfold_bin, v6};
use serde_json::Value;

/// The lab's run for these tests: `nodes` nodes of one pod each, one service, no Fargate pod.
fn small_lab(nodes: &str) -> Lab {
    Lab::up(&[
        "--nodes",
        nodes,
        "--pods-per-node",
        "1",
        "--fargate-pods",
        "0",
        "--services",
        "1",
    ])
}

fn netns_exists(ns: &str) -> bool {
    Path::new("/run/netns").join(ns).exists()
}

/// The agent socket of `node`, as `status` reports it.
fn agent_socket(lab: &Lab, node: &str) -> PathBuf {
    let s = lab.status();
    let n = s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == node)
        .unwrap_or_else(|| panic!("no node {node}"));
    PathBuf::from(n["agent_socket"].as_str().unwrap())
}

/// The agent's own view (its socket API): (allocated, cooling, addresses held).
fn agent_view(socket: &Path) -> (u64, u64, Vec<Ipv6Addr>) {
    let t = Duration::from_secs(5);
    let status = match agent_api::call(socket, &Request::Status, t).expect("agent status") {
        Response::Status { status } => status,
        other => panic!("status answered {other:?}"),
    };
    let held = match agent_api::call(socket, &Request::List, t).expect("agent list") {
        Response::List { allocations } => allocations.into_iter().map(|a| a.address).collect(),
        other => panic!("list answered {other:?}"),
    };
    (status.allocated, status.cooling, held)
}

#[test]
fn pod_run_exec_list_delete_and_down_go_through_the_real_cni_chain() {
    let mut lab = small_lab("2");

    // A pod on a chosen node, then one where the fewest pods are (node1: 1, node2: 2).
    let Cli {
        code,
        stdout: out,
        stderr: err,
    } = lab.cmd(&["pod", "run", "api", "--node", "node2"]);
    assert_eq!(code, 0, "pod run api failed:\n{out}\n{err}");
    let Cli {
        code,
        stdout: out,
        stderr: err,
    } = lab.cmd(&["pod", "run", "db"]);
    assert_eq!(code, 0, "pod run db failed:\n{out}\n{err}");
    let (api, db) = (lab.pod("api"), lab.pod("db"));
    assert_eq!(api["node"], "node2", "{api}");
    assert_eq!(
        db["node"], "node1",
        "the default is the node with the fewest pods: {db}"
    );
    let s = lab.status();
    for p in [&api, &db] {
        let node = s["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == p["node"])
            .unwrap();
        let prefix: ipnet::Ipv6Net = node["prefix"].as_str().unwrap().parse().unwrap();
        assert!(prefix.contains(&v6(&p["ipv6"])), "{p} outside {prefix}");
        let egress: ipnet::Ipv4Net = "169.254.172.0/22".parse().unwrap();
        let v4: std::net::Ipv4Addr = p["ipv4"].as_str().unwrap().parse().unwrap();
        assert!(egress.contains(&v4), "{p}");
        assert!(
            p["created"].as_str().is_some_and(|c| c.ends_with('Z')),
            "{p}"
        );
        assert!(netns_exists(p["netns"].as_str().unwrap()), "{p}");
    }

    // Reachable from another pod, across nodes, with a real client inside the pod.
    let target = format!("[{}]:8080", v6(&api["ipv6"]));
    let Cli {
        code,
        stdout: line,
        stderr: err,
    } = lab.exec("db", &[sixfold_bin(), "lab-probe", "--connect", &target]);
    assert_eq!(code, 0, "db cannot reach api: {err}");
    assert_eq!(line.trim(), format!("api saw {}", v6(&db["ipv6"])));
    // exec passes the exit code through and runs in the pod's namespace.
    let Cli { code, .. } = lab.exec("db", &["sh", "-c", "exit 7"]);
    assert_eq!(code, 7, "exec must pass the command's exit code through");
    let Cli {
        code,
        stdout: addrs,
        stderr: err,
    } = lab.exec("db", &["ip", "-j", "-6", "addr", "show", "dev", "eth0"]);
    assert_eq!(code, 0, "{err}");
    assert!(addrs.contains(&v6(&db["ipv6"]).to_string()), "{addrs}");

    // Refusals name the value and the fix, and change nothing.
    let before = lab.pods();
    let Cli {
        code, stderr: err, ..
    } = lab.cmd(&["pod", "run", "api"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("\"api\" already exists") && err.contains("pod delete api"),
        "{err}"
    );
    let Cli {
        code, stderr: err, ..
    } = lab.cmd(&["pod", "run", "x", "--node", "node9"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("\"node9\"") && err.contains("node1, node2"),
        "{err}"
    );
    let Cli {
        code, stderr: err, ..
    } = lab.cmd(&["pod", "run", "Bad_Name"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("\"Bad_Name\"") && err.contains("DNS label"),
        "{err}"
    );
    let Cli {
        code, stderr: err, ..
    } = lab.exec("nopod", &["true"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("\"nopod\"") && err.contains("pod list"),
        "{err}"
    );
    assert_eq!(lab.pods(), before, "a refused command changed the pods");
    assert!(!netns_exists(&format!("sfl-{}-p-x", lab.name)));

    // Delete: CNI DEL through the plugins; the agent holds the address no more, it cools down.
    let socket = agent_socket(&lab, "node2");
    let (allocated, cooling, held) = agent_view(&socket);
    let addr = v6(&api["ipv6"]);
    assert!(
        held.contains(&addr),
        "the agent does not hold {addr}: {held:?}"
    );
    let Cli {
        code,
        stdout: out,
        stderr: err,
    } = lab.cmd(&["pod", "delete", "api"]);
    assert_eq!(code, 0, "pod delete failed:\n{out}\n{err}");
    let (allocated_after, cooling_after, held_after) = agent_view(&socket);
    assert!(
        !held_after.contains(&addr),
        "{addr} still held: {held_after:?}"
    );
    assert_eq!(
        allocated_after,
        allocated - 1,
        "the agent still counts the address"
    );
    assert_eq!(
        cooling_after,
        cooling + 1,
        "the released address is not cooling down"
    );
    assert!(
        !netns_exists(api["netns"].as_str().unwrap()),
        "namespace left"
    );
    assert!(
        lab.pods().iter().all(|p| p["name"] != "api"),
        "still listed"
    );
    // Gone is gone: kubectl's answer (exit 1), or exit 0 with --ignore-not-found.
    let Cli {
        code, stderr: err, ..
    } = lab.cmd(&["pod", "delete", "api"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no pod named \"api\""), "{err}");
    let Cli {
        code,
        stdout: out,
        stderr: err,
    } = lab.cmd(&["pod", "delete", "api", "--ignore-not-found"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("not found"), "{out}");

    // Two `pod run`s of one name at once: the state lock lets exactly one through.
    let outcomes: Vec<(bool, String)> = std::thread::scope(|scope| {
        let twins: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| lab.cmd(&["pod", "run", "twin"])))
            .collect();
        twins
            .into_iter()
            .map(|t| t.join().expect("a pod run thread"))
            .map(|out| (out.ok(), out.stderr))
            .collect()
    });
    assert_eq!(
        outcomes.iter().filter(|(ok, _)| *ok).count(),
        1,
        "exactly one of two concurrent runs must win: {outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|(ok, err)| !ok && err.contains("\"twin\" already exists")),
        "{outcomes:?}"
    );
    assert_eq!(lab.pods().iter().filter(|p| p["name"] == "twin").count(), 1);
    let Cli {
        code, stderr: err, ..
    } = lab.cmd(&["pod", "delete", "twin"]);
    assert_eq!(code, 0, "{err}");

    // A run whose chain fails half-way (the egress plugin is missing from --bin-dir, after
    // sixfold-cni's ADD took an address) leaves nothing: the address is back with the agent.
    let socket1 = agent_socket(&lab, "node1");
    let (allocated, _, held) = agent_view(&socket1);
    let half = tempfile::tempdir().unwrap();
    let real = Path::new(sixfold_bin())
        .parent()
        .unwrap()
        .join("sixfold-cni");
    std::os::unix::fs::symlink(&real, half.path().join("sixfold-cni")).unwrap();
    let before = lab.pods();
    let Cli {
        code, stderr: err, ..
    } = lab.cmd(&[
        "pod",
        "run",
        "half",
        "--node",
        "node1",
        "--bin-dir",
        half.path().to_str().unwrap(),
    ]);
    assert_ne!(code, 0, "a chain without its egress plugin must fail");
    assert!(err.contains("sixfold-egress-cni"), "{err}");
    let (allocated_after, _, held_after) = agent_view(&socket1);
    assert_eq!(
        (allocated_after, &held_after),
        (allocated, &held),
        "the failed ADD kept an address"
    );
    let ns = format!("sfl-{}-p-half", lab.name);
    assert!(!netns_exists(&ns), "the failed run left {ns}");
    assert_eq!(lab.pods(), before, "the failed run changed the pods");
    assert!(
        lab.status()["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n != ns.as_str()),
        "the failed run left {ns} recorded"
    );

    // Down: DEL for every pod through the plugins, seen by the agents themselves. Their logs
    // are opened now: `down` removes the files, the open descriptors still read them.
    let pods: Vec<String> = lab
        .pods()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(pods.len(), 3, "{pods:?}");
    let mut logs: Vec<std::fs::File> = ["node1", "node2"]
        .iter()
        .map(|n| {
            let path = lab.state_dir().join("logs").join(format!("agent-{n}.log"));
            let mut f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let mut skip = String::new();
            f.read_to_string(&mut skip).unwrap();
            f
        })
        .collect();
    let Cli {
        code,
        stdout: out,
        stderr: err,
    } = lab.down();
    assert_eq!(code, 0, "down failed:\n{out}\n{err}");
    assert!(out.contains("CNI DEL for 3 pods"), "{out}");
    let mut seen = String::new();
    for f in &mut logs {
        f.read_to_string(&mut seen).unwrap();
    }
    for p in &pods {
        let cid = format!("{}-{p}", lab.name);
        assert!(
            seen.lines().any(|l| l.contains("released")
                && !l.contains("netns is gone")
                && l.contains(&cid)),
            "no agent released {cid} on down:\n{seen}"
        );
    }
    assert!(
        std::fs::read_dir("/run/netns")
            .unwrap()
            .flatten()
            .all(|e| !e
                .file_name()
                .to_string_lossy()
                .starts_with(&format!("sfl-{}-", lab.name))),
        "namespaces left"
    );
}

#[test]
fn status_env_drives_the_aws_cli_and_down_goes_on_past_a_dead_agent() {
    let mut lab = small_lab("1");
    let s = lab.status();
    let aws = &s["aws"];
    assert_eq!(aws["endpoint_url"], s["region"]["endpoint"], "{s}");
    assert_eq!(aws["region"], "us-east-1");
    assert_eq!(aws["profile"], "sixfold");
    let creds = aws["credentials_file"].as_str().unwrap();
    assert!(Path::new(creds).is_file(), "{creds} is not a file");

    // `status --env` alone is enough for the real AWS CLI (no --endpoint-url, no --profile).
    let vars = lab.aws_env();
    for k in [
        "AWS_ENDPOINT_URL",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_PROFILE",
    ] {
        assert!(vars.iter().any(|(n, _)| n == k), "{k} missing: {vars:?}");
    }
    let Cli {
        code,
        stdout: out,
        stderr: err,
    } = lab.aws_by_env(&["ec2", "describe-vpcs"]);
    assert_eq!(code, 0, "the AWS CLI could not use the lab's region: {err}");
    let vpcs: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = vpcs["Vpcs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["VpcId"].as_str())
        .collect();
    assert!(
        ids.contains(&s["vpc"]["id"].as_str().unwrap()),
        "the lab's VPC {} is not among {ids:?}",
        s["vpc"]["id"]
    );

    // The table shows them too.
    let Cli {
        code,
        stdout: table,
        ..
    } = lab.cmd(&["status"]);
    assert_eq!(code, 0);
    assert!(
        table.contains(aws["endpoint_url"].as_str().unwrap()),
        "{table}"
    );
    assert!(
        table.contains(creds) && table.contains("export AWS_ENDPOINT_URL="),
        "{table}"
    );

    // An agent that died: `down` says so once for its node (its pod gets no DEL: nothing could
    // release the address) and removes the lab anyway.
    let recorded: Value =
        serde_json::from_slice(&std::fs::read(lab.state_dir().join("lab.json")).unwrap()).unwrap();
    let agent = recorded["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["role"] == "agent node1")
        .expect("the agent of node1 is recorded");
    let pid = agent["pid"].as_u64().unwrap() as libc::pid_t;
    // SAFETY: kill(2) of the lab's own agent, whose pid the lab recorded a moment ago.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty()) {
        assert!(
            std::time::Instant::now() < deadline,
            "agent {pid} did not die"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let Cli {
        code,
        stdout: out,
        stderr: err,
    } = lab.down();
    assert_eq!(code, 0, "down must go on past a dead agent:\n{out}\n{err}");
    assert!(
        err.contains(&format!("the agent of node1 (pid {pid}) is not running"))
            && err.contains("its 1 pods were not DELeted"),
        "the dead agent is not reported:\n{err}"
    );
    assert!(
        !err.contains("CNI DEL failed"),
        "a pod of a dead agent is not a failed DEL:\n{err}"
    );
    assert!(
        out.contains("CNI DEL for 0 pods") && !out.contains("failed"),
        "{out}"
    );
    assert!(!lab.state_dir().exists(), "state left");
    assert!(
        std::fs::read_dir("/run/netns")
            .unwrap()
            .flatten()
            .all(|e| !e
                .file_name()
                .to_string_lossy()
                .starts_with(&format!("sfl-{}-", lab.name))),
        "namespaces left"
    );
}
