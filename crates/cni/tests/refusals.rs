//! Root tests: inputs the plugins must refuse with the right CNI code, changing nothing
//! (issue 8's CNI findings), and an agent that is saturated.
mod common;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use agent_api::AttachmentKey;
use common::*;
use serde_json::json;

/// Nothing of the attachment exists anywhere: no node links, no allocation, no egress lease,
/// nothing new in the node namespace.
fn assert_untouched(node: &Node, links_before: &[String]) {
    assert!(node.plugin_links().is_empty(), "{:?}", node.plugin_links());
    assert!(node.agent.allocations().is_empty());
    assert_eq!(node.ns.links(), links_before, "the node's links changed");
}

#[test]
fn add_into_the_plugins_own_netns_is_refused_as_an_invalid_cni_netns() {
    let node = Node::new();
    let before = node.ns.links();
    // The node's own namespace by two paths: the plugin's /proc/self and the node's bind mount.
    let own = ["/proc/self/ns/net".to_string(), node.ns.path()];
    for netns in &own {
        let (r1, c1) = node.run_pod("ADD", "c1", Some(netns));
        assert_eq!((c1, r1["code"].as_u64()), (1, Some(4)), "{netns}: {r1}");
        let msg = r1["msg"].as_str().unwrap();
        assert!(
            msg.contains("CNI_NETNS") && msg.contains(netns.as_str()),
            "{r1}"
        );
        assert_untouched(&node, &before);

        // The egress plugin, given a plausible prevResult, refuses it too.
        let prev = json!({"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":netns}],
            "ips":[{"address":"2001:db8:0:1:abcd::5/128","gateway":"fe80::1","interface":0}]});
        let (r2, c2) = node.run(
            egress_bin(),
            "ADD",
            "c1",
            Some(netns),
            &node.egress_conf("1.0.0", Some(&prev)).to_string(),
        );
        assert_eq!((c2, r2["code"].as_u64()), (1, Some(4)), "{netns}: {r2}");
        assert!(r2["msg"].as_str().unwrap().contains("CNI_NETNS"), "{r2}");
        assert_untouched(&node, &before);
        let leases = std::fs::read_dir(node.ipam_dir.path().join(NETWORK))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("169.254."))
                    .count()
            })
            .unwrap_or(0);
        assert_eq!(leases, 0, "no egress address was leased");
    }
    // CHECK is refused the same way.
    let mut conf = node.pod_conf("1.0.0");
    conf["prevResult"] = json!({"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/proc/self/ns/net"}],
        "ips":[{"address":"2001:db8:0:1:abcd::5/128","interface":0}]});
    let (v, code) = node.run(
        pod_bin(),
        "CHECK",
        "c1",
        Some("/proc/self/ns/net"),
        &conf.to_string(),
    );
    assert_eq!((code, v["code"].as_u64()), (1, Some(4)), "{v}");
    // A real pod namespace still works.
    let pod = test_ns("pod");
    node.add_pod("c1", &pod, "1.0.0");
    node.del_pod("c1", Some(&pod.path()), "1.0.0");
}

#[test]
fn an_empty_cni_version_is_refused_as_incompatible() {
    let node = Node::new();
    let pod = test_ns("pod");
    let before = node.ns.links();
    for (bin, mut conf) in [
        (pod_bin(), node.pod_conf("1.0.0")),
        (
            egress_bin(),
            node.egress_conf("1.0.0", Some(&json!({"cniVersion":"1.0.0"}))),
        ),
    ] {
        conf["cniVersion"] = json!("");
        for cmd in ["ADD", "DEL", "VERSION"] {
            let (v, code) = node.run(bin, cmd, "c1", Some(&pod.path()), &conf.to_string());
            assert_eq!((code, v["code"].as_u64()), (1, Some(1)), "{bin} {cmd}: {v}");
        }
    }
    assert_untouched(&node, &before);
    assert_eq!(pod.links(), ["lo"]);
}

#[test]
fn a_type_that_names_another_plugin_is_refused() {
    let node = Node::new();
    let pod = test_ns("pod");
    let before = node.ns.links();
    for (bin, mut conf) in [
        (pod_bin(), node.pod_conf("1.0.0")),
        (
            egress_bin(),
            node.egress_conf("1.0.0", Some(&json!({"cniVersion":"1.0.0"}))),
        ),
    ] {
        for bad in [json!("bridge"), json!(""), json!(null)] {
            conf["type"] = bad.clone();
            let (v, code) = node.run(bin, "ADD", "c1", Some(&pod.path()), &conf.to_string());
            assert_eq!(
                (code, v["code"].as_u64()),
                (1, Some(7)),
                "{bin} type {bad}: {v}"
            );
            assert!(v["msg"].as_str().unwrap().contains("type"), "{v}");
        }
    }
    // Each plugin refuses the other's type.
    let mut conf = node.pod_conf("1.0.0");
    conf["type"] = json!("sixfold-egress-cni");
    let (v, code) = node.run(pod_bin(), "ADD", "c1", Some(&pod.path()), &conf.to_string());
    assert_eq!((code, v["code"].as_u64()), (1, Some(7)), "{v}");
    assert_untouched(&node, &before);
    assert_eq!(pod.links(), ["lo"]);
}

