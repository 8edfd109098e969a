//! Root tests: real kernel state in namespaces these tests create (and always delete).
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dataplane::netlink::{AddrOpts, MacAddr, Route, VethSpec};
use dataplane::netns::NetNs;
use dataplane::nft::{self, NodeEgress};
use dataplane::sysctl::{self, Key};

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root (it creates network namespaces); run it as root, e.g. `sudo -E cargo nextest run`"
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

/// A namespace made for one test; deleted on drop, even when the test fails.
struct TestNs(String);

impl TestNs {
    fn new(role: &str) -> TestNs {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "sfd-{}-{}-{role}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        sh(&["ip", "netns", "add", &name]);
        TestNs(name)
    }
    fn path(&self) -> String {
        format!("/run/netns/{}", self.0)
    }
    fn open(&self) -> NetNs {
        NetNs::open(self.path()).unwrap()
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "del", &self.0]);
        let _ = dataplane::exec::run(cmd, b"", Duration::from_secs(10));
    }
}

#[test]
fn sysctl_follows_the_namespace_of_the_opening_thread() {
    require_root();
    let a = TestNs::new("a");
    let ns = a.open();
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
    require_root();
    let host = TestNs::new("host");
    let pod = TestNs::new("pod");
    let (hns, pns) = (host.open(), pod.open());
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
    let json = sh(&["ip", "-n", &pod.0, "-j", "-6", "route", "show", "default"]);
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
    require_root();
    let host = TestNs::new("grp");
    let mut h = host.open().netlink().unwrap();
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
    require_root();
    let ns = TestNs::new("gone");
    let path = ns.path();
    drop(ns);
    let err = NetNs::open(&path).unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn the_own_namespace_is_recognised_under_any_path() {
    require_root();
    assert!(NetNs::open("/proc/self/ns/net").unwrap().is_own().unwrap());
    assert!(
        NetNs::open(format!("/proc/{}/ns/net", std::process::id()))
            .unwrap()
            .is_own()
            .unwrap()
    );
    let ns = TestNs::new("own");
    let other = ns.open();
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
    require_root();
    let node = TestNs::new("node");
    let ns = node.open();
    let cfg = NodeEgress {
        node_ipv4: Ipv4Addr::new(198, 51, 100, 10),
        random_fully: true,
    };
    ns.run(|| nft::ensure_node_egress(&cfg)).unwrap().unwrap();
    ns.run(|| nft::ensure_node_egress(&cfg)).unwrap().unwrap();
    let json = sh(&[
        "ip", "netns", "exec", &node.0, "nft", "-j", "list", "table", "ip", "sixfold",
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
        "ip", "netns", "exec", &node.0, "nft", "-j", "list", "table", "ip", "sixfold",
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
    require_root();
    let node = TestNs::new("fwd");
    let ns = node.open();
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
