//! The real parts the node tests drive, each cleaned up on drop: a `sixfold agent` process
//! (killed by PID), a libcni-like runner of the agent's conflist over the real plugin binaries,
//! UDP responders that report whom they see, and a private podman set-up.

#![allow(dead_code)]

use std::fs::File;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use agent_api::{Allocation, NodeStatus, Request, Response};
use dataplane::netns::NetNs;
use serde_json::{Value, json};

use crate::common::Server;
use crate::node_lab::run_cmd;

/// Where the plugin binaries are: `$SIXFOLD_CNI_BIN_DIR`, else the target dir of this test
/// binary (`cargo nextest run --workspace` / `cargo build -p cni` put them there). Missing ones fail.
pub fn plugin_dir() -> PathBuf {
    let dir = match std::env::var_os("SIXFOLD_CNI_BIN_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            // target/<profile>/deps/node-<hash> → target/<profile>
            let exe = std::env::current_exe().expect("current exe");
            exe.parent()
                .and_then(Path::parent)
                .expect("test binary lives in target/<profile>/deps")
                .to_path_buf()
        }
    };
    for bin in ["sixfold-cni", "sixfold-egress-cni"] {
        assert!(
            dir.join(bin).is_file(),
            "{} is missing: build the plugins first (`cargo build -p cni --bins` with the same \
             profile and target dir, or `cargo nextest run --workspace`), or point \
             SIXFOLD_CNI_BIN_DIR at them",
            dir.join(bin).display()
        );
    }
    dir
}

/// A real `sixfold agent` process, run inside a node namespace. Killed (by its PID) on drop.
#[derive(Debug)]
pub struct Agent {
    pub netns: String,
    pub socket: PathBuf,
    pub conf_dir: PathBuf,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
    /// How many times the agent was started.
    pub starts: usize,
}