#[test]
fn egress_without_cni_path_is_an_invalid_environment() {
    let node = Node::new();
    let pod = test_ns("pod");
    let (r1, c) = node.run_pod("ADD", "c1", Some(&pod.path()));
    assert_eq!(c, 0, "{r1}");
    let links = node.plugin_links();
    for path in [None, Some("")] {
        let (v, code) = node.run_with(
            egress_bin(),
            "ADD",
            "c1",
            Some(&pod.path()),
            &node.egress_conf("1.0.0", Some(&r1)).to_string(),
            &[("CNI_PATH", path)],
        );
        assert_eq!(
            (code, v["code"].as_u64()),
            (1, Some(4)),
            "CNI_PATH={path:?}: {v}"
        );
        assert!(v["msg"].as_str().unwrap().contains("CNI_PATH"), "{v}");
        assert_eq!(node.plugin_links(), links, "no egress veth was made");
        assert!(!pod.links().contains(&"v4if0".to_string()));
    }
    let (v, code) = node.run_with(
        egress_bin(),
        "STATUS",
        "",
        None,
        &node.egress_conf("1.1.0", None).to_string(),
        &[("CNI_PATH", None)],
    );
    assert_eq!((code, v["code"].as_u64()), (1, Some(4)), "STATUS: {v}");
    node.del_pod("c1", Some(&pod.path()), "1.0.0");
}

/// Take every connection slot of the agent with connections that never finish their request
/// line (a byte now and then keeps each read from timing out); dropped to free them.
struct Saturation {
    conns: std::sync::Arc<std::sync::Mutex<Vec<UnixStream>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    trickle: Option<std::thread::JoinHandle<()>>,
}

impl Saturation {
    fn new(socket: &std::path::Path) -> Saturation {
        let conns: Vec<UnixStream> = (0..agent::server::MAX_CONNECTIONS)
            .map(|_| UnixStream::connect(socket).expect("connect a slot holder"))
            .collect();
        let conns = std::sync::Arc::new(std::sync::Mutex::new(conns));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (c, s) = (conns.clone(), stop.clone());
        let trickle = std::thread::spawn(move || {
            // Bounded: at most 60 s, far longer than the test needs.
            for _ in 0..600 {
                if s.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                for conn in c.lock().unwrap().iter_mut() {
                    let _ = conn.write_all(b" ");
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Saturation {
            conns,
            stop,
            trickle: Some(trickle),
        }
    }
}

impl Drop for Saturation {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.trickle.take() {
            let _ = t.join();
        }
        self.conns.lock().unwrap().clear();
    }
}

#[test]
fn a_saturated_agent_is_always_try_again_later() {
    let node = Node::new();
    let pod = test_ns("pod");
    let socket = node.agent.socket().to_path_buf();
    let key = |i: usize| AttachmentKey {
        network: NETWORK.into(),
        container_id: format!("busy{i}"),
        ifname: "eth0".into(),
    };
    let sat = Saturation::new(&socket);
    // Wait (bounded) until the agent has accepted every holder: the next call is refused.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match cni::agent::status(&socket) {
            Err(e) if e.to_string().contains("busy") => break,
            other => assert!(
                Instant::now() < deadline,
                "the agent never became busy: {other:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Many runs: every single one is "try again later", never 999.
    for i in 0..300 {
        let e = cni::agent::add(&socket, key(i), None).expect_err("a saturated agent refuses");
        assert_eq!(e.code(), 11, "run {i}: {e}");
        let e = cni::agent::del(&socket, key(i)).expect_err("a saturated agent refuses");
        assert_eq!(e.code(), 11, "run {i}: {e}");
    }
    // The real plugin binary answers 11 too, and leaves nothing behind.
    for _ in 0..10 {
        let (v, code) = node.run_pod("ADD", "c1", Some(&pod.path()));
        assert_eq!((code, v["code"].as_u64()), (1, Some(11)), "{v}");
        assert!(v["msg"].as_str().unwrap().contains("busy"), "{v}");
    }
    assert!(node.plugin_links().is_empty());
    assert_eq!(pod.links(), ["lo"]);
    // Once the slots free up, the same ADD succeeds (the runtime's retry).
    drop(sat);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (v, code) = node.run_pod("ADD", "c1", Some(&pod.path()));
        if code == 0 {
            break;
        }
        assert_eq!(v["code"], 11, "{v}");
        assert!(Instant::now() < deadline, "the agent stayed busy: {v}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(node.agent.allocations().len(), 1);
}
