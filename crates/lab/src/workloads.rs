//! The workloads on the nodes: the region forwarder and the real `sixfold agent` per node, pods
//! wired by the real CNI chain with a responder each, the services (ClusterIPs, kube-proxy's
//! nftables DNAT on every node) and the cluster DNS server.

use std::path::Path;
use std::time::Duration;

use dataplane::netns::NetNs;

use crate::error::{LabError, Result};
use crate::plan::{self};
use crate::pods::{Chain, PodRef};
use crate::procs;
use crate::region::{self, Api};
use crate::services::{self, ServiceRequest};
use crate::state::{ClusterInfo, PodInfo, ServiceInfo};
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

pub(crate) fn start_agents(b: &mut Build<'_>, api: &Api) -> Result<()> {
    let port = api
        .info
        .endpoint
        .rsplit(':')
        .next()
        .unwrap_or("0")
        .trim_end_matches('/')
        .to_owned();
    let listen = format!("127.0.0.1:{port}");
    let mut argv = procs::argv([
        b.exe.as_os_str(),
        "lab-forward".as_ref(),
        "--to".as_ref(),
        listen.as_ref(),
        "--listen".as_ref(),
        listen.as_ref(),
        "--lab".as_ref(),
        b.cfg.name.as_ref(),
    ]);
    for n in &b.state.nodes {
        argv.push("--netns".into());
        argv.push(topo::netns_path(&n.netns).display().to_string());
    }
    let log = b.log("forwarder");
    let fwd = procs::spawn("region forwarder", None, &argv, &log)?;
    b.state.processes.push(fwd.clone());
    b.state.save()?;
    procs::wait_for("the region forwarder", Duration::from_secs(5), &log, || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("forwarding"))
            || !procs::alive(fwd.pid)
    })?;
    let creds = api.info.credentials.display().to_string();
    let endpoint = format!("http://{listen}");
    for n in b.state.nodes.clone() {
        let dir = n
            .agent_socket
            .parent()
            .map(Path::to_path_buf)
            .expect("`up` sets agent_socket to <node dir>/agent.sock, which has a parent");
        std::fs::create_dir_all(&dir).map_err(LabError::io("creating a node dir", &dir))?;
        let argv = procs::argv([
            b.exe.display().to_string(),
            "agent".into(),
            "--instance-id".into(),
            n.instance_id.clone(),
            "--ec2-endpoint".into(),
            endpoint.clone(),
            "--region".into(),
            region::REGION.into(),
            "--credentials-file".into(),
            creds.clone(),
            "--profile".into(),
            region::PROFILE.into(),
            "--data-dir".into(),
            dir.join("agent").display().to_string(),
            "--socket".into(),
            n.agent_socket.display().to_string(),
            "--cni-conf-dir".into(),
            n.conf_dir.display().to_string(),
            "--metrics-addr".into(),
            "127.0.0.1:0".into(),
        ]);
        let handle =
            NetNs::by_name(&n.netns).map_err(LabError::dp(format!("opening {}", n.netns)))?;
        let p = procs::spawn(
            &format!("agent {}", n.name),
            Some(&handle),
            &argv,
            &b.log(&format!("agent-{}", n.name)),
        )?;
        b.state.processes.push(p);
    }
    b.state.save()?;
    let nodes = b.state.nodes.clone();
    for n in &nodes {
        let conf = n.conf_dir.join("10-sixfold.conflist");
        let log = b.log(&format!("agent-{}", n.name));
        procs::wait_for(
            &format!("the agent of {} to be ready", n.name),
            Duration::from_secs(20),
            &log,
            || conf.exists(),
        )?;
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

pub(crate) fn add_pods(b: &mut Build<'_>) -> Result<()> {
    let nodes = b.state.nodes.clone();
    let names = b.names.clone();
    let (bin_dir, exe, lab, logs) = (
        b.bin_dir.clone(),
        b.exe.clone(),
        b.cfg.name.clone(),
        b.logs.clone(),
    );
    let per_node = b.cfg.pods_per_node;
    let results: Vec<Result<Vec<(PodInfo, crate::state::Process)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let (names, bin_dir, exe, lab, logs) = (&names, &bin_dir, &exe, &lab, &logs);
                s.spawn(move || -> Result<Vec<(PodInfo, crate::state::Process)>> {
                    let i = i + 1;
                    let chain = Chain::load(&n.conf_dir, bin_dir)?;
                    let node = NetNs::by_name(&n.netns)
                        .map_err(LabError::dp(format!("opening {}", n.netns)))?;
                    let mut out = Vec::new();
                    for j in 1..=per_node {
                        let ns = names.pod(i, j);
                        let name = plan::pod_name(i, j);
                        let netns = topo::netns_path(&ns).display().to_string();
                        let container_id = format!("{lab}-{name}");
                        let att = chain.add(
                            &node,
                            &PodRef {
                                name: &name,
                                namespace: "default",
                                container_id: &container_id,
                                netns: &netns,
                            },
                        )?;
                        let argv = procs::argv([
                            exe.display().to_string(),
                            "lab-responder".into(),
                            "--listen".into(),
                            format!("[::]:{}", plan::POD_PORT),
                            "--name".into(),
                            name.clone(),
                            "--lab".into(),
                            lab.clone(),
                        ]);
                        let pod_ns =
                            NetNs::by_name(&ns).map_err(LabError::dp(format!("opening {ns}")))?;
                        let p = procs::spawn(
                            &format!("pod {name}"),
                            Some(&pod_ns),
                            &argv,
                            &logs.join(format!("pod-{name}.log")),
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
                            },
                            p,
                        ));
                    }
                    Ok(out)
                })
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
    let dnat: Vec<services::Dnat> = svcs
        .iter()
        .map(|s| services::Dnat {
            cluster_ip: s.cluster_ip,
            port: s.port,
            target_port: s.target_port,
            backends: s
                .backends
                .iter()
                .filter_map(|n| b.state.pod(n).map(|p| p.ipv6))
                .collect(),
        })
        .collect();
    let script = services::nft_script(&dnat)?;
    for n in nodes.iter() {
        n.nft(&script, "the service rules (kube-proxy)")?;
    }
    b.state.services = svcs;
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
