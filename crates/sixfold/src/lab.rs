//! `sixfold up` / `down` / `status` and the lab's hidden helpers (`lab-responder`, `lab-dns`,
//! `lab-forward`, `lab-imds`, `lab-probe`, `lab-reconcile`): thin wrappers over the `lab` crate.

use std::net::{Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

/// The lab's proven paths, next to its state file: written by `up`, drawn by `sixfold map`.
pub const CHECKS_FILE: &str = "checks.json";

fn state_dir(name: &str, given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| lab::default_state_dir(name))
}

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  sudo sixfold up                 # 3 nodes, 2 pods each, 1 Fargate pod, 2 services\n  \
sudo sixfold status             # the address map\n  sudo sixfold down                # remove everything\n  \
sudo sixfold up --cluster c1 --endpoint-url http://127.0.0.1:4570 --profile me   # your own cluster\n\n\
Everything lives in network namespaces named sfl-<name>-*; the root namespace is never touched."
)]
pub struct UpArgs {
    /// EC2 nodes (a managed node group).
    #[arg(long, default_value_t = 3, conflicts_with = "cluster")]
    nodes: usize,
    /// Pods on each node (namespaces wired by the real CNI plugins).
    #[arg(long, default_value_t = 2)]
    pods_per_node: usize,
    /// Fargate pods (each its own unit with IPv4 and IPv6 from the subnet).
    #[arg(long, default_value_t = 1, conflicts_with = "cluster")]
    fargate_pods: usize,
    /// Services (ClusterIPs from the cluster's /108, balanced over pods spread across nodes).
    #[arg(long, default_value_t = 2)]
    services: usize,
    /// The lab's name (namespaces are sfl-<name>-*).
    #[arg(long, default_value = "lab")]
    name: String,
    /// Where the lab keeps its state. Default: /run/sixfold-lab/<name>.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Where sixfold-cni and sixfold-egress-cni are. Default: next to this executable.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Print the wall time of each phase.
    #[arg(long)]
    timings: bool,
    /// What the agents run on: `irsa` (the aws-node service account's role, through a projected
    /// token) or `node-role` (the node group's role, from each node's IMDS).
    #[arg(long, default_value = "irsa", value_parser = ["irsa", "node-role"])]
    cni_credentials: String,
    /// Bring your own cluster: build the dataplane of this IPv6 EKS cluster, made through the
    /// APIs of the running `sixfold serve` at --endpoint-url, instead of starting a region.
    #[arg(long, requires = "endpoint_url")]
    cluster: Option<String>,
    /// The region of --cluster (the URL `sixfold serve` printed, e.g. http://127.0.0.1:4570).
    #[arg(long, requires = "cluster")]
    endpoint_url: Option<String>,
    /// The credentials profile for --cluster (from AWS_SHARED_CREDENTIALS_FILE or
    /// ~/.aws/credentials). Default: as the AWS CLI (AWS_ACCESS_KEY_ID, AWS_PROFILE, `default`).
    #[arg(long, requires = "cluster")]
    profile: Option<String>,
    /// The node group of --cluster whose instances become the nodes. Default: its only one.
    #[arg(long, requires = "cluster")]
    nodegroup: Option<String>,
}

