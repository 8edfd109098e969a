//! The agent's server over its real Unix socket, driven with `agent_api::call`, with a fixed
//! prefix source and conflist-only node set-up (no EC2, no root).

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Ipv6Addr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use agent::prefix::PrefixError;
use agent::{
    AgentConfig, ConflistOnly, ConflistSettings, NodeFacts, PrefixSource, RunningAgent,
    StaticPrefix,
};
use agent_api::{AttachmentKey, ClientError, ErrorKind, Request, Response, call};

const T: Duration = Duration::from_secs(10);
const PREFIX: &str = "2001:db8:0:1:abcd::/80";

fn facts() -> NodeFacts {
    NodeFacts {
        prefix: PREFIX.parse().unwrap(),
        node_ipv4: "10.0.1.7".parse().unwrap(),
        node_ipv6: None,
        eni_id: Some("eni-0abc".into()),
    }
}

fn config(dir: &Path) -> AgentConfig {
    let mut c = AgentConfig::new("i-0test");
    c.data_dir = dir.join("data");
    c.socket = dir.join("run/sixfold/agent.sock");
    c.cni_conf_dir = dir.join("net.d");
    c.metrics_addr = "127.0.0.1:0".parse().unwrap();
    c
}

fn start_with(c: &AgentConfig, source: &dyn PrefixSource) -> RunningAgent {
    agent::start(c, source, &ConflistOnly(ConflistSettings::from_config(c))).unwrap()
}

fn start(c: &AgentConfig) -> RunningAgent {
    start_with(c, &StaticPrefix(facts()))
}

fn key(c: &str) -> AttachmentKey {
    AttachmentKey {
        network: "sixfold".into(),
        container_id: c.into(),
        ifname: "eth0".into(),
    }
}

fn add(sock: &Path, c: &str, netns: Option<&Path>) -> Ipv6Addr {
    let req = Request::Add {
        key: key(c),
        netns: netns.map(|p| p.display().to_string()),
    };
    match call(sock, &req, T).unwrap() {
        Response::Added { allocation } => {
            assert_eq!(allocation.key, key(c));
            allocation.address
        }
        other => panic!("add {c}: {other:?}"),
    }
}

fn del(sock: &Path, c: &str) -> Option<Ipv6Addr> {
    match call(sock, &Request::Del { key: key(c) }, T).unwrap() {
        Response::Deleted { released } => released,
        other => panic!("del {c}: {other:?}"),
    }
}

fn list(sock: &Path) -> Vec<(String, Ipv6Addr)> {
    match call(sock, &Request::List, T).unwrap() {
        Response::List { allocations } => allocations
            .into_iter()
            .map(|a| (a.key.container_id, a.address))
            .collect(),
        other => panic!("list: {other:?}"),
    }
}

fn http_get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut s = TcpStream::connect_timeout(&addr, T).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

