//! End to end: IAM (roles, managed policies, OIDC providers) and STS (GetCallerIdentity,
//! AssumeRoleWithWebIdentity) against the real `sixfold serve`, driven by the AWS CLI, boto3 and
//! the AWS SDK for JavaScript v3. IRSA as a node would do it: `sixfold token` mints the
//! cluster's service-account token, STS exchanges it, and EC2 accepts the temporary credentials.

mod common;

use std::process::Command;

use common::clients::Sdk;
use common::net::{dual_stack_vpc, ipv6_cluster_on, nth64, subnet};
use common::{Cli, Server, s};
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";

/// A dual-stack VPC and subnet and an ipv6 cluster `c` on it; returns the cluster object.
fn ipv6_cluster(srv: &Server) -> Value {
    let (vpc, block) = dual_stack_vpc(srv);
    let subnet = subnet(srv, &vpc, "10.0.1.0/24", Some(&nth64(block, 0)));
    ipv6_cluster_on(srv, "c", &subnet)
}

/// `sixfold token` against `srv`.
fn mint(srv: &Server, sa: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "token",
        "--cluster",
        "c",
        "--namespace",
        "kube-system",
        "--service-account",
        sa,
    ];
    args.extend_from_slice(extra);
    let out = srv.sixfold(&args);
    assert_eq!(out.code, 0, "sixfold token failed: {}", out.stderr);
    out.stdout.trim().to_string()
}

/// The AWS CLI with explicit credentials (no profile), e.g. temporary ones.
fn aws_with(srv: &Server, key: &str, secret: &str, token: Option<&str>, args: &[&str]) -> Cli {
    let mut cmd = Command::new(common::aws_binary());
    cmd.args([
        "--region",
        "us-east-1",
        "--endpoint-url",
        &srv.endpoint,
        "--output",
        "json",
    ])
    .args(args)
    .env("AWS_ACCESS_KEY_ID", key)
    .env("AWS_SECRET_ACCESS_KEY", secret)
    .env_remove("AWS_PROFILE")
    .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    .env("AWS_CONFIG_FILE", "/dev/null")
    .env("AWS_PAGER", "")
    .env("AWS_MAX_ATTEMPTS", "1")
    .env("AWS_EC2_METADATA_DISABLED", "true");
    match token {
        Some(t) => cmd.env("AWS_SESSION_TOKEN", t),
        None => cmd.env_remove("AWS_SESSION_TOKEN"),
    };
    common::run(cmd, common::CLI_TIMEOUT)
}

fn trust_policy(provider: &str, sa: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{provider}")},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            format!("{provider}:sub"): format!("system:serviceaccount:kube-system:{sa}"),
            format!("{provider}:aud"): "sts.amazonaws.com"}}}]})
    .to_string()
}

