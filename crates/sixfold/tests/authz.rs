//! End to end: authorization of temporary credentials against their role's policies, IAM
//! instance profiles, and the instance credentials endpoint, on the real `sixfold serve` driven
//! by the real AWS CLI (and boto3 / the AWS SDK for JavaScript v3 for the refusal shape).

mod common;

use std::process::Command;
use std::time::Duration;

use common::clients::Sdk;
use common::query::{post_query, signed_query_headers};
use common::{Cli, Server};
use ec2_client::feed::{FeedClient, FeedError};
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const DESCRIBE_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#;
const IPV6: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:AssignIpv6Addresses","ec2:DescribeInstances","ec2:DescribeTags","ec2:DescribeNetworkInterfaces","ec2:DescribeInstanceTypes"],"Resource":"*"},{"Effect":"Allow","Action":["ec2:CreateTags"],"Resource":["arn:aws:ec2:*:*:network-interface/*"]}]}"#;
const DENY_ASSIGN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:AssignIpv6*","Resource":"arn:aws:ec2:*:*:network-interface/*"}]}"#;

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

/// Temporary credentials as the metadata service hands them out.
struct Creds {
    key: String,
    secret: String,
    token: String,
}

impl Creds {
    fn from_imds(doc: &Value) -> Self {
        Creds {
            key: s(&doc["AccessKeyId"]),
            secret: s(&doc["SecretAccessKey"]),
            token: s(&doc["Token"]),
        }
    }

    /// The AWS CLI with these credentials (no profile).
    fn aws(&self, srv: &Server, args: &[&str]) -> Cli {
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
        .env("AWS_ACCESS_KEY_ID", &self.key)
        .env("AWS_SECRET_ACCESS_KEY", &self.secret)
        .env("AWS_SESSION_TOKEN", &self.token)
        .env_remove("AWS_PROFILE")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_PAGER", "")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
        common::run(cmd, common::CLI_TIMEOUT)
    }

    fn sigv4(&self) -> sigv4::Credentials {
        sigv4::Credentials::new(&self.key, &self.secret).with_session_token(&self.token)
    }
}

/// A Query call signed with the region's key, for set-up steps (the AWS CLI's start-up costs
/// seconds; the behaviour under test is still driven with the CLI): the reply's XML.
fn query(srv: &Server, service: &str, params: &[(&str, &str)]) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    let body = params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let headers = signed_query_headers(
        &srv.endpoint,
        &body,
        &srv.credentials(),
        service,
        "us-east-1",
        std::time::SystemTime::now(),
    );
    let (status, reply) = post_query(&srv.endpoint, &headers, &body);
    assert_eq!(status, 200, "{service} {params:?}: {reply}");
    reply
}

/// The text of the first `<tag>` of an XML reply.
fn xml_leaf(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        + open.len();
    let end = xml[start..]
        .find('<')
        .map(|e| start + e)
        .expect("closing tag");
    xml[start..end].to_string()
}

fn feed(srv: &Server) -> FeedClient {
    FeedClient::new("us-east-1", &srv.endpoint, srv.credentials()).expect("feed client")
}

/// A dual-stack VPC and subnet: `(vpc, subnet)`.
fn network(srv: &Server) -> (String, String) {
    let ec2 = |p: &[(&str, &str)]| {
        let mut all = vec![("Version", "2016-11-15")];
        all.extend_from_slice(p);
        query(srv, "ec2", &all)
    };
    let vpc = xml_leaf(
        &ec2(&[
            ("Action", "CreateVpc"),
            ("CidrBlock", "10.0.0.0/16"),
            ("AmazonProvidedIpv6CidrBlock", "true"),
        ]),
        "vpcId",
    );
    let block: ipnet::Ipv6Net = xml_leaf(
        &ec2(&[("Action", "DescribeVpcs"), ("VpcId.1", &vpc)]),
        "ipv6CidrBlock",
    )
    .parse()
    .unwrap();
    let sub64 = ipnet::Ipv6Net::new(block.network(), 64)
        .unwrap()
        .to_string();
    let subnet = xml_leaf(
        &ec2(&[
            ("Action", "CreateSubnet"),
            ("VpcId", &vpc),
            ("CidrBlock", "10.0.1.0/24"),
            ("Ipv6CidrBlock", &sub64),
        ]),
        "subnetId",
    );
    (vpc, subnet)
}

/// An IAM call with the region's key (set-up).
fn iam(srv: &Server, action: &str, params: &[(&str, &str)]) {
    let mut all = vec![("Action", action), ("Version", "2010-05-08")];
    all.extend_from_slice(params);
    query(srv, "iam", &all);
}

fn role(srv: &Server, name: &str) {
    iam(
        srv,
        "CreateRole",
        &[("RoleName", name), ("AssumeRolePolicyDocument", TRUST)],
    );
}

fn put_policy(srv: &Server, role: &str, name: &str, doc: &str) {
    iam(
        srv,
        "PutRolePolicy",
        &[
            ("RoleName", role),
            ("PolicyName", name),
            ("PolicyDocument", doc),
        ],
    );
}

/// Instance profile `name` holding `role` (set-up).
fn profile(srv: &Server, name: &str, role: &str) {
    iam(
        srv,
        "CreateInstanceProfile",
        &[("InstanceProfileName", name)],
    );
    iam(
        srv,
        "AddRoleToInstanceProfile",
        &[("InstanceProfileName", name), ("RoleName", role)],
    );
}

/// `run-instances` of one m5.large in `subnet` with `extra` arguments: the instance JSON.
fn run_instance(srv: &Server, subnet: &str, extra: &[&str]) -> Cli {
    let mut args = vec![
        "ec2",
        "run-instances",
        "--image-id",
        "ami-0123456789abcdef0",
        "--instance-type",
        "m5.large",
        "--count",
        "1",
        "--subnet-id",
        subnet,
    ];
    args.extend_from_slice(extra);
    srv.aws(&args)
}

fn prefixes(srv: &Server, eni: &str) -> usize {
    let d = srv
        .aws(&[
            "ec2",
            "describe-network-interfaces",
            "--network-interface-ids",
            eni,
        ])
        .json();
    d["NetworkInterfaces"][0]["Ipv6Prefixes"]
        .as_array()
        .map_or(0, Vec::len)
}

/// A role with `ec2:Describe*` only: describe works, AssignIpv6Addresses is refused as EC2
/// refuses it and changes nothing; attaching the IPv6 policy makes the same call work with the
/// same credentials; a Deny then beats that Allow. Other protocols refuse in their own shapes.
#[test]
fn temporary_credentials_are_authorized_against_their_roles_current_policies() {
    let srv = Server::start();
    let (_, subnet) = network(&srv);
    role(&srv, "cni");
    put_policy(&srv, "cni", "describe", DESCRIBE_ONLY);
    profile(&srv, "nodes", "cni");
    let run = run_instance(&srv, &subnet, &["--iam-instance-profile", "Name=nodes"]).json();
    let inst = &run["Instances"][0];
    let id = s(&inst["InstanceId"]);
    let eni = s(&inst["NetworkInterfaces"][0]["NetworkInterfaceId"]);

    let doc = feed(&srv)
        .instance_credentials(&id)
        .expect("instance credentials");
    let creds = Creds::from_imds(&doc);

    // Allowed: Describe* (and STS GetCallerIdentity, which needs no permission).
    let d = creds
        .aws(&srv, &["ec2", "describe-instances", "--instance-ids", &id])
        .json();
    assert_eq!(
        d["Reservations"][0]["Instances"][0]["InstanceId"],
        id.as_str()
    );
    let me = creds.aws(&srv, &["sts", "get-caller-identity"]).json();
    let caller = format!("arn:aws:sts::{ACCOUNT}:assumed-role/cni/{id}");
    assert_eq!(me["Arn"], caller.as_str());

    // Refused as EC2 refuses it, naming who, what and on which resource; nothing changes.
    let assign = || {
        creds.aws(
            &srv,
            &[
                "ec2",
                "assign-ipv6-addresses",
                "--network-interface-id",
                &eni,
                "--ipv6-prefix-count",
                "1",
            ],
        )
    };
    let out = assign();
    out.fails_with(
        "UnauthorizedOperation",
        &format!(
            "You are not authorized to perform this operation. User: {caller} is not authorized to perform: ec2:AssignIpv6Addresses on resource: arn:aws:ec2:us-east-1:{ACCOUNT}:network-interface/{eni}"
        ),
    );
    assert_eq!(prefixes(&srv, &eni), 0, "a refused request changed nothing");
    // The IPv6 policy as a managed policy, attached: the same credentials now may.
    let p = srv
        .aws(&[
            "iam",
            "create-policy",
            "--policy-name",
            "AmazonEKS_CNI_IPv6_Policy",
            "--policy-document",
            IPV6,
        ])
        .json();
    let policy_arn = s(&p["Policy"]["Arn"]);
    srv.aws(&[
        "iam",
        "attach-role-policy",
        "--role-name",
        "cni",
        "--policy-arn",
        &policy_arn,
    ])
    .json();
    let got = assign().json();
    assert_eq!(
        got["AssignedIpv6Prefixes"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(prefixes(&srv, &eni), 1);

    // An explicit Deny beats the attached Allow.
    put_policy(&srv, "cni", "deny-ipv6", DENY_ASSIGN);
    assign().fails_with("UnauthorizedOperation", "with an explicit deny");
    assert_eq!(prefixes(&srv, &eni), 1, "a refused request changed nothing");
    // CreateTags on the ENI is allowed by the IPv6 policy, on the VPC it is not.
    creds
        .aws(
            &srv,
            &[
                "ec2",
                "create-tags",
                "--resources",
                &eni,
                "--tags",
                "Key=a,Value=b",
            ],
        )
        .json();

    // EKS: AccessDeniedException, HTTP 403, {"message"}.
    let out = creds.aws(&srv, &["eks", "list-clusters", "--debug"]);
    out.fails_with(
        "AccessDeniedException",
        &format!("User: {caller} is not authorized to perform: eks:ListClusters on resource: *"),
    );
    assert!(
        out.stderr
            .contains("x-amzn-ErrorType': 'AccessDeniedException")
            || out
                .stderr
                .contains("x-amzn-errortype': 'AccessDeniedException"),
        "no AccessDeniedException header in the debug log"
    );
    assert!(
        out.stderr.contains("HTTP/1.1\" 403"),
        "not a 403: {:?}",
        out.stderr
            .lines()
            .filter(|l| l.contains("403"))
            .collect::<Vec<_>>()
    );
    // IAM and ELBv2: AccessDenied.
    creds
        .aws(
            &srv,
            &[
                "iam",
                "create-role",
                "--role-name",
                "x",
                "--assume-role-policy-document",
                TRUST,
            ],
        )
        .fails_with("AccessDenied", "iam:CreateRole");
    creds
        .aws(
            &srv,
            &[
                "iam",
                "attach-role-policy",
                "--role-name",
                "cni",
                "--policy-arn",
                "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
            ],
        )
        .fails_with(
            "AccessDenied",
            &format!("on resource: arn:aws:iam::{ACCOUNT}:role/cni"),
        );
    creds
        .aws(&srv, &["elbv2", "describe-load-balancers"])
        .fails_with("AccessDenied", "elasticloadbalancing:DescribeLoadBalancers");
    // The change feed (every row, secrets included) needs an explicit sixfold: permission.
    let temp_feed =
        FeedClient::new("us-east-1", &srv.endpoint, creds.sigv4()).expect("feed client");
    match temp_feed.snapshot() {
        Err(FeedError::Api {
            status: 403,
            kind,
            message,
            ..
        }) => {
            assert_eq!(kind, "AccessDeniedException");
            assert!(message.contains("sixfold:GetSnapshot"), "{message}");
        }
        other => panic!("a temporary caller read the snapshot: {other:?}"),
    }
    // The region's own key stays unrestricted.
    srv.aws(&["eks", "list-clusters"]).json();

    // boto3 and the JS SDK see the same refusal code and the same allowed call.
    for sdk in [Sdk::Boto3, Sdk::Js] {
        let out = srv.sdk(
            sdk,
            "authz",
            &json!({"key": creds.key, "secret": creds.secret, "token": creds.token, "instance_id": id, "eni": eni}),
        );
        assert_eq!(out["described"], id.as_str(), "{sdk:?} {out}");
        assert_eq!(
            out["assign_error"], "UnauthorizedOperation",
            "{sdk:?} {out}"
        );
        assert_eq!(out["eks_error"], "AccessDeniedException", "{sdk:?} {out}");
    }
}

/// The IAM instance profile calls with IAM's answers and errors, and RunInstances with
/// `--iam-instance-profile` and DescribeInstances showing it.
#[test]
fn instance_profiles_as_iam_answers_them_and_on_run_instances() {
    let srv = Server::start();
    let (_, subnet) = network(&srv);
    role(&srv, "node");
    role(&srv, "other");
    let made = srv
        .aws(&[
            "iam",
            "create-instance-profile",
            "--instance-profile-name",
            "nodes",
            "--path",
            "/eks/",
        ])
        .json();
    let arn = s(&made["InstanceProfile"]["Arn"]);
    assert_eq!(
        arn,
        format!("arn:aws:iam::{ACCOUNT}:instance-profile/eks/nodes")
    );
    let pid = s(&made["InstanceProfile"]["InstanceProfileId"]);
    assert!(pid.starts_with("AIPA"), "{pid}");
    srv.aws(&[
        "iam",
        "create-instance-profile",
        "--instance-profile-name",
        "nodes",
    ])
    .fails_with("EntityAlreadyExists", "nodes");
    let add = |role: &str| {
        srv.aws(&[
            "iam",
            "add-role-to-instance-profile",
            "--instance-profile-name",
            "nodes",
            "--role-name",
            role,
        ])
    };
    add("ghost").fails_with("NoSuchEntity", "ghost");
    add("node").json();
    add("other").fails_with("LimitExceeded", "InstanceSessionsPerInstanceProfile");
    let g = srv
        .aws(&[
            "iam",
            "get-instance-profile",
            "--instance-profile-name",
            "nodes",
        ])
        .json();
    assert_eq!(g["InstanceProfile"]["Roles"][0]["RoleName"], "node");
    assert_eq!(g["InstanceProfile"]["Path"], "/eks/");
    let l = srv
        .aws(&["iam", "list-instance-profiles", "--path-prefix", "/eks/"])
        .json();
    assert_eq!(l["InstanceProfiles"].as_array().map(Vec::len), Some(1));
    let l = srv
        .aws(&[
            "iam",
            "list-instance-profiles-for-role",
            "--role-name",
            "node",
        ])
        .json();
    assert_eq!(l["InstanceProfiles"][0]["InstanceProfileName"], "nodes");
    let l = srv
        .aws(&[
            "iam",
            "list-instance-profiles-for-role",
            "--role-name",
            "other",
        ])
        .json();
    assert_eq!(l["InstanceProfiles"].as_array().map(Vec::len), Some(0));

    // Launch by ARN; describe-instances shows the association.
    let run = run_instance(
        &srv,
        &subnet,
        &["--iam-instance-profile", &format!("Arn={arn}")],
    )
    .json();
    let id = s(&run["Instances"][0]["InstanceId"]);
    let d = srv
        .aws(&["ec2", "describe-instances", "--instance-ids", &id])
        .json();
    let shown = &d["Reservations"][0]["Instances"][0]["IamInstanceProfile"];
    assert_eq!(shown["Arn"], arn.as_str());
    assert_eq!(shown["Id"], pid.as_str());
    run_instance(&srv, &subnet, &["--iam-instance-profile", "Name=nope"])
        .fails_with("InvalidParameterValue", "nope");
    // An instance without a profile has no IamInstanceProfile and no credentials.
    let bare = s(&run_instance(&srv, &subnet, &[]).json()["Instances"][0]["InstanceId"]);
    let d = srv
        .aws(&["ec2", "describe-instances", "--instance-ids", &bare])
        .json();
    assert!(
        d["Reservations"][0]["Instances"][0]
            .get("IamInstanceProfile")
            .is_none()
    );

    let creds = feed(&srv).instance_credentials(&id).expect("credentials");
    assert_eq!(creds["RoleName"], "node");

    // Delete: refused while it holds a role, then done.
    srv.aws(&[
        "iam",
        "delete-instance-profile",
        "--instance-profile-name",
        "nodes",
    ])
    .fails_with("DeleteConflict", "must remove roles");
    srv.aws(&[
        "iam",
        "remove-role-from-instance-profile",
        "--instance-profile-name",
        "nodes",
        "--role-name",
        "node",
    ])
    .json();
    // The instance keeps the association, but its profile holds no role: 404.
    match feed(&srv).instance_credentials(&id) {
        Err(FeedError::Api {
            status: 404, kind, ..
        }) => assert_eq!(kind, "NoRoleInInstanceProfile"),
        other => panic!("credentials without a role: {other:?}"),
    }
    srv.aws(&[
        "iam",
        "delete-instance-profile",
        "--instance-profile-name",
        "nodes",
    ])
    .json();
    srv.aws(&[
        "iam",
        "get-instance-profile",
        "--instance-profile-name",
        "nodes",
    ])
    .fails_with("NoSuchEntity", "nodes");
}

/// A node group's nodes are launched with an instance profile of its node role (as EKS makes
/// one for CreateNodegroup), so they get that role's credentials.
#[test]
fn a_node_groups_nodes_get_their_node_roles_credentials() {
    let srv = Server::start();
    let (_, subnet) = network(&srv);
    role(&srv, "node");
    srv.aws(&[
        "eks",
        "create-cluster",
        "--name",
        "c",
        "--role-arn",
        &format!("arn:aws:iam::{ACCOUNT}:role/eks"),
        "--resources-vpc-config",
        &format!("subnetIds={subnet}"),
    ])
    .json();
    srv.aws(&[
        "eks",
        "create-nodegroup",
        "--cluster-name",
        "c",
        "--nodegroup-name",
        "ng",
        "--node-role",
        &format!("arn:aws:iam::{ACCOUNT}:role/node"),
        "--subnets",
        &subnet,
        "--scaling-config",
        "minSize=1,maxSize=2,desiredSize=1",
    ])
    .json();
    let d = srv
        .aws(&[
            "ec2",
            "describe-instances",
            "--filters",
            "Name=tag:eks:nodegroup-name,Values=ng",
        ])
        .json();
    let node = &d["Reservations"][0]["Instances"][0];
    let profile_arn = s(&node["IamInstanceProfile"]["Arn"]);
    let profile = profile_arn.rsplit('/').next().unwrap().to_string();
    let g = srv
        .aws(&[
            "iam",
            "get-instance-profile",
            "--instance-profile-name",
            &profile,
        ])
        .json();
    assert_eq!(g["InstanceProfile"]["Roles"][0]["RoleName"], "node");
    let creds = feed(&srv)
        .instance_credentials(&s(&node["InstanceId"]))
        .expect("node credentials");
    assert_eq!(creds["RoleName"], "node");
    // The profile EKS made goes with the node group.
    srv.aws(&[
        "eks",
        "delete-nodegroup",
        "--cluster-name",
        "c",
        "--nodegroup-name",
        "ng",
    ])
    .json();
    srv.aws(&[
        "iam",
        "get-instance-profile",
        "--instance-profile-name",
        &profile,
    ])
    .fails_with("NoSuchEntity", &profile);
}

/// The endpoint: signed only, IMDS's JSON shape, 404s that say why, and credentials that act
/// as the role (refused once the role loses the permission, with no new credentials needed).
#[test]
fn the_instance_credentials_endpoint_serves_imds_documents_to_signed_callers_only() {
    let srv = Server::start();
    let (_, subnet) = network(&srv);
    role(&srv, "node");
    put_policy(&srv, "node", "describe", DESCRIBE_ONLY);
    profile(&srv, "p", "node");
    let id = s(
        &run_instance(&srv, &subnet, &["--iam-instance-profile", "Name=p"]).json()["Instances"][0]
            ["InstanceId"],
    );
    let bare = s(&run_instance(&srv, &subnet, &[]).json()["Instances"][0]["InstanceId"]);

    let doc = feed(&srv).instance_credentials(&id).expect("credentials");
    assert_eq!(doc["Code"], "Success");
    assert_eq!(doc["Type"], "AWS-HMAC");
    assert_eq!(doc["RoleName"], "node");
    assert!(s(&doc["AccessKeyId"]).starts_with("ASIA"));
    assert_eq!(s(&doc["SecretAccessKey"]).len(), 40);
    assert!(!s(&doc["Token"]).is_empty());
    for k in ["Expiration", "LastUpdated"] {
        let t = s(&doc[k]);
        assert!(t.ends_with('Z') && t.len() == 20, "{k} {t}");
    }
    assert!(s(&doc["Expiration"]) > s(&doc["LastUpdated"]));
    // Each call issues fresh credentials.
    let again = feed(&srv).instance_credentials(&id).expect("credentials");
    assert_ne!(again["AccessKeyId"], doc["AccessKeyId"]);

    // Unsigned: refused.
    let url = format!("{}/sixfold/v1/instance-credentials/{id}", srv.endpoint);
    match ureq::get(&url).timeout(Duration::from_secs(10)).call() {
        Err(ureq::Error::Status(code, r)) => {
            assert!(code == 401 || code == 403, "{code}");
            let body = r.into_string().unwrap();
            assert!(!body.contains("ASIA"), "{body}");
        }
        other => panic!("an unsigned request was answered: {other:?}"),
    }
    // No profile / no such instance / not an id: 404, 404, 400, each saying why.
    for (instance, status, kind) in [
        (bare.as_str(), 404, "NoInstanceProfile"),
        ("i-0000000000000000f", 404, "InstanceNotFound"),
        ("vpc-1", 400, "InvalidParameterException"),
    ] {
        match feed(&srv).instance_credentials(instance) {
            Err(FeedError::Api {
                status: st,
                kind: k,
                message,
                ..
            }) => {
                assert_eq!((st, k.as_str()), (status, kind), "{instance}: {message}");
                assert!(message.contains(instance), "{message}");
            }
            other => panic!("{instance}: {other:?}"),
        }
    }

    // The credentials act as the role: describe works; once the policy is gone it is refused
    // with the same credentials.
    let creds = Creds::from_imds(&doc);
    creds.aws(&srv, &["ec2", "describe-vpcs"]).json();
    srv.aws(&[
        "iam",
        "delete-role-policy",
        "--role-name",
        "node",
        "--policy-name",
        "describe",
    ])
    .json();
    creds
        .aws(&srv, &["ec2", "describe-vpcs"])
        .fails_with("UnauthorizedOperation", "ec2:DescribeVpcs");
    // Launching with a profile passes its role: iam:PassRole is needed besides ec2:RunInstances.
    put_policy(
        &srv,
        "node",
        "run",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*"}]}"#,
    );
    let launch = || {
        creds.aws(
            &srv,
            &[
                "ec2",
                "run-instances",
                "--image-id",
                "ami-0123456789abcdef0",
                "--instance-type",
                "m5.large",
                "--count",
                "1",
                "--subnet-id",
                &subnet,
                "--iam-instance-profile",
                "Name=p",
            ],
        )
    };
    launch().fails_with(
        "UnauthorizedOperation",
        &format!("iam:PassRole on resource: arn:aws:iam::{ACCOUNT}:role/node"),
    );
    put_policy(
        &srv,
        "node",
        "pass",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::*:role/node"}]}"#,
    );
    launch().json();
    // Temporary credentials cannot read other instances' credentials without a sixfold:
    // permission.
    let temp_feed =
        FeedClient::new("us-east-1", &srv.endpoint, creds.sigv4()).expect("feed client");
    match temp_feed.instance_credentials(&id) {
        Err(FeedError::Api {
            status: 403,
            message,
            ..
        }) => {
            assert!(
                message.contains("sixfold:GetInstanceCredentials"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
}