pub fn up(a: UpArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let adopt = match (a.cluster, a.endpoint_url) {
        (Some(cluster), Some(endpoint)) => Some(lab::adopt::Adopt {
            cluster,
            endpoint,
            profile: a.profile,
            nodegroup: a.nodegroup,
        }),
        _ => None,
    };
    let cfg = lab::up::UpConfig {
        state_dir: state_dir(&a.name, a.state_dir),
        name: a.name,
        nodes: a.nodes,
        pods_per_node: a.pods_per_node,
        // An adopted cluster gets no Fargate units: the lab creates nothing in its region.
        fargate_pods: if adopt.is_some() { 0 } else { a.fargate_pods },
        services: a.services,
        bin_dir: a.bin_dir,
        cni_node_role: a.cni_credentials == "node-role",
        adopt,
    };
    let mut out = std::io::stdout();
    let outcome = lab::up::up(&cfg, &mut out)?;
    let checks = cfg.state_dir.join(CHECKS_FILE);
    std::fs::write(&checks, serde_json::to_vec_pretty(&outcome.checks)?)
        .with_context(|| format!("writing {}", checks.display()))?;
    println!();
    print!("{}", lab::status::render(&outcome.state));
    println!();
    print!("{}", lab::matrix::render(&outcome.checks));
    if a.timings {
        println!();
        let total = start.elapsed();
        println!(
            "timings (wall, {} nodes, {} pods):",
            cfg.nodes,
            outcome.state.pods.len()
        );
        for (phase, d) in &outcome.timings {
            println!(
                "  {phase:<14} {:>7.3} s  {:>5.1} %",
                d.as_secs_f64(),
                100.0 * d.as_secs_f64() / total.as_secs_f64().max(1e-9)
            );
        }
        println!("  {:<14} {:>7.3} s", "total", total.as_secs_f64());
    }
    let env = lab::status::env_lines(&outcome.state);
    if !env.is_empty() {
        println!(
            "\nthe AWS CLI talks to the lab's region with (`eval \"$(sixfold status --env --name {})\"`):",
            cfg.name
        );
        print!("{env}");
    }
    if outcome.proven() {
        println!(
            "\nlab {:?} is up and proven; it keeps running until `sixfold down --name {}`",
            cfg.name, cfg.name
        );
        Ok(())
    } else {
        let failed = outcome.checks.iter().filter(|c| !c.ok).count();
        Err(lab::LabError::Matrix {
            failed,
            total: outcome.checks.len(),
        })
        .context(format!(
            "the lab is left up for inspection (logs in {}); remove it with `sixfold down --name {}`",
            cfg.state_dir.join("logs").display(),
            cfg.name
        ))
    }
}

