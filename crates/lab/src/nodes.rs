//! Node groups follow the region. [`sync`] compares the node group's running instances (as
//! the region reports them) with the lab's nodes: an instance without a node gets one built the
//! way `up` builds them (namespace on the VPC router, a region forwarder, the real agent, which
//! gets the node's own /80 from the region, and the lab's pods wired by the real CNI chain); a
//! node whose instance no longer runs is removed (its pods deleted through real CNI DEL while
//! its agent still runs, then its processes ended and its namespaces deleted). The IGW's NAT
//! and kube-proxy's service rules are then rewritten for the nodes and pods that remain.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dataplane::netns::NetNs;

use crate::error::{LabError, Result};
use crate::network;
use crate::plan::{self, Names};
use crate::pods::{Chain, PodRef};
use crate::procs;
use crate::reconcile::Ctx;
use crate::region::{self, Launched};
use crate::state::{LabState, NodeInfo, VpcInfo};
use crate::topo::{self, Ns};
use crate::workloads::{self, PodEnv};

/// The index into `vpc.subnets` of the subnet `subnet`.
pub(crate) fn subnet_index(vpc: &VpcInfo, subnet: &str) -> Result<usize> {
    vpc.subnets
        .iter()
        .position(|s| s.id == subnet)
        .ok_or_else(|| LabError::Reply {
            action: "DescribeInstances".into(),
            detail: format!(
                "an instance sits in subnet {subnet}, which is not one of the lab VPC's subnets"
            ),
        })
}

/// The state entry of node `i` (1-based) for instance `l`.
pub(crate) fn node_info(
    names: &Names,
    state_dir: &Path,
    vpc: &VpcInfo,
    i: usize,
    l: &Launched,
) -> Result<NodeInfo> {
    let dir = state_dir.join("nodes").join(format!("node{i}"));
    let zone = vpc.subnets[subnet_index(vpc, &l.subnet)?].zone.clone();
    Ok(NodeInfo {
        name: format!("node{i}"),
        netns: names.node(i),
        instance_id: l.instance_id.clone(),
        eni: l.eni.clone(),
        zone,
        ipv4: l.ipv4,
        public_ipv4: plan::node_public_v4(i)?,
        ipv6: l.ipv6,
        prefix: None,
        agent_socket: dir.join("agent.sock"),
        conf_dir: dir.join("net.d"),
    })
}

/// The /80 the region delegated to node `n`'s ENI (known once its agent is ready).
pub(crate) fn delegated(n: &NodeInfo) -> Result<ipnet::IpNet> {
    n.prefix
        .as_deref()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| LabError::Reply {
            action: "DescribeNetworkInterfaces".into(),
            detail: format!("{} has no delegated /80", n.eni),
        })
}

/// The `i` of a node named `node<i>`.
pub fn node_index(name: &str) -> Option<usize> {
    name.strip_prefix("node")?.parse().ok()
}

/// Bring the lab's nodes to the node group's running instances (see the module doc). Cheap
/// when nothing changed: one DescribeInstances.
pub fn sync(ctx: &mut Ctx, state: &mut LabState) -> Result<()> {
    let Some(cluster) = state.cluster.clone() else {
        return Ok(());
    };
    let Some(ng) = cluster.nodegroup.clone() else {
        return Ok(());
    };
    let running = region::nodegroup_instances(&ctx.api, &cluster.name, &ng)?;
    let gone: Vec<String> = state
        .nodes
        .iter()
        .filter(|n| !running.contains(&n.instance_id))
        .map(|n| n.name.clone())
        .collect();
    let mut new: Vec<String> = running
        .into_iter()
        .filter(|id| !state.nodes.iter().any(|n| &n.instance_id == id))
        .collect();
    if gone.is_empty() && new.is_empty() {
        return Ok(());
    }
    let mut problems = Vec::new();
    for name in &gone {
        let start = Instant::now();
        match remove_node(ctx, state, name) {
            Ok(()) => ctx.say(format!(
                "removed {name} (its instance no longer runs) in {} ms",
                start.elapsed().as_millis()
            )),
            Err(e) => problems.push(format!("removing {name}: {e}")),
        }
    }
    let room = plan::MAX_NODES.saturating_sub(state.nodes.len());
    if new.len() > room {
        problems.push(format!(
            "node group {ng} runs {} instances the lab has no node for, but a lab holds at most {} nodes; {} are left out (scale the group to at most {})",
            new.len(),
            plan::MAX_NODES,
            new.len() - room,
            plan::MAX_NODES
        ));
        new.truncate(room);
    }
    if !new.is_empty() {
        let launched = region::describe(&ctx.api, &new)?;
        for l in &launched {
            let start = Instant::now();
            match add_node(ctx, state, l) {
                Ok(name) => ctx.say(format!(
                    "added {name} for {} in {} ms",
                    l.instance_id,
                    start.elapsed().as_millis()
                )),
                Err(e) => problems.push(format!("adding a node for {}: {e}", l.instance_id)),
            }
        }
    }
    if let Err(e) = refresh(ctx, state) {
        problems.push(e.to_string());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(LabError::Command {
            what: format!("following node group {ng}"),
            detail: problems.join("; "),
        })
    }
}

