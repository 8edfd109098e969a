//! Security groups for pods: a pod given its own groups gets a branch network interface in the
//! region (`CreateNetworkInterface InterfaceType=branch` in its node's subnet, with those groups
//! and one IPv6 address from the subnet), is wired with that address (a veth from the node, the
//! `/128` routed by the node to the veth and by the VPC router to the node), and is filtered by
//! its interface's groups instead of the node's (see [`super::sg`]). Deleting the pod deletes
//! the interface. IPv6 only: a branch pod has no IPv4 egress interface.

use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

use crate::error::{LabError, Result};
use crate::plan::{LL_DOWN, LL_UP, Names, POD_PORT};
use crate::region::Api;
use crate::state::{LabState, NodeInfo, PodInfo};
use crate::topo::{self, Ns, default_v6, host};

/// A second port every branch pod's responder listens on, so that a refusal there is the
/// security group's, not a closed port.
pub const SECOND_PORT: u16 = 9090;
/// Most groups per interface (EC2's default quota).
pub const MAX_GROUPS: usize = 5;

/// What `pod run NAME --security-groups ...` asks for.
#[derive(Debug, Clone)]
pub struct PodRequest<'a> {
    pub name: &'a str,
    /// The node (`node1`); default: the first.
    pub node: Option<&'a str>,
    pub groups: &'a [String],
    /// The `sixfold` executable (for the pod's responder).
    pub exe: &'a Path,
}

fn invalid(flag: &'static str, detail: impl Into<String>) -> LabError {
    LabError::InvalidFlag {
        flag,
        detail: detail.into(),
    }
}

/// Check a pod request before anything is made.
pub fn check(state: &LabState, req: &PodRequest<'_>) -> Result<()> {
    crate::podcmd::check_pod_name(req.name)?;
    if let Some(p) = state.pod(req.name) {
        return Err(crate::podcmd::PodError::Exists {
            lab: state.name.clone(),
            pod: req.name.into(),
            where_: format!("on {}, {}", p.node, p.ipv6),
        }
        .into());
    }
    if req.groups.is_empty() || req.groups.len() > MAX_GROUPS {
        return Err(invalid(
            "--security-groups",
            format!("give 1 to {MAX_GROUPS} security group ids (sg-...)"),
        ));
    }
    if let Some(g) = req
        .groups
        .iter()
        .find(|g| !g.starts_with("sg-") || g.len() > 64)
    {
        return Err(invalid(
            "--security-groups",
            format!("{g:?} is not a security group id like sg-0123456789abcdef0"),
        ));
    }
    if let Some(node) = req.node
        && state.node(node).is_none()
    {
        return Err(invalid(
            "--node",
            format!(
                "no node {node} in lab {}; `sixfold status --name {}` lists them",
                state.name, state.name
            ),
        ));
    }
    Ok(())
}

fn node_of<'s>(state: &'s LabState, req: &PodRequest<'_>) -> Result<&'s NodeInfo> {
    match req.node {
        Some(n) => state.node(n),
        None => state.nodes.first(),
    }
    .ok_or_else(|| invalid("--node", format!("lab {} has no nodes", state.name)))
}

