//! Workloads in a running lab: `sixfold pod run / delete / list` and `sixfold exec`.
//!
//! A pod made here is made exactly like the pods of `up`: its own namespace
//! (`sfl-<lab>-p-<pod>`), the node agent's conflist run through the real plugins inside the
//! node's namespace (ADD; [`crate::pods::Chain`]), and the lab responder serving on
//! `[::]:8080`. `delete` runs the real CNI DEL, so the agent releases the address (it cools
//! down before reuse), then ends the responder and removes the namespace. `down` does the same
//! DEL for every pod ([`del_all`]) before it removes anything.
//!
//! The state is changed only under the state lock (`<state dir>/state.lock`): the pod's
//! namespace is recorded before it is made (so a crash leaves nothing `down` cannot find), and
//! the pod itself once it answers. A failed `run` undoes what it made (a drop guard).
//!
//! Other areas react to a pod change through [`after_change`], called by `run` and `delete`
//! once the state holds the change.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dataplane::netns::NetNs;
use serde_json::{Value, json};

use crate::error::{LabError, Result};
use crate::plan::{self, Names};
use crate::pods::{Chain, PodRef};
use crate::procs;
use crate::state::{LabState, NodeInfo, PodInfo, Process};
use crate::topo;

/// The longest pod name accepted (the namespace name `sfl-<lab>-p-<pod>` stays short).
pub const POD_NAME_MAX: usize = 40;
/// How long a new pod's responder may take to listen.
const RESPONDER_READY: Duration = Duration::from_secs(10);

/// Why a pod command was refused; each names the value and the fix.
#[derive(Debug, thiserror::Error)]
pub enum PodError {
    #[error(
        "pod name {pod:?} is not allowed: use 1 to {POD_NAME_MAX} lowercase letters, digits and '-', starting with a letter and ending with a letter or digit (a Kubernetes DNS label)"
    )]
    InvalidName { pod: String },
    #[error(
        "a pod named {pod:?} already exists in lab {lab:?} ({where_}); delete it first with `sixfold pod delete {pod} --name {lab}`, or choose another name"
    )]
    Exists {
        lab: String,
        pod: String,
        where_: String,
    },
    #[error(
        "no pod named {pod:?} in lab {lab:?} (it has: {known}); `sixfold pod list --name {lab}` shows the pods, and `pod delete --ignore-not-found` accepts a pod that is already gone"
    )]
    NotFound {
        lab: String,
        pod: String,
        known: String,
    },
    #[error("no node named {node:?} in lab {lab:?}; use one of: {known}")]
    UnknownNode {
        lab: String,
        node: String,
        known: String,
    },
    #[error("lab {lab:?} has no nodes to run a pod on; bring it up with `sixfold up --name {lab}`")]
    NoNodes { lab: String },
    #[error(
        "lab {lab:?} is not up (phase {phase:?}); wait for `sixfold up --name {lab}` to finish, or bring it up first"
    )]
    NotUp { lab: String, phase: String },
    #[error(
        "the agent of {node} in lab {lab:?} is not running, so no pod can be wired there; choose another node with --node, or rebuild the lab (`sixfold down --name {lab}`, then `sixfold up --name {lab}`)"
    )]
    AgentDown { lab: String, node: String },
    #[error(
        "{node} of lab {lab:?} was removed (its instance no longer runs) while pod {pod:?} was being wired on it, so the pod was undone; run `sixfold pod run {pod} --name {lab}` again to place it on a running node"
    )]
    NodeGone {
        lab: String,
        pod: String,
        node: String,
    },
    #[error(
        "pod {pod:?} is a Fargate pod (its own ENI from RunInstances), not a CNI attachment; `sixfold pod delete` removes only pods wired by the CNI plugins (`sixfold down` removes the whole lab)"
    )]
    Fargate { pod: String },
    #[error(
        "CNI DEL of pod {pod:?} failed, so the pod is kept (its address is not lost): {detail}; fix the cause (is the agent of {node} running?) and run `sixfold pod delete {pod} --name {lab}` again"
    )]
    DelFailed {
        lab: String,
        pod: String,
        node: String,
        detail: String,
    },
}

