//! `sixfold up`: region → VPC through its API → cluster → nodes → namespaces and links →
//! agents → pods through the real CNI chain → services and DNS → Fargate → proof. Every step is
//! recorded in the state file before it takes effect, so `down` can undo a crashed `up`; a
//! failed build is rolled back at once, a failed proof leaves the lab up for inspection. Last,
//! `up` starts the lab's reconciler ([`crate::reconcile`]), which keeps it following the region.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::eks::Eks;
use crate::error::{LabError, Result};
use crate::matrix::{self, Check};
use crate::plan::{self, LL_DOWN, LL_UP, Names};
use crate::procs;
use crate::region::{self, Api, Launched};
use crate::state::{ClusterInfo, LabState, PodInfo, VpcInfo};
use crate::topo::{self, Ns, default_v6, host, veth};

/// What `up` builds.
#[derive(Debug, Clone)]
pub struct UpConfig {
    pub name: String,
    pub nodes: usize,
    pub pods_per_node: usize,
    pub fargate_pods: usize,
    pub services: usize,
    pub state_dir: PathBuf,
    /// Where `sixfold-cni` and `sixfold-egress-cni` are (default: next to this executable).
    pub bin_dir: Option<PathBuf>,
    /// Agents run on the node role from IMDS (`--cni-credentials node-role`) instead of IRSA.
    pub cni_node_role: bool,
    /// Build the dataplane of a cluster the user made in a running region (`--cluster`)
    /// instead of starting a region and making one; `nodes` is then the node group's size.
    pub adopt: Option<crate::adopt::Adopt>,
}

/// What `up` proved.
#[derive(Debug)]
pub struct Outcome {
    pub state: LabState,
    pub checks: Vec<Check>,
    /// Wall time of each phase, in order.
    pub timings: Vec<(&'static str, Duration)>,
}

impl Outcome {
    /// Whether every path was proven.
    pub fn proven(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

pub(crate) struct Build<'a> {
    pub(crate) cfg: &'a UpConfig,
    pub(crate) names: Names,
    pub(crate) state: LabState,
    pub(crate) exe: PathBuf,
    pub(crate) bin_dir: PathBuf,
    pub(crate) logs: PathBuf,
    pub(crate) out: &'a mut dyn Write,
    pub(crate) timings: Vec<(&'static str, Duration)>,
    pub(crate) phase_start: Instant,
}

impl Build<'_> {
    pub(crate) fn say(&mut self, msg: impl AsRef<str>) {
        let _ = writeln!(self.out, "{}", msg.as_ref());
        let _ = self.out.flush();
    }

    fn phase(&mut self, name: &'static str) {
        self.timings.push((name, self.phase_start.elapsed()));
        self.phase_start = Instant::now();
    }

    pub(crate) fn log(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }
}

fn check_config(cfg: &UpConfig) -> Result<()> {
    plan::check_name(&cfg.name)?;
    let bad = |flag, detail: &str| {
        Err(LabError::InvalidFlag {
            flag,
            detail: detail.to_owned(),
        })
    };
    if cfg.nodes == 0 || cfg.nodes > plan::MAX_NODES {
        return bad("--nodes", &format!("use 1 to {} nodes", plan::MAX_NODES));
    }
    // EKS's max pods for the lab's instance type (110 for an m5.large: a /80 holds far more
    // addresses, the kubelet's limit is what binds).
    let max_pods = addressing::max_pods::max_pods_for_instance_type(plan::INSTANCE_TYPE)
        .map_or(addressing::max_pods::MAX_PODS_SMALL, |m| m) as usize;
    if cfg.pods_per_node > max_pods {
        return bad(
            "--pods-per-node",
            &format!(
                "use at most {max_pods} pods per node (the max pods of an {} node)",
                plan::INSTANCE_TYPE
            ),
        );
    }
    if cfg.fargate_pods > 20 {
        return bad("--fargate-pods", "use at most 20 Fargate pods");
    }
    // An adopted cluster's node count is known only once its node group is read.
    if cfg.adopt.is_none() && cfg.services > cfg.nodes * cfg.pods_per_node {
        return bad(
            "--services",
            "every service needs a pod: use at most nodes × pods-per-node services",
        );
    }
    Ok(())
}

fn find_on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false)
        || ["/usr/sbin", "/sbin"]
            .iter()
            .any(|d| Path::new(d).join(name).is_file())
}

