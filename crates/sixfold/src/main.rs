//! `sixfold`: one binary, thin over the libraries. Each subcommand parses its flags, builds a
//! context and calls one library function; errors become one readable message and exit code.

mod agent;
mod bootstrap;
mod eks_client;
mod install_cni;
mod lab;
mod map;
mod pod;
mod preflight;
mod serve;
mod service;
mod token;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sixfold",
    version,
    about = "IPv6 networking for Kubernetes, the way Amazon EKS does it",
    long_about = "sixfold gives a Kubernetes cluster IPv6 addresses for its nodes, pods and services, \
following the design Amazon EKS uses for IPv6 clusters.\n\n\
  sixfold serve    run a region: VPC/EC2/EKS over the real AWS APIs (the AWS CLI talks to it)\n\
  sixfold agent    run the node agent: owns the node's /80, hands pod addresses to the CNI plugins\n\
  sixfold up       build a whole IPv6 cluster on this machine out of namespaces and prove it\n\
  sixfold status   the lab's address map; sixfold down removes the lab\n\
  sixfold pod      run, list and delete pods in a running lab; sixfold exec runs a command in one\n\
  sixfold map      the address plan drawn in the browser (--output plan.html, or --serve live)\n\n\
Run `sixfold <command> --help` for the flags of each command."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the region server: EC2 Query API on one loopback port, state under --data-dir.
    Serve(serve::Args),
    /// Run the node agent: the node's IPv6 /80 and pod addresses for the CNI plugins.
    Agent(agent::Args),
    /// Install the CNI plugins into the node's CNI binary dir (the DaemonSet's init container).
    InstallCni(install_cni::Args),
    /// Check an IPv6 cluster for problems the reference lets fail later; non-zero exit when any blocks.
    Preflight(preflight::Args),
    /// Print a node's kubelet network settings (cluster DNS, node IP, max pods), bootstrap.sh style.
    Bootstrap(bootstrap::Args),
    /// Build a whole IPv6 cluster on this machine out of network namespaces and prove every path.
    Up(lab::UpArgs),
    /// Remove everything a lab made (namespaces, processes, state); idempotent.
    Down(lab::DownArgs),
    /// Print a lab's address map (table or --output json).
    Status(lab::StatusArgs),
    /// Run, list and delete pods in a running lab (wired by the real CNI plugins).
    Pod(pod::PodArgs),
    /// Run a command in a lab pod's network namespace (`sixfold exec POD -- CMD...`).
    Exec(pod::ExecArgs),
    /// Mint a cluster's service-account token (IRSA's projected token) from the region's OIDC issuer.
    Token(token::Args),
    /// Draw the IPv6 address plan of a lab or region as one HTML page (--output FILE, or --serve ADDR live).
    Map(map::Args),
    /// Expose a lab's service through a dualstack load balancer (the AWS Load Balancer Controller's part).
    Service(service::ServiceArgs),
    #[command(hide = true)]
    LabResponder(lab::ResponderArgs),
    /// A load balancer's node, inside its namespace (started by `service expose`).
    #[command(hide = true)]
    LabLb(service::LbArgs),
    #[command(hide = true)]
    LabDns(lab::DnsArgs),
    #[command(hide = true)]
    LabForward(lab::ForwardArgs),
    /// A lab node's instance metadata service (IMDSv2 on 169.254.169.254:80 in its namespace).
    #[command(hide = true)]
    LabImds(lab::ImdsArgs),
    /// Probe from inside a namespace (`ip netns exec <pod> sixfold lab-probe ...`).
    #[command(hide = true)]
    LabProbe(lab::ProbeArgs),
    /// Keep a lab's dataplane following its region's change feed (started by `up`).
    #[command(hide = true)]
    LabReconcile(lab::ReconcileArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SIXFOLD_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Serve(a) => serve::run(a),
        Command::Agent(a) => agent::run(a),
        Command::InstallCni(a) => install_cni::run(a),
        Command::Preflight(a) => preflight::run(a),
        Command::Bootstrap(a) => bootstrap::run(a),
        Command::Up(a) => lab::up(a),
        Command::Down(a) => lab::down(a),
        Command::Status(a) => lab::status(a),
        Command::Pod(a) => pod::pod(a),
        Command::Exec(a) => pod::exec(a),
        Command::Map(a) => map::run(a),
        Command::Token(a) => token::run(a),
        Command::Service(a) => service::run(a),
        Command::LabLb(a) => service::lb(a),
        Command::LabResponder(a) => lab::responder(a),
        Command::LabDns(a) => lab::dns(a),
        Command::LabForward(a) => lab::forward(a),
        Command::LabImds(a) => lab::imds(a),
        Command::LabProbe(a) => lab::probe(a),
        Command::LabReconcile(a) => lab::reconcile(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sixfold: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
