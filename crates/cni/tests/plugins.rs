//! Root tests: the real plugin binaries, run inside a node namespace with real packets.
//! Each test makes its own namespaces (`sfx-<pid>-<n>-<role>`) and deletes them on drop.
mod common;

use std::net::SocketAddr;

use common::*;
use serde_json::{Value, json};

#[test]
fn add_builds_the_reference_pod_dataplane() {
    let node = Node::new();
    let pod = test_ns("pod");
    let res = node.add_pod("c1", &pod, "1.0.0");
    let addr = pod_ipv6(&res);

    let addrs = ip_json(&["-n", &pod.name, "-6", "addr", "show", "dev", "eth0"]);
    let infos = addrs[0]["addr_info"].as_array().unwrap();
    let mine = infos
        .iter()
        .find(|a| a["local"] == addr.as_str())
        .expect("pod has its address");
    assert_eq!(mine["prefixlen"], 128);
    assert!(mine.get("tentative").is_none(), "no DAD wait: {mine}");
    let routes = ip_json(&["-n", &pod.name, "-6", "route", "show"]);
    assert!(
        routes
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["dst"] == "fe80::1" && r["dev"] == "eth0"),
        "{routes}"
    );
    let default = ip_json(&["-n", &pod.name, "-6", "route", "show", "default"]);
    assert_eq!(
        (default[0]["gateway"].as_str(), default[0]["dev"].as_str()),
        (Some("fe80::1"), Some("eth0"))
    );
    let host_if = res["interfaces"][0]["name"].as_str().unwrap().to_string();
    assert!(host_if.starts_with("eni") && host_if.len() == 14);
    let host_mac = res["interfaces"][0]["mac"].as_str().unwrap();
    let neigh = ip_json(&["-n", &pod.name, "-6", "neigh", "show", "dev", "eth0"]);
    let gw = neigh
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["dst"] == "fe80::1")
        .expect("gateway neighbour");
    assert_eq!(gw["lladdr"], host_mac);
    assert!(
        gw["state"]
            .as_array()
            .unwrap()
            .contains(&json!("PERMANENT")),
        "{gw}"
    );
    let host_routes = ip_json(&[
        "-n",
        &node.ns.name,
        "-6",
        "route",
        "show",
        &format!("{addr}/128"),
    ]);
    assert_eq!(host_routes[0]["dev"], host_if.as_str());
    let host_addrs = ip_json(&["-n", &node.ns.name, "-6", "addr", "show", "dev", &host_if]);
    assert!(
        host_addrs[0]["addr_info"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["local"] == "fe80::1")
    );

    // Egress interface and result shape: IPv4 stays out of `ips`.
    let v4 = ip_json(&["-n", &pod.name, "-4", "addr", "show", "dev", "v4if0"]);
    let v4addr = v4[0]["addr_info"][0]["local"].as_str().unwrap().to_string();
    assert!(v4addr.starts_with("169.254.17"), "{v4addr}");
    assert_eq!(v4[0]["addr_info"][0]["prefixlen"], 22);
    assert_eq!(
        res["ips"].as_array().unwrap().len(),
        1,
        "only the IPv6 address is reported: {res}"
    );
    let names: Vec<&str> = res["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 4);
    assert_eq!((names[1], names[3]), ("eth0", "v4if0"));
    assert!(names[2].starts_with("egr"));
    assert_eq!(res["interfaces"][3]["sandbox"], pod.path());
    let nft = sh(&[
        "ip",
        "netns",
        "exec",
        &node.ns.name,
        "nft",
        "-j",
        "list",
        "table",
        "ip",
        "sixfold",
    ]);
    assert!(nft.contains(NODE_IPV4), "{nft}");
}

/// The kernel's neighbour table is one for the whole machine: dynamic entries beyond
/// `gc_thresh3` (1,024) are refused ("neighbor table overflow") and the packet dropped, which
/// failed the IPv6 paths of a 10 × 110 lab. The node's neighbour of each pod is permanent
/// (exempt from the cap), set by ADD before any packet, with the pod's MAC.
#[test]
fn the_nodes_neighbour_of_a_pod_is_permanent_so_pods_do_not_fill_the_neighbour_table() {
    let node = Node::new();
    let pod = test_ns("pod");
    let res = node.add_pod("c1", &pod, "1.0.0");
    let addr = pod_ipv6(&res);
    let host_if = res["interfaces"][0]["name"].as_str().unwrap().to_string();
    let pod_mac = res["interfaces"][1]["mac"].as_str().unwrap().to_string();
    let link = ip_json(&["-n", &pod.name, "link", "show", "dev", "eth0"]);
    assert_eq!(
        link[0]["address"],
        pod_mac.as_str(),
        "the result's MAC is eth0's"
    );
    let neigh = ip_json(&["-n", &node.ns.name, "-6", "neigh", "show", "dev", &host_if]);
    let entry = neigh
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["dst"] == addr.as_str())
        .unwrap_or_else(|| panic!("no neighbour {addr} on {host_if}: {neigh}"));
    assert_eq!(entry["lladdr"], pod_mac.as_str(), "{entry}");
    assert!(
        entry["state"]
            .as_array()
            .unwrap()
            .contains(&json!("PERMANENT")),
        "{entry}"
    );
}

