//! Root end to end: the lab's agents learn their node from IMDS and run on role credentials.
//!
//! - `up` (IRSA, the default): every agent started with no instance flag and no credentials
//!   file, learned its node from the node's IMDSv2 at 169.254.169.254 (nothing at the IPv6
//!   endpoint), assumed `aws-node` with the projected token, and got its /80.
//! - A role without the IPv6 policy: node1's agent, started again on a role that trusts
//!   `kube-system:aws-node` but has no policy, is refused by the region (`UnauthorizedOperation`);
//!   it reports the refusal in `/v1/status` and its metrics, a pod ADD gets CNI code 11 naming
//!   the cause; the policy attached with the AWS CLI → the same agent process has its /80
//!   within 30 s and the pod starts.
//! - `up --cni-credentials node-role`: the agents run on the node group's role, from IMDS.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::lab::{Lab, sixfold_bin};
use dataplane::netns::NetNs;
use serde_json::Value;

const IPV6_POLICY: &str = lab::eks::IPV6_POLICY;
/// The agent's status listener inside the node namespace (its own loopback).
const METRICS: &str = "127.0.0.1:61679";

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// `GET path` of the agent's listener in namespace `ns`: (status, body).
fn agent_http(ns: &str, path: &str) -> Option<(u16, String)> {
    let path = path.to_owned();
    NetNs::by_name(ns)
        .unwrap()
        .run(move || -> std::io::Result<(u16, String)> {
            let mut c =
                TcpStream::connect_timeout(&METRICS.parse().unwrap(), Duration::from_secs(2))?;
            c.set_read_timeout(Some(Duration::from_secs(5)))?;
            write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")?;
            let mut t = String::new();
            c.read_to_string(&mut t)?;
            let status = t.get(9..12).and_then(|x| x.parse().ok()).unwrap_or(0);
            Ok((
                status,
                t.split_once("\r\n\r\n")
                    .map(|x| x.1.to_owned())
                    .unwrap_or_default(),
            ))
        })
        .unwrap()
        .ok()
}

/// The recorded process of `role` (e.g. `agent node1`).
fn process<'a>(state: &'a Value, role: &str) -> &'a Value {
    state["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["role"] == role)
        .unwrap_or_else(|| panic!("no process {role} in {}", state["processes"]))
}

/// A pod namespace this test made, deleted even when the test fails.
struct PodNs(String);

impl PodNs {
    fn add(name: &str) -> PodNs {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "add", name]);
        let out = common::run(cmd, Duration::from_secs(10));
        assert_eq!(out.code, 0, "ip netns add {name}: {}", out.stderr);
        PodNs(name.to_owned())
    }
}

impl Drop for PodNs {
    fn drop(&mut self) {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "del", &self.0]);
        let _ = common::run(cmd, Duration::from_secs(10));
    }
}