/// Check a pod name: a Kubernetes DNS label (RFC 1123) of at most [`POD_NAME_MAX`] bytes that
/// starts with a letter (it becomes part of a namespace name and of the container id).
pub fn check_pod_name(pod: &str) -> std::result::Result<(), PodError> {
    let b = pod.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= POD_NAME_MAX
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1] != b'-'
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if ok {
        Ok(())
    } else {
        Err(PodError::InvalidName {
            pod: pod.to_owned(),
        })
    }
}

/// The namespace of pod `pod` made by `pod run`: `sfl-<lab>-p-<pod>` (no other namespace of a
/// lab starts with `p-`, so a pod name can never collide with a node or router).
pub fn pod_netns(names: &Names, pod: &str) -> String {
    format!("{}p-{pod}", names.prefix())
}

/// The container id a lab pod is attached under (as `up` does): `<lab>-<pod>`.
pub fn container_id(lab: &str, pod: &str) -> String {
    format!("{lab}-{pod}")
}

/// The node a new pod goes to: `wanted` if given (it must exist), else the node with the
/// fewest pods (Fargate pods do not count), the first such node on a tie.
pub fn choose_node<'a>(
    s: &'a LabState,
    wanted: Option<&str>,
) -> std::result::Result<&'a NodeInfo, PodError> {
    if let Some(w) = wanted {
        return s.node(w).ok_or_else(|| PodError::UnknownNode {
            lab: s.name.clone(),
            node: w.to_owned(),
            known: known(s.nodes.iter().map(|n| n.name.as_str())),
        });
    }
    s.nodes
        .iter()
        .enumerate()
        .min_by_key(|(i, n)| {
            let pods = s
                .pods
                .iter()
                .filter(|p| !p.fargate && p.node == n.name)
                .count();
            (pods, *i)
        })
        .map(|(_, n)| n)
        .ok_or_else(|| PodError::NoNodes {
            lab: s.name.clone(),
        })
}

fn known<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The current time as RFC 3339 UTC (`2026-11-30T20:15:00Z`), for `created`.
pub fn now_rfc3339() -> String {
    let d = sigv4::AmzDate::from_system_time(std::time::SystemTime::now()).to_string();
    // AmzDate prints `YYYYMMDDTHHMMSSZ` (16 ASCII bytes).
    if d.len() == 16 && d.is_ascii() {
        format!(
            "{}-{}-{}T{}:{}:{}Z",
            &d[0..4],
            &d[4..6],
            &d[6..8],
            &d[9..11],
            &d[11..13],
            &d[13..15]
        )
    } else {
        d
    }
}

/// Where the CNI plugins are: the dir given, else the one `up` recorded, else next to this
/// executable (where `up` looks by default).
pub fn plugin_dir(given: Option<&Path>, s: &LabState) -> Result<PathBuf> {
    if let Some(d) = given.or(s.cni_bin_dir.as_deref()) {
        return Ok(d.to_owned());
    }
    let exe = procs::current_exe()?;
    Ok(exe
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".")))
}

/// The read-modify-write of the running lab's state under its lock ([`LabState::update`]).
fn update<T>(lab: &str, dir: &Path, f: impl FnOnce(&mut LabState) -> Result<T>) -> Result<T> {
    LabState::update(lab, dir, f)
}

fn check_up(s: &LabState) -> std::result::Result<(), PodError> {
    if s.phase == "building" {
        return Err(PodError::NotUp {
            lab: s.name.clone(),
            phase: s.phase.clone(),
        });
    }
    Ok(())
}

/// What `sixfold pod run` asks for.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub lab: String,
    pub state_dir: PathBuf,
    pub pod: String,
    /// The node; default: the one with the fewest pods.
    pub node: Option<String>,
    /// Where the plugins are; default: as recorded by `up`, else next to this executable.
    pub bin_dir: Option<PathBuf>,
}

/// Undoes a half-made pod when dropped unless disarmed: CNI DEL (if ADD ran), the responder,
/// the namespace, and the namespace's record in the state.
struct Rollback<'a> {
    req: &'a RunRequest,
    ns: String,
    chain: Option<(Chain, String)>,
    responder: Option<Process>,
    armed: bool,
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let cid = container_id(&self.req.lab, &self.req.pod);
        let netns = topo::netns_path(&self.ns).display().to_string();
        if let Some((chain, node_ns)) = &self.chain
            && let Ok(node) = NetNs::by_name(node_ns)
        {
            let _ = chain.del(
                &node,
                &PodRef {
                    name: &self.req.pod,
                    namespace: "default",
                    container_id: &cid,
                    netns: &netns,
                },
            );
        }
        if let Some(p) = &self.responder
            && procs::is_ours(p)
        {
            procs::end(&[p.pid], Duration::from_secs(2));
        }
        let _ = topo::delete_namespaces(std::slice::from_ref(&self.ns));
        let ns = self.ns.clone();
        let _ = update(&self.req.lab, &self.req.state_dir, move |s| {
            s.namespaces.retain(|n| *n != ns);
            Ok(())
        });
    }
}

