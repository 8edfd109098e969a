//! Root tests: real kernel state in namespaces these tests create (and always delete).
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dataplane::netlink::{AddrOpts, MacAddr, Route, VethSpec};
use dataplane::netns::NetNs;
use dataplane::nft::{self, NodeEgress};
use dataplane::sysctl::{self, Key};
use test_support::{TestNs, require_root, sh};

const WHY: &str = "it creates network namespaces and changes their kernel state";

/// A namespace made for one test; deleted on drop, even when the test fails.
fn test_ns(role: &str) -> TestNs {
    TestNs::new("sfd", role)
}

/// The namespace, opened for the netlink and sysctl calls under test.
fn open(ns: &TestNs) -> NetNs {
    NetNs::open(ns.path()).unwrap()
}

#[test]
fn sysctl_follows_the_namespace_of_the_opening_thread() {
    require_root(WHY);
    let a = test_ns("a");
    let ns = open(&a);
    let key = Key::parse("net.ipv6.conf.all.forwarding").unwrap();
    let root_before = sysctl::read(&key).unwrap();
    ns.run(|| sysctl::write(&key, if root_before == "1" { "0" } else { "1" }))
        .unwrap()
        .unwrap();
    let inside = ns.run(|| sysctl::read(&key)).unwrap().unwrap();
    assert_ne!(
        inside, root_before,
        "the write landed in the test namespace"
    );
    assert_eq!(
        sysctl::read(&key).unwrap(),
        root_before,
        "the root namespace was not touched"
    );
}

