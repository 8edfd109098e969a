//! The client credential chain against the real `sixfold serve`: web identity (IRSA) exchanged
//! with the region's STS `AssumeRoleWithWebIdentity`, the temporary credentials sent with
//! `X-Amz-Security-Token` on EC2 calls, refreshed before they expire (the refresh window is
//! widened so a 15-minute session is due for refresh within seconds), and a refused exchange
//! reported with STS's code and the fix.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::net::{dual_stack_vpc, ipv6_cluster_on, nth64, subnet};
use common::{Server, s};
use ec2_client::provider::Source;
use ec2_client::{CredentialsProvider, Ec2Client, Ec2Error, WebIdentity};
use serde_json::Value;

/// A dual-stack VPC and subnet and an ipv6 cluster `c` (AWS CLI).
fn ipv6_cluster(srv: &Server) {
    let (vpc, block) = dual_stack_vpc(srv);
    let subnet = subnet(srv, &vpc, "10.0.1.0/24", Some(&nth64(block, 0)));
    ipv6_cluster_on(srv, "c", &subnet);
}

fn provider(role: &str, token: &std::path::Path, endpoint: &str) -> CredentialsProvider {
    CredentialsProvider::new(Source::WebIdentity(
        WebIdentity::new(role, token, "node-1", endpoint).with_duration_seconds(900),
    ))
}

#[test]
fn web_identity_credentials_are_exchanged_sent_and_refreshed_before_expiry() {
    let srv = Server::start();
    ipv6_cluster(&srv);
    let eks = lab::eks::Eks::new(&srv.endpoint, "us-east-1", srv.credentials());
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    // The lab's IRSA set-up: OIDC provider, role `aws-node` with the IPv6 CNI policy, token.
    let role = lab::imds::setup_irsa(&eks, "c", "aws-node", true, &token).unwrap();

    // 15-minute sessions, refreshed when less than 898 s remain: due 2 s after each exchange.
    let p = Arc::new(
        provider(&role, &token, &srv.endpoint).with_refresh_before(Duration::from_secs(898)),
    );
    let ec2 = Ec2Client::with_provider("us-east-1", Some(&srv.endpoint), p.clone()).unwrap();
    ec2.describe_network_interfaces(&[]).unwrap();
    let first = p.credentials().unwrap();
    assert!(first.access_key_id.starts_with("ASIA"), "{first:?}");
    assert!(first.session_token.is_some());
    // Inside the window the cached credentials are reused (no new exchange).
    assert_eq!(p.credentials().unwrap(), first);
    std::thread::sleep(Duration::from_millis(2_500));
    ec2.describe_network_interfaces(&[]).unwrap();
    let second = p.credentials().unwrap();
    assert_ne!(
        second.access_key_id, first.access_key_id,
        "the credentials were not refreshed before expiry"
    );
    assert_eq!(p.role().as_deref(), Some(role.as_str()));

    // The same through the chain, as the agent builds it from the environment.
    let env_token = token.display().to_string();
    let endpoint = srv.endpoint.clone();
    let role2 = role.clone();
    let chain = CredentialsProvider::chain_with(
        move |n| match n {
            "AWS_ROLE_ARN" => Some(role2.clone()),
            "AWS_WEB_IDENTITY_TOKEN_FILE" => Some(env_token.clone()),
            "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
            _ => None,
        },
        "us-east-1",
        None,
        || panic!("IMDS must not be asked when web identity is configured"),
    )
    .unwrap();
    assert!(
        chain.describe().contains("web identity"),
        "{}",
        chain.describe()
    );
    let ec2 = Ec2Client::with_provider("us-east-1", Some(&srv.endpoint), Arc::new(chain)).unwrap();
    ec2.describe_network_interfaces(&[]).unwrap();

    // The CLI's EKS client takes web identity too: `sixfold bootstrap` with nothing but
    // AWS_ROLE_ARN and the token file (no keys, no credentials file) reads the cluster.
    srv.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "aws-node",
        "--policy-name",
        "describe-cluster",
        "--policy-document",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"eks:DescribeCluster","Resource":"*"}]}"#,
    ])
    .json();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sixfold"));
    cmd.args([
        "bootstrap",
        "c",
        "--ip-family",
        "ipv6",
        "--instance-type",
        "m5.large",
        "--node-ip",
        "2001:db8::10",
        "--output",
        "json",
        "--endpoint-url",
        &srv.endpoint,
    ])
    .env_clear()
    .env("HOME", home.path())
    .env("AWS_ROLE_ARN", &role)
    .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token)
    .env("SIXFOLD_LOG", "warn");
    let out = common::run(cmd, common::CLI_TIMEOUT);
    assert_eq!(
        out.code, 0,
        "bootstrap on web identity failed: {}",
        out.stderr
    );
    let b: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(s(&b["serviceCidr"]).ends_with("/108"), "{b}");

    // A role whose trust policy names another service account: STS refuses, and the EC2 call
    // fails naming STS's code, the role and what to check — before anything is sent to EC2.
    let trust = lab::imds::web_identity_trust(
        "123456789012",
        &role_provider(&eks),
        "system:serviceaccount:default:other",
    );
    srv.aws(&[
        "iam",
        "create-role",
        "--role-name",
        "not-for-aws-node",
        "--assume-role-policy-document",
        &trust,
    ])
    .json();
    let refused = Arc::new(provider(
        "arn:aws:iam::123456789012:role/not-for-aws-node",
        &token,
        &srv.endpoint,
    ));
    let ec2 = Ec2Client::with_provider("us-east-1", Some(&srv.endpoint), refused).unwrap();
    let err = ec2.describe_network_interfaces(&[]).unwrap_err();
    assert!(matches!(err, Ec2Error::Credentials { .. }), "{err:?}");
    let msg = err.to_string();
    for part in ["AccessDenied", "not-for-aws-node", "trust policy"] {
        assert!(msg.contains(part), "{part} missing from: {msg}");
    }
}

/// The cluster's OIDC provider name (issuer without its scheme).
fn role_provider(eks: &lab::eks::Eks) -> String {
    let c = eks.call("GET", "/clusters/c", None).unwrap();
    s(&c["cluster"]["identity"]["oidc"]["issuer"])
        .split_once("://")
        .unwrap()
        .1
        .to_owned()
}
