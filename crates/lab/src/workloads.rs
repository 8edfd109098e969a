//! The workloads on the nodes: the region forwarder and the real `sixfold agent` per node, pods
//! wired by the real CNI chain with a responder each, the services (ClusterIPs, kube-proxy's
//! nftables DNAT on every node) and the cluster DNS server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dataplane::netns::NetNs;

use crate::error::{LabError, Result};
use crate::plan::{self, Names};
use crate::pods::{Chain, PodRef};
use crate::procs;
use crate::region::{self, Api};
use crate::services::{self, ServiceRequest};
use crate::state::{ClusterInfo, LabState, NodeInfo, PodInfo, Process, ServiceInfo};
use crate::topo::{self, Ns};
use crate::up::Build;

pub(crate) fn responder(
    b: &mut Build<'_>,
    ns: &str,
    name: &str,
    listen: &[String],
) -> Result<crate::state::Process> {
    let mut argv = procs::argv([b.exe.as_os_str(), "lab-responder".as_ref()]);
    for l in listen {
        argv.push("--listen".into());
        argv.push(l.clone());
    }
    argv.extend([
        "--name".to_owned(),
        name.to_owned(),
        "--lab".to_owned(),
        b.cfg.name.clone(),
    ]);
    let handle = NetNs::by_name(ns).map_err(LabError::dp(format!("opening {ns}")))?;
    procs::spawn(
        &format!("responder {name}"),
        Some(&handle),
        &argv,
        &b.log(&format!("responder-{name}")),
    )
}

/// The region's port, which the forwarder also listens on inside each node (127.0.0.1:PORT).
pub(crate) fn region_listen(api: &Api) -> String {
    let port = api
        .info
        .endpoint
        .rsplit(':')
        .next()
        .unwrap_or("0")
        .trim_end_matches('/')
        .to_owned();
    format!("127.0.0.1:{port}")
}

/// Start the region forwarder of one node (`sixfold lab-forward`, root namespace, listening on
/// the region's port inside the node's namespace) and wait until it listens.
pub(crate) fn start_forwarder(
    exe: &Path,
    lab: &str,
    listen: &str,
    node: &NodeInfo,
    log: &Path,
) -> Result<Process> {
    let argv = procs::argv([
        exe.as_os_str(),
        "lab-forward".as_ref(),
        "--to".as_ref(),
        listen.as_ref(),
        "--listen".as_ref(),
        listen.as_ref(),
        "--lab".as_ref(),
        lab.as_ref(),
        "--netns".as_ref(),
        topo::netns_path(&node.netns).as_os_str(),
    ]);
    let fwd = procs::spawn(&format!("region forwarder {}", node.name), None, &argv, log)?;
    procs::wait_for(
        &format!("the region forwarder of {}", node.name),
        Duration::from_secs(5),
        log,
        || {
            std::fs::read_to_string(log).is_ok_and(|t| t.contains("forwarding"))
                || !procs::alive(fwd.pid)
        },
    )?;
    Ok(fwd)
}

/// Start node `n`'s instance metadata service, then its real `sixfold agent`, both inside its
/// namespace. The agent gets no instance flags and no credentials file: it learns the node from
/// IMDS and runs on `creds` (IRSA or the node role); it reaches the region at `endpoint` (the
/// node's forwarder), and IMDS reads the region there with the region's own key
/// (`region_creds`). Returns the IMDS process and the agent process.
pub(crate) fn start_agent(
    exe: &Path,
    lab: &str,
    n: &NodeInfo,
    endpoint: &str,
    region_creds: &Path,
    creds: &crate::imds::AgentCredentials,
    log: &Path,
) -> Result<Vec<Process>> {
    let dir = n
        .agent_socket
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| LabError::Command {
            what: format!("starting the agent of {}", n.name),
            detail: format!("{} has no parent dir", n.agent_socket.display()),
        })?;
    std::fs::create_dir_all(&dir).map_err(LabError::io("creating a node dir", &dir))?;
    let imds_log = log.with_file_name(format!("imds-{}.log", n.name));
    let imds = crate::imds::start_imds(exe, lab, n, endpoint, region_creds, &imds_log)?;
    let argv = procs::argv([
        exe.display().to_string(),
        "agent".into(),
        "--ec2-endpoint".into(),
        endpoint.to_owned(),
        "--data-dir".into(),
        dir.join("agent").display().to_string(),
        "--socket".into(),
        n.agent_socket.display().to_string(),
        "--cni-conf-dir".into(),
        n.conf_dir.display().to_string(),
        "--metrics-addr".into(),
        "127.0.0.1:0".into(),
    ]);
    // Nothing of the caller's AWS set-up leaks in: a node has no credentials file.
    let mut env: Vec<(String, Option<String>)> = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_STS",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
        "AWS_EC2_METADATA_DISABLED",
        "SIXFOLD_EC2_ENDPOINT",
    ]
    .iter()
    .map(|k| ((*k).to_owned(), None))
    .collect();
    env.push(("HOME".into(), Some(dir.display().to_string())));
    env.extend(creds.env().into_iter().map(|(k, v)| (k, Some(v))));
    let handle = NetNs::by_name(&n.netns).map_err(LabError::dp(format!("opening {}", n.netns)))?;
    let agent = procs::spawn_env(
        &format!("agent {}", n.name),
        Some(&handle),
        &argv,
        &env,
        log,
    )?;
    Ok(vec![imds, agent])
}