impl Agent {
    /// Start the agent of instance `instance_id` in `netns`, with its files under `dir`, against
    /// `region`; returns once it answers `status`.
    pub fn start(netns: &str, dir: &Path, instance_id: &str, region: &Server) -> Agent {
        std::fs::create_dir_all(dir).expect("agent dir");
        let socket = dir.join("run/agent.sock");
        let conf_dir = dir.join("net.d");
        let data_dir = dir.join("data");
        let credentials = region.data_dir.join("credentials");
        let args: Vec<String> = [
            "agent",
            "--instance-id",
            instance_id,
            "--ec2-endpoint",
            &region.endpoint,
            "--region",
            "us-east-1",
            "--credentials-file",
            &credentials.display().to_string(),
            "--profile",
            "sixfold",
            "--data-dir",
            &data_dir.display().to_string(),
            "--socket",
            &socket.display().to_string(),
            "--cni-conf-dir",
            &conf_dir.display().to_string(),
            "--metrics-addr",
            "127.0.0.1:0",
            "--cooldown",
            "30s",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut a = Agent {
            netns: netns.to_owned(),
            socket,
            conf_dir,
            data_dir,
            log: dir.join("agent.log"),
            args,
            child: None,
            starts: 0,
        };
        a.spawn();
        a.wait_ready();
        a
    }

    fn spawn(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("agent log file");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.netns, env!("CARGO_BIN_EXE_sixfold")])
            .args(&self.args)
            .env("SIXFOLD_LOG", "info")
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("spawn sixfold agent");
        self.child = Some(child);
        self.starts += 1;
    }

    /// The agent's log so far (for failure messages).
    pub fn log_tail(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        let start = s.len().saturating_sub(12000);
        let start = (start..s.len())
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(s.len());
        s[start..].to_string()
    }

    /// Wait (at most 30 s) until the agent answers `status`; panics with its log otherwise.
    pub fn wait_ready(&mut self) -> NodeStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(st)) = child.try_wait()
            {
                panic!("sixfold agent exited with {st}:\n{}", self.log_tail());
            }
            if let Ok(Response::Status { status }) =
                agent_api::call(&self.socket, &Request::Status, Duration::from_secs(2))
            {
                return status;
            }
            if Instant::now() > deadline {
                panic!(
                    "sixfold agent in {} did not answer within 30 s:\n{}",
                    self.netns,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `kill -9` the agent (by its PID) and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start it again on the same data dir (after [`Agent::kill9`]); waits until ready.
    pub fn restart(&mut self) -> NodeStatus {
        self.kill9();
        self.spawn();
        self.wait_ready()
    }

    /// `kill -9` and start again without waiting (to kill it again during start-up).
    pub fn respawn(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// One request to the agent.
    pub fn call(&self, req: &Request) -> Response {
        agent_api::call(&self.socket, req, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("agent call {req:?}: {e}\n{}", self.log_tail()))
    }

    /// Every live allocation, as the agent reports it.
    pub fn list(&self) -> Vec<Allocation> {
        match self.call(&Request::List) {
            Response::List { allocations } => allocations,
            other => panic!("list answered {other:?}"),
        }
    }

    pub fn status(&self) -> NodeStatus {
        match self.call(&Request::Status) {
            Response::Status { status } => status,
            other => panic!("status answered {other:?}"),
        }
    }

    /// The conflist the agent wrote.
    pub fn conflist(&self) -> Value {
        let path = self.conf_dir.join("10-sixfold.conflist");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("the agent wrote no {}: {e}", path.display()));
        serde_json::from_str(&text).expect("the conflist is JSON")
    }

    /// The host-local data dir of the egress plugin (from the conflist).
    pub fn egress_ipam_dir(&self) -> PathBuf {
        let c = self.conflist();
        PathBuf::from(
            c["plugins"][1]["ipam"]["dataDir"]
                .as_str()
                .expect("egress ipam dataDir"),
        )
    }

    /// Container ids host-local holds an egress IPv4 for.
    pub fn egress_reservations(&self) -> Vec<String> {
        let dir = self
            .egress_ipam_dir()
            .join(self.conflist()["name"].as_str().unwrap());
        let Ok(rd) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut ids: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().parse::<Ipv4Addr>().is_ok())
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .map(|s| s.lines().next().unwrap_or("").trim().to_string())
            .collect();
        ids.sort();
        ids
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A libcni-like runner of the agent's conflist: runs the real plugin binaries in order, inside
/// the node namespace, with `CNI_PATH=<plugin dir>:/usr/lib/cni`.
#[derive(Debug, Clone)]
pub struct Chain {
    pub conflist: Value,
    pub node_ns: String,
    pub bin_dir: PathBuf,
}

/// What one plugin invocation printed and returned.
#[derive(Debug, Clone)]
pub struct PluginOut {
    pub plugin: String,
    pub json: Value,
    pub code: i32,
    pub stderr: String,
}

impl Chain {
    pub fn new(agent: &Agent) -> Chain {
        Chain {
            conflist: agent.conflist(),
            node_ns: agent.netns.clone(),
            bin_dir: plugin_dir(),
        }
    }

    pub fn network(&self) -> &str {
        self.conflist["name"].as_str().expect("conflist name")
    }

    fn plugins(&self) -> Vec<Value> {
        self.conflist["plugins"]
            .as_array()
            .cloned()
            .expect("conflist plugins")
    }

    /// The stdin of plugin `p`: its entry plus the conflist's name and version (or `version`).
    pub fn stdin_of(&self, p: &Value, version: Option<&str>, prev: Option<&Value>) -> Value {
        let mut c = p.clone();
        c["cniVersion"] = json!(version.unwrap_or_else(|| {
            self.conflist["cniVersion"]
                .as_str()
                .expect("conflist cniVersion")
        }));
        c["name"] = self.conflist["name"].clone();
        if let Some(prev) = prev {
            c["prevResult"] = prev.clone();
        }
        c
    }

    /// Run plugin binary `plugin` once.
    pub fn exec(
        &self,
        plugin: &str,
        command: &str,
        container_id: &str,
        netns: Option<&str>,
        stdin: &[u8],
    ) -> PluginOut {
        let bin = self.bin_dir.join(plugin);
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.node_ns])
            .arg(&bin)
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", container_id)
            .env("CNI_IFNAME", "eth0")
            .env(
                "CNI_PATH",
                format!("{}:/usr/lib/cni", self.bin_dir.display()),
            )
            .env("CNI_NETNS", netns.unwrap_or(""));
        let out = run_cmd(cmd, stdin);
        let text = out.stdout.trim();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("{plugin} {command} printed non-JSON {text:?}: {e}"))
        };
        PluginOut {
            plugin: plugin.to_owned(),
            json,
            code: out.code,
            stderr: out.stderr,
        }
    }

    /// ADD through the whole chain, each plugin getting the previous result; stops at the
    /// first failure and returns it.
    pub fn add(&self, container_id: &str, netns: &str) -> Result<Value, PluginOut> {
        let mut prev: Option<Value> = None;
        for p in self.plugins() {
            let stdin = self.stdin_of(&p, None, prev.as_ref());
            let out = self.exec(
                p["type"].as_str().expect("plugin type"),
                "ADD",
                container_id,
                Some(netns),
                stdin.to_string().as_bytes(),
            );
            if out.code != 0 {
                return Err(out);
            }
            prev = Some(out.json);
        }
        Ok(prev.unwrap_or(Value::Null))
    }

    /// DEL through the chain in reverse order; every plugin's outcome.
    pub fn del(&self, container_id: &str, netns: Option<&str>) -> Vec<PluginOut> {
        let mut outs = Vec::new();
        for p in self.plugins().iter().rev() {
            let stdin = self.stdin_of(p, None, None);
            outs.push(self.exec(
                p["type"].as_str().expect("plugin type"),
                "DEL",
                container_id,
                netns,
                stdin.to_string().as_bytes(),
            ));
        }
        outs
    }

    /// DEL that must succeed in every plugin.
    pub fn del_ok(&self, container_id: &str, netns: Option<&str>) {
        for o in self.del(container_id, netns) {
            assert_eq!(
                o.code, 0,
                "{} DEL failed: {} {}",
                o.plugin, o.json, o.stderr
            );
        }
    }

    /// CHECK through the chain, each plugin given the ADD's final result.
    pub fn check(&self, container_id: &str, netns: &str, result: &Value) -> Vec<PluginOut> {
        self.plugins()
            .iter()
            .map(|p| {
                let stdin = self.stdin_of(p, None, Some(result));
                self.exec(
                    p["type"].as_str().expect("plugin type"),
                    "CHECK",
                    container_id,
                    Some(netns),
                    stdin.to_string().as_bytes(),
                )
            })
            .collect()
    }

    /// GC through the chain with `cni.dev/valid-attachments` (a CNI 1.1.0 command: the
    /// conflist declares 1.0.0 for libcni 1.1 runtimes, so the version is raised as a 1.1
    /// runtime does).
    pub fn gc(&self, valid: &[&str]) -> Vec<PluginOut> {
        let attachments: Vec<Value> = valid
            .iter()
            .map(|c| json!({"containerID": c, "ifname": "eth0"}))
            .collect();
        self.plugins()
            .iter()
            .map(|p| {
                let mut stdin = self.stdin_of(p, Some("1.1.0"), None);
                stdin["cni.dev/valid-attachments"] = json!(attachments);
                self.exec(
                    p["type"].as_str().expect("plugin type"),
                    "GC",
                    "",
                    None,
                    stdin.to_string().as_bytes(),
                )
            })
            .collect()
    }
}