#[derive(clap::Args)]
pub struct DownArgs {
    /// The lab's name.
    #[arg(long, default_value = "lab")]
    name: String,
    /// The lab's state dir. Default: /run/sixfold-lab/<name>.
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

pub fn down(a: DownArgs) -> anyhow::Result<()> {
    lab::require_root()?;
    let dir = state_dir(&a.name, a.state_dir);
    let r = lab::down::down(&a.name, &dir)?;
    for d in &r.dead_agents {
        eprintln!("warning: {d}");
    }
    for f in &r.del_failures {
        eprintln!("warning: CNI DEL failed for {f} (the teardown went on)");
    }
    println!(
        "CNI DEL for {} pods through the plugins (addresses released to the agents){}",
        r.pods_deleted,
        if r.del_failures.is_empty() {
            String::new()
        } else {
            format!(", {} failed", r.del_failures.len())
        }
    );
    println!(
        "lab {:?} removed: {} processes ended, {} namespaces deleted{}",
        a.name,
        r.processes,
        r.namespaces,
        if r.state_dir { ", state removed" } else { "" }
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct StatusArgs {
    /// The lab's name.
    #[arg(long, default_value = "lab")]
    name: String,
    /// The lab's state dir. Default: /run/sixfold-lab/<name>.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// `table` or `json`.
    #[arg(long, short = 'o', default_value = "table", value_parser = ["table", "json"])]
    output: String,
    /// Print only the `export AWS_...` lines for the lab's region: `eval "$(sixfold status --env)"`.
    #[arg(long, conflicts_with = "output")]
    env: bool,
}

pub fn status(a: StatusArgs) -> anyhow::Result<()> {
    let dir = state_dir(&a.name, a.state_dir);
    let s = lab::status::load(&a.name, &dir)?;
    let text = if a.env {
        let env = lab::status::env_lines(&s);
        anyhow::ensure!(
            !env.is_empty(),
            "lab {:?} has no region yet (phase {}); wait for `sixfold up` to start it",
            a.name,
            s.phase
        );
        env
    } else if a.output == "json" {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&lab::status::json(&s))?
        )
    } else {
        let mut t = lab::status::render(&s);
        let env = lab::status::env_lines(&s);
        if !env.is_empty() {
            t.push_str(&format!(
                "\nAWS CLI (`eval \"$(sixfold status --env --name {})\"`):\n",
                a.name
            ));
            t.push_str(&env);
        }
        t
    };
    // A closed pipe (`status | head`) is not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    Ok(())
}

#[derive(clap::Args)]
pub struct ResponderArgs {
    /// Address to listen on (repeatable).
    #[arg(long, required = true)]
    listen: Vec<SocketAddr>,
    /// Address to serve HTTP on (repeatable): the line, plus the X-Forwarded-For received.
    #[arg(long)]
    http: Vec<SocketAddr>,
    /// The name reported in every answer.
    #[arg(long)]
    name: String,
    /// The lab it belongs to (for the process list).
    #[arg(long)]
    lab: Option<String>,
}

pub fn responder(a: ResponderArgs) -> anyhow::Result<()> {
    Ok(lab::daemons::run_responder(&a.listen, &a.http, &a.name)?)
}

#[derive(clap::Args)]
pub struct DnsArgs {
    #[arg(long)]
    listen: SocketAddr,
    /// JSON table: name → IPv6.
    #[arg(long)]
    records: PathBuf,
    #[arg(long)]
    lab: Option<String>,
}

pub fn dns(a: DnsArgs) -> anyhow::Result<()> {
    Ok(lab::daemons::run_dns(a.listen, &a.records)?)
}

#[derive(clap::Args)]
pub struct ForwardArgs {
    /// The region's address in this (root) namespace.
    #[arg(long)]
    to: SocketAddr,
    /// The address to listen on inside each namespace.
    #[arg(long)]
    listen: SocketAddr,
    /// Namespace paths (repeatable).
    #[arg(long, required = true)]
    netns: Vec<PathBuf>,
    #[arg(long)]
    lab: Option<String>,
}

pub fn forward(a: ForwardArgs) -> anyhow::Result<()> {
    Ok(lab::daemons::run_forwarder(a.to, a.listen, &a.netns)?)
}

#[derive(clap::Args)]
pub struct ImdsArgs {
    /// The node's instance.
    #[arg(long)]
    instance_id: String,
    /// The region (through the node's forwarder).
    #[arg(long)]
    endpoint: String,
    /// The region's credentials file (profile `sixfold`).
    #[arg(long)]
    credentials: PathBuf,
    #[arg(long)]
    lab: Option<String>,
}

/// `lab-imds`: the node's instance metadata service (run inside the node's namespace).
pub fn imds(a: ImdsArgs) -> anyhow::Result<()> {
    Ok(lab::imds::run_imds(
        &a.instance_id,
        lab::region::REGION,
        &a.endpoint,
        &a.credentials,
    )?)
}

#[derive(clap::Args)]
#[command(after_help = "Examples (inside a pod's namespace):\n  \
ip netns exec sfl-lab-n1-pod1 sixfold lab-probe --connect '[2001:db8::1]:8080'\n  \
ip netns exec sfl-lab-n1-pod1 sixfold lab-probe --resolve web1.default.svc.cluster.local --server fd00::a")]
pub struct ProbeArgs {
    /// Connect over TCP and print the line the far end answers.
    #[arg(long, conflicts_with = "resolve")]
    connect: Option<SocketAddr>,
    /// Resolve a name (AAAA) against --server and print the address.
    #[arg(long, requires = "server")]
    resolve: Option<String>,
    /// The DNS server.
    #[arg(long)]
    server: Option<Ipv6Addr>,
    /// Timeout in milliseconds.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
}

pub fn probe(a: ProbeArgs) -> anyhow::Result<()> {
    let t = Duration::from_millis(a.timeout_ms);
    if let Some(addr) = a.connect {
        let line = lab::probe::tcp_line(addr, t, Duration::ZERO).map_err(anyhow::Error::msg)?;
        println!("{line}");
        return Ok(());
    }
    if let (Some(name), Some(server)) = (a.resolve, a.server) {
        let ip = lab::probe::resolve(server, &name, t).map_err(anyhow::Error::msg)?;
        println!("{ip}");
        return Ok(());
    }
    anyhow::bail!("give --connect ADDR or --resolve NAME --server ADDR")
}

#[derive(clap::Args)]
pub struct ReconcileArgs {
    /// The lab's name.
    #[arg(long, default_value = "lab")]
    name: String,
    /// The lab's state dir. Default: /run/sixfold-lab/<name>.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Where sixfold-cni and sixfold-egress-cni are. Default: next to this executable.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

pub fn reconcile(a: ReconcileArgs) -> anyhow::Result<()> {
    let dir = state_dir(&a.name, a.state_dir);
    let mut ctx = lab::reconcile::Ctx::for_lab(&a.name, &dir, a.bin_dir)?;
    Ok(lab::reconcile::run(&mut ctx)?)
}