#[test]
fn add_del_gc_list_status_over_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let a = start(&c);
    let sock = a.socket().to_owned();

    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "socket mode");
    let parent_mode = std::fs::metadata(sock.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(parent_mode, 0o755, "socket dir mode");
    let conflist: serde_json::Value =
        serde_json::from_slice(&std::fs::read(c.cni_conf_dir.join("10-sixfold.conflist")).unwrap())
            .unwrap();
    assert_eq!(conflist["name"], "sixfold");

    // add is idempotent per attachment; distinct attachments get distinct addresses
    let x = add(&sock, "x", None);
    assert_eq!(add(&sock, "x", None), x);
    let y = add(&sock, "y", None);
    let z = add(&sock, "z", None);
    assert_eq!(HashSet::from([x, y, z]).len(), 3);
    let prefix: ipnet::Ipv6Net = PREFIX.parse().unwrap();
    assert!(
        [x, y, z]
            .iter()
            .all(|a| prefix.contains(a) && *a != prefix.network())
    );

    // del is idempotent
    assert_eq!(del(&sock, "x"), Some(x));
    assert_eq!(del(&sock, "x"), None);
    assert_eq!(del(&sock, "never-added"), None);

    // list
    assert_eq!(list(&sock), vec![("y".to_owned(), y), ("z".to_owned(), z)]);

    // status
    match call(&sock, &Request::Status, T).unwrap() {
        Response::Status { status } => {
            assert_eq!(status.prefix, PREFIX);
            assert_eq!(status.node_ipv4, facts().node_ipv4);
            assert_eq!(status.allocated, 2);
            assert_eq!(status.cooling, 1);
        }
        other => panic!("{other:?}"),
    }

    // gc keeps the valid ones of its network only
    match call(
        &sock,
        &Request::Gc {
            network: "sixfold".into(),
            valid: vec![key("y")],
        },
        T,
    )
    .unwrap()
    {
        Response::Gc { released } => assert_eq!(
            released.iter().map(|a| a.address).collect::<Vec<_>>(),
            vec![z]
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(list(&sock), vec![("y".to_owned(), y)]);

    // a released address is not handed out again during its cooldown (30 s default)
    let w = add(&sock, "w", None);
    assert!(![x, y, z].contains(&w));

    // bad requests get invalid_request
    let bad = Request::Add {
        key: AttachmentKey {
            ifname: "".into(),
            ..key("q")
        },
        netns: None,
    };
    assert!(matches!(
        call(&sock, &bad, T),
        Err(ClientError::Agent {
            kind: ErrorKind::InvalidRequest,
            ..
        })
    ));
    let mut raw = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    raw.write_all(b"{not json}\n").unwrap();
    let mut answer = String::new();
    raw.read_to_string(&mut answer).unwrap();
    let resp: Response = serde_json::from_str(answer.trim_end()).unwrap();
    assert!(
        matches!(
            resp,
            Response::Error {
                kind: ErrorKind::InvalidRequest,
                ..
            }
        ),
        "{resp:?}"
    );

    a.shutdown();
    assert!(!sock.exists(), "shutdown removes the socket");
}

#[test]
fn metrics_and_status_are_served_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(&config(dir.path()));
    let sock = a.socket().to_owned();
    let addr = add(&sock, "m1", None);
    add(&sock, "m2", None);
    del(&sock, "m2");
    let _ = call(
        &sock,
        &Request::Add {
            key: key(""),
            netns: None,
        },
        T,
    );

    let (status, body) = http_get(a.metrics_addr(), "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    for line in [
        "sixfold_agent_ready 1",
        "sixfold_agent_allocations 1",
        "sixfold_agent_cooling 1",
        "sixfold_agent_prefix_addresses 281474976710656",
        "sixfold_agent_add_duration_seconds_count 3",
        "sixfold_agent_del_duration_seconds_count 1",
        "sixfold_agent_errors_total{kind=\"invalid_request\"} 1",
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "missing {line:?} in\n{body}"
        );
    }

    let (status, body) = http_get(a.metrics_addr(), "/v1/status");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ready"], true);
    assert_eq!(v["prefix"], PREFIX);
    assert_eq!(v["node_ipv4"], "10.0.1.7");
    assert_eq!(v["eni_id"], "eni-0abc");
    assert_eq!(v["allocations"][0]["container_id"], "m1");
    assert_eq!(v["allocations"][0]["address"], addr.to_string());

    assert_eq!(
        http_get(a.metrics_addr(), "/nope").0,
        "HTTP/1.1 404 Not Found"
    );
}

#[test]
fn restart_keeps_allocations_and_cooldowns() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let (a1, gone) = {
        let a = start(&c);
        let a1 = add(a.socket(), "a", None);
        let gone = add(a.socket(), "b", None);
        del(a.socket(), "b");
        (a1, gone)
    };
    let a = start(&c);
    assert_eq!(list(a.socket()), vec![("a".to_owned(), a1)]);
    assert_eq!(add(a.socket(), "a", None), a1, "idempotent across restarts");
    let fresh = add(a.socket(), "c", None);
    assert!(
        fresh != a1 && fresh != gone,
        "released address still cooling after restart"
    );
}

#[test]
fn start_releases_allocations_whose_netns_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let alive = dir.path().join("ns-alive");
    let dead = dir.path().join("ns-dead");
    std::fs::write(&alive, b"").unwrap();
    std::fs::write(&dead, b"").unwrap();
    {
        let a = start(&c);
        add(a.socket(), "alive", Some(&alive));
        add(a.socket(), "dead", Some(&dead));
        add(a.socket(), "no-netns", None);
    }
    std::fs::remove_file(&dead).unwrap();
    let a = start(&c);
    let names: Vec<String> = list(a.socket()).into_iter().map(|(c, _)| c).collect();
    assert_eq!(names, vec!["alive", "no-netns"]);
}

#[test]
fn stale_socket_is_replaced_and_a_live_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    std::fs::create_dir_all(c.socket.parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&c.socket).unwrap()); // leaves a stale file
    let a = start(&c);
    add(a.socket(), "s", None);

    let other_dir = tempfile::tempdir().unwrap();
    let mut c2 = config(other_dir.path());
    c2.socket = c.socket.clone();
    let err = agent::start(
        &c2,
        &StaticPrefix(facts()),
        &ConflistOnly(ConflistSettings::from_config(&c2)),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("another agent is answering"),
        "{err}"
    );
    add(a.socket(), "s", None); // the first agent is unharmed

    let mut c3 = config(other_dir.path());
    c3.socket = other_dir.path().join("plain-file");
    std::fs::write(&c3.socket, b"x").unwrap();
    let err = agent::start(
        &c3,
        &StaticPrefix(facts()),
        &ConflistOnly(ConflistSettings::from_config(&c3)),
    )
    .unwrap_err();
    assert!(err.to_string().contains("is not a socket"), "{err}");
}

#[test]
fn socket_mode_0660_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.socket_mode = agent::SocketMode::GROUP;
    let a = start(&c);
    assert_eq!(
        std::fs::metadata(a.socket()).unwrap().permissions().mode() & 0o777,
        0o660
    );
}

