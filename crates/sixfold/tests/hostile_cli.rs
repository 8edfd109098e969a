//! Hostile input through the real AWS CLI against the real `sixfold serve`: data the region
//! cannot render is refused at the edge, so `aws ec2 describe-vpcs` keeps parsing; DryRun is
//! strict; the requests that took the region down are answered at once with EC2's codes.

mod common;

use common::Server;

#[test]
fn aws_cli_keeps_parsing_describe_vpcs_after_hostile_tags() {
    let srv = Server::start();
    let vpc = srv.aws(&[
        "ec2",
        "create-vpc",
        "--cidr-block",
        "10.0.0.0/16",
        "--amazon-provided-ipv6-cidr-block",
    ]);
    let vpc = vpc.json()["Vpc"]["VpcId"]
        .as_str()
        .expect("VpcId")
        .to_string();
    srv.aws(&[
        "ec2",
        "create-tags",
        "--resources",
        &vpc,
        "--tags",
        r#"[{"Key":"Name","Value":"lab\u0001"}]"#,
    ])
    .fails_with("InvalidParameterValue", "U+0001");
    srv.aws(&[
        "ec2",
        "create-tags",
        "--resources",
        &vpc,
        "--tags",
        "Key=aws:x,Value=v",
    ])
    .fails_with("InvalidParameterValue", "aws:");
    srv.aws(&[
        "ec2",
        "create-tags",
        "--resources",
        &vpc,
        "--tags",
        r#"[{"Key":"note","Value":"a\tb\nc"}]"#,
    ])
    .json();
    let out = srv.aws(&["ec2", "describe-vpcs"]).json();
    let tags = &out["Vpcs"][0]["Tags"];
    assert_eq!(tags[0]["Value"], "a\tb\nc", "{out}");
    assert_eq!(tags.as_array().map(Vec::len), Some(1), "{out}");

    srv.aws(&["ec2", "describe-vpcs", "--dry-run"])
        .fails_with("DryRunOperation", "DryRun flag is set");
    let stars = "*".repeat(60_000);
    srv.aws(&[
        "ec2",
        "describe-vpcs",
        "--filters",
        &format!("Name=vpc-id,Values={stars}"),
    ])
    .fails_with("InvalidParameterValue", "60000 characters");
    let backtrack = format!("Name=tag:note,Values={}*b", "*a".repeat(14));
    let out = srv
        .aws(&["ec2", "describe-vpcs", "--filters", &backtrack])
        .json();
    assert_eq!(out["Vpcs"], serde_json::json!([]), "{out}");
}
