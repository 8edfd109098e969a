//! `sixfold serve`: the region server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  sixfold serve --data-dir /tmp/region --listen 127.0.0.1:4570\n  \
AWS_SHARED_CREDENTIALS_FILE=/tmp/region/credentials aws --profile sixfold --region us-east-1 \\\n    \
--endpoint-url http://127.0.0.1:4570 ec2 describe-vpcs"
)]
pub struct Args {
    /// Address to listen on. Port 0 picks a free port (printed at start).
    #[arg(long, default_value = "127.0.0.1:4570")]
    listen: SocketAddr,
    /// Where the region keeps its state (`region.redb`) and its access key (`credentials`): made
    /// mode 0700, files 0600, locked (`lock`) while this server runs. See docs/region.md "State".
    #[arg(
        long,
        default_value = "/var/lib/sixfold/region",
        env = "SIXFOLD_DATA_DIR"
    )]
    data_dir: PathBuf,
    /// The region's name; clients must sign for it.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// How many recent commits the change feed keeps for `watch?since=R`; a watch from an
    /// older revision is answered 410 `Compacted` (re-list with the snapshot).
    #[arg(long, default_value_t = region::store::DEFAULT_LOG_LIMIT, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    change_log_limit: u64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.listen.ip().is_loopback() {
        tracing::warn!(listen = %args.listen, "listening beyond loopback: anyone who can reach this address and holds the key can change the region");
    }
    let (app, created) =
        region_api::App::open_with(&args.data_dir, &args.region, args.change_log_limit)
            .with_context(|| format!("opening the region in {}", args.data_dir.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}; is another server using it? pick another --listen", args.listen))?;
        let addr = listener.local_addr()?;
        let creds = args.data_dir.join("credentials");
        println!("sixfold region {} listening on http://{addr}", args.region);
        if created {
            println!("created a new access key in {}", creds.display());
        }
        println!(
            "use it with:\n  AWS_SHARED_CREDENTIALS_FILE={} aws --profile sixfold --region {} --endpoint-url http://{addr} ec2 describe-vpcs",
            creds.display(),
            args.region
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let shutdown = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
            tracing::info!("shutting down");
        };
        region_api::serve(listener, Arc::new(app), shutdown).await.context("serving")
    })
}