/// A prefix source that answers only when the test says so.
struct Gate(std::sync::Mutex<mpsc::Receiver<()>>);

impl PrefixSource for Gate {
    fn acquire(&self, _: Option<&NodeFacts>) -> Result<NodeFacts, PrefixError> {
        self.0
            .lock()
            .unwrap()
            .recv_timeout(T)
            .map_err(|e| PrefixError::Other(e.to_string()))?;
        Ok(facts())
    }
}

#[test]
fn requests_before_the_prefix_is_known_are_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let (tx, rx) = mpsc::channel();
    let sock: PathBuf = c.socket.clone();
    let starter = std::thread::spawn(move || start_with(&c, &Gate(std::sync::Mutex::new(rx))));
    let deadline = std::time::Instant::now() + T;
    let err = loop {
        match call(&sock, &Request::Status, T) {
            Err(ClientError::Connect { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            other => break other,
        }
    };
    assert!(
        matches!(
            err,
            Err(ClientError::Agent {
                kind: ErrorKind::NotReady,
                ..
            })
        ),
        "{err:?}"
    );
    tx.send(()).unwrap();
    let a = starter.join().unwrap();
    assert!(matches!(
        call(a.socket(), &Request::Status, T),
        Ok(Response::Status { .. })
    ));
}

#[test]
fn a_failing_prefix_source_fails_start_and_cleans_up() {
    struct Broken;
    impl PrefixSource for Broken {
        fn acquire(&self, _: Option<&NodeFacts>) -> Result<NodeFacts, PrefixError> {
            Err(PrefixError::NoPrimaryEni {
                instance_id: "i-0test".into(),
            })
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let err = agent::start(
        &c,
        &Broken,
        &ConflistOnly(ConflistSettings::from_config(&c)),
    )
    .unwrap_err();
    assert!(err.to_string().contains("i-0test"), "{err}");
    assert!(!c.socket.exists(), "no socket left behind");
    assert!(
        !c.cni_conf_dir.join("10-sixfold.conflist").exists(),
        "no conflist without a prefix"
    );
}

#[test]
fn concurrent_adds_never_share_an_address() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(&config(dir.path()));
    let sock = a.socket().to_owned();
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let sock = sock.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| add(&sock, &format!("c{t}-{i}"), None))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let all: Vec<Ipv6Addr> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(all.len(), 200);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 200);
    assert_eq!(list(&sock).len(), 200);
}

/// One thread serves every connection (an event loop): a client that connects and says
/// nothing, or sends its line a byte at a time, holds up no one; the silent one is answered
/// `invalid_request` once its 5 s are up, and the slow one is answered normally.
#[test]
fn silent_and_slow_clients_hold_up_no_one_and_the_silent_one_is_timed_out() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(&config(dir.path()));
    let sock = a.socket().to_owned();
    let connect = || {
        let s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        s
    };
    let started = std::time::Instant::now();
    let mut silent = connect();
    let mut slow = connect();
    let line = serde_json::to_string(&Request::Add {
        key: key("slow"),
        netns: None,
    })
    .unwrap()
        + "\n";
    let (half, rest) = line.as_bytes().split_at(line.len() / 2);
    for b in half {
        slow.write_all(&[*b]).unwrap();
    }
    // Others are answered while both connections are open and incomplete.
    let ip = add(&sock, "quick", None);
    assert!(list(&sock).contains(&("quick".into(), ip)));
    slow.write_all(rest).unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).unwrap();
    let Response::Added { allocation } = serde_json::from_str(&answer).unwrap() else {
        panic!("{answer}")
    };
    assert_ne!(allocation.address, ip);
    let mut answer = String::new();
    silent.read_to_string(&mut answer).unwrap();
    let resp: Response = serde_json::from_str(&answer).unwrap();
    assert!(
        matches!(&resp, Response::Error { kind: ErrorKind::InvalidRequest, message }
            if message.contains("within 5 s")),
        "{resp:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "answered early"
    );
}

/// With every connection slot taken, a further caller is answered `busy` (CNI 11) at once and
/// nothing is allocated for it; once the slots free up, the same request succeeds.
#[test]
fn beyond_the_connection_limit_a_caller_is_answered_busy_and_nothing_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(&config(dir.path()));
    let sock = a.socket().to_owned();
    let held: Vec<_> = (0..agent::server::MAX_CONNECTIONS)
        .map(|_| std::os::unix::net::UnixStream::connect(&sock).unwrap())
        .collect();
    let req = Request::Add {
        key: key("late"),
        netns: None,
    };
    let resp = call(&sock, &req, T);
    assert!(
        matches!(&resp, Err(ClientError::Agent { kind: ErrorKind::Busy, message })
            if message.contains("256")),
        "{resp:?}"
    );
    drop(held);
    // The freed slots are seen on the loop's next turn.
    let deadline = std::time::Instant::now() + T;
    loop {
        match call(&sock, &req, T) {
            Ok(Response::Added { .. }) => break,
            Err(ClientError::Agent {
                kind: ErrorKind::Busy,
                ..
            }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(list(&sock).len(), 1);
}