/// Create the branch interface: (its id, its IPv6 address).
fn create_branch(
    api: &Api,
    state: &LabState,
    node: &NodeInfo,
    req: &PodRequest<'_>,
) -> Result<(String, Ipv6Addr)> {
    let enis = api
        .ec2
        .describe_network_interfaces(&[ec2_client::Filter::network_interface_id(&node.eni)])
        .map_err(|source| LabError::Ec2 {
            action: "DescribeNetworkInterfaces".into(),
            source: Box::new(source),
        })?;
    let subnet = enis
        .first()
        .and_then(|e| e.subnet_id.clone())
        .ok_or_else(|| LabError::Reply {
            action: "DescribeNetworkInterfaces".into(),
            detail: format!("{} (of {}) names no subnet", node.eni, node.name),
        })?;
    let mut params: Vec<(String, String)> = vec![
        ("SubnetId".into(), subnet),
        ("InterfaceType".into(), "branch".into()),
        ("Ipv6AddressCount".into(), "1".into()),
        (
            "Description".into(),
            format!(
                "sixfold lab {} pod {} on {}",
                state.name, req.name, node.name
            ),
        ),
        (
            "TagSpecification.1.ResourceType".into(),
            "network-interface".into(),
        ),
        ("TagSpecification.1.Tag.1.Key".into(), "sixfold:lab".into()),
        ("TagSpecification.1.Tag.1.Value".into(), state.name.clone()),
        ("TagSpecification.1.Tag.2.Key".into(), "sixfold:pod".into()),
        ("TagSpecification.1.Tag.2.Value".into(), req.name.into()),
        (
            "TagSpecification.1.Tag.3.Key".into(),
            "sixfold:trunk".into(),
        ),
        ("TagSpecification.1.Tag.3.Value".into(), node.eni.clone()),
    ];
    for (i, g) in req.groups.iter().enumerate() {
        params.push((format!("SecurityGroupId.{}", i + 1), g.clone()));
    }
    let refs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = api.call("CreateNetworkInterface", &refs)?;
    let e = r.child("networkInterface").ok_or_else(|| LabError::Reply {
        action: "CreateNetworkInterface".into(),
        detail: "no <networkInterface>".into(),
    })?;
    let id = e.child_text("networkInterfaceId").map(str::to_owned);
    let v6 = e
        .items("ipv6AddressesSet")
        .find_map(|a| a.child_text("ipv6Address")?.parse().ok());
    match (id, v6) {
        (Some(id), Some(v6)) => Ok((id, v6)),
        (id, _) => {
            if let Some(id) = id {
                let _ = api.call("DeleteNetworkInterface", &[("NetworkInterfaceId", &id)]);
            }
            Err(LabError::Reply {
                action: "CreateNetworkInterface".into(),
                detail:
                    "the branch interface got no IPv6 address; does its subnet have an IPv6 block?"
                        .into(),
            })
        }
    }
}

fn wire(names: &Names, node: &NodeInfo, ns: &str, veth: &str, ip: Ipv6Addr) -> Result<()> {
    let mut n = Ns::open(&node.netns, true)?;
    let mut p = Ns::open(ns, false)?;
    topo::veth(&mut n, veth, &mut p, "eth0")?;
    n.addr(veth, IpAddr::V6(LL_UP), 64, true)?;
    p.addr("eth0", IpAddr::V6(LL_DOWN), 64, true)?;
    p.addr("eth0", IpAddr::V6(ip), 128, true)?;
    p.route_via(default_v6(), IpAddr::V6(LL_UP), "eth0")?;
    n.route_dev(host(ip), veth)?;
    let mut router = Ns::open(&names.router(), true)?;
    let link = node
        .netns
        .strip_prefix(&names.prefix())
        .unwrap_or(&node.name);
    router.route_via(host(ip), IpAddr::V6(node.ipv6), link)
}

