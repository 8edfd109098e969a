//! `sixfold token`: mint a service-account token of a cluster, signed by the cluster's OIDC
//! issuer in the region — what the kubelet projects into an IRSA pod at
//! `/var/run/secrets/eks.amazonaws.com/serviceaccount/token`. Exchange it with
//! `aws sts assume-role-with-web-identity`.

use anyhow::Context;

use crate::eks_client::{AwsArgs, EksClient};

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  sixfold token --cluster lab --namespace kube-system --service-account aws-node \\\n    \
--endpoint-url http://127.0.0.1:4570 --profile sixfold > token\n  \
aws sts assume-role-with-web-identity --role-arn arn:aws:iam::123456789012:role/cni \\\n    \
--role-session-name node-1 --web-identity-token file://token"
)]
pub struct Args {
    /// The cluster whose issuer signs the token.
    #[arg(long)]
    cluster: String,
    /// The service account's namespace.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// The service account (`sub` = system:serviceaccount:NAMESPACE:SERVICE_ACCOUNT).
    #[arg(long)]
    service_account: String,
    /// `aud` of the token.
    #[arg(long, default_value = "sts.amazonaws.com")]
    audience: String,
    /// Lifetime in seconds (1 to 86400).
    #[arg(long, default_value_t = 3600)]
    expiration_seconds: u32,
    #[command(flatten)]
    aws: AwsArgs,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let client = EksClient::new(&a.aws)?;
    let path = format!(
        "/sixfold/clusters/{}/service-account-token",
        sigv4::uri_encode(a.cluster.as_bytes(), false)
    );
    let v = client
        .post(
            &path,
            &serde_json::json!({
                "namespace": a.namespace,
                "serviceAccount": a.service_account,
                "audience": a.audience,
                "expirationSeconds": a.expiration_seconds,
            }),
        )
        .with_context(|| format!("minting a token of cluster {}", a.cluster))?;
    let token = v["token"]
        .as_str()
        .context("the region's answer has no token")?;
    println!("{token}");
    Ok(())
}