/// Wait until the agent of `n` is ready (it has its /80 and wrote the conflist).
pub(crate) fn wait_agent(n: &NodeInfo, log: &Path) -> Result<()> {
    let conf = n.conf_dir.join("10-sixfold.conflist");
    procs::wait_for(
        &format!("the agent of {} to be ready", n.name),
        Duration::from_secs(20),
        log,
        || conf.exists(),
    )
}

pub(crate) fn start_agents(b: &mut Build<'_>, api: &Api) -> Result<()> {
    let listen = region_listen(api);
    for n in b.state.nodes.clone() {
        let log = b.log(&format!("forwarder-{}", n.name));
        let fwd = start_forwarder(&b.exe, &b.cfg.name, &listen, &n, &log)?;
        b.state.processes.push(fwd);
        b.state.save()?;
    }
    let region_creds = api.info.credentials.clone();
    let creds = crate::imds::AgentCredentials::of(&b.state);
    let endpoint = format!("http://{listen}");
    for n in b.state.nodes.clone() {
        let log = b.log(&format!("agent-{}", n.name));
        let ps = start_agent(
            &b.exe,
            &b.cfg.name,
            &n,
            &endpoint,
            &region_creds,
            &creds,
            &log,
        )?;
        b.state.processes.extend(ps);
        b.state.save()?;
    }
    b.state.save()?;
    let nodes = b.state.nodes.clone();
    for n in &nodes {
        wait_agent(n, &b.log(&format!("agent-{}", n.name)))?;
    }
    for n in b.state.nodes.iter_mut() {
        n.prefix = region::eni_prefix(api, &n.eni)?;
    }
    b.state.save()?;
    let summary: Vec<String> = b
        .state
        .nodes
        .iter()
        .map(|n| format!("{} {}", n.name, n.prefix.as_deref().unwrap_or("?")))
        .collect();
    b.say(format!(
        "  agents ready, /80s delegated by the region: {}",
        summary.join(", ")
    ));
    Ok(())
}

/// What wiring pods needs besides the node: the lab, its namespace names, the binaries, logs.
#[derive(Debug, Clone)]
pub(crate) struct PodEnv {
    pub(crate) lab: String,
    pub(crate) names: Names,
    pub(crate) exe: PathBuf,
    pub(crate) bin_dir: PathBuf,
    pub(crate) logs: PathBuf,
}

/// Wire pods `1..=count` of node `i` (its namespaces exist) through the node's CNI chain and
/// start a responder in each. Returns each pod and its process.
pub(crate) fn node_pods(
    env: &PodEnv,
    n: &NodeInfo,
    i: usize,
    count: usize,
) -> Result<Vec<(PodInfo, Process)>> {
    let chain = Chain::load(&n.conf_dir, &env.bin_dir)?;
    let node = NetNs::by_name(&n.netns).map_err(LabError::dp(format!("opening {}", n.netns)))?;
    let mut out = Vec::new();
    for j in 1..=count {
        let ns = env.names.pod(i, j);
        let name = plan::pod_name(i, j);
        let netns = topo::netns_path(&ns).display().to_string();
        let container_id = format!("{}-{name}", env.lab);
        let att = chain.add(
            &node,
            &PodRef {
                name: &name,
                namespace: "default",
                container_id: &container_id,
                netns: &netns,
            },
        )?;
        let argv = responder_argv(&env.exe, &name, &env.lab);
        let pod_ns = NetNs::by_name(&ns).map_err(LabError::dp(format!("opening {ns}")))?;
        let p = procs::spawn(
            &format!("pod {name}"),
            Some(&pod_ns),
            &argv,
            &env.logs.join(format!("pod-{name}.log")),
        )?;
        out.push((
            PodInfo {
                name,
                namespace: "default".into(),
                node: n.name.clone(),
                netns: ns,
                container_id,
                ipv6: att.ipv6,
                ipv4: att.egress_ipv4,
                fargate: false,
                instance_id: None,
                branch_eni: None,
                security_groups: Vec::new(),
                created: Some(crate::podcmd::now_rfc3339()),
            },
            p,
        ));
    }
    Ok(out)
}

