//! Shared fixtures of the root tests: namespaces that delete themselves, a node with an IPv4
//! uplink to a peer "internet" host, the node agent, and a runner for the real plugin binaries.
//!
//! The agent is the REAL one (`agent::start`, in-process: its socket, durable store and pool,
//! with a fixed prefix and conflist-only node set-up). Two failure tests need faults the real
//! agent cannot be told to make (refuse every ADD, hand out an address the node already routes):
//! they use the in-test stand-in ([`FakeAgent`]) through [`Node::with_stand_in`]. The whole stack
//! (region, `sixfold agent` processes, conflist) is tested in `crates/sixfold/tests/node.rs`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv6Addr, UdpSocket};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_api::{Allocation, AttachmentKey, ErrorKind, NodeStatus, Request, Response};
use dataplane::netns::NetNs;
use serde_json::{Value, json};

pub const NODE_IPV4: &str = "198.51.100.10";
pub const PEER_IPV4: &str = "203.0.113.10";
pub const NETWORK: &str = "sfnet";
/// Deadline of a plugin run and of an agent call.
const CMD_TIMEOUT: Duration = Duration::from_secs(30);

// Not every test binary that includes this module uses every helper.
#[allow(unused_imports)]
pub use test_support::{TestNs, ip_json, sh, try_sh};

/// Fail loudly (never skip) when not root.
pub fn require_root() {
    test_support::require_root("it creates network namespaces and runs the CNI plugins in them");
}

/// A network namespace for one CNI test (`sfx-PID-N-ROLE`); deleted on drop.
pub fn test_ns(role: &str) -> TestNs {
    TestNs::new("sfx", role)
}

/// Opening a test namespace for the socket and netlink calls a test makes inside it.
pub trait OpenNs {
    /// The namespace, opened.
    fn open(&self) -> NetNs;
}

impl OpenNs for TestNs {
    fn open(&self) -> NetNs {
        NetNs::open(self.path()).expect("test namespace opens")
    }
}

/// A stand-in for the node agent, for fault injection only: speaks the agent-api wire
/// contract over a Unix socket and hands out addresses from [`PREFIX`]; can refuse every ADD or
/// force the next address.
pub struct FakeAgent {
    pub socket: PathBuf,
    pub state: Arc<Mutex<AgentState>>,
    stop: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

#[derive(Default)]
pub struct AgentState {
    pub next: u128,
    pub allocs: BTreeMap<AttachmentKey, Allocation>,
    /// Answer every Add with an error.
    pub refuse: bool,
    /// Hand out this address on the next Add.
    pub force_next: Option<Ipv6Addr>,
    pub dels: Vec<AttachmentKey>,
}

pub const PREFIX: &str = "2001:db8:0:1:abcd::/80";

impl FakeAgent {
    pub fn start() -> FakeAgent {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&socket).expect("bind agent socket");
        let state = Arc::new(Mutex::new(AgentState {
            next: 2,
            ..Default::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let _ = serve(conn, &st);
            }
        });
        FakeAgent {
            socket,
            state,
            stop,
            _dir: dir,
        }
    }

    pub fn allocations(&self) -> Vec<Allocation> {
        self.state
            .lock()
            .unwrap()
            .allocs
            .values()
            .cloned()
            .collect()
    }
}

impl Drop for FakeAgent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = UnixStream::connect(&self.socket);
    }
}

fn serve(conn: UnixStream, state: &Mutex<AgentState>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let resp = match serde_json::from_str::<Request>(line.trim()) {
        Err(e) => Response::Error {
            kind: ErrorKind::InvalidRequest,
            message: e.to_string(),
        },
        Ok(req) => handle(req, &mut state.lock().unwrap()),
    };
    let mut out = serde_json::to_vec(&resp)?;
    out.push(b'\n');
    (&conn).write_all(&out)
}

fn handle(req: Request, st: &mut AgentState) -> Response {
    let base = u128::from("2001:db8:0:1:abcd::".parse::<Ipv6Addr>().unwrap());
    match req {
        Request::Add { key, netns } => {
            if st.refuse {
                return Response::Error {
                    kind: ErrorKind::Exhausted,
                    message: format!("no address left in {PREFIX}"),
                };
            }
            if let Some(a) = st.allocs.get(&key) {
                return Response::Added {
                    allocation: a.clone(),
                };
            }
            let address = st.force_next.take().unwrap_or_else(|| {
                st.next += 1;
                Ipv6Addr::from(base + st.next)
            });
            let a = Allocation {
                key: key.clone(),
                address,
                netns,
            };
            st.allocs.insert(key, a.clone());
            Response::Added { allocation: a }
        }
        Request::Del { key } => {
            st.dels.push(key.clone());
            Response::Deleted {
                released: st.allocs.remove(&key).map(|a| a.address),
            }
        }
        Request::List => Response::List {
            allocations: st.allocs.values().cloned().collect(),
        },
        Request::Gc { network, valid } => {
            let stale: Vec<AttachmentKey> = st
                .allocs
                .keys()
                .filter(|k| k.network == network && !valid.contains(k))
                .cloned()
                .collect();
            let released = stale.iter().filter_map(|k| st.allocs.remove(k)).collect();
            Response::Gc { released }
        }
        Request::Status => Response::Status {
            status: NodeStatus {
                prefix: PREFIX.into(),
                node_ipv4: NODE_IPV4.parse().unwrap(),
                node_ipv6: None,
                allocated: st.allocs.len() as u64,
                cooling: 0,
            },
        },
    }
}