/// Build a node for instance `l`; on failure, remove what was built (so the next converge
/// tries again from scratch). Returns the node's name.
fn add_node(ctx: &mut Ctx, state: &mut LabState, l: &Launched) -> Result<String> {
    // The next number after the highest in use (a removed node's number may come back; its
    // node dir went with it).
    let i = state
        .nodes
        .iter()
        .filter_map(|n| node_index(&n.name))
        .max()
        .unwrap_or(0)
        + 1;
    let vpc = state.vpc.clone().ok_or_else(|| LabError::Command {
        what: "adding a node".into(),
        detail: "the lab's state records no VPC".into(),
    })?;
    let n = node_info(&ctx.names, &ctx.state_dir, &vpc, i, l)?;
    let name = n.name.clone();
    match build_node(ctx, state, &vpc, i, n, l) {
        Ok(()) => Ok(name),
        Err(e) => {
            if let Err(undo) = remove_node(ctx, state, &name) {
                ctx.say(format!("could not undo the half-built {name}: {undo}"));
            }
            Err(e)
        }
    }
}

fn build_node(
    ctx: &mut Ctx,
    state: &mut LabState,
    vpc: &VpcInfo,
    i: usize,
    mut n: NodeInfo,
    l: &Launched,
) -> Result<()> {
    let per_node = state.pods_per_node;
    let mut spaces = vec![n.netns.clone()];
    spaces.extend((1..=per_node).map(|j| ctx.names.pod(i, j)));
    state.nodes.push(n.clone());
    state.add_namespaces(&spaces)?;
    topo::create_namespaces(&spaces)?;
    let mut router = Ns::open(&ctx.names.router(), false)?;
    let mut node = Ns::open(&n.netns, true)?;
    let subnet = &vpc.subnets[subnet_index(vpc, &l.subnet)?];
    network::attach(&mut router, &plan::router_node_if(i), &mut node, l, subnet)?;

    // A conflist left from an earlier node of this number would pass for the new agent's.
    if n.conf_dir.exists() {
        std::fs::remove_dir_all(&n.conf_dir)
            .map_err(LabError::io("removing a stale CNI conf dir", &n.conf_dir))?;
    }
    let listen = workloads::region_listen(&ctx.api);
    let log = ctx.log(&format!("forwarder-{}", n.name));
    let fwd = workloads::start_forwarder(&ctx.exe, &ctx.name, &listen, &n, &log)?;
    state.processes.push(fwd);
    state.save()?;
    let log = ctx.log(&format!("agent-{}", n.name));
    let endpoint = format!("http://{listen}");
    let creds = crate::imds::AgentCredentials::of(state);
    let agent = workloads::start_agent(
        &ctx.exe,
        &ctx.name,
        &n,
        &endpoint,
        &ctx.api.info.credentials,
        &creds,
        &log,
    )?;
    state.processes.extend(agent);
    state.save()?;
    workloads::wait_agent(&n, &log)?;
    n.prefix = region::eni_prefix(&ctx.api, &n.eni)?;
    let prefix = delegated(&n)?;
    router.route_via(prefix, IpAddr::V6(n.ipv6), &plan::router_node_if(i))?;
    if let Some(s) = state.nodes.iter_mut().find(|s| s.name == n.name) {
        s.prefix = n.prefix.clone();
    }
    state.save()?;

    let env = PodEnv {
        lab: ctx.name.clone(),
        names: ctx.names.clone(),
        exe: ctx.exe.clone(),
        bin_dir: ctx.bin_dir.clone(),
        logs: ctx.state_dir.join("logs"),
    };
    for (pod, p) in workloads::node_pods(&env, &n, i, per_node)? {
        state.pods.push(pod);
        state.processes.push(p);
    }
    state.save()?;
    ctx.say(format!(
        "  {}: {} / {}, /80 {prefix} from the region, {per_node} pods",
        n.name, n.ipv4, n.ipv6
    ));
    Ok(())
}