/// `sixfold pod run`: a pod wired by the real plugins on the chosen node, serving the lab
/// responder, recorded in the state. On any failure nothing of it is left.
pub fn run(req: &RunRequest, out: &mut dyn Write) -> Result<PodInfo> {
    crate::require_root()?;
    check_pod_name(&req.pod)?;
    let names = Names::new(&req.lab)?;
    let ns = pod_netns(&names, &req.pod);
    // Reserve: validate and record the namespace under the lock, so a second `pod run` of the
    // same name sees it at once.
    let (node, bin_dir) = update(&req.lab, &req.state_dir, |s| {
        check_up(s)?;
        if let Some(p) = s.pod(&req.pod) {
            return Err(PodError::Exists {
                lab: req.lab.clone(),
                pod: req.pod.clone(),
                where_: format!("on {}, {}", p.node, p.ipv6),
            }
            .into());
        }
        if s.namespaces.contains(&ns) || topo::netns_path(&ns).exists() {
            return Err(PodError::Exists {
                lab: req.lab.clone(),
                pod: req.pod.clone(),
                where_: format!("namespace {ns} exists: being created or deleted"),
            }
            .into());
        }
        let node = choose_node(s, req.node.as_deref())?.clone();
        if dead_agent(s, &node).is_some() {
            return Err(PodError::AgentDown {
                lab: req.lab.clone(),
                node: node.name.clone(),
            }
            .into());
        }
        let bin_dir = plugin_dir(req.bin_dir.as_deref(), s)?;
        s.namespaces.push(ns.clone());
        Ok((node, bin_dir))
    })?;
    let mut undo = Rollback {
        req,
        ns: ns.clone(),
        chain: None,
        responder: None,
        armed: true,
    };
    topo::create_namespaces(std::slice::from_ref(&ns))?;
    let chain = Chain::load(&node.conf_dir, &bin_dir)?;
    undo.chain = Some((chain.clone(), node.netns.clone()));
    let node_ns =
        NetNs::by_name(&node.netns).map_err(LabError::dp(format!("opening {}", node.netns)))?;
    let cid = container_id(&req.lab, &req.pod);
    let netns = topo::netns_path(&ns).display().to_string();
    let att = chain.add(
        &node_ns,
        &PodRef {
            name: &req.pod,
            namespace: "default",
            container_id: &cid,
            netns: &netns,
        },
    )?;
    let p = spawn_responder(req, &ns)?;
    undo.responder = Some(p.clone());
    let log = p.log.clone();
    procs::wait_for(
        &format!("the responder of pod {}", req.pod),
        RESPONDER_READY,
        &log,
        || std::fs::read_to_string(&log).is_ok_and(|t| t.contains("listening")),
    )?;
    let pod = PodInfo {
        name: req.pod.clone(),
        namespace: "default".into(),
        node: node.name.clone(),
        netns: ns.clone(),
        container_id: cid,
        ipv6: att.ipv6,
        ipv4: att.egress_ipv4,
        fargate: false,
        instance_id: None,
        security_groups: Vec::new(),
        branch_eni: None,
        created: Some(now_rfc3339()),
    };
    let state = update(&req.lab, &req.state_dir, |s| record_pod(s, &node, &pod, &p))?;
    undo.armed = false;
    let _ = writeln!(
        out,
        "pod {} running on {}: {} (egress IPv4 {}), serving [::]:{} in namespace {}",
        pod.name,
        pod.node,
        pod.ipv6,
        pod.ipv4
            .map(|a| a.to_string())
            .unwrap_or_else(|| "-".into()),
        plan::POD_PORT,
        pod.netns
    );
    after_change(&state, out)?;
    Ok(pod)
}