fn preflight(cfg: &UpConfig) -> Result<(PathBuf, PathBuf)> {
    crate::require_root()?;
    check_config(cfg)?;
    let exe = procs::current_exe()?;
    let bin_dir = match &cfg.bin_dir {
        Some(d) => d.clone(),
        None => exe
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    for b in ["sixfold-cni", "sixfold-egress-cni"] {
        if !bin_dir.join(b).is_file() {
            return Err(LabError::MissingBinary {
                name: b.into(),
                looked: bin_dir.display().to_string(),
            });
        }
    }
    let host_local = Path::new(crate::pods::SYSTEM_CNI_DIR).join("host-local");
    if !host_local.is_file() {
        return Err(LabError::MissingBinary {
            name: "host-local (the reference CNI plugins)".into(),
            looked: format!(
                "{}; install them with `apt-get install containernetworking-plugins` (scripts/install-deps does)",
                host_local.display()
            ),
        });
    }
    for (tool, pkg) in [("ip", "iproute2"), ("nft", "nftables")] {
        if !find_on_path(tool) {
            return Err(LabError::MissingBinary {
                name: tool.into(),
                looked: format!("PATH; install it with `apt-get install {pkg}`"),
            });
        }
    }
    let names = Names::new(&cfg.name)?;
    if LabState::path(&cfg.state_dir).exists()
        || !topo::namespaces_with_prefix(&names.prefix()).is_empty()
    {
        return Err(LabError::Exists {
            name: cfg.name.clone(),
            state_dir: cfg.state_dir.clone(),
        });
    }
    Ok((exe, bin_dir))
}

/// Build the lab, prove it, and leave it running. On a build error everything made so far is
/// removed again; on a failed proof the lab stays up (phase `failed`) for inspection.
pub fn up(cfg: &UpConfig, out: &mut dyn Write) -> Result<Outcome> {
    let (exe, bin_dir) = preflight(cfg)?;
    let logs = cfg.state_dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(LabError::io("creating the state dir", &logs))?;
    let mut b = Build {
        cfg,
        names: Names::new(&cfg.name)?,
        state: LabState::new(&cfg.name, &cfg.state_dir),
        exe,
        bin_dir,
        logs,
        out,
        timings: Vec::new(),
        phase_start: Instant::now(),
    };
    b.state.cni_bin_dir = Some(b.bin_dir.clone());
    b.state.pods_per_node = cfg.pods_per_node;
    b.state.save()?;
    match build(&mut b) {
        Ok(()) => {}
        Err(e) => {
            b.say(format!("error: {e}\nremoving what was built ..."));
            if let Err(d) = crate::down::down(&cfg.name, &cfg.state_dir) {
                b.say(format!(
                    "cleanup incomplete: {d}; run `sixfold down --name {}`",
                    cfg.name
                ));
            }
            return Err(e);
        }
    }
    b.say("==> proving every path with real packets");
    let checks = matrix::run(&b.state);
    b.phase("proof");
    b.state.phase = if checks.iter().all(|c| c.ok) {
        "up"
    } else {
        "failed"
    }
    .into();
    b.state.save()?;
    // From here on the lab follows its region; every later write goes through the lock.
    let p = crate::reconcile::spawn(
        &b.exe,
        &cfg.name,
        &cfg.state_dir,
        &b.bin_dir,
        &b.log("reconciler"),
    )?;
    b.state = LabState::update(&cfg.name, &cfg.state_dir, |s| {
        s.processes.push(p);
        Ok(s.clone())
    })?;
    Ok(Outcome {
        state: b.state,
        checks,
        timings: b.timings,
    })
}

fn build(b: &mut Build<'_>) -> Result<()> {
    let (api, vpc, cluster, launched, fargate) = match b.cfg.adopt.clone() {
        None => {
            b.say(format!(
                "==> sixfold lab {:?}: {} nodes × {} pods, {} Fargate pods, {} services (state in {})",
                b.cfg.name,
                b.cfg.nodes,
                b.cfg.pods_per_node,
                b.cfg.fargate_pods,
                b.cfg.services,
                b.cfg.state_dir.display()
            ));
            b.phase_start = Instant::now();
            let (api, vpc) = region_and_vpc(b)?;
            let (cluster, launched, fargate) = cluster_and_nodes(b, &api, &vpc)?;
            (api, vpc, cluster, launched, fargate)
        }
        Some(a) => {
            let (api, vpc, cluster, launched) = adopted(b, &a)?;
            (api, vpc, cluster, launched, Vec::new())
        }
    };
    let (mut router, mut node_ns) = wire_network(b, &vpc, &cluster, &launched)?;

    // Agents.
    crate::workloads::start_agents(b, &api)?;
    for (i, n) in b.state.nodes.iter().enumerate() {
        let prefix = crate::nodes::delegated(n)?;
        router.route_via(prefix, IpAddr::V6(n.ipv6), &plan::router_node_if(i + 1))?;
    }
    b.phase("agents");

    // Pods.
    crate::workloads::add_pods(b)?;
    b.phase("pods");

    // Services and DNS.
    crate::workloads::add_services(b, &cluster, &mut node_ns)?;
    b.phase("services");

    add_fargate(b, &mut router, &vpc, &fargate)?;
    b.phase("fargate");

    // Route tables and security groups, as the region says.
    let report = crate::policy::sync(&api, &b.state, &mut crate::policy::Memo::default())?;
    for p in &report.problems {
        b.say(format!("  policy: {p}"));
    }
    b.say(format!(
        "  route tables → per-subnet routing in the VPC router; security groups → nftables on {} nodes",
        b.state.nodes.len()
    ));
    b.phase("policy");

    // A load balancer for the first service, as the AWS Load Balancer Controller makes it.
    crate::lb::expose::up_default(b)?;
    b.phase("load balancer");
    Ok(())
}

/// A cluster the user made in a running region: read it, record it, and its nodes.
fn adopted(
    b: &mut Build<'_>,
    a: &crate::adopt::Adopt,
) -> Result<(Api, VpcInfo, ClusterInfo, Vec<Launched>)> {
    b.say(format!(
        "==> sixfold lab {:?} for cluster {:?} at {}: {} pods per node, {} services (state in {})",
        b.cfg.name,
        a.cluster,
        a.endpoint,
        b.cfg.pods_per_node,
        b.cfg.services,
        b.cfg.state_dir.display()
    ));
    b.phase_start = Instant::now();
    let api = crate::adopt::connect(b, a)?;
    let (vpc, cluster, launched) = crate::adopt::adopt(b, &api, a)?;
    b.say(format!(
        "  cluster {} ipFamily=ipv6, service CIDR {}, VPC {} {} + {}, node group {} ({} nodes)",
        cluster.name,
        cluster.service_cidr,
        vpc.id,
        vpc.ipv4,
        vpc.ipv6,
        cluster.nodegroup.as_deref().unwrap_or("?"),
        launched.len()
    ));
    b.state.vpc = Some(vpc.clone());
    b.state.cluster = Some(cluster.clone());
    for (i, l) in launched.iter().enumerate() {
        let n = crate::nodes::node_info(&b.names, &b.cfg.state_dir, &vpc, i + 1, l)?;
        b.state.nodes.push(n);
    }
    b.state.save()?;
    b.phase("cluster+nodes");
    Ok((api, vpc, cluster, launched))
}

/// The region, and the VPC made through its EC2 API.
fn region_and_vpc(b: &mut Build<'_>) -> Result<(Api, VpcInfo)> {
    let (p, api) = region::start(&b.exe, &b.cfg.state_dir)?;
    b.state.processes.push(p);
    region::record(&mut b.state, &api);
    b.state.save()?;
    b.say(format!("  region listening on {}", api.info.endpoint));
    b.phase("region");

    let vpc = region::build_vpc(&api, &b.cfg.name)?;
    b.say(format!(
        "  VPC {} {} + {} (subnets {}), {} (0.0.0.0/0), {} (::/0)",
        vpc.id,
        vpc.ipv4,
        vpc.ipv6,
        vpc.subnets
            .iter()
            .map(|s| format!("{} {}", s.zone, s.ipv6))
            .collect::<Vec<_>>()
            .join(", "),
        vpc.internet_gateway,
        vpc.egress_only_gateway
    ));
    b.state.vpc = Some(vpc.clone());
    b.state.save()?;
    b.phase("vpc");
    Ok((api, vpc))
}

/// Cluster, add-on and nodes: through EKS, and only through EKS (a region that does not serve
/// it is an error naming what it answered, never a cluster the lab made up); then the Fargate
/// units' instances. The nodes are recorded in the state.
fn cluster_and_nodes(
    b: &mut Build<'_>,
    api: &Api,
    vpc: &VpcInfo,
) -> Result<(ClusterInfo, Vec<Launched>, Vec<Launched>)> {
    let eks = Eks::new(&api.info.endpoint, region::REGION, api.credentials.clone());
    eks.require()?;
    let subnet_ids: Vec<String> = vpc.subnets.iter().map(|s| s.id.clone()).collect();
    let (cluster, node_ids) = cluster_via_eks(b, &eks, api, &subnet_ids, &vpc.security_group)?;
    b.say(format!(
        "  cluster {} ipFamily=ipv6, service CIDR {} (DNS {}), chosen by {}",
        cluster.name, cluster.service_cidr, cluster.dns, cluster.source
    ));
    b.state.cluster = Some(cluster.clone());
    b.state.save()?;
    let launched = region::describe(api, &node_ids)?;
    let mut fargate_ids = Vec::new();
    for i in 1..=b.cfg.fargate_pods {
        let s = &vpc.subnets[(i - 1) % vpc.subnets.len()];
        fargate_ids.extend(region::run_instances(
            api,
            vpc,
            &s.id,
            1,
            &b.cfg.name,
            "fargate",
        )?);
    }
    let fargate = region::describe(api, &fargate_ids)?;
    for (i, l) in launched.iter().enumerate() {
        let n = crate::nodes::node_info(&b.names, &b.cfg.state_dir, vpc, i + 1, l)?;
        b.state.nodes.push(n);
    }
    b.state.save()?;
    b.phase("cluster+nodes");
    Ok((cluster, launched, fargate))
}

/// Every namespace, the VPC router with its gateways and internet, the nodes on the router and
/// the DNS namespace. Returns the router and the nodes' namespaces.
fn wire_network(
    b: &mut Build<'_>,
    vpc: &VpcInfo,
    cluster: &ClusterInfo,
    launched: &[Launched],
) -> Result<(Ns, Vec<Ns>)> {
    let mut all = vec![
        b.names.router(),
        b.names.igw(),
        b.names.eigw(),
        b.names.internet(),
        b.names.dns(),
    ];
    for i in 1..=launched.len() {
        all.push(b.names.node(i));
        all.extend((1..=b.cfg.pods_per_node).map(|j| b.names.pod(i, j)));
    }
    if b.cfg.adopt.is_none() {
        all.extend((1..=b.cfg.fargate_pods).map(|i| b.names.fargate(i)));
    }
    b.state.add_namespaces(&all)?;
    topo::create_namespaces(&all)?;
    b.phase("namespaces");

    let mut router = Ns::open(&b.names.router(), true)?;
    crate::network::wire_gateways(b, &mut router, vpc, launched)?;
    let mut node_ns = Vec::new();
    for (i, l) in launched.iter().enumerate() {
        let mut n = Ns::open(&b.names.node(i + 1), true)?;
        let subnet = &vpc.subnets[crate::nodes::subnet_index(vpc, &l.subnet)?];
        crate::network::attach(&mut router, &plan::router_node_if(i + 1), &mut n, l, subnet)?;
        node_ns.push(n);
    }
    let mut dns_ns = Ns::open(&b.names.dns(), false)?;
    veth(&mut router, "dns0", &mut dns_ns, "eth0")?;
    router.addr("dns0", IpAddr::V6(LL_UP), 64, true)?;
    dns_ns.addr("eth0", IpAddr::V6(LL_DOWN), 64, true)?;
    dns_ns.addr("eth0", IpAddr::V6(cluster.dns), 128, true)?;
    dns_ns.route_via(default_v6(), IpAddr::V6(LL_UP), "eth0")?;
    router.route_dev(host(cluster.dns), "dns0")?;
    b.say(format!(
        "  namespaces: VPC router, IGW (1:1 NAT to {}), EIGW, internet ({} / {}), DNS, {} nodes",
        plan::PUBLIC_V4_RANGE,
        plan::INTERNET_V4,
        plan::INTERNET_V6,
        launched.len()
    ));
    b.phase("network");
    Ok((router, node_ns))
}

/// The Fargate units: each its own namespace on the router with its ENI's addresses and a
/// responder.
fn add_fargate(
    b: &mut Build<'_>,
    router: &mut Ns,
    vpc: &VpcInfo,
    fargate: &[Launched],
) -> Result<()> {
    for (i, l) in fargate.iter().enumerate() {
        let i = i + 1;
        let mut f = Ns::open(&b.names.fargate(i), false)?;
        let subnet = &vpc.subnets[crate::nodes::subnet_index(vpc, &l.subnet)?];
        crate::network::attach(router, &plan::router_fargate_if(i), &mut f, l, subnet)?;
        let name = plan::fargate_pod_name(i);
        let p =
            crate::workloads::responder(b, &f.name, &name, &[format!("[::]:{}", plan::POD_PORT)])?;
        b.state.processes.push(p);
        b.state.pods.push(PodInfo {
            name: name.clone(),
            namespace: "default".into(),
            node: "fargate".into(),
            netns: f.name.clone(),
            container_id: String::new(),
            ipv6: l.ipv6,
            ipv4: Some(l.ipv4),
            fargate: true,
            instance_id: Some(l.instance_id.clone()),
            branch_eni: None,
            security_groups: Vec::new(),
            created: Some(crate::podcmd::now_rfc3339()),
        });
        b.state.save()?;
        b.say(format!(
            "  Fargate pod {name}: {} / {} from its subnet",
            l.ipv6, l.ipv4
        ));
    }
    Ok(())
}

fn cluster_via_eks(
    b: &mut Build<'_>,
    eks: &Eks,
    api: &Api,
    subnets: &[String],
    sg: &str,
) -> Result<(ClusterInfo, Vec<String>)> {
    let name = b.names.cluster();
    let role = eks.ipv6_role(&format!("sixfold-{}-node", b.cfg.name))?;
    let c = eks.create_cluster(&name, plan::K8S_VERSION, &role, subnets, sg)?;
    let cidr = c["kubernetesNetworkConfig"]["serviceIpv6Cidr"]
        .as_str()
        .ok_or_else(|| LabError::Eks {
            op: "CreateCluster".into(),
            detail: format!("no serviceIpv6Cidr in {c}"),
        })?
        .to_owned();
    let parsed: addressing::service::ServiceCidr108 = cidr.parse().map_err(|e| LabError::Eks {
        op: "CreateCluster".into(),
        detail: format!("service CIDR {cidr}: {e}"),
    })?;
    let cni_role = if b.cfg.cni_node_role {
        None
    } else {
        let token = crate::imds::irsa_token_file(&b.cfg.state_dir);
        Some(crate::imds::setup_irsa(
            eks, &name, "aws-node", true, &token,
        )?)
    };
    let version = eks.vpc_cni(&name, cni_role.as_deref().unwrap_or(&role))?;
    let ng = "nodes".to_owned();
    eks.nodegroup(&name, &ng, &role, subnets, b.cfg.nodes, plan::INSTANCE_TYPE)?;
    let ids = region::instances_tagged(api, "eks:nodegroup-name", &ng)?;
    if ids.len() != b.cfg.nodes {
        return Err(LabError::Eks {
            op: "CreateNodegroup".into(),
            detail: format!(
                "asked for {} nodes, the region runs {}",
                b.cfg.nodes,
                ids.len()
            ),
        });
    }
    b.say(format!(
        "  EKS: cluster {name}, add-on vpc-cni {version}, node group {ng} ({} × {})",
        ids.len(),
        plan::INSTANCE_TYPE
    ));
    b.say(match &cni_role {
        Some(r) => format!(
            "  CNI credentials: IRSA, {r} for {} (OIDC provider registered, token minted)",
            crate::imds::CNI_SERVICE_ACCOUNT
        ),
        None => "  CNI credentials: the node role, from each node's IMDS".to_owned(),
    });
    Ok((
        ClusterInfo {
            name,
            ip_family: "ipv6".into(),
            service_cidr: cidr,
            dns: parsed.cluster_dns(),
            source: "eks".into(),
            nodegroup: Some(ng),
            vpc_cni: Some(version),
            cni_role,
            cni_node_role: b.cfg.cni_node_role,
        },
        ids,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(nodes: usize, pods_per_node: usize) -> UpConfig {
        UpConfig {
            name: "t".into(),
            nodes,
            pods_per_node,
            fargate_pods: 0,
            services: 1,
            state_dir: PathBuf::from("/nonexistent"),
            bin_dir: None,
            cni_node_role: false,
            adopt: None,
        }
    }

    #[test]
    fn pods_per_node_goes_up_to_the_instance_types_max_pods() {
        assert!(check_config(&cfg(10, 110)).is_ok(), "EKS's 110 max pods");
        let e = check_config(&cfg(10, 111)).unwrap_err().to_string();
        assert!(e.contains("--pods-per-node") && e.contains("110"), "{e}");
        let e = check_config(&cfg(plan::MAX_NODES + 1, 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--nodes") && e.contains("20"), "{e}");
    }
}