#[test]
fn pods_on_one_node_ping_each_other_over_ipv6() {
    let node = Node::new();
    let (p1, p2) = (test_ns("pod1"), test_ns("pod2"));
    let _r1 = node.add_pod("c1", &p1, "1.1.0");
    let r2 = node.add_pod("c2", &p2, "1.1.0");
    let target = pod_ipv6(&r2);
    let (ok, out, err) = try_sh(&[
        "ip", "netns", "exec", &p1.name, "ping", "-6", "-c", "1", "-W", "3", &target,
    ]);
    assert!(ok, "ping from pod1 to pod2 ({target}) failed: {out} {err}");
}

#[test]
fn pod_ipv4_egress_is_snated_to_the_node_address() {
    let node = Node::new();
    let pod = test_ns("pod");
    node.add_pod("c1", &pod, "1.0.0");
    // The "internet" host: a UDP echo in the peer namespace reporting the source it saw.
    let server = udp_in(&node.peer.open(), &format!("{PEER_IPV4}:0"));
    let server_addr = server.local_addr().unwrap();
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let (n, from) = server
            .recv_from(&mut buf)
            .expect("peer received the datagram");
        server.send_to(&buf[..n], from).unwrap();
        from
    });
    let client = udp_in(&pod.open(), "0.0.0.0:0");
    client.send_to(b"hello", server_addr).unwrap();
    let seen: SocketAddr = echo.join().unwrap();
    assert_eq!(
        seen.ip().to_string(),
        NODE_IPV4,
        "the peer sees the node's IPv4 as source"
    );
    let mut buf = [0u8; 64];
    let (n, from) = client
        .recv_from(&mut buf)
        .expect("the reply came back through the SNAT");
    assert_eq!((&buf[..n], from), (&b"hello"[..], server_addr));
}

#[test]
fn del_is_idempotent_and_works_after_the_netns_is_gone() {
    let node = Node::new();
    let mut pod = test_ns("pod");
    node.add_pod("c1", &pod, "1.0.0");
    assert_eq!(node.plugin_links().len(), 2);
    node.del_pod("c1", Some(&pod.path()), "1.0.0");
    node.del_pod("c1", Some(&pod.path()), "1.0.0");
    assert!(node.plugin_links().is_empty(), "{:?}", node.plugin_links());
    assert!(node.agent.allocations().is_empty());
    assert_eq!(pod.links(), ["lo"]);
    let files: Vec<_> = std::fs::read_dir(node.ipam_dir.path().join(NETWORK))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        !files
            .iter()
            .any(|f| f.to_string_lossy().starts_with("169.254.")),
        "host-local released: {files:?}"
    );

    node.add_pod("c2", &pod, "1.0.0");
    let path = pod.path();
    pod.delete();
    node.del_pod("c2", Some(&path), "1.0.0");
    node.del_pod("c2", None, "1.0.0");
    assert!(node.plugin_links().is_empty());
    assert!(node.agent.allocations().is_empty());
}