/// The pod's IPv6 from a chain result.
pub fn result_ipv6(result: &Value) -> Ipv6Addr {
    result["ips"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ip| ip["address"].as_str())
        .filter_map(|a| a.split('/').next()?.parse::<Ipv6Addr>().ok())
        .next()
        .unwrap_or_else(|| panic!("no IPv6 address in {result}"))
}

/// A UDP responder inside a namespace: answers every datagram with the text of the sender's
/// address, i.e. it reports who it sees. Stops (and joins) on drop.
pub struct Responder {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Responder {
    /// Bind `bind` inside `ns` (the socket keeps its namespace) and serve on a thread.
    pub fn start(ns: &NetNs, bind: SocketAddr) -> Responder {
        let sock = ns
            .run(move || UdpSocket::bind(bind))
            .expect("enter namespace")
            .unwrap_or_else(|e| panic!("bind responder on {bind}: {e}"));
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let addr = sock.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !s2.load(Ordering::SeqCst) {
                if let Ok((_, from)) = sock.recv_from(&mut buf) {
                    let _ = sock.send_to(from.ip().to_string().as_bytes(), from);
                }
            }
        });
        Responder {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// From inside `ns`, ask the responder at `target` whom it sees; `None` if no answer came
/// (up to 5 tries of 1 s each).
pub fn who_am_i(ns: &NetNs, target: SocketAddr) -> Option<IpAddr> {
    let bind: SocketAddr = if target.is_ipv6() {
        "[::]:0".parse().expect("literal")
    } else {
        "0.0.0.0:0".parse().expect("literal")
    };
    let sock = ns
        .run(move || UdpSocket::bind(bind))
        .expect("enter namespace")
        .expect("bind client socket");
    sock.set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let mut buf = [0u8; 512];
    for _ in 0..5 {
        if sock.send_to(b"who am i", target).is_err() {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        if let Ok((n, from)) = sock.recv_from(&mut buf)
            && from == target
        {
            return String::from_utf8_lossy(&buf[..n]).parse().ok();
        }
    }
    None
}

/// The path of `bin` on PATH, or a failure that says how to install it (never a skip).
pub fn require_tool(bin: &str, package: &str) -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([std::path::PathBuf::from("/usr/sbin"), "/usr/bin".into()])
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{bin}` is not installed: install the Debian package {package} (scripts/install-deps does)")
        })
}

/// A podman set-up private to one test: its own storage, config and cgroup parent; the
/// container is removed and the cgroup dirs deleted on drop.
pub struct Podman {
    pub dir: std::path::PathBuf,
    pub node_ns: String,
    pub name: String,
    pub cgroup_parent: String,
}

impl Podman {
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new("nsenter");
        // nsenter (not `ip netns exec`, which remounts /sys and hides the cgroup mounts).
        cmd.arg(format!("--net=/run/netns/{}", self.node_ns))
            .arg("podman")
            .args(["--root", &self.dir.join("storage").display().to_string()])
            .args(["--runroot", &self.dir.join("runroot").display().to_string()])
            .args(["--tmpdir", &self.dir.join("tmp").display().to_string()])
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "file"])
            .args(args)
            .env("CONTAINERS_CONF", self.dir.join("containers.conf"));
        cmd
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = run_cmd(
            self.command(&["rm", "--force", "--time", "0", &self.name]),
            b"",
        );
        // The cgroup dirs podman made under our parent, deepest first.
        if let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") {
            for c in controllers.flatten() {
                let root = c.path().join(self.cgroup_parent.trim_start_matches('/'));
                let mut dirs = Vec::new();
                let mut stack = vec![root];
                while let Some(d) = stack.pop() {
                    if let Ok(rd) = std::fs::read_dir(&d) {
                        stack.extend(rd.flatten().filter(|e| e.path().is_dir()).map(|e| e.path()));
                        dirs.push(d);
                    }
                }
                for d in dirs.iter().rev() {
                    let _ = std::fs::remove_dir(d);
                }
            }
        }
    }
}