#[test]
fn roles_and_managed_policies_as_iam_returns_them() {
    let srv = Server::start();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let a = srv
        .aws(&[
            "iam",
            "create-role",
            "--role-name",
            "aaaa",
            "--assume-role-policy-document",
            trust,
            "--max-session-duration",
            "7200",
        ])
        .json();
    let b = srv
        .aws(&[
            "iam",
            "create-role",
            "--role-name",
            "bbbb",
            "--assume-role-policy-document",
            trust,
        ])
        .json();
    assert_ne!(
        a["Role"]["RoleId"], b["Role"]["RoleId"],
        "RoleIds are unique"
    );
    assert!(s(&a["Role"]["RoleId"]).starts_with("AROA"));
    let g = srv.aws(&["iam", "get-role", "--role-name", "aaaa"]).json();
    // The CLI decodes the URL-encoded document back into JSON.
    assert_eq!(
        g["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "eks.amazonaws.com"
    );
    assert_eq!(g["Role"]["MaxSessionDuration"], 7200);
    assert_eq!(g["Role"]["RoleId"], a["Role"]["RoleId"]);

    // AWS-managed policies with their real documents.
    let cni = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy";
    let p = srv.aws(&["iam", "get-policy", "--policy-arn", cni]).json();
    assert_eq!(p["Policy"]["DefaultVersionId"], "v5");
    let v = srv
        .aws(&[
            "iam",
            "get-policy-version",
            "--policy-arn",
            cni,
            "--version-id",
            "v5",
        ])
        .json();
    let actions = v["PolicyVersion"]["Document"]["Statement"][0]["Action"].clone();
    assert!(
        actions
            .as_array()
            .unwrap()
            .contains(&json!("ec2:AssignPrivateIpAddresses")),
        "{actions}"
    );
    for name in [
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKSClusterPolicy",
        "AmazonEC2ContainerRegistryReadOnly",
    ] {
        srv.aws(&[
            "iam",
            "get-policy",
            "--policy-arn",
            &format!("arn:aws:iam::aws:policy/{name}"),
        ])
        .json();
    }

    // A customer-managed policy, attached and detached.
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#;
    let made = srv
        .aws(&[
            "iam",
            "create-policy",
            "--policy-name",
            "describe",
            "--policy-document",
            doc,
        ])
        .json();
    let arn = s(&made["Policy"]["Arn"]);
    assert_eq!(arn, format!("arn:aws:iam::{ACCOUNT}:policy/describe"));
    for p in [cni, arn.as_str()] {
        srv.aws(&[
            "iam",
            "attach-role-policy",
            "--role-name",
            "aaaa",
            "--policy-arn",
            p,
        ])
        .json();
    }
    let l = srv
        .aws(&["iam", "list-attached-role-policies", "--role-name", "aaaa"])
        .json();
    let names: Vec<String> = l["AttachedPolicies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| s(&x["PolicyName"]))
        .collect();
    assert_eq!(names, vec!["AmazonEKS_CNI_Policy", "describe"]);
    assert_eq!(
        srv.aws(&["iam", "get-policy", "--policy-arn", &arn]).json()["Policy"]["AttachmentCount"],
        1
    );
    srv.aws(&[
        "iam",
        "detach-role-policy",
        "--role-name",
        "aaaa",
        "--policy-arn",
        &arn,
    ])
    .json();
    srv.aws(&[
        "iam",
        "detach-role-policy",
        "--role-name",
        "aaaa",
        "--policy-arn",
        &arn,
    ])
    .fails_with("NoSuchEntity", &arn);
    srv.aws(&[
        "iam",
        "attach-role-policy",
        "--role-name",
        "aaaa",
        "--policy-arn",
        "arn:aws:iam::aws:policy/Nope",
    ])
    .fails_with("NoSuchEntity", "Nope");
    srv.aws(&[
        "iam",
        "create-policy",
        "--policy-name",
        "bad",
        "--policy-document",
        "not json",
    ])
    .fails_with("MalformedPolicyDocument", "not JSON");
    // An action not served names the served ones from the one table.
    srv.aws(&["iam", "list-users"])
        .fails_with("InvalidAction", "ListAttachedRolePolicies");
}

#[test]
fn attaching_only_the_managed_cni_policy_still_trips_the_ipv6_policy_rule() {
    let srv = Server::start();
    ipv6_cluster(&srv);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    srv.aws(&[
        "iam",
        "create-role",
        "--role-name",
        "cni",
        "--assume-role-policy-document",
        trust,
    ])
    .json();
    srv.aws(&[
        "iam",
        "attach-role-policy",
        "--role-name",
        "cni",
        "--policy-arn",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    ])
    .json();
    let addon = |srv: &Server| {
        srv.aws(&[
            "eks",
            "create-addon",
            "--cluster-name",
            "c",
            "--addon-name",
            "vpc-cni",
            "--service-account-role-arn",
            &format!("arn:aws:iam::{ACCOUNT}:role/cni"),
        ])
    };
    let out = addon(&srv);
    out.fails_with("InvalidParameterException", "SIX-CNI-IPV6-POLICY");
    assert!(
        out.stderr.contains("ec2:AssignIpv6Addresses"),
        "{}",
        out.stderr
    );
    // The IPv6 policy as a customer-managed policy, attached: accepted.
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:AssignIpv6Addresses","ec2:DescribeInstances","ec2:DescribeTags","ec2:DescribeNetworkInterfaces","ec2:DescribeInstanceTypes"],"Resource":"*"},{"Effect":"Allow","Action":["ec2:CreateTags"],"Resource":["arn:aws:ec2:*:*:network-interface/*"]}]}"#;
    let p = srv
        .aws(&[
            "iam",
            "create-policy",
            "--policy-name",
            "AmazonEKS_CNI_IPv6_Policy",
            "--policy-document",
            doc,
        ])
        .json();
    srv.aws(&[
        "iam",
        "attach-role-policy",
        "--role-name",
        "cni",
        "--policy-arn",
        &s(&p["Policy"]["Arn"]),
    ])
    .json();
    addon(&srv).json();
}

/// The whole IRSA exchange: issuer discovery and keys, the OIDC provider, a trust policy, the
/// token, STS, and EC2 with the temporary credentials; the refusals on the way.
#[test]
fn irsa_tokens_are_exchanged_for_temporary_credentials_the_region_accepts() {
    let srv = Server::start();
    let c = ipv6_cluster(&srv);
    let issuer = s(&c["identity"]["oidc"]["issuer"]);
    assert!(
        issuer.starts_with(&format!("{}/oidc/", srv.endpoint)),
        "{issuer}"
    );
    let get = |url: &str| -> Value {
        ureq::get(url)
            .timeout(std::time::Duration::from_secs(20))
            .call()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
            .into_string()
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap()
    };
    let disco = get(&format!("{issuer}/.well-known/openid-configuration"));
    assert_eq!(disco["issuer"], issuer.as_str());
    let keys = get(&s(&disco["jwks_uri"]));
    assert_eq!(keys["keys"][0]["alg"], "RS256");

    let who = srv.aws(&["sts", "get-caller-identity"]).json();
    assert_eq!(who["Account"], ACCOUNT);

    let provider = issuer.trim_start_matches("http://").to_string();
    let made = srv
        .aws(&[
            "iam",
            "create-open-id-connect-provider",
            "--url",
            &issuer,
            "--client-id-list",
            "sts.amazonaws.com",
            "--thumbprint-list",
            "9e99a48a9960b14926bb7f3b02e22da2b0ab7280",
        ])
        .json();
    assert_eq!(
        s(&made["OpenIDConnectProviderArn"]),
        format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{provider}")
    );
    srv.aws(&[
        "iam",
        "create-role",
        "--role-name",
        "cni",
        "--assume-role-policy-document",
        &trust_policy(&provider, "aws-node"),
    ])
    .json();
    // What the temporary credentials below may do (they are authorized against the role).
    srv.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "cni",
        "--policy-name",
        "describe",
        "--policy-document",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#,
    ])
    .json();
    let role = format!("arn:aws:iam::{ACCOUNT}:role/cni");
    let token = mint(&srv, "aws-node", &[]);

    let assume = |tok: &str| {
        srv.aws(&[
            "sts",
            "assume-role-with-web-identity",
            "--role-arn",
            &role,
            "--role-session-name",
            "node-1",
            "--web-identity-token",
            tok,
        ])
    };
    let got = assume(&token).json();
    let cr = &got["Credentials"];
    let key = s(&cr["AccessKeyId"]);
    assert!(key.starts_with("ASIA"), "{key}");
    assert_eq!(
        got["SubjectFromWebIdentityToken"],
        "system:serviceaccount:kube-system:aws-node"
    );
    assert_eq!(
        got["AssumedRoleUser"]["Arn"],
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/cni/node-1")
    );
    let secret = s(&cr["SecretAccessKey"]);
    let session = s(&cr["SessionToken"]);
    // The region accepts the temporary credentials on EC2 and STS.
    aws_with(
        &srv,
        &key,
        &secret,
        Some(&session),
        &["ec2", "describe-vpcs"],
    )
    .json();
    let me = aws_with(
        &srv,
        &key,
        &secret,
        Some(&session),
        &["sts", "get-caller-identity"],
    )
    .json();
    assert_eq!(
        me["Arn"],
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/cni/node-1")
    );
    // Without their session token they are refused.
    aws_with(&srv, &key, &secret, None, &["ec2", "describe-vpcs"])
        .fails_with("AuthFailure", "SessionToken");

    // Refusals: another service account (trust policy), a token of another audience, an
    // expired token, a forged signature.
    assume(&mint(&srv, "default", &[])).fails_with("AccessDenied", "sts:AssumeRoleWithWebIdentity");
    assume(&mint(&srv, "aws-node", &["--audience", "other"]))
        .fails_with("InvalidIdentityToken", "audience");
    let short = mint(&srv, "aws-node", &["--expiration-seconds", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assume(&short).fails_with("ExpiredTokenException", "expired");
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged_sig = format!("{}AAAA", &parts[2][..parts[2].len() - 4]);
    parts[2] = &forged_sig;
    assume(&parts.join(".")).fails_with("InvalidIdentityToken", "signature");

    // boto3 and the JS SDK do the same exchange and get the same answers.
    for sdk in [Sdk::Boto3, Sdk::Js] {
        let out = srv.sdk(sdk, "irsa", &json!({"role_arn": role, "token": token}));
        assert!(
            s(&out["access_key_id"]).starts_with("ASIA"),
            "{sdk:?} {out}"
        );
        assert_eq!(
            out["subject"], got["SubjectFromWebIdentityToken"],
            "{sdk:?}"
        );
        assert_eq!(out["audience"], "sts.amazonaws.com", "{sdk:?}");
        assert!(
            s(&out["caller_arn"]).starts_with(&format!("arn:aws:sts::{ACCOUNT}:assumed-role/cni/")),
            "{sdk:?} {out}"
        );
        assert_eq!(out["account"], ACCOUNT, "{sdk:?}");
        assert_eq!(out["vpcs"], 1, "{sdk:?}");
        // boto3 reports the wire code; the JS SDK the model's exception name for it.
        let code = s(&out["tampered"]["error"]);
        assert_eq!(
            code.trim_end_matches("Exception"),
            "InvalidIdentityToken",
            "{sdk:?} {out}"
        );
    }
}
