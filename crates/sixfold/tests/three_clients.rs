//! End to end with three independent clients: the AWS CLI, boto3 and the AWS SDK for
//! JavaScript v3 drive the same real `sixfold serve`; every reply must parse in all three and the
//! same steps must give the same results. The SDK scripts live in `tests/clients/`.

mod common;

use common::Server;
use common::clients::Sdk;
use serde_json::{Value, json};

fn vpc_ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v
        .as_array()
        .expect("a list of VPCs")
        .iter()
        .map(|x| x["VpcId"].as_str().expect("VpcId").to_string())
        .collect();
    ids.sort();
    ids
}

/// Every VPC in a DescribeVpcs answer has the fields all three clients rely on.
fn assert_vpc_shape(who: &str, vpcs: &Value) {
    for v in vpcs.as_array().expect("vpcs") {
        assert!(v["CidrBlock"].as_str().is_some(), "{who}: {v}");
        assert_eq!(v["State"], json!("available"), "{who}: {v}");
        assert_eq!(v["OwnerId"], json!("123456789012"), "{who}: {v}");
        assert_eq!(v["IsDefault"], json!(false), "{who}: {v}");
    }
}

#[test]
fn the_aws_cli_parses_describe_vpcs() {
    let srv = Server::start();
    let made = srv
        .aws(&["ec2", "create-vpc", "--cidr-block", "10.7.0.0/16"])
        .json();
    let id = made["Vpc"]["VpcId"].as_str().expect("VpcId").to_string();
    let vpcs = srv.aws(&["ec2", "describe-vpcs"]).json();
    assert_eq!(vpc_ids(&vpcs["Vpcs"]), vec![id]);
    assert_vpc_shape("aws cli", &vpcs["Vpcs"]);
}

/// `smoke.{py,mjs}` makes a VPC and describes them all; the set must hold it and one made by the
/// AWS CLI before, so the script's parse of a real multi-item reply is checked.
fn sdk_parses_describe_vpcs(sdk: Sdk) {
    let srv = Server::start();
    let before = srv
        .aws(&["ec2", "create-vpc", "--cidr-block", "10.8.0.0/16"])
        .json();
    let out = srv.sdk(sdk, "smoke", &json!({}));
    let mut want = vec![
        before["Vpc"]["VpcId"].as_str().expect("VpcId").to_string(),
        out["created"].as_str().expect("created").to_string(),
    ];
    want.sort();
    assert_eq!(vpc_ids(&out["vpcs"]), want, "{sdk:?} sees every VPC");
    assert_vpc_shape(&format!("{sdk:?}"), &out["vpcs"]);
}

#[test]
fn boto3_parses_describe_vpcs() {
    sdk_parses_describe_vpcs(Sdk::Boto3);
}

#[test]
fn the_js_sdk_parses_describe_vpcs() {
    sdk_parses_describe_vpcs(Sdk::Js);
}
