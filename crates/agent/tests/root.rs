//! Root tests: the agent with the real node set-up (`SystemHost`: forwarding sysctls, the
//! egress nftables table, the conflist), started inside a network namespace this test creates
//! and always deletes. The root namespace is never touched.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use agent::{AgentConfig, ConflistSettings, NodeFacts, StaticPrefix, SystemHost};
use agent_api::{AttachmentKey, Request, Response, call};
use dataplane::netns::NetNs;

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root (it creates a network namespace); run it as root, e.g. `sudo -E cargo nextest run`"
    );
}

fn sh(args: &[&str]) -> String {
    let mut cmd = Command::new(args[0]);
    cmd.args(&args[1..]);
    let out = dataplane::exec::run(cmd, b"", Duration::from_secs(10)).expect("command ran");
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A namespace made for this test; deleted on drop, even when the test fails.
struct TestNs(String);

impl Drop for TestNs {
    fn drop(&mut self) {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "del", &self.0]);
        let _ = dataplane::exec::run(cmd, b"", Duration::from_secs(10));
    }
}

fn root_sysctl(path: &str) -> String {
    std::fs::read_to_string(Path::new("/proc/sys/net").join(path)).unwrap()
}

#[test]
fn agent_sets_up_the_node_namespace_and_serves() {
    require_root();
    let root_fwd = (
        root_sysctl("ipv6/conf/all/forwarding"),
        root_sysctl("ipv4/ip_forward"),
    );
    let name = format!("sfagent-{}", std::process::id());
    sh(&["ip", "netns", "add", &name]);
    let ns = TestNs(name);
    let dir = tempfile::tempdir().unwrap();
    let mut c = AgentConfig::new("i-0root");
    c.data_dir = dir.path().join("data");
    c.socket = dir.path().join("agent.sock");
    c.cni_conf_dir = dir.path().join("net.d");
    c.metrics_addr = "127.0.0.1:0".parse().unwrap();
    c.random_fully = true;
    let facts = NodeFacts {
        prefix: "2001:db8:0:1:abcd::/80".parse().unwrap(),
        node_ipv4: "10.0.1.7".parse().unwrap(),
        node_ipv6: None,
        eni_id: None,
    };
    let host = SystemHost {
        conflist: ConflistSettings::from_config(&c),
        random_fully: true,
    };
    let netns = NetNs::by_name(&ns.0).unwrap();
    // The agent's threads are spawned from inside the namespace, so they live there.
    let running = netns
        .run(|| agent::start(&c, &StaticPrefix(facts.clone()), &host))
        .unwrap()
        .unwrap();

    let table = sh(&[
        "ip", "netns", "exec", &ns.0, "nft", "list", "table", "ip", "sixfold",
    ]);
    assert!(table.contains("snat to 10.0.1.7 fully-random"), "{table}");
    assert!(table.contains("169.254.172.0/22"), "{table}");
    let fwd6 = sh(&[
        "ip",
        "netns",
        "exec",
        &ns.0,
        "cat",
        "/proc/sys/net/ipv6/conf/all/forwarding",
    ]);
    let fwd4 = sh(&[
        "ip",
        "netns",
        "exec",
        &ns.0,
        "cat",
        "/proc/sys/net/ipv4/ip_forward",
    ]);
    assert_eq!((fwd6.trim(), fwd4.trim()), ("1", "1"));
    assert!(c.cni_conf_dir.join("10-sixfold.conflist").exists());

    let key = AttachmentKey {
        network: "sixfold".into(),
        container_id: "root".into(),
        ifname: "eth0".into(),
    };
    let r = call(
        running.socket(),
        &Request::Add { key, netns: None },
        Duration::from_secs(5),
    )
    .unwrap();
    assert!(matches!(r, Response::Added { .. }), "{r:?}");
    running.shutdown();

    // Starting again is idempotent (table and sysctls already in place).
    let again = netns
        .run(|| agent::start(&c, &StaticPrefix(facts.clone()), &host))
        .unwrap()
        .unwrap();
    again.shutdown();

    assert_eq!(
        (
            root_sysctl("ipv6/conf/all/forwarding"),
            root_sysctl("ipv4/ip_forward")
        ),
        root_fwd,
        "the root namespace was not touched"
    );
}
