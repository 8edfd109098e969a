//! `sixfold map`: draw the IPv6 address plan of a region (every VPC and cluster it serves, read
//! through the signed EC2 and EKS APIs) or of a running lab (the same, plus its pods, services
//! and proven paths from its state file) as one self-contained HTML page: written with
//! `--output FILE`, or served live with `--serve ADDR` ([`serve`], following the region's change
//! feed through [`changes`]). The model and the page are
//! the `map` crate's; this module only reads the APIs and the state file.

mod changes;
mod serve;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use ec2_client::Ec2Client;
use lab::LabState;
use map::model::{Finding, PathResult};
use map::{Plan, RegionReplies};

use crate::eks_client::{ApiError, AwsArgs, EksClient};

/// Most clusters listed (and described) per map.
const MAX_CLUSTERS: usize = 100;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
sudo sixfold map --output plan.html                 # the default lab, one self-contained file\n  \
sudo sixfold map --name mylab --serve 127.0.0.1:8080 # live: the page follows the region\n  \
sixfold map --endpoint-url http://127.0.0.1:4570 --credentials-file region/credentials \\\n    \
--profile sixfold --output region.html                # any region that speaks EC2 + EKS")]
pub struct Args {
    /// The lab to draw (its state in /run/sixfold-lab/NAME). Default `lab`, unless
    /// --endpoint-url is given, which draws that region alone.
    #[arg(long)]
    name: Option<String>,
    /// The lab's state dir. Default: /run/sixfold-lab/<name>.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Write the page to this file (`-` for stdout).
    #[arg(long, conflicts_with = "serve", required_unless_present = "serve")]
    output: Option<PathBuf>,
    /// Serve the page on this address (e.g. 127.0.0.1:8080) and update it live.
    #[arg(long)]
    serve: Option<SocketAddr>,
    #[command(flatten)]
    aws: AwsArgs,
}

/// Where the plan comes from: the region's APIs, and a lab's state file on top.
pub struct Source {
    title: String,
    ec2: Ec2Client,
    eks: EksClient,
    lab_dir: Option<PathBuf>,
    /// The region's change feed, when the endpoint is a sixfold region (`http://`).
    feed: Option<ec2_client::FeedClient>,
}

impl Source {
    fn new(a: &Args) -> anyhow::Result<Source> {
        let lab_name = match (&a.name, &a.aws.endpoint_url) {
            (Some(n), _) => Some(n.clone()),
            (None, None) => Some("lab".to_owned()),
            (None, Some(_)) => None,
        };
        let mut aws = a.aws.clone();
        let (title, lab_dir) = match &lab_name {
            Some(name) => {
                let dir = a
                    .state_dir
                    .clone()
                    .unwrap_or_else(|| lab::default_state_dir(name));
                let state = load_lab(name, &dir)?;
                let region = state.region.as_ref().with_context(|| {
                    format!("lab {name} has no region yet (phase {}); wait for `sixfold up` to start it", state.phase)
                })?;
                aws.endpoint_url
                    .get_or_insert_with(|| region.endpoint.clone());
                aws.credentials_file
                    .get_or_insert_with(|| region.credentials.clone());
                aws.profile.get_or_insert_with(|| "sixfold".to_owned());
                aws.region = lab::region::REGION.to_owned();
                (format!("lab {name}"), Some(dir))
            }
            None => (
                format!("region {}", aws.endpoint_url.as_deref().unwrap_or("")),
                None,
            ),
        };
        let eks = EksClient::new(&aws)?;
        let creds = crate::eks_client::credentials(&aws)?;
        let feed = aws
            .endpoint_url
            .as_deref()
            .and_then(|e| ec2_client::FeedClient::new(&aws.region, e, creds.clone()).ok());
        let ec2 = Ec2Client::new(&aws.region, aws.endpoint_url.as_deref(), creds)
            .context("the EC2 endpoint")?
            .with_timeout(Duration::from_secs(10));
        Ok(Source {
            title,
            ec2,
            eks,
            lab_dir,
            feed,
        })
    }

    /// What tells the live server to look again: the region's feed, and the lab's files.
    fn changes(&self) -> changes::ChangeSignal {
        let files = self
            .lab_dir
            .iter()
            .flat_map(|d| [LabState::path(d), d.join(crate::lab::CHECKS_FILE)])
            .collect();
        changes::ChangeSignal::new(self.feed.clone(), files)
    }

