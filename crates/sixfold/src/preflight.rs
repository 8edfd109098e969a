//! `sixfold preflight --cluster NAME`: ask the region (DescribeCluster) for the cluster's health
//! issues — the IPv6 checks the reference lets fail later — and print each with its rule id, the
//! resource at fault and the fix. Exits non-zero when anything blocks.

use anyhow::bail;
use serde_json::{Value, json};

use crate::eks_client::{AwsArgs, EksClient};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  sixfold preflight --cluster my-cluster --endpoint-url http://127.0.0.1:4570 \\\n    --credentials-file /var/lib/sixfold/region/credentials --profile sixfold"
)]
pub struct Args {
    /// The cluster to check.
    #[arg(long)]
    cluster: String,
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    #[command(flatten)]
    aws: AwsArgs,
}

/// One issue as preflight reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule id (`SIX-...`), read from the message's `[id]` prefix.
    pub id: String,
    pub code: String,
    pub message: String,
    pub resource_ids: Vec<String>,
}

/// The findings in a DescribeCluster `cluster` object.
pub fn findings(cluster: &Value) -> Vec<Finding> {
    let issues = cluster["health"]["issues"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    issues
        .iter()
        .map(|i| {
            let message = i["message"].as_str().unwrap_or_default().to_string();
            let id = message
                .strip_prefix('[')
                .and_then(|m| m.split_once(']'))
                .map(|(id, _)| id.to_string())
                .unwrap_or_else(|| "UNKNOWN".into());
            Finding {
                id,
                code: i["code"].as_str().unwrap_or_default().to_string(),
                message,
                resource_ids: i["resourceIds"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let client = EksClient::new(&args.aws)?;
    let cluster = client.describe_cluster(&args.cluster)?;
    let found = findings(&cluster);
    let family = cluster["kubernetesNetworkConfig"]["ipFamily"]
        .as_str()
        .unwrap_or("ipv4");
    match args.output {
        Output::Json => {
            let v = json!({
                "cluster": args.cluster,
                "ipFamily": family,
                "status": cluster["status"],
                "serviceIpv6Cidr": cluster["kubernetesNetworkConfig"]["serviceIpv6Cidr"],
                "ok": found.is_empty(),
                "issues": found.iter().map(|f| json!({
                    "id": f.id, "code": f.code, "message": f.message, "resourceIds": f.resource_ids, "blocking": true,
                })).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Output::Text => {
            println!(
                "cluster {} ({family}, {})",
                args.cluster,
                cluster["status"].as_str().unwrap_or("?")
            );
            if family != "ipv6" {
                println!("  the IPv6 rules do not apply to an ipv4 cluster");
            }
            for f in &found {
                println!(
                    "  BLOCKING {} [{}] on {}",
                    f.id,
                    f.code,
                    f.resource_ids.join(", ")
                );
                println!("    {}", f.message);
            }
            if found.is_empty() {
                println!("  ok: no issues");
            }
        }
    }
    if !found.is_empty() {
        bail!(
            "{} blocking issue(s) in cluster {}: {}",
            found.len(),
            args.cluster,
            found
                .iter()
                .map(|f| f.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_read_from_messages() {
        let c = json!({"health": {"issues": [
            {"code": "ConfigurationConflict", "message": "[SIX-SG-IPV6] Security group sg-1 ... Fix: ...", "resourceIds": ["sg-1"]}
        ]}});
        let f = findings(&c);
        assert_eq!(f[0].id, "SIX-SG-IPV6");
        assert_eq!(f[0].resource_ids, ["sg-1"]);
        assert!(findings(&json!({})).is_empty());
    }
}