/// Remove node `name`: CNI DEL of each of its pods (while its agent still runs, so their
/// addresses are released), then its processes ended, its namespaces deleted and its link on
/// the router removed, then its entries dropped from the state. Best effort: every step runs
/// and the problems are reported together.
fn remove_node(ctx: &mut Ctx, state: &mut LabState, name: &str) -> Result<()> {
    let Some(n) = state.node(name).cloned() else {
        return Ok(());
    };
    let mut problems = Vec::new();
    let pods: Vec<_> = state
        .pods
        .iter()
        .filter(|p| p.node == n.name)
        .cloned()
        .collect();
    let dead = crate::podcmd::dead_agent(state, &n);
    if let (Some(pid), false) = (dead, pods.is_empty()) {
        problems.push(format!(
            "the agent of {} (pid {pid}) is not running: its {} pods were not DELeted through the plugins (their namespaces are removed with the node)",
            n.name,
            pods.len()
        ));
    } else if !pods.is_empty() {
        match (
            Chain::load(&n.conf_dir, &ctx.bin_dir),
            NetNs::by_name(&n.netns),
        ) {
            (Ok(chain), Ok(node)) => {
                for p in &pods {
                    let netns = topo::netns_path(&p.netns).display().to_string();
                    let r = chain.del(
                        &node,
                        &PodRef {
                            name: &p.name,
                            namespace: &p.namespace,
                            container_id: &p.container_id,
                            netns: &netns,
                        },
                    );
                    if let Err(e) = r {
                        problems.push(e.to_string());
                    }
                }
            }
            (Err(e), _) => problems.push(format!("no CNI DEL for the pods of {name}: {e}")),
            (_, Err(e)) => problems.push(format!("no CNI DEL for the pods of {name}: {e}")),
        }
    }
    // Processes: the node's agent and forwarder, its pods' responders, and anything else
    // living in its namespaces.
    let mut spaces: Vec<String> = vec![n.netns.clone()];
    spaces.extend(pods.iter().map(|p| p.netns.clone()));
    let roles: Vec<String> = [
        format!("agent {}", n.name),
        format!("region forwarder {}", n.name),
        format!("imds {}", n.name),
    ]
    .into_iter()
    .chain(pods.iter().map(|p| format!("pod {}", p.name)))
    .collect();
    let mut pids: Vec<u32> = state
        .processes
        .iter()
        .filter(|p| roles.contains(&p.role) && procs::is_ours(p))
        .map(|p| p.pid)
        .collect();
    let paths: Vec<PathBuf> = spaces.iter().map(|s| topo::netns_path(s)).collect();
    pids.extend(procs::in_namespaces(&paths));
    pids.sort_unstable();
    pids.dedup();
    procs::end(&pids, std::time::Duration::from_secs(2));
    let existing: Vec<String> = spaces
        .iter()
        .filter(|s| topo::netns_path(s).exists())
        .cloned()
        .collect();
    if let Err(e) = topo::delete_namespaces(&existing) {
        problems.push(e.to_string());
    }
    // The router's end of the node's link goes with the namespace; make sure of it.
    if let Some(i) = node_index(&n.name)
        && let Ok(mut router) = Ns::open(&ctx.names.router(), false)
    {
        let _ = router.nl.link_del_by_name(&plan::router_node_if(i));
    }
    // The node's dir (agent data, socket, conflist): a later node of the same number starts
    // afresh.
    if let Some(dir) = n.agent_socket.parent()
        && dir.exists()
        && let Err(e) = std::fs::remove_dir_all(dir)
    {
        problems.push(format!("removing {}: {e}", dir.display()));
    }
    state
        .processes
        .retain(|p| !roles.contains(&p.role) && !pids.contains(&p.pid));
    state.pods.retain(|p| p.node != n.name);
    state.namespaces.retain(|s| !spaces.contains(s));
    state.nodes.retain(|x| x.name != n.name);
    for s in state.services.iter_mut() {
        s.backends.retain(|b| !pods.iter().any(|p| &p.name == b));
    }
    state.save()?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(LabError::Teardown(problems.join("; ")))
    }
}

/// Rewrite what depends on the set of nodes and pods: the IGW's 1:1 NAT and kube-proxy's
/// service rules on every node.
fn refresh(ctx: &mut Ctx, state: &LabState) -> Result<()> {
    let igw = Ns::open(&ctx.names.igw(), false)?;
    let pairs: Vec<_> = state
        .nodes
        .iter()
        .map(|n| (n.ipv4, n.public_ipv4))
        .collect();
    network::igw_nat(&igw, &pairs)?;
    let script = workloads::services_script(state)?;
    for n in &state.nodes {
        let ns = Ns::open(&n.netns, false)?;
        ns.nft(&script, "the service rules (kube-proxy)")?;
    }
    Ok(())
}