/// The real agent, in-process, over [`PREFIX`]; stopped (socket removed) on drop.
pub struct RealAgent {
    pub socket: PathBuf,
    running: Option<agent::RunningAgent>,
    _dir: tempfile::TempDir,
}

impl RealAgent {
    pub fn start() -> RealAgent {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = agent::AgentConfig::new("i-0cnitest");
        c.data_dir = dir.path().join("data");
        c.socket = dir.path().join("agent.sock");
        c.cni_conf_dir = dir.path().join("net.d");
        c.metrics_addr = "127.0.0.1:0".parse().unwrap();
        let facts = agent::NodeFacts {
            prefix: PREFIX.parse().unwrap(),
            node_ipv4: NODE_IPV4.parse().unwrap(),
            node_ipv6: None,
            eni_id: None,
        };
        let host = agent::ConflistOnly(agent::ConflistSettings::from_config(&c));
        let running = agent::start(&c, &agent::StaticPrefix(facts), &host).expect("agent starts");
        RealAgent {
            socket: c.socket.clone(),
            running: Some(running),
            _dir: dir,
        }
    }
}

impl Drop for RealAgent {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown();
        }
    }
}

/// The node's agent: the real one, or the stand-in for fault injection.
pub enum TestAgent {
    Real(RealAgent),
    StandIn(FakeAgent),
}

impl TestAgent {
    pub fn socket(&self) -> &Path {
        match self {
            TestAgent::Real(a) => &a.socket,
            TestAgent::StandIn(a) => &a.socket,
        }
    }

    /// Live allocations, asked over the socket.
    pub fn allocations(&self) -> Vec<Allocation> {
        match agent_api::call(self.socket(), &Request::List, CMD_TIMEOUT) {
            Ok(Response::List { allocations }) => allocations,
            other => panic!("list answered {other:?}"),
        }
    }

    /// The stand-in's state (only for nodes made with [`Node::with_stand_in`]).
    pub fn stand_in(&self) -> &Mutex<AgentState> {
        match self {
            TestAgent::StandIn(a) => &a.state,
            TestAgent::Real(_) => panic!("this node runs the real agent; use Node::with_stand_in"),
        }
    }
}

/// A node namespace with an IPv4 uplink to a peer namespace that plays an IPv4 internet host
/// (203.0.113.10), plus the agent and a host-local data directory.
pub struct Node {
    pub agent: TestAgent,
    pub ns: TestNs,
    pub peer: TestNs,
    pub ipam_dir: tempfile::TempDir,
}

impl Node {
    /// A node with the real agent.
    pub fn new() -> Node {
        Self::build(TestAgent::Real(RealAgent::start()))
    }

    /// A node with the fault-injecting stand-in agent.
    pub fn with_stand_in() -> Node {
        Self::build(TestAgent::StandIn(FakeAgent::start()))
    }