pub(crate) fn add_pods(b: &mut Build<'_>) -> Result<()> {
    let nodes = b.state.nodes.clone();
    let env = PodEnv {
        lab: b.cfg.name.clone(),
        names: b.names.clone(),
        exe: b.exe.clone(),
        bin_dir: b.bin_dir.clone(),
        logs: b.logs.clone(),
    };
    let per_node = b.cfg.pods_per_node;
    let results: Vec<Result<Vec<(PodInfo, Process)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let env = &env;
                s.spawn(move || node_pods(env, n, i + 1, per_node))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(LabError::Command {
                        what: "adding pods".into(),
                        detail: "a worker thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    let mut first_err = None;
    for r in results {
        match r {
            Ok(list) => {
                for (pod, p) in list {
                    b.state.pods.push(pod);
                    b.state.processes.push(p);
                }
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    b.state.save()?;
    if let Some(e) = first_err {
        return Err(e);
    }
    b.say(format!(
        "  {} pods wired by sixfold-cni + sixfold-egress-cni, each serving on [::]:{}",
        b.state.pods.len(),
        plan::POD_PORT
    ));
    Ok(())
}

/// kube-proxy's rules for the lab's services, balanced over their backends that still exist
/// (a service whose pods all went with their nodes gets no rule).
pub(crate) fn services_script(state: &LabState) -> Result<String> {
    let dnat: Vec<services::Dnat> = state
        .services
        .iter()
        .map(|s| services::Dnat {
            cluster_ip: s.cluster_ip,
            port: s.port,
            target_port: s.target_port,
            backends: s
                .backends
                .iter()
                .filter_map(|n| state.pod(n).map(|p| p.ipv6))
                .collect(),
        })
        .filter(|d| !d.backends.is_empty())
        .collect();
    Ok(services::nft_script(&dnat)?)
}

pub(crate) fn add_services(
    b: &mut Build<'_>,
    cluster: &ClusterInfo,
    nodes: &mut [Ns],
) -> Result<()> {
    let cidr: addressing::service::ServiceCidr108 =
        cluster.service_cidr.parse().map_err(|e| LabError::Eks {
            op: "service CIDR".into(),
            detail: format!("{}: {e}", cluster.service_cidr),
        })?;
    // Pods in round-robin order over nodes, so each service's pods span nodes.
    let mut order: Vec<&PodInfo> = b.state.pods.iter().filter(|p| !p.fargate).collect();
    order.sort_by_key(|p| {
        let mut parts = p.name.rsplit('-');
        let j: usize = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let i: usize = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        (j, i)
    });
    let mut used = std::collections::BTreeSet::new();
    let mut svcs = Vec::new();
    for k in 1..=b.cfg.services {
        let name = plan::service_name(k);
        let ip = services::allocate(cidr, &ServiceRequest::new(&name, "default"), &used)?;
        used.insert(ip);
        let backends: Vec<&PodInfo> = order
            .iter()
            .enumerate()
            .filter(|(n, _)| plan::service_of(*n, b.cfg.services) == Some(k))
            .map(|(_, p)| *p)
            .collect();
        svcs.push(ServiceInfo {
            dns_name: services::dns_name(&name, "default"),
            name,
            namespace: "default".into(),
            cluster_ip: ip,
            port: plan::SERVICE_PORT,
            target_port: plan::POD_PORT,
            backends: backends.iter().map(|p| p.name.clone()).collect(),
        });
    }
    b.state.services = svcs;
    let script = services_script(&b.state)?;
    for n in nodes.iter() {
        n.nft(&script, "the service rules (kube-proxy)")?;
    }
    b.state.save()?;
    let records = services::dns_records(
        b.state
            .services
            .iter()
            .map(|s| (s.name.as_str(), s.namespace.as_str(), s.cluster_ip)),
    );
    let file = b.cfg.state_dir.join("dns.json");
    let text = serde_json::to_vec_pretty(&records).map_err(|source| LabError::State {
        path: file.clone(),
        source,
    })?;
    std::fs::write(&file, text).map_err(LabError::io("writing the DNS records", &file))?;
    let argv = procs::argv([
        b.exe.display().to_string(),
        "lab-dns".into(),
        "--listen".into(),
        format!("[{}]:53", cluster.dns),
        "--records".into(),
        file.display().to_string(),
        "--lab".into(),
        b.cfg.name.clone(),
    ]);
    let dns_ns =
        NetNs::by_name(&b.names.dns()).map_err(LabError::dp("opening the DNS namespace"))?;
    let p = procs::spawn("cluster DNS", Some(&dns_ns), &argv, &b.log("dns"))?;
    b.state.processes.push(p);
    b.state.save()?;
    b.say(format!(
        "  {} services with ClusterIPs from {} (kube-proxy DNAT on every node), DNS at [{}]:53",
        b.state.services.len(),
        cluster.service_cidr,
        cluster.dns
    ));
    Ok(())
}

/// The command line of pod `pod`'s responder in lab `lab` (`exe lab-responder`, listening on
/// the pod ports): what `up` and `pod run` start in a pod's namespace.
pub(crate) fn responder_argv(exe: &Path, pod: &str, lab: &str) -> Vec<String> {
    procs::argv([
        exe.display().to_string(),
        "lab-responder".into(),
        "--listen".into(),
        format!("[::]:{}", plan::POD_PORT),
        "--http".into(),
        format!("[::]:{}", plan::POD_HTTP_PORT),
        "--name".into(),
        pod.to_owned(),
        "--lab".into(),
        lab.to_owned(),
    ])
}