#[test]
fn veth_addresses_routes_and_neighbours_round_trip() {
    require_root(WHY);
    let host = test_ns("host");
    let pod = test_ns("pod");
    let (hns, pns) = (open(&host), open(&pod));
    let mut h = hns.netlink().unwrap();
    let mut p = pns.netlink().unwrap();
    h.veth_create(&VethSpec {
        name: "vh0",
        peer_name: "eth0",
        peer_netns: Some(std::os::fd::AsFd::as_fd(&pns)),
        mtu: Some(1400),
    })
    .unwrap();
    let err = h
        .veth_create(&VethSpec {
            name: "vh0",
            peer_name: "x0",
            peer_netns: None,
            mtu: None,
        })
        .unwrap_err();
    assert!(err.is_exists(), "{err}");
    let hl = h.link_get("vh0").unwrap();
    let pl = p.link_get("eth0").unwrap();
    assert_eq!(
        (hl.mtu, pl.mtu, hl.kind.as_deref()),
        (1400, 1400, Some("veth"))
    );
    assert!(h.link_get("eth0").unwrap_err().is_not_found());
    h.link_set_up(hl.index, true).unwrap();
    p.link_set_up(pl.index, true).unwrap();
    h.link_set_alias(hl.index, "sixfold/test").unwrap();
    assert_eq!(
        h.link_get("vh0").unwrap().alias.as_deref(),
        Some("sixfold/test")
    );
    let mac: MacAddr = "02:00:00:00:00:aa".parse().unwrap();
    h.link_set_mac(hl.index, mac).unwrap();

    let pod_ip: IpAddr = "2001:db8::10".parse().unwrap();
    p.addr_add(
        pl.index,
        pod_ip,
        128,
        AddrOpts {
            nodad: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        p.addr_add(
            pl.index,
            pod_ip,
            128,
            AddrOpts {
                nodad: true,
                ..Default::default()
            }
        )
        .unwrap_err()
        .is_exists()
    );
    let addrs = p.addr_list(Some(pl.index)).unwrap();
    assert!(
        addrs
            .iter()
            .any(|a| a.addr == pod_ip && a.prefix_len == 128),
        "{addrs:?}"
    );
    let gw = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    p.route_add(&Route::dev("fe80::1/128".parse().unwrap(), pl.index))
        .unwrap();
    p.route_add(&Route::via("::/0".parse().unwrap(), gw, pl.index))
        .unwrap();
    p.neigh_add_permanent(pl.index, gw, mac).unwrap();
    let routes = p.route_list(true).unwrap();
    assert!(
        routes
            .iter()
            .any(|r| r.dst.prefix_len() == 0 && r.gateway == Some(gw)),
        "{routes:?}"
    );
    let neigh = p.neigh_list(Some(pl.index)).unwrap();
    assert!(
        neigh
            .iter()
            .any(|n| n.dst == gw && n.lladdr == Some(mac) && n.is_permanent()),
        "{neigh:?}"
    );
    let json = sh(&[
        "ip", "-n", &pod.name, "-j", "-6", "route", "show", "default",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["gateway"], "fe80::1");

    let v4: IpAddr = IpAddr::V4(Ipv4Addr::new(169, 254, 172, 1));
    h.addr_add(hl.index, v4, 32, AddrOpts::default()).unwrap();
    h.addr_del(hl.index, v4, 32).unwrap();
    assert!(h.addr_del(hl.index, v4, 32).unwrap_err().is_not_found());
    p.route_del(&Route::via("::/0".parse().unwrap(), gw, pl.index))
        .unwrap();
    assert!(
        p.route_del(&Route::via("::/0".parse().unwrap(), gw, pl.index))
            .unwrap_err()
            .is_not_found()
    );

    h.link_set_up(hl.index, false).unwrap();
    h.link_rename(hl.index, "vh1").unwrap();
    h.link_del_by_name("vh1").unwrap();
    assert!(
        p.link_get("eth0").unwrap_err().is_not_found(),
        "deleting one end removes the peer"
    );
    assert!(h.link_del_by_name("vh1").unwrap_err().is_not_found());
}

#[test]
fn a_group_deletion_removes_exactly_the_group_in_one_request() {
    require_root(WHY);
    let host = test_ns("grp");
    let mut h = open(&host).netlink().unwrap();
    for name in ["ga0", "gb0", "gc0"] {
        h.veth_create(&VethSpec {
            name,
            peer_name: &format!("{name}p"),
            peer_netns: None,
            mtu: None,
        })
        .unwrap();
    }
    let group = 0x8000_1234;
    h.link_set_group_by_name("ga0", group).unwrap();
    h.link_set_group_by_name("gb0", group).unwrap();
    assert!(
        h.link_set_group_by_name("nope0", group)
            .unwrap_err()
            .is_not_found()
    );
    assert!(matches!(
        h.link_del_group(0).unwrap_err(),
        dataplane::Error::Invalid { .. }
    ));
    h.link_del_group(group).unwrap();
    let left: Vec<String> = h.link_list().unwrap().into_iter().map(|l| l.name).collect();
    for gone in ["ga0", "ga0p", "gb0", "gb0p"] {
        assert!(
            !left.contains(&gone.to_string()),
            "{gone} deleted: {left:?}"
        );
    }
    for kept in ["lo", "gc0", "gc0p"] {
        assert!(left.contains(&kept.to_string()), "{kept} kept: {left:?}");
    }
    assert!(h.link_del_group(group).unwrap_err().is_not_found());
}

#[test]
fn a_deleted_namespace_is_reported_as_gone() {
    require_root(WHY);
    let ns = test_ns("gone");
    let path = ns.path();
    drop(ns);
    let err = NetNs::open(&path).unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn the_own_namespace_is_recognised_under_any_path() {
    require_root(WHY);
    assert!(NetNs::open("/proc/self/ns/net").unwrap().is_own().unwrap());
    assert!(
        NetNs::open(format!("/proc/{}/ns/net", std::process::id()))
            .unwrap()
            .is_own()
            .unwrap()
    );
    let ns = test_ns("own");
    let other = open(&ns);
    assert!(!other.is_own().unwrap(), "another namespace is not ours");
    // Inside the test namespace, its bind mount is the own namespace.
    let path = ns.path();
    let seen = other
        .run(move || NetNs::open(&path).unwrap().is_own().unwrap())
        .unwrap();
    assert!(
        !seen,
        "is_own compares with the process's namespace, not the thread's"
    );
}

#[test]
fn node_egress_table_is_created_once_and_updated_on_change() {
    require_root(WHY);
    let node = test_ns("node");
    let ns = open(&node);
    let cfg = NodeEgress {
        node_ipv4: Ipv4Addr::new(198, 51, 100, 10),
        random_fully: true,
    };
    ns.run(|| nft::ensure_node_egress(&cfg)).unwrap().unwrap();
    ns.run(|| nft::ensure_node_egress(&cfg)).unwrap().unwrap();
    let json = sh(&[
        "ip", "netns", "exec", &node.name, "nft", "-j", "list", "table", "ip", "sixfold",
    ]);
    assert!(
        json.contains("198.51.100.10") && json.contains("fully-random"),
        "{json}"
    );
    let changed = NodeEgress {
        node_ipv4: Ipv4Addr::new(198, 51, 100, 11),
        random_fully: false,
    };
    ns.run(|| nft::ensure_node_egress(&changed))
        .unwrap()
        .unwrap();
    let json = sh(&[
        "ip", "netns", "exec", &node.name, "nft", "-j", "list", "table", "ip", "sixfold",
    ]);
    assert!(
        json.contains("198.51.100.11") && !json.contains("198.51.100.10"),
        "{json}"
    );
    assert!(ns.run(|| nft::table_exists("sixfold")).unwrap().unwrap());
    ns.run(nft::delete_node_egress).unwrap().unwrap();
    assert!(
        ns.run(nft::delete_node_egress)
            .unwrap()
            .unwrap_err()
            .is_not_found()
    );
}

#[test]
fn node_setup_turns_forwarding_on() {
    require_root(WHY);
    let node = test_ns("fwd");
    let ns = open(&node);
    ns.run(dataplane::node_setup).unwrap().unwrap();
    let v6 = ns
        .run(|| sysctl::read(&Key::parse("net.ipv6.conf.all.forwarding").unwrap()))
        .unwrap()
        .unwrap();
    let v4 = ns
        .run(|| sysctl::read(&Key::parse("net.ipv4.ip_forward").unwrap()))
        .unwrap()
        .unwrap();
    let ra = ns
        .run(|| sysctl::read(&Key::parse("net.ipv6.conf.default.accept_ra").unwrap()))
        .unwrap()
        .unwrap();
    assert_eq!((v6.as_str(), v4.as_str(), ra.as_str()), ("1", "1", "2"));
}