/// Kills the agent this test started, even when the test fails.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn agents_run_on_irsa_and_recover_from_a_missing_ipv6_policy_without_restart() {
    let lab = Lab::up(&[
        "--nodes",
        "1",
        "--pods-per-node",
        "1",
        "--fargate-pods",
        "0",
        "--services",
        "0",
    ]);
    let state = lab.state();
    let node = &state["nodes"][0];
    let ns = s(&node["netns"]);
    let prefix = s(&node["prefix"]);
    assert_eq!(
        state["cluster"]["cni_role"], "arn:aws:iam::123456789012:role/aws-node",
        "{}",
        state["cluster"]
    );
    // No instance flag, no credentials file: IMDS and IRSA.
    let agent = process(&state, "agent node1");
    let argv: Vec<String> = serde_json::from_value(agent["argv"].clone()).unwrap();
    for flag in [
        "--instance-id",
        "--credentials-file",
        "--region",
        "--profile",
    ] {
        assert!(!argv.contains(&flag.to_owned()), "{flag} in {argv:?}");
    }
    let log = std::fs::read_to_string(s(&agent["log"])).unwrap();
    assert!(
        log.contains("learned the node from instance metadata"),
        "{log}"
    );
    assert!(
        log.contains("web identity (IRSA): role arn:aws:iam::123456789012:role/aws-node"),
        "{log}"
    );
    assert!(
        log.contains("assumed the role with the web identity token"),
        "{log}"
    );

    // IMDS in the node namespace: the IPv4 endpoint answers IMDSv2, the IPv6 one nothing.
    let id = s(&node["instance_id"]);
    let (meta, v6) = NetNs::by_name(&ns)
        .unwrap()
        .run(|| {
            let c = ec2_client::ImdsClient::with_endpoint("http://169.254.169.254").unwrap();
            let v6 = TcpStream::connect_timeout(
                &"[fd00:ec2::254]:80".parse().unwrap(),
                Duration::from_secs(1),
            );
            (c.node(), v6.is_ok())
        })
        .unwrap();
    let meta = meta.unwrap();
    assert_eq!(meta.instance_id, id);
    assert_eq!(meta.interface_id, s(&node["eni"]));
    assert_eq!(meta.ipv6s[0].to_string(), s(&node["ipv6"]));
    assert!(!v6, "something answers at the IMDS IPv6 endpoint");

    // A role for aws-node without the IPv6 policy; node1's agent starts again on it.
    let issuer = lab
        .aws(&[
            "eks",
            "describe-cluster",
            "--name",
            &s(&state["cluster"]["name"]),
        ])
        .json()["cluster"]["identity"]["oidc"]["issuer"]
        .clone();
    let provider = s(&issuer).split_once("://").unwrap().1.to_owned();
    let trust =
        lab::imds::web_identity_trust("123456789012", &provider, lab::imds::CNI_SERVICE_ACCOUNT);
    lab.aws(&[
        "iam",
        "create-role",
        "--role-name",
        "cni-no-v6",
        "--assume-role-policy-document",
        &trust,
    ])
    .json();
    let pid = agent["pid"].as_u64().unwrap() as i32;
    // SAFETY: plain kill(2) of the lab agent this test's lab started (pid from its state).
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let gone = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            gone.elapsed() < Duration::from_secs(10),
            "agent {pid} did not die"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut args: Vec<String> = argv[1..].to_vec();
    let m = args.iter().position(|a| a == "--metrics-addr").unwrap();
    args[m + 1] = METRICS.to_owned();
    let token = lab.state_dir().join("irsa/token");
    let home = lab.state_dir().join("nodes/node1");
    let agent_log = lab.state_dir().join("logs/agent-node1-no-v6.log");
    let out = std::fs::File::create(&agent_log).unwrap();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &ns, "env", "-i"])
        .arg("PATH=/usr/sbin:/usr/bin:/sbin:/bin")
        .arg(format!("HOME={}", home.display()))
        .arg("AWS_ROLE_ARN=arn:aws:iam::123456789012:role/cni-no-v6")
        .arg(format!("AWS_WEB_IDENTITY_TOKEN_FILE={}", token.display()))
        .arg(sixfold_bin())
        .args(&args)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    let child = Agent(cmd.spawn().unwrap());
    let agent_pid = child.0.id();

    // The refusal is reported: status, metrics.
    let start = Instant::now();
    let blocked = loop {
        if let Some((503, body)) = agent_http(&ns, "/v1/status") {
            let v: Value = serde_json::from_str(&body).unwrap();
            if !v["blocked"].is_null() {
                break v["blocked"].clone();
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the agent reported no refusal; its log:\n{}",
            std::fs::read_to_string(&agent_log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(blocked["code"], "UnauthorizedOperation", "{blocked}");
    assert!(
        s(&blocked["identity"]).contains("role/cni-no-v6"),
        "{blocked}"
    );
    assert!(s(&blocked["fix"]).contains("IPv6 CNI policy"), "{blocked}");
    let (_, metrics) = agent_http(&ns, "/metrics").unwrap();
    assert!(
        metrics.contains("sixfold_agent_prefix_blocked 1"),
        "{metrics}"
    );
    let log = std::fs::read_to_string(&agent_log).unwrap();
    assert!(
        log.contains("EC2 refused the call the node prefix needs"),
        "{log}"
    );

    // A pod ADD now, through the conflist the agent wrote, as a runtime does: CNI 11, naming
    // the cause.
    let pod_ns = format!("sfl-{}-late", lab.name);
    let _pod = PodNs::add(&pod_ns);
    let chain = lab::pods::Chain::load(
        std::path::Path::new(&s(&node["conf_dir"])),
        std::path::Path::new(sixfold_bin()).parent().unwrap(),
    )
    .unwrap();
    let node_ns = NetNs::by_name(&ns).unwrap();
    let netns = format!("/run/netns/{pod_ns}");
    let pod = lab::pods::PodRef {
        name: "late",
        namespace: "default",
        container_id: "late-1",
        netns: &netns,
    };
    let err = chain.add(&node_ns, &pod).unwrap_err().to_string();
    assert!(err.contains("\"code\":11"), "{err}");
    assert!(
        err.contains("UnauthorizedOperation") && err.contains("cni-no-v6"),
        "{err}"
    );

    // The policy attached with the AWS CLI: the same agent gets the /80 within 30 s.
    lab.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "cni-no-v6",
        "--policy-name",
        "ipv6",
        "--policy-document",
        IPV6_POLICY,
    ])
    .json();
    let granted = Instant::now();
    let status = loop {
        if let Some((200, body)) = agent_http(&ns, "/v1/status") {
            break serde_json::from_str::<Value>(&body).unwrap();
        }
        assert!(
            granted.elapsed() < Duration::from_secs(30),
            "no prefix 30 s after the policy was attached; agent log:\n{}",
            std::fs::read_to_string(&agent_log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(status["prefix"], prefix.as_str(), "{status}");
    assert!(
        std::path::Path::new(&format!("/proc/{agent_pid}")).exists(),
        "the agent restarted"
    );
    let (_, metrics) = agent_http(&ns, "/metrics").unwrap();
    assert!(
        metrics.contains("sixfold_agent_prefix_blocked 0"),
        "{metrics}"
    );
    let got = chain.add(&node_ns, &pod).unwrap();
    let p80: ipnet::Ipv6Net = prefix.parse().unwrap();
    assert!(p80.contains(&got.ipv6), "{} not in {p80}", got.ipv6);
    drop(child);
}

#[test]
fn agents_run_on_the_node_role_from_imds() {
    let lab = Lab::up(&[
        "--nodes",
        "1",
        "--pods-per-node",
        "1",
        "--fargate-pods",
        "0",
        "--services",
        "0",
        "--cni-credentials",
        "node-role",
    ]);
    let state = lab.state();
    assert!(
        state["cluster"]["cni_role"].is_null(),
        "{}",
        state["cluster"]
    );
    assert!(!state["nodes"][0]["prefix"].is_null(), "{}", state["nodes"]);
    let agent = process(&state, "agent node1");
    let log = std::fs::read_to_string(s(&agent["log"])).unwrap();
    assert!(log.contains("the instance profile"), "{log}");
    assert!(!log.contains("web identity"), "{log}");
}
