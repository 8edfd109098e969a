//! `sixfold install-cni`: the DaemonSet's init container (see `deploy/kubernetes/`), a thin
//! wrapper over `agent::install`.

use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Example (the init container of deploy/kubernetes/daemonset.yaml):\n  \
sixfold install-cni --from /opt/sixfold/cni --to /host/opt/cni/bin --enable-forwarding\n\n\
Copies sixfold-cni, sixfold-egress-cni and host-local into the node's CNI binary dir, each\n\
atomically (temp file, fsync, rename). The conflist is written later by `sixfold agent`, once\n\
it holds the node's /80, so the runtime never sees the network ready before the agent is."
)]
pub struct Args {
    /// Where the image keeps the plugin binaries.
    #[arg(long, default_value = "/opt/sixfold/cni")]
    from: PathBuf,
    /// The node's CNI binary dir, as mounted in the container.
    #[arg(long, default_value = "/host/opt/cni/bin")]
    to: PathBuf,
    /// Also turn on IPv6 and IPv4 forwarding in this network namespace (the node's, with host
    /// networking); needs a privileged container.
    #[arg(long)]
    enable_forwarding: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let installed =
        agent::install::install_binaries(&args.from, &args.to, &agent::install::CNI_BINARIES)?;
    for p in &installed {
        tracing::info!(path = %p.display(), "installed CNI plugin");
    }
    if args.enable_forwarding {
        agent::install::enable_forwarding()?;
        tracing::info!("IPv6 and IPv4 forwarding on");
    }
    Ok(())
}
