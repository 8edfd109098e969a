//! `sixfold service expose NAME --type LoadBalancer` (the lab plays the AWS Load Balancer
//! Controller) and the hidden `sixfold lab-lb` (a load balancer's node): thin wrappers over
//! `lab::lb`.

use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub struct ServiceArgs {
    #[command(subcommand)]
    command: ServiceCommand,
}

#[derive(clap::Subcommand)]
enum ServiceCommand {
    /// Expose a service through a dualstack load balancer (ELBv2, IPv6 `ip` targets), as the
    /// AWS Load Balancer Controller does for an IPv6 cluster.
    #[command(after_help = "Examples:\n  \
sudo sixfold service expose web2 --type LoadBalancer                       # internet-facing NLB on port 80\n  \
sudo sixfold service expose web2 --type LoadBalancer --kind alb            # ALB: HTTP with X-Forwarded-For\n  \
sudo sixfold service expose web2 --type LoadBalancer --scheme internal     # reachable only inside the VPC\n\n\
Then: aws elbv2 describe-target-health --target-group-arn ... (endpoint and credentials: sixfold status --output json)")]
    Expose(ExposeArgs),
}

#[derive(clap::Args)]
struct ExposeArgs {
    /// The service (namespace default).
    name: String,
    /// The service type; only LoadBalancer is served.
    #[arg(long = "type")]
    kind_of_service: String,
    /// internet-facing (a public IPv4 and IPv6 reachable from the internet) or internal.
    #[arg(long, default_value = "internet-facing")]
    scheme: String,
    /// nlb (TCP, forwarded) or alb (HTTP, proxied with X-Forwarded-For).
    #[arg(long, default_value = "nlb")]
    kind: String,
    /// The listener's port.
    #[arg(long, default_value_t = lab::lb::plan::DEFAULT_PORT)]
    port: u16,
    /// The pods' port (default: 8080, the pods' TCP responder, for an NLB; 80, their HTTP
    /// responder, for an ALB).
    #[arg(long)]
    target_port: Option<u16>,
    /// How long to wait for the targets to turn healthy (seconds; 0: do not wait).
    #[arg(long, default_value_t = 20)]
    wait: u64,
    /// The lab.
    #[arg(long = "name", alias = "lab", default_value = "lab")]
    lab: String,
    /// Its state dir. Default: /run/sixfold-lab/<lab>.
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

pub fn run(a: ServiceArgs) -> anyhow::Result<()> {
    match a.command {
        ServiceCommand::Expose(e) => expose(e),
    }
}

fn expose(a: ExposeArgs) -> anyhow::Result<()> {
    lab::require_root()?;
    if a.kind_of_service != "LoadBalancer" {
        anyhow::bail!(
            "--type {:?} is not served: the lab exposes services through load balancers only; use --type LoadBalancer",
            a.kind_of_service
        );
    }
    let req = lab::lb::ExposeRequest {
        service: a.name,
        scheme: a.scheme,
        kind: lab::lb::plan::Kind::parse(&a.kind)?,
        port: a.port,
        target_port: a.target_port,
    };
    let dir = a
        .state_dir
        .unwrap_or_else(|| lab::default_state_dir(&a.lab));
    let exe = std::env::current_exe()?;
    let lb = lab::LabState::update(&a.lab, &dir, |s| lab::lb::expose(s, &req, &exe))?;
    println!("{}", lab::lb::expose::summary(&lb));
    if a.wait > 0 {
        let healthy = lab::LabState::update(&a.lab, &dir, |s| {
            lab::lb::expose::wait_healthy(s, Duration::from_secs(a.wait))
        })?;
        let s = lab::status::load(&a.lab, &dir)?;
        if let Some(lb) = s.load_balancers.iter().find(|l| l.name == lb.name) {
            for t in &lb.targets {
                println!(
                    "  target {} [{}]:{} {}{}",
                    t.pod,
                    t.ip,
                    t.port,
                    t.state,
                    t.reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
            }
        }
        if !healthy {
            println!("not every target is healthy yet; see `sixfold status`");
        }
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct LbArgs {
    /// The load balancer's config (written by `service expose`).
    #[arg(long)]
    config: PathBuf,
    /// The lab it belongs to (for the process list).
    #[arg(long)]
    lab: Option<String>,
}

pub fn lb(a: LbArgs) -> anyhow::Result<()> {
    Ok(lab::lb::daemon::run(&a.config)?)
}