/// Run pod `req.name` with its own security groups in the lab whose state is in `state_dir`:
/// the branch interface, the namespace and its wiring, the responder (on [`POD_PORT`] and
/// [`SECOND_PORT`]), then the node's security groups re-synced — with the state locked
/// ([`LabState::update`]). On failure nothing is left.
pub fn run_pod(api: &Api, state_dir: &Path, req: &PodRequest<'_>) -> Result<PodInfo> {
    crate::require_root()?;
    let state = LabState::load(state_dir)?.ok_or_else(|| LabError::NoLab {
        name: String::new(),
        path: LabState::path(state_dir),
    })?;
    check(&state, req)?;
    let node = node_of(&state, req)?.clone();
    let names = Names::new(&state.name)?;
    let (eni, ip) = create_branch(api, &state, &node, req)?;
    let ns = crate::podcmd::pod_netns(&names, req.name);
    let veth = super::sg::branch_veth(&eni);
    let mut recorded = false;
    let made = LabState::update(&state.name, state_dir, |state| {
        check(state, req)?;
        if state.namespaces.contains(&ns) || topo::netns_path(&ns).exists() {
            return Err(crate::podcmd::PodError::Exists {
                lab: state.name.clone(),
                pod: req.name.into(),
                where_: format!("namespace {ns} exists: being created or deleted"),
            }
            .into());
        }
        recorded = true;
        state.add_namespaces(std::slice::from_ref(&ns))?;
        topo::create_namespaces(std::slice::from_ref(&ns))?;
        wire(&names, &node, &ns, &veth, ip)?;
        let handle =
            dataplane::netns::NetNs::by_name(&ns).map_err(LabError::dp(format!("opening {ns}")))?;
        let argv = crate::procs::argv([
            req.exe.display().to_string(),
            "lab-responder".into(),
            "--listen".into(),
            format!("[::]:{POD_PORT}"),
            "--listen".into(),
            format!("[::]:{SECOND_PORT}"),
            "--name".into(),
            req.name.into(),
            "--lab".into(),
            state.name.clone(),
        ]);
        let p = crate::procs::spawn(
            &format!("pod {}", req.name),
            Some(&handle),
            &argv,
            &state_dir.join("logs").join(format!("pod-{}.log", req.name)),
        )?;
        state.processes.push(p);
        let pod = PodInfo {
            name: req.name.into(),
            namespace: "default".into(),
            node: node.name.clone(),
            netns: ns.clone(),
            container_id: String::new(),
            ipv6: ip,
            ipv4: None,
            fargate: false,
            instance_id: None,
            security_groups: req.groups.to_vec(),
            branch_eni: Some(eni.clone()),
            created: Some(crate::podcmd::now_rfc3339()),
        };
        state.pods.push(pod.clone());
        super::sync(api, state, &mut super::Memo::default())?;
        Ok(pod)
    });
    if made.is_err() {
        // Undo only what this call made: the pod if it got recorded, else its namespace.
        let ours = LabState::load(state_dir)
            .ok()
            .flatten()
            .and_then(|s| s.pod(req.name).cloned())
            .is_some_and(|p| p.branch_eni.as_deref() == Some(eni.as_str()));
        if ours {
            let _ = delete_pod(api, state_dir, req.name);
        } else if recorded {
            let _ = topo::delete_namespaces(std::slice::from_ref(&ns));
            let _ = LabState::update(&state.name, state_dir, |s| {
                s.namespaces.retain(|n| *n != ns);
                Ok(())
            });
        }
        let _ = api.call("DeleteNetworkInterface", &[("NetworkInterfaceId", &eni)]);
    }
    made
}

/// Delete a pod that has its own security groups: its responder, namespace, router route and
/// branch interface; then the node's security groups re-synced (state locked). Idempotent (a
/// pod already gone is fine), best effort: every step is tried, the first error reported.
pub fn delete_pod(api: &Api, state_dir: &Path, name: &str) -> Result<()> {
    let Some(state) = LabState::load(state_dir)? else {
        return Ok(());
    };
    LabState::update(&state.name, state_dir, |state| {
        let Some(pod) = state.pod(name).cloned() else {
            return Ok(());
        };
        let names = Names::new(&state.name)?;
        let role = format!("pod {name}");
        let pids: Vec<u32> = state
            .processes
            .iter()
            .filter(|p| p.role == role && crate::procs::is_ours(p))
            .map(|p| p.pid)
            .collect();
        crate::procs::end(&pids, Duration::from_secs(2));
        let mut first: Option<LabError> = None;
        let mut keep = |r: Result<()>| {
            if let Err(e) = r
                && first.is_none()
            {
                first = Some(e);
            }
        };
        keep(topo::delete_namespaces(std::slice::from_ref(&pod.netns)));
        if let Some(node) = state.node(&pod.node) {
            let link = node
                .netns
                .strip_prefix(&names.prefix())
                .unwrap_or(&node.name);
            let mut cmd = std::process::Command::new("ip");
            cmd.args(["-n", &names.router(), "-6", "route", "del"])
                .arg(format!("{}/128", pod.ipv6))
                .args(["dev", link]);
            // Already gone is fine: the route goes when the pod goes, whoever removed it first.
            let _ = dataplane::exec::run(cmd, b"", Duration::from_secs(10));
        }
        if let Some(eni) = &pod.branch_eni {
            match api.call("DeleteNetworkInterface", &[("NetworkInterfaceId", eni)]) {
                Err(LabError::Ec2 { source, .. })
                    if source
                        .to_string()
                        .contains("InvalidNetworkInterfaceID.NotFound") => {}
                r => keep(r.map(|_| ())),
            }
        }
        state.pods.retain(|p| p.name != name);
        state.processes.retain(|p| p.role != role);
        state.namespaces.retain(|n| n != &pod.netns);
        keep(super::sync(api, state, &mut super::Memo::default()).map(|_| ()));
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })
}