/// Record `pod` (and its responder `p`) wired on `node`, under the state lock, unless the
/// reconciler removed that node (or replaced it by another instance of the same name) while the
/// pod was being wired outside the lock: a pod must never be recorded on a node that is gone.
fn record_pod(s: &mut LabState, node: &NodeInfo, pod: &PodInfo, p: &Process) -> Result<LabState> {
    if !s
        .nodes
        .iter()
        .any(|n| n.name == node.name && n.instance_id == node.instance_id)
    {
        return Err(PodError::NodeGone {
            lab: s.name.clone(),
            pod: pod.name.clone(),
            node: node.name.clone(),
        }
        .into());
    }
    s.pods.push(pod.clone());
    s.processes.push(p.clone());
    Ok(s.clone())
}

fn spawn_responder(req: &RunRequest, ns: &str) -> Result<Process> {
    let exe = procs::current_exe()?;
    let logs = req.state_dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(LabError::io("creating the log dir", &logs))?;
    let log = logs.join(format!("pod-{}.log", req.pod));
    // A log of an earlier pod of the same name would make the readiness check lie.
    let _ = std::fs::remove_file(&log);
    let argv = crate::workloads::responder_argv(&exe, &req.pod, &req.lab);
    let handle = NetNs::by_name(ns).map_err(LabError::dp(format!("opening {ns}")))?;
    procs::spawn(&format!("pod {}", req.pod), Some(&handle), &argv, &log)
}

/// Called by `pod run` and `pod delete` once the state holds the change (`state` is the state
/// as saved). Areas whose dataplane follows the pods (load balancer target groups) hook their
/// idempotent sync in here; each reports what it changed on `out`.
pub fn after_change(state: &LabState, out: &mut dyn Write) -> Result<()> {
    if state.load_balancers.is_empty() {
        return Ok(());
    }
    let r = update(&state.name, &state.state_dir, crate::lb::sync)?;
    if r.registered + r.deregistered > 0 {
        let _ = writeln!(
            out,
            "load balancers: {} targets registered, {} deregistered (target groups follow the services' pods)",
            r.registered, r.deregistered
        );
    }
    Ok(())
}

/// `sixfold pod delete`: returns the pod that was deleted. CNI DEL through the real plugins (the agent releases the address,
/// which then cools down), the pod's processes ended, its namespace deleted, its record
/// removed. A pod that is not in the state is [`PodError::NotFound`]; a DEL failure keeps
/// the pod ([`PodError::DelFailed`]) so that a retry can release its address.
pub fn delete(
    lab: &str,
    state_dir: &Path,
    pod: &str,
    bin_dir: Option<&Path>,
    out: &mut dyn Write,
) -> Result<PodInfo> {
    crate::require_root()?;
    let s = crate::status::load(lab, state_dir)?;
    let Some(p) = s.pod(pod).cloned() else {
        return Err(PodError::NotFound {
            lab: lab.to_owned(),
            pod: pod.to_owned(),
            known: known(s.pods.iter().map(|p| p.name.as_str())),
        }
        .into());
    };
    if p.fargate {
        return Err(PodError::Fargate {
            pod: pod.to_owned(),
        }
        .into());
    }
    if p.branch_eni.is_some() {
        // A pod with its own security groups: no CNI attachment, a branch interface instead.
        let region = s.region.as_ref().ok_or_else(|| LabError::Command {
            what: format!("deleting pod {pod}"),
            detail: "the lab's state records no region".into(),
        })?;
        let api = crate::region::Api::connect(region)?;
        crate::policy::branch::delete_pod(&api, state_dir, pod)?;
        let _ = writeln!(
            out,
            "pod {pod} deleted: its branch interface {} deleted in the region, namespace {} removed",
            p.branch_eni.as_deref().unwrap_or_default(),
            p.netns
        );
        after_change(&crate::status::load(lab, state_dir)?, out)?;
        return Ok(p);
    }
    let bin_dir = plugin_dir(bin_dir, &s)?;
    if let Some(node) = s.node(&p.node) {
        del_one(node, &p, &bin_dir).map_err(|e| PodError::DelFailed {
            lab: lab.to_owned(),
            pod: pod.to_owned(),
            node: p.node.clone(),
            detail: e.to_string(),
        })?;
    }
    // The pod's processes: the recorded responder, and anything else living in its namespace.
    let role = format!("pod {pod}");
    let mut pids: Vec<u32> = s
        .processes
        .iter()
        .filter(|x| x.role == role && procs::is_ours(x))
        .map(|x| x.pid)
        .collect();
    pids.extend(procs::in_namespaces(&[topo::netns_path(&p.netns)]));
    pids.sort_unstable();
    pids.dedup();
    procs::end(&pids, Duration::from_secs(2));
    topo::delete_namespaces(std::slice::from_ref(&p.netns))?;
    let state = update(lab, state_dir, |s| {
        s.pods.retain(|x| x.name != pod);
        s.processes.retain(|x| x.role != role);
        s.namespaces.retain(|n| *n != p.netns);
        Ok(s.clone())
    })?;
    let _ = writeln!(
        out,
        "pod {pod} deleted: CNI DEL on {} released {} to its agent (cooling down before reuse), namespace {} removed",
        p.node, p.ipv6, p.netns
    );
    after_change(&state, out)?;
    Ok(p)
}