#[test]
fn egress_del_takes_both_host_veths_of_its_attachment_and_nothing_else() {
    let node = Node::new();
    let (p1, p2) = (test_ns("pod1"), test_ns("pod2"));
    let r1 = node.add_pod("c1", &p1, "1.0.0");
    let r2 = node.add_pod("c2", &p2, "1.0.0");
    let hosts = |r: &Value| -> Vec<String> {
        [0, 2]
            .iter()
            .map(|&i| r["interfaces"][i]["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (c1, c2) = (hosts(&r1), hosts(&r2));
    let (v, code) = node.run(
        egress_bin(),
        "DEL",
        "c1",
        Some(&p1.path()),
        &node.egress_conf("1.0.0", None).to_string(),
    );
    assert_eq!(code, 0, "{v}");
    let links = node.ns.links();
    for l in &c1 {
        assert!(!links.contains(l), "{l} of c1 is gone: {links:?}");
    }
    for l in c2.iter().chain([&"up0".to_string(), &"lo".to_string()]) {
        assert!(links.contains(l), "{l} is untouched: {links:?}");
    }
    assert_eq!(
        p1.links(),
        ["lo"],
        "both pod ends went with their host ends"
    );
    // sixfold-cni's DEL then finds its veth gone and releases the address.
    let (v, code) = node.run_pod("DEL", "c1", Some(&p1.path()));
    assert_eq!(code, 0, "{v}");
    let left: Vec<String> = node
        .agent
        .allocations()
        .into_iter()
        .map(|a| a.key.container_id)
        .collect();
    assert_eq!(left, ["c2"]);
    let groups = ip_json(&["-n", &node.ns.name, "link", "show"]);
    assert!(
        groups
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["group"] == "default"),
        "no link is left in a temporary group: {groups}"
    );
}

#[test]
fn failed_add_leaves_nothing_when_the_agent_refuses() {
    // The stand-in: the real agent cannot be told to refuse.
    let node = Node::with_stand_in();
    let pod = test_ns("pod");
    node.agent.stand_in().lock().unwrap().refuse = true;
    let (v, code) = node.run_pod("ADD", "c1", Some(&pod.path()));
    assert_ne!(code, 0);
    assert_eq!(v["code"], 11, "exhausted prefix is 'try again later': {v}");
    assert!(
        v["msg"].as_str().unwrap().contains("no address left"),
        "{v}"
    );
    assert!(node.plugin_links().is_empty());
    assert_eq!(pod.links(), ["lo"]);
}

#[test]
fn failed_add_leaves_nothing_when_the_ifname_is_taken() {
    let node = Node::new();
    let pod = test_ns("pod");
    sh(&[
        "ip", "-n", &pod.name, "link", "add", "eth0", "type", "veth", "peer", "name", "other0",
    ]);
    let (v, code) = node.run_pod("ADD", "c1", Some(&pod.path()));
    assert_ne!(code, 0);
    assert_eq!(v["code"], 1001, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("eth0"), "{v}");
    assert!(node.plugin_links().is_empty());
    assert!(node.agent.allocations().is_empty(), "nothing was allocated");
    let eth0 = ip_json(&["-n", &pod.name, "-d", "link", "show", "eth0"]);
    assert_eq!(
        eth0[0]["linkinfo"]["info_kind"], "veth",
        "the existing interface is untouched"
    );
    assert!(pod.links().contains(&"other0".to_string()));
}

#[test]
fn failed_add_late_in_the_apply_rolls_everything_back() {
    // The stand-in: it is told to hand out an address the node already routes.
    let node = Node::with_stand_in();
    let pod = test_ns("pod");
    let dad = |ns: &TestNs| {
        sh(&[
            "ip",
            "netns",
            "exec",
            &ns.name,
            "cat",
            "/proc/sys/net/ipv6/conf/all/accept_dad",
        ])
    };
    let dad_before = dad(&pod);
    // The node already routes the address the agent will hand out: the last step fails.
    let taken = "2001:db8:0:1:abcd::99";
    sh(&[
        "ip",
        "-n",
        &node.ns.name,
        "-6",
        "route",
        "add",
        &format!("{taken}/128"),
        "dev",
        "up0",
    ]);
    node.agent.stand_in().lock().unwrap().force_next = Some(taken.parse().unwrap());
    let (v, code) = node.run_pod("ADD", "c1", Some(&pod.path()));
    assert_ne!(code, 0, "{v}");
    assert!(v["msg"].as_str().unwrap().contains(taken), "{v}");
    assert!(node.plugin_links().is_empty(), "{:?}", node.plugin_links());
    assert_eq!(pod.links(), ["lo"]);
    assert!(
        node.agent.allocations().is_empty(),
        "the allocation was released"
    );
    assert_eq!(node.agent.stand_in().lock().unwrap().dels.len(), 1);
    assert_eq!(dad(&pod), dad_before, "the pod's sysctls were restored");
}

#[test]
fn failed_egress_add_leaves_nothing_when_ipam_is_missing() {
    let node = Node::new();
    let pod = test_ns("pod");
    let (r1, _) = node.run_pod("ADD", "c1", Some(&pod.path()));
    let mut conf = node.egress_conf("1.0.0", Some(&r1));
    conf["ipam"]["type"] = json!("no-such-ipam");
    let (v, code) = node.run(
        egress_bin(),
        "ADD",
        "c1",
        Some(&pod.path()),
        &conf.to_string(),
    );
    assert_eq!((code, v["code"].as_u64()), (1, Some(7)), "{v}");
    assert!(v["msg"].as_str().unwrap().contains("no-such-ipam"));
    assert!(!pod.links().contains(&"v4if0".to_string()));
    assert_eq!(
        node.plugin_links()
            .iter()
            .filter(|l| l.starts_with("egr"))
            .count(),
        0
    );
}

#[test]
fn check_passes_then_detects_a_deleted_route() {
    let node = Node::new();
    let pod = test_ns("pod");
    let (r1, c) = node.run_pod("ADD", "c1", Some(&pod.path()));
    assert_eq!(c, 0, "{r1}");
    let mut conf = node.pod_conf("1.0.0");
    conf["prevResult"] = r1.clone();
    let (v, code) = node.run(
        pod_bin(),
        "CHECK",
        "c1",
        Some(&pod.path()),
        &conf.to_string(),
    );
    assert_eq!(code, 0, "{v}");
    sh(&["ip", "-n", &pod.name, "-6", "route", "del", "default"]);
    let (v, code) = node.run(
        pod_bin(),
        "CHECK",
        "c1",
        Some(&pod.path()),
        &conf.to_string(),
    );
    assert_ne!(code, 0);
    assert_eq!(v["code"], 1000);
    assert!(
        v["msg"].as_str().unwrap().contains("default via fe80::1"),
        "{v}"
    );
    let host_if = r1["interfaces"][0]["name"].as_str().unwrap();
    sh(&[
        "ip",
        "-n",
        &node.ns.name,
        "-6",
        "route",
        "del",
        &format!("{}/128", pod_ipv6(&r1)),
        "dev",
        host_if,
    ]);
    let (v, _) = node.run(
        pod_bin(),
        "CHECK",
        "c1",
        Some(&pod.path()),
        &conf.to_string(),
    );
    assert!(v["msg"].as_str().unwrap().contains("host route"), "{v}");
}

#[test]
fn egress_check_passes_after_add() {
    let node = Node::new();
    let pod = test_ns("pod");
    let res = node.add_pod("c1", &pod, "1.0.0");
    let (v, code) = node.run(
        egress_bin(),
        "CHECK",
        "c1",
        Some(&pod.path()),
        &node.egress_conf("1.0.0", Some(&res)).to_string(),
    );
    assert_eq!(code, 0, "{v}");
    sh(&["ip", "-n", &pod.name, "link", "del", "v4if0"]);
    let (v, code) = node.run(
        egress_bin(),
        "CHECK",
        "c1",
        Some(&pod.path()),
        &node.egress_conf("1.0.0", Some(&res)).to_string(),
    );
    assert_eq!((code, v["code"].as_u64()), (1, Some(1000)), "{v}");
    assert!(v["msg"].as_str().unwrap().contains("v4if0"));
}

#[test]
fn gc_frees_allocations_and_links_not_in_the_valid_list() {
    let node = Node::new();
    let (p1, p2) = (test_ns("pod1"), test_ns("pod2"));
    node.add_pod("c1", &p1, "1.1.0");
    node.add_pod("c2", &p2, "1.1.0");
    assert_eq!(node.plugin_links().len(), 4);
    let valid = json!([{"containerID": "c1", "ifname": "eth0"}]);
    let mut pc = node.pod_conf("1.1.0");
    pc["cni.dev/valid-attachments"] = valid.clone();
    let mut ec = node.egress_conf("1.1.0", None);
    ec["cni.dev/valid-attachments"] = valid;
    let (v, code) = node.run(egress_bin(), "GC", "", None, &ec.to_string());
    assert_eq!(code, 0, "{v}");
    let (v, code) = node.run(pod_bin(), "GC", "", None, &pc.to_string());
    assert_eq!(code, 0, "{v}");
    let allocs = node.agent.allocations();
    assert_eq!(allocs.len(), 1);
    assert_eq!(allocs[0].key.container_id, "c1");
    assert_eq!(node.plugin_links().len(), 2, "{:?}", node.plugin_links());
    assert!(!p2.links().contains(&"eth0".to_string()));
    let held: Vec<String> = std::fs::read_dir(node.ipam_dir.path().join(NETWORK))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("169.254."))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(held[0].starts_with("c1"));
}

#[test]
fn version_answers_with_only_cni_version() {
    let node = Node::new();
    for bin in [pod_bin(), egress_bin()] {
        let (v, code) = node.run(bin, "VERSION", "", None, r#"{"cniVersion":"1.0.0"}"#);
        assert_eq!(code, 0);
        assert_eq!(
            v,
            json!({"cniVersion": "1.0.0", "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]})
        );
    }
}

#[test]
fn malformed_stdin_is_rejected_and_changes_nothing() {
    let node = Node::new();
    let pod = test_ns("pod");
    let (v, code) = node.run(pod_bin(), "ADD", "c1", Some(&pod.path()), "{not json");
    assert_eq!((code, v["code"].as_u64()), (1, Some(6)), "{v}");
    let (v, code) = node.run(
        pod_bin(),
        "ADD",
        "c1",
        Some(&pod.path()),
        r#"{"cniVersion":"1.0.0","type":"sixfold-cni"}"#,
    );
    assert_eq!((code, v["code"].as_u64()), (1, Some(7)), "{v}");
    let (v, code) = node.run(
        pod_bin(),
        "ADD",
        "c1",
        Some(&pod.path()),
        r#"{"cniVersion":"1.0.0","name":"n","mtu":"big"}"#,
    );
    assert_eq!((code, v["code"].as_u64()), (1, Some(7)), "{v}");
    let (v, code) = node.run(
        egress_bin(),
        "ADD",
        "c1",
        Some(&pod.path()),
        &node.egress_conf("1.0.0", None).to_string(),
    );
    assert_eq!(
        (code, v["code"].as_u64()),
        (1, Some(7)),
        "egress without prevResult: {v}"
    );
    assert!(node.plugin_links().is_empty());
    assert_eq!(pod.links(), ["lo"]);
    assert!(node.agent.allocations().is_empty());
}

#[test]
fn add_to_a_missing_netns_is_container_unknown() {
    let node = Node::new();
    let (v, code) = node.run_pod("ADD", "c1", Some("/run/netns/sfx-does-not-exist"));
    assert_eq!((code, v["code"].as_u64()), (1, Some(3)), "{v}");
    assert!(node.agent.allocations().is_empty());
}

#[test]
fn results_are_shaped_per_version() {
    let node = Node::new();
    for (i, version) in ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
        .into_iter()
        .enumerate()
    {
        let pod = test_ns("pod");
        let cid = format!("c{i}");
        let res = node.add_pod(&cid, &pod, version);
        assert_eq!(res["cniVersion"], version);
        let ip: &Value = &res["ips"][0];
        if version.starts_with("0.") {
            assert_eq!(ip["version"], "6", "{version}: {res}");
        } else {
            assert!(ip.get("version").is_none(), "{version}: {res}");
        }
        assert_eq!(ip["gateway"], "fe80::1");
        assert_eq!(ip["interface"], 1);
        assert_eq!(res["routes"][0]["dst"], "::/0");
        assert_eq!(
            res["interfaces"][1].get("mtu").is_some(),
            version == "1.1.0",
            "{version}: {res}"
        );
        node.del_pod(&cid, Some(&pod.path()), version);
    }
}

#[test]
fn status_reports_whether_the_agent_answers() {
    let node = Node::new();
    let (v, code) = node.run(
        pod_bin(),
        "STATUS",
        "",
        None,
        &node.pod_conf("1.1.0").to_string(),
    );
    assert_eq!(code, 0, "{v}");
    let mut conf = node.pod_conf("1.1.0");
    conf["agentSocket"] = json!("/run/sfx-no-such-agent.sock");
    let (v, code) = node.run(pod_bin(), "STATUS", "", None, &conf.to_string());
    assert_eq!((code, v["code"].as_u64()), (1, Some(50)), "{v}");
}

#[test]
fn the_guard_rejects_new_connections_into_the_egress_range() {
    let node = Node::new();
    let (p1, p2) = (test_ns("pod1"), test_ns("pod2"));
    node.add_pod("c1", &p1, "1.0.0");
    node.add_pod("c2", &p2, "1.0.0");
    let v4 = ip_json(&["-n", &p1.name, "-4", "addr", "show", "dev", "v4if0"]);
    let target = v4[0]["addr_info"][0]["local"].as_str().unwrap().to_string();
    let (ok, out, _) = try_sh(&[
        "ip", "netns", "exec", &p2.name, "ping", "-4", "-c", "1", "-W", "1", &target,
    ]);
    assert!(
        !ok,
        "pod2 must not reach pod1's node-local IPv4 {target}: {out}"
    );
    let (ok, out, err) = try_sh(&[
        "ip",
        "netns",
        "exec",
        &node.ns.name,
        "ping",
        "-4",
        "-c",
        "1",
        "-W",
        "3",
        &target,
    ]);
    assert!(
        ok,
        "the node itself reaches the pod's IPv4 (not forwarded): {out} {err}"
    );
}