    fn build(agent: TestAgent) -> Node {
        require_root();
        let ns = test_ns("node");
        let peer = test_ns("peer");
        let (n, p) = (ns.name.as_str(), peer.name.as_str());
        sh(&[
            "ip", "-n", n, "link", "add", "up0", "type", "veth", "peer", "name", "wan0", "netns", p,
        ]);
        sh(&[
            "ip",
            "-n",
            n,
            "addr",
            "add",
            &format!("{NODE_IPV4}/24"),
            "dev",
            "up0",
        ]);
        sh(&["ip", "-n", n, "link", "set", "up0", "up"]);
        sh(&[
            "ip",
            "-n",
            n,
            "route",
            "add",
            "default",
            "via",
            "198.51.100.1",
        ]);
        sh(&[
            "ip",
            "-n",
            p,
            "addr",
            "add",
            "198.51.100.1/24",
            "dev",
            "wan0",
        ]);
        sh(&[
            "ip",
            "-n",
            p,
            "addr",
            "add",
            &format!("{PEER_IPV4}/32"),
            "dev",
            "lo",
        ]);
        sh(&["ip", "-n", p, "link", "set", "wan0", "up"]);
        ns.open().run(dataplane::node_setup).unwrap().unwrap();
        Node {
            agent,
            ns,
            peer,
            ipam_dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn pod_conf(&self, version: &str) -> Value {
        json!({"cniVersion": version, "name": NETWORK, "type": "sixfold-cni",
               "agentSocket": self.agent.socket().display().to_string(), "mtu": 1500})
    }

    pub fn egress_conf(&self, version: &str, prev: Option<&Value>) -> Value {
        let mut v = json!({"cniVersion": version, "name": NETWORK, "type": "sixfold-egress-cni",
            "nodeIP": NODE_IPV4, "randomizeSNAT": false, "mtu": 1500,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": "169.254.172.0/22", "gateway": "169.254.172.1"}]],
                     "routes": [{"dst": "0.0.0.0/0"}], "dataDir": self.ipam_dir.path().display().to_string()}});
        if let Some(p) = prev {
            v["prevResult"] = p.clone();
        }
        v
    }

    /// Run a plugin binary inside the node namespace: (parsed stdout or Null, exit code).
    pub fn run(
        &self,
        binary: &str,
        command: &str,
        container_id: &str,
        netns: Option<&str>,
        stdin: &str,
    ) -> (Value, i32) {
        self.run_with(binary, command, container_id, netns, stdin, &[])
    }

    /// [`Node::run`] with `CNI_*` variables changed: `(name, None)` removes one.
    pub fn run_with(
        &self,
        binary: &str,
        command: &str,
        container_id: &str,
        netns: Option<&str>,
        stdin: &str,
        vars: &[(&str, Option<&str>)],
    ) -> (Value, i32) {
        let bin_dir = Path::new(binary).parent().unwrap().display().to_string();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns.name, binary]);
        cmd.env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", container_id)
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", format!("{bin_dir}:/usr/lib/cni"))
            .env("CNI_NETNS", netns.unwrap_or(""));
        for (k, v) in vars {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let out = dataplane::exec::run(cmd, stdin.as_bytes(), CMD_TIMEOUT)
            .expect("plugin ran within its timeout");
        let text = String::from_utf8_lossy(&out.stdout);
        let v = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(text.trim())
                .unwrap_or_else(|e| panic!("plugin printed non-JSON {text:?}: {e}"))
        };
        (v, out.status.code().unwrap_or(-1))
    }

    /// `sixfold-cni COMMAND` alone, with the node's CNI 1.0.0 pod config: (parsed stdout or
    /// Null, exit code).
    pub fn run_pod(&self, command: &str, container_id: &str, netns: Option<&str>) -> (Value, i32) {
        let conf = self.pod_conf("1.0.0").to_string();
        self.run(pod_bin(), command, container_id, netns, &conf)
    }

    /// ADD through the whole chain (as libcni does for the conflist); panics on failure.
    pub fn add_pod(&self, container_id: &str, pod: &TestNs, version: &str) -> Value {
        let (r1, c1) = self.run(
            pod_bin(),
            "ADD",
            container_id,
            Some(&pod.path()),
            &self.pod_conf(version).to_string(),
        );
        assert_eq!(c1, 0, "sixfold-cni ADD failed: {r1}");
        let (r2, c2) = self.run(
            egress_bin(),
            "ADD",
            container_id,
            Some(&pod.path()),
            &self.egress_conf(version, Some(&r1)).to_string(),
        );
        assert_eq!(c2, 0, "sixfold-egress-cni ADD failed: {r2}");
        r2
    }

    /// DEL through the chain in reverse order: both exit codes.
    pub fn del_pod(&self, container_id: &str, netns: Option<&str>, version: &str) -> (i32, i32) {
        let (e, c2) = self.run(
            egress_bin(),
            "DEL",
            container_id,
            netns,
            &self.egress_conf(version, None).to_string(),
        );
        let (p, c1) = self.run(
            pod_bin(),
            "DEL",
            container_id,
            netns,
            &self.pod_conf(version).to_string(),
        );
        assert!(c1 == 0 && c2 == 0, "DEL failed: egress {e} pod {p}");
        (c2, c1)
    }

    /// Host interfaces made by the plugins.
    pub fn plugin_links(&self) -> Vec<String> {
        self.ns
            .links()
            .into_iter()
            .filter(|l| l.starts_with("eni") || l.starts_with("egr"))
            .collect()
    }
}

pub fn pod_bin() -> &'static str {
    env!("CARGO_BIN_EXE_sixfold-cni")
}

pub fn egress_bin() -> &'static str {
    env!("CARGO_BIN_EXE_sixfold-egress-cni")
}

/// The pod's IPv6 address from an ADD result.
pub fn pod_ipv6(result: &Value) -> String {
    let a = result["ips"][0]["address"]
        .as_str()
        .expect("result has an address");
    a.split('/').next().unwrap().to_string()
}

/// A UDP socket bound inside `ns` (sockets keep their namespace).
pub fn udp_in(ns: &NetNs, bind: &str) -> UdpSocket {
    let s = ns
        .run(|| UdpSocket::bind(bind))
        .unwrap()
        .expect("bind UDP in namespace");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}
