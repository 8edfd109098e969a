//! Root tests: the agent with the real node set-up (`SystemHost`: forwarding sysctls, the
//! egress nftables table, the conflist), started inside a network namespace this test creates
//! and always deletes. The root namespace is never touched.

use std::path::Path;
use std::time::Duration;

use agent::{AgentConfig, ConflistSettings, NodeFacts, StaticPrefix, SystemHost};
use agent_api::{AttachmentKey, Request, Response, call};
use dataplane::netns::NetNs;
use test_support::{TestNs, require_root, sh};

const WHY: &str = "it creates a network namespace and sets the node up in it";

fn root_sysctl(path: &str) -> String {
    std::fs::read_to_string(Path::new("/proc/sys/net").join(path)).unwrap()
}

#[test]
fn agent_sets_up_the_node_namespace_and_serves() {
    require_root(WHY);
    let root_fwd = (
        root_sysctl("ipv6/conf/all/forwarding"),
        root_sysctl("ipv4/ip_forward"),
    );
    let ns = TestNs::new("sfagent", "node");
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
    let netns = NetNs::by_name(&ns.name).unwrap();
    // The agent's threads are spawned from inside the namespace, so they live there.
    let running = netns
        .run(|| agent::start(&c, &StaticPrefix(facts.clone()), &host))
        .unwrap()
        .unwrap();

    let table = sh(&[
        "ip", "netns", "exec", &ns.name, "nft", "list", "table", "ip", "sixfold",
    ]);
    assert!(table.contains("snat to 10.0.1.7 fully-random"), "{table}");
    assert!(table.contains("169.254.172.0/22"), "{table}");
    let fwd6 = sh(&[
        "ip",
        "netns",
        "exec",
        &ns.name,
        "cat",
        "/proc/sys/net/ipv6/conf/all/forwarding",
    ]);
    let fwd4 = sh(&[
        "ip",
        "netns",
        "exec",
        &ns.name,
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