    /// Read everything and build the plan.
    pub fn read(&self) -> anyhow::Result<Plan> {
        let call = |action: &str| {
            self.ec2
                .call(action, &[])
                .with_context(|| format!("{action} at {}", self.ec2.endpoint().url()))
        };
        let mut r = RegionReplies {
            vpcs: call("DescribeVpcs")?,
            subnets: call("DescribeSubnets")?,
            route_tables: call("DescribeRouteTables")?,
            internet_gateways: call("DescribeInternetGateways")?,
            egress_only_gateways: call("DescribeEgressOnlyInternetGateways")?,
            security_groups: call("DescribeSecurityGroups")?,
            instances: self
                .ec2
                .describe_instances(&[])
                .context("DescribeInstances")?,
            ..RegionReplies::default()
        };
        for name in self.cluster_names()? {
            let path = format!("/clusters/{}", sigv4::uri_encode(name.as_bytes(), false));
            let cluster = self.eks.describe_cluster(&name)?;
            for f in crate::preflight::findings(&cluster) {
                r.findings.push(Finding::from_issue(
                    &f.id,
                    &f.code,
                    &f.message,
                    f.resource_ids,
                    &name,
                ));
            }
            let groups = self.eks.get(&format!("{path}/node-groups"))?;
            for g in groups["nodegroups"].as_array().into_iter().flatten() {
                if let Some(g) = g.as_str() {
                    r.nodegroups.push((name.clone(), g.to_owned()));
                }
            }
            r.clusters.push(cluster);
        }
        let mut plan = Plan::from_region(&self.title, &r)?;
        if let Some(dir) = &self.lab_dir {
            let name = self.title.trim_start_matches("lab ");
            let state = load_lab(name, dir)?;
            plan.overlay_lab(&state, load_paths(dir));
        }
        Ok(plan)
    }

    /// `ListClusters`, all pages (bounded); none when the endpoint serves no EKS.
    fn cluster_names(&self) -> anyhow::Result<Vec<String>> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_CLUSTERS {
            let path = match &token {
                Some(t) => format!(
                    "/clusters?nextToken={}",
                    sigv4::uri_encode(t.as_bytes(), true)
                ),
                None => "/clusters".to_owned(),
            };
            let v = match self.eks.get(&path) {
                Ok(v) => v,
                Err(e)
                    if e.downcast_ref::<ApiError>()
                        .is_some_and(|a| a.status == 404) =>
                {
                    return Ok(names);
                }
                Err(e) => return Err(e.context("ListClusters")),
            };
            names.extend(
                v["clusters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.as_str().map(str::to_owned)),
            );
            token = v["nextToken"].as_str().map(str::to_owned);
            if token.is_none() || names.len() >= MAX_CLUSTERS {
                names.truncate(MAX_CLUSTERS);
                return Ok(names);
            }
        }
        Ok(names)
    }
}

fn load_lab(name: &str, dir: &std::path::Path) -> anyhow::Result<LabState> {
    match LabState::load(dir)? {
        Some(s) => Ok(s),
        None => bail!(
            "no lab {name:?} (no state in {}); start one with `sudo sixfold up --name {name}`, or give --endpoint-url to draw a region",
            dir.display()
        ),
    }
}

/// The lab's proven paths (`checks.json`, written by `sixfold up`); none if absent.
fn load_paths(dir: &std::path::Path) -> Vec<PathResult> {
    let Ok(bytes) = std::fs::read(dir.join(crate::lab::CHECKS_FILE)) else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    v.as_array()
        .into_iter()
        .flatten()
        .map(|c| PathResult {
            path: c["path"].as_str().unwrap_or_default().to_owned(),
            from: c["from"].as_str().unwrap_or_default().to_owned(),
            to: c["to"].as_str().unwrap_or_default().to_owned(),
            ok: c["ok"].as_bool().unwrap_or(false),
            seen: c["seen"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let source = Source::new(&a)?;
    if let Some(addr) = a.serve {
        return serve::run(source, addr);
    }
    let plan = source.read()?;
    let html = map::render(&plan, map::Options::default());
    match a.output.as_deref() {
        Some(p) if p.as_os_str() == "-" => {
            use std::io::Write;
            std::io::stdout().write_all(html.as_bytes())?;
        }
        Some(p) => {
            std::fs::write(p, &html).with_context(|| format!("writing {}", p.display()))?;
            let (nodes, pods) = plan.counts();
            println!(
                "wrote {} ({} bytes): {} VPC, {nodes} nodes, {pods} pods, {} findings",
                p.display(),
                html.len(),
                plan.vpcs.len(),
                plan.findings.len()
            );
        }
        None => bail!("give --output FILE or --serve ADDR"),
    }
    Ok(())
}
