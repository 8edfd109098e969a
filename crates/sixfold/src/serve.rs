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
    /// Keep the region in etcd v3 instead of `DATA_DIR/region.redb`, so several replicas can
    /// serve it: `http://HOST:PORT[,http://HOST:PORT...]`. The data dir then only holds the lock
    /// and `credentials` (the key every replica shares, kept in etcd). See docs/region.md.
    #[arg(long, env = "SIXFOLD_ETCD_ENDPOINTS", value_name = "URLS")]
    etcd_endpoints: Option<String>,
    /// Most operations in one etcd transaction; set it to etcd's `--max-txn-ops` (default 128).
    /// An API call changing more rows than this is refused.
    #[arg(long, default_value_t = region_etcd::DEFAULT_MAX_TXN_OPS, value_parser = clap::value_parser!(usize))]
    etcd_max_txn_ops: usize,
    /// Copy the embedded region in `--data-dir` into etcd at these endpoints, then exit (the
    /// etcd prefix `/sixfold/<region>/` must be empty). Stop the embedded server first.
    #[arg(long, value_name = "URLS", conflicts_with = "etcd_endpoints")]
    export_to_etcd: Option<String>,
}

/// Open the region in etcd: the key from etcd (made there by the first replica) written to
/// the data dir. etcd may be electing a leader or have a member restarting: an unavailable
/// etcd is retried for a bounded time before the start fails.
fn open_etcd(args: &Args, endpoints: &str) -> anyhow::Result<(region_api::App, bool)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        match try_open_etcd(args, endpoints) {
            Err(e)
                if std::time::Instant::now() < deadline
                    // StoreError::Unavailable, possibly wrapped in a transparent error.
                    && e.chain()
                        .any(|c| c.to_string().contains("the region's store is unavailable")) =>
            {
                tracing::warn!(error = %e, "etcd not ready; retrying");
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
            r => return r,
        }
    }
}

fn try_open_etcd(args: &Args, endpoints: &str) -> anyhow::Result<(region_api::App, bool)> {
    let store = region_etcd::EtcdStore::connect(endpoints, &args.region)?
        .with_max_txn_ops(args.etcd_max_txn_ops);
    let ((id, secret), created) = store
        .credentials_or_create(|| {
            let c = sigv4::generate_credentials(&mut rand::rngs::OsRng);
            (c.access_key_id, c.secret_access_key)
        })
        .with_context(|| format!("reading the region's key from etcd at {endpoints}"))?;
    let app = region_api::App::with_store(
        &args.data_dir,
        &args.region,
        Box::new(store),
        sigv4::Credentials::new(id, secret),
    )
    .with_context(|| format!("opening the region in etcd at {endpoints}"))?;
    Ok((app, created))
}

/// `--export-to-etcd`: copy the embedded region (rows and key) into an empty etcd prefix.
fn export(args: &Args, endpoints: &str) -> anyhow::Result<()> {
    let (app, _) = region_api::App::open_with(&args.data_dir, &args.region, args.change_log_limit)
        .with_context(|| format!("opening the region in {}", args.data_dir.display()))?;
    let (_, rows) = app.region.snapshot()?;
    let store = region_etcd::EtcdStore::connect(endpoints, &args.region)?
        .with_max_txn_ops(args.etcd_max_txn_ops);
    if !store.is_empty()? {
        anyhow::bail!(
            "etcd at {endpoints} already holds a region named {} (keys under /sixfold/{}/); export only into an empty prefix",
            args.region,
            args.region
        );
    }
    let c = &app.credentials;
    let want = (c.access_key_id.clone(), c.secret_access_key.clone());
    let (got, _) = store.credentials_or_create(|| want.clone())?;
    if got != want {
        anyhow::bail!(
            "another process stored a different key in etcd meanwhile; nothing else was copied"
        );
    }
    let rev = store.import(&rows)?;
    println!(
        "exported {} rows of region {} from {} to etcd at {endpoints} (etcd revision {rev}); serve it with --etcd-endpoints {endpoints}",
        rows.len(),
        args.region,
        args.data_dir.display()
    );
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.listen.ip().is_loopback() {
        tracing::warn!(listen = %args.listen, "listening beyond loopback: anyone who can reach this address and holds the key can change the region");
    }
    if let Some(eps) = &args.export_to_etcd {
        return export(&args, eps);
    }
    let (app, created) = match &args.etcd_endpoints {
        Some(eps) => open_etcd(&args, eps)?,
        None => region_api::App::open_with(&args.data_dir, &args.region, args.change_log_limit)
            .with_context(|| format!("opening the region in {}", args.data_dir.display()))?,
    };
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