fn del_one(node: &NodeInfo, p: &PodInfo, bin_dir: &Path) -> Result<()> {
    let chain = Chain::load(&node.conf_dir, bin_dir)?;
    let node_ns =
        NetNs::by_name(&node.netns).map_err(LabError::dp(format!("opening {}", node.netns)))?;
    let netns = topo::netns_path(&p.netns).display().to_string();
    chain.del(
        &node_ns,
        &PodRef {
            name: &p.name,
            namespace: &p.namespace,
            container_id: &p.container_id,
            netns: &netns,
        },
    )
}

/// What [`del_all`] did: how many pods were DELeted, each failure (pod: why), and each node
/// whose agent was found dead (one line per node: its pods were not DELeted).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DelReport {
    pub deleted: usize,
    pub failed: Vec<String>,
    pub dead_agents: Vec<String>,
}

/// The pid of node `node`'s agent when the state records one that no longer runs (the pid is
/// gone or now runs something else). A node without a recorded agent yet (a crashed `up`) has
/// no dead agent.
pub(crate) fn dead_agent(s: &LabState, node: &NodeInfo) -> Option<u32> {
    let role = format!("agent {}", node.name);
    s.processes
        .iter()
        .filter(|p| p.role == role)
        .find(|p| !procs::is_ours(p))
        .map(|p| p.pid)
}

/// CNI DEL for every pod of the lab wired by the plugins (Fargate pods have no attachment),
/// one thread per node, best effort: a failure is recorded and the rest go on. `down` calls
/// this before it ends the agents, so each agent releases its pods' addresses.
pub fn del_all(s: &LabState) -> DelReport {
    let bin_dir = match plugin_dir(None, s) {
        Ok(d) => d,
        Err(e) => {
            return DelReport {
                failed: vec![format!("all pods: {e}")],
                ..DelReport::default()
            };
        }
    };
    let results: Vec<DelReport> = std::thread::scope(|sc| {
        let handles: Vec<_> =
                s.nodes
                    .iter()
                    .map(|node| {
                        let bin_dir = &bin_dir;
                        sc.spawn(move || {
                            let mut r = DelReport::default();
                            let pods = s.pods.iter().filter(|p| {
                                !p.fargate && p.branch_eni.is_none() && p.node == node.name
                            });
                            // Without its agent every DEL of the node would fail the same way
                            // (and wait on the dead socket): say it once for the node.
                            if let Some(pid) = dead_agent(s, node) {
                                r.dead_agents.push(format!(
                                    "the agent of {} (pid {pid}) is not running: its {} pods were not DELeted through the plugins (their namespaces are removed with the lab)",
                                    node.name,
                                    pods.count()
                                ));
                                return r;
                            }
                            for p in pods {
                                match del_one(node, p, bin_dir) {
                                    Ok(()) => r.deleted += 1,
                                    Err(e) => r.failed.push(format!("{}: {e}", p.name)),
                                }
                            }
                            r
                        })
                    })
                    .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| DelReport {
                    failed: vec!["a DEL thread panicked".into()],
                    ..DelReport::default()
                })
            })
            .collect()
    });
    let mut all = DelReport::default();
    for r in results {
        all.deleted += r.deleted;
        all.failed.extend(r.failed);
        all.dead_agents.extend(r.dead_agents);
    }
    // Pods on a node the state no longer has: their agent is gone with the node.
    for p in s
        .pods
        .iter()
        .filter(|p| !p.fargate && p.branch_eni.is_none() && s.node(&p.node).is_none())
    {
        all.failed.push(format!(
            "{}: its node {} is not in the state",
            p.name, p.node
        ));
    }
    all
}

