//! `sixfold pod run / delete / list` and `sixfold exec`: thin wrappers over `lab::podcmd`.

use std::path::PathBuf;

/// Which lab (shared by every pod command).
#[derive(clap::Args)]
pub struct LabArg {
    /// The lab's name.
    #[arg(long, default_value = "lab")]
    name: String,
    /// The lab's state dir. Default: /run/sixfold-lab/<name>.
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

impl LabArg {
    fn dir(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(|| lab::default_state_dir(&self.name))
    }
}

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
sudo sixfold pod run web --node node2     # wired by the real CNI plugins, serving [::]:8080\n  \
sudo sixfold pod run db --security-groups sg-0123456789abcdef0   # its own branch interface and groups\n  \
sudo sixfold pod list --output json\n  \
sudo sixfold exec web -- ip -6 addr        # a command in the pod's network namespace\n  \
sudo sixfold pod delete web               # CNI DEL: the agent releases the address")]
pub struct PodArgs {
    #[command(subcommand)]
    command: PodCommand,
}

#[derive(clap::Subcommand)]
enum PodCommand {
    /// Run a pod: its own namespace wired by the node's CNI chain, serving the lab responder.
    Run(RunArgs),
    /// Delete a pod: CNI DEL (the agent releases its address), then its namespace.
    Delete(DeleteArgs),
    /// List the lab's pods (table or --output json).
    List(ListArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// The pod's name (a DNS label: lowercase letters, digits, '-').
    pod: String,
    /// The node to run it on. Default: the node with the fewest pods.
    #[arg(long)]
    node: Option<String>,
    /// Where sixfold-cni and sixfold-egress-cni are. Default: where `up` found them.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Security groups for pods: the pod gets its own branch network interface in the region
    /// with these groups (sg-..., comma-separated, at most 5) and is filtered by them instead
    /// of its node's. It serves [::]:8080 and [::]:9090.
    #[arg(long, value_delimiter = ',')]
    security_groups: Vec<String>,
    #[command(flatten)]
    lab: LabArg,
}

#[derive(clap::Args)]
struct DeleteArgs {
    /// The pod's name.
    pod: String,
    /// Succeed (exit 0) when the pod is already gone, as `kubectl delete --ignore-not-found`.
    #[arg(long)]
    ignore_not_found: bool,
    /// Where sixfold-cni and sixfold-egress-cni are. Default: where `up` found them.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    #[command(flatten)]
    lab: LabArg,
}

#[derive(clap::Args)]
struct ListArgs {
    /// `table` or `json`.
    #[arg(long, short = 'o', default_value = "table", value_parser = ["table", "json"])]
    output: String,
    #[command(flatten)]
    lab: LabArg,
}

pub fn pod(a: PodArgs) -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    match a.command {
        PodCommand::Run(r) if !r.security_groups.is_empty() => {
            let dir = r.lab.dir();
            let state = lab::status::load(&r.lab.name, &dir)?;
            let region = state
                .region
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("lab {} records no region", r.lab.name))?;
            let api = lab::region::Api::connect(region)?;
            let exe = std::env::current_exe()?;
            let req = lab::policy::branch::PodRequest {
                name: &r.pod,
                node: r.node.as_deref(),
                groups: &r.security_groups,
                exe: &exe,
            };
            let p = lab::policy::branch::run_pod(&api, &dir, &req)?;
            println!(
                "pod {} running on {}: {} from branch interface {} (groups {}), serving [::]:{} and [::]:{} in namespace {}",
                p.name,
                p.node,
                p.ipv6,
                p.branch_eni.as_deref().unwrap_or_default(),
                p.security_groups.join(","),
                lab::plan::POD_PORT,
                lab::policy::branch::SECOND_PORT,
                p.netns
            );
        }
        PodCommand::Run(r) => {
            let req = lab::podcmd::RunRequest {
                state_dir: r.lab.dir(),
                lab: r.lab.name,
                pod: r.pod,
                node: r.node,
                bin_dir: r.bin_dir,
            };
            lab::podcmd::run(&req, &mut out)?;
        }
        PodCommand::Delete(d) => {
            let dir = d.lab.dir();
            match lab::podcmd::delete(&d.lab.name, &dir, &d.pod, d.bin_dir.as_deref(), &mut out) {
                Ok(_) => {}
                Err(lab::LabError::Pod(lab::podcmd::PodError::NotFound { pod, lab, .. }))
                    if d.ignore_not_found =>
                {
                    println!("pod {pod} not found in lab {lab}: nothing to delete");
                }
                Err(e) => return Err(e.into()),
            }
        }
        PodCommand::List(l) => {
            let s = lab::status::load(&l.lab.name, &l.lab.dir())?;
            let text = if l.output == "json" {
                format!(
                    "{}\n",
                    serde_json::to_string_pretty(&lab::podcmd::list_json(&s))?
                )
            } else {
                lab::podcmd::list_table(&s)
            };
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
        }
    }
    Ok(())
}

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  sudo sixfold exec web -- sixfold lab-probe --connect '[2001:db8::1]:8080'\n\n\
The exit code is the command's (128 + N when it was killed by signal N)."
)]
pub struct ExecArgs {
    /// The pod.
    pod: String,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true)]
    command: Vec<String>,
    #[command(flatten)]
    lab: LabArg,
}

/// Run the command in the pod and exit with its code.
pub fn exec(a: ExecArgs) -> anyhow::Result<()> {
    let code = lab::podcmd::exec(&a.lab.name, &a.lab.dir(), &a.pod, &a.command)?;
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}