/// One pod as `pod list --output json` prints it.
pub fn pod_json(p: &PodInfo) -> Value {
    json!({
        "name": p.name,
        "namespace": p.namespace,
        "node": p.node,
        "ipv6": p.ipv6,
        "ipv4": p.ipv4,
        "security_groups": p.security_groups,
        "created": p.created,
        "netns": p.netns,
        "fargate": p.fargate,
    })
}

/// `pod list --output json`: `{"lab": NAME, "pods": [...]}`.
pub fn list_json(s: &LabState) -> Value {
    json!({
        "lab": s.name,
        "pods": s.pods.iter().map(pod_json).collect::<Vec<_>>(),
    })
}

/// `pod list` as a table: NAME, NODE, IPV6, IPV4 (egress), SECURITY GROUPS, CREATED.
pub fn list_table(s: &LabState) -> String {
    let mut rows = vec![
        ["NAME", "NODE", "IPV6", "IPV4", "SECURITY GROUPS", "CREATED"]
            .map(String::from)
            .to_vec(),
    ];
    for p in &s.pods {
        rows.push(vec![
            p.name.clone(),
            p.node.clone(),
            p.ipv6.to_string(),
            p.ipv4.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
            if p.security_groups.is_empty() {
                "-".into()
            } else {
                p.security_groups.join(",")
            },
            p.created.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    crate::status::table(&rows)
}

/// `sixfold exec POD -- CMD...`: run `argv` inside the pod's network namespace with this
/// process's stdin, stdout and stderr, and return its exit code (128 + signal when killed).
/// Only the network namespace changes (like `ip netns exec`, without remounting `/sys`).
pub fn exec(lab: &str, state_dir: &Path, pod: &str, argv: &[String]) -> Result<i32> {
    crate::require_root()?;
    let s = crate::status::load(lab, state_dir)?;
    let p = s.pod(pod).ok_or_else(|| PodError::NotFound {
        lab: lab.to_owned(),
        pod: pod.to_owned(),
        known: known(s.pods.iter().map(|p| p.name.as_str())),
    })?;
    let (program, args) = argv.split_first().ok_or_else(|| LabError::InvalidFlag {
        flag: "CMD",
        detail: "give the command after `--`, e.g. `sixfold exec web -- ip -6 addr`".into(),
    })?;
    let ns = NetNs::by_name(&p.netns).map_err(LabError::dp(format!(
        "opening the namespace {} of pod {pod}",
        p.netns
    )))?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    // Forked from a thread inside the pod's namespace: the child lives there.
    let child = ns
        .run(move || cmd.spawn())
        .map_err(LabError::dp(format!("entering {}", p.netns)))?
        .map_err(|source| LabError::Io {
            what: "starting the command",
            path: PathBuf::from(program),
            source,
        })?;
    let mut child = child;
    let status = child.wait().map_err(|source| LabError::Io {
        what: "waiting for the command",
        path: PathBuf::from(program),
        source,
    })?;
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn node(name: &str) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            netns: format!("sfl-t-{name}"),
            instance_id: "i-1".into(),
            eni: "eni-1".into(),
            zone: "us-east-1a".into(),
            ipv4: "10.0.0.10".parse().unwrap(),
            public_ipv4: "198.51.100.11".parse().unwrap(),
            ipv6: Ipv6Addr::LOCALHOST,
            prefix: None,
            agent_socket: PathBuf::from("/x/agent.sock"),
            conf_dir: PathBuf::from("/x/net.d"),
        }
    }

    fn pod(name: &str, node: &str, fargate: bool) -> PodInfo {
        PodInfo {
            name: name.into(),
            namespace: "default".into(),
            node: node.into(),
            netns: format!("sfl-t-p-{name}"),
            container_id: format!("t-{name}"),
            ipv6: Ipv6Addr::LOCALHOST,
            ipv4: None,
            fargate,
            instance_id: None,
            security_groups: Vec::new(),
            branch_eni: None,
            created: None,
        }
    }

    fn lab() -> LabState {
        let mut s = LabState::new("t", Path::new("/nonexistent"));
        s.nodes = vec![node("node1"), node("node2"), node("node3")];
        s
    }

    #[test]
    fn pod_goes_to_the_node_with_the_fewest_pods() {
        let mut s = lab();
        assert_eq!(choose_node(&s, None).unwrap().name, "node1", "tie: first");
        s.pods = vec![
            pod("a", "node1", false),
            pod("b", "node2", false),
            pod("c", "node1", false),
            pod("f", "node3", true),
        ];
        // Fargate pods do not count: node3 has no EC2 pod.
        assert_eq!(choose_node(&s, None).unwrap().name, "node3");
        s.pods.push(pod("d", "node3", false));
        assert_eq!(choose_node(&s, None).unwrap().name, "node2");
    }

    #[test]
    fn a_pod_is_not_recorded_on_a_node_the_reconciler_removed_meanwhile() {
        let p = Process {
            role: "pod web".into(),
            pid: 1,
            argv: Vec::new(),
            log: PathBuf::from("/x/pod-web.log"),
        };
        let wired_on = node("node2");
        let mut s = lab();
        s.nodes.retain(|n| n.name != "node2");
        let e = record_pod(&mut s, &wired_on, &pod("web", "node2", false), &p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("node2") && e.contains("pod run web"), "{e}");
        assert!(
            s.pods.is_empty() && s.processes.is_empty(),
            "nothing recorded"
        );
        // A node of the same name on another instance is another node.
        let mut again = node("node2");
        again.instance_id = "i-2".into();
        s.nodes.push(again);
        assert!(record_pod(&mut s, &wired_on, &pod("web", "node2", false), &p).is_err());
        assert!(s.pods.is_empty());
        let mut s = lab();
        let saved = record_pod(&mut s, &wired_on, &pod("web", "node2", false), &p).unwrap();
        assert_eq!(saved.pods.len(), 1);
        assert_eq!(s.processes, vec![p]);
    }

    #[test]
    fn a_chosen_node_must_exist() {
        let s = lab();
        assert_eq!(choose_node(&s, Some("node2")).unwrap().name, "node2");
        let e = choose_node(&s, Some("node9")).unwrap_err().to_string();
        assert!(
            e.contains("\"node9\"") && e.contains("node1, node2, node3"),
            "{e}"
        );
        let empty = LabState::new("t", Path::new("/x"));
        assert!(matches!(
            choose_node(&empty, None),
            Err(PodError::NoNodes { .. })
        ));
    }

    #[test]
    fn pod_names_are_dns_labels() {
        for good in ["web", "a", "web-2", "x1-y2"] {
            check_pod_name(good).unwrap();
        }
        let long = "a".repeat(POD_NAME_MAX + 1);
        for bad in [
            "",
            "Web",
            "1web",
            "web-",
            "we_b",
            "a/b",
            "a.b",
            long.as_str(),
        ] {
            let e = check_pod_name(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn pod_namespaces_never_collide_with_the_lab_s_own() {
        let n = Names::new("t").unwrap();
        let ns = pod_netns(&n, "vpc");
        assert_eq!(ns, "sfl-t-p-vpc");
        assert!(ns.starts_with(&n.prefix()), "down finds it by prefix");
        for own in [n.router(), n.node(1), n.pod(1, 1), n.dns()] {
            assert_ne!(ns, own);
        }
    }

    #[test]
    fn created_is_rfc3339_utc() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert_eq!(&t[4..5], "-");
        assert_eq!(&t[10..11], "T");
        assert!(t.ends_with('Z'), "{t}");
    }

    #[test]
    fn list_shows_every_column() {
        let mut s = lab();
        let mut p = pod("web", "node2", false);
        p.ipv4 = Some("169.254.172.5".parse().unwrap());
        p.security_groups = vec!["sg-1".into()];
        p.created = Some("2026-11-30T20:15:00Z".into());
        s.pods.push(p);
        let t = list_table(&s);
        let row = t.lines().nth(1).unwrap();
        for want in [
            "web",
            "node2",
            "::1",
            "169.254.172.5",
            "sg-1",
            "2026-11-30T20:15:00Z",
        ] {
            assert!(row.contains(want), "{row}");
        }
        let j = list_json(&s);
        assert_eq!(j["pods"][0]["node"], "node2");
        assert_eq!(j["pods"][0]["security_groups"][0], "sg-1");
        assert_eq!(j["pods"][0]["ipv4"], "169.254.172.5");
    }
}
