//! The EC2 Query API: `Action=...&Version=2016-11-15` form posts answered with XML. [`ACTIONS`]
//! is the one table of served actions: dispatch, the InvalidAction message and the docs test all
//! read it.

pub(crate) mod compute;
pub(crate) mod error;
pub(crate) mod groups;
pub(crate) mod input;
pub(crate) mod limits;
pub(crate) mod network;
pub(crate) mod page;
pub(crate) mod render;

use region::Region;
use region::ec2::Ec2Error;
use region::ec2::page::{PageRequest, Paged};

use crate::query::Params;
use crate::xml::Xml;

/// The XML namespace of every EC2 reply.
pub const XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";
/// The EC2 API version this server speaks (and the only `Version` it accepts).
pub const VERSION: &str = "2016-11-15";

/// An EC2 answer: HTTP status and XML body.
pub struct Reply {
    /// HTTP status: 200, or the status of the error in `body`.
    pub status: u16,
    /// The XML document: the action's `...Response`, or `<Response><Errors>`.
    pub body: String,
}

/// What a handler works with.
pub struct Ctx<'a> {
    /// The region, through which writes run (or, with `DryRun=true`, run and are undone).
    pub region: &'a Writer<'a>,
    /// The action being answered.
    pub action: &'a str,
    /// The account that owns everything.
    pub owner: String,
    /// The region's name (`us-east-1`).
    pub rname: String,
    /// Key of the `NextToken` HMAC.
    pub token_key: &'a [u8],
}

/// One action's handler: the inner XML of `<ActionResponse>`.
pub type Handler = fn(&Ctx, &Params) -> Result<Xml, Ec2Error>;

/// Every served action and its handler: the single source of what this endpoint answers.
pub const ACTIONS: &[(&str, Handler)] = &[
    ("CreateVpc", network::create_vpc),
    ("AssociateVpcCidrBlock", network::associate_vpc_cidr_block),
    (
        "DisassociateVpcCidrBlock",
        network::disassociate_vpc_cidr_block,
    ),
    ("DescribeVpcs", network::describe_vpcs),
    ("DescribeVpcAttribute", network::describe_vpc_attribute),
    ("ModifyVpcAttribute", network::modify_vpc_attribute),
    ("DeleteVpc", network::delete_vpc),
    ("CreateSubnet", network::create_subnet),
    (
        "AssociateSubnetCidrBlock",
        network::associate_subnet_cidr_block,
    ),
    (
        "DisassociateSubnetCidrBlock",
        network::disassociate_subnet_cidr_block,
    ),
    ("ModifySubnetAttribute", network::modify_subnet_attribute),
    ("DescribeSubnets", network::describe_subnets),
    ("DeleteSubnet", network::delete_subnet),
    ("CreateInternetGateway", network::create_internet_gateway),
    ("AttachInternetGateway", network::attach_internet_gateway),
    ("DetachInternetGateway", network::detach_internet_gateway),
    ("DeleteInternetGateway", network::delete_internet_gateway),
    (
        "DescribeInternetGateways",
        network::describe_internet_gateways,
    ),
    (
        "CreateEgressOnlyInternetGateway",
        network::create_egress_only_internet_gateway,
    ),
    (
        "DeleteEgressOnlyInternetGateway",
        network::delete_egress_only_internet_gateway,
    ),
    (
        "DescribeEgressOnlyInternetGateways",
        network::describe_egress_only_internet_gateways,
    ),
    ("CreateRouteTable", network::create_route_table),
    ("CreateRoute", network::create_route),
    ("ReplaceRoute", network::replace_route),
    ("DeleteRoute", network::delete_route),
    ("AssociateRouteTable", network::associate_route_table),
    ("DisassociateRouteTable", network::disassociate_route_table),
    ("DeleteRouteTable", network::delete_route_table),
    ("DescribeRouteTables", network::describe_route_tables),
    ("CreateSecurityGroup", groups::create_security_group),
    ("AuthorizeSecurityGroupIngress", groups::authorize),
    ("AuthorizeSecurityGroupEgress", groups::authorize),
    ("RevokeSecurityGroupIngress", groups::revoke),
    ("RevokeSecurityGroupEgress", groups::revoke),
    ("DeleteSecurityGroup", groups::delete_security_group),
    ("DescribeSecurityGroups", groups::describe_security_groups),
    (
        "DescribeSecurityGroupRules",
        groups::describe_security_group_rules,
    ),
    (
        "DescribeAvailabilityZones",
        compute::describe_availability_zones,
    ),
    ("DescribeInstanceTypes", compute::describe_instance_types),
    ("RunInstances", compute::run_instances),
    ("DescribeInstances", compute::describe_instances),
    ("TerminateInstances", compute::terminate_instances),
    ("CreateNetworkInterface", compute::create_network_interface),
    ("DeleteNetworkInterface", compute::delete_network_interface),
    ("AttachNetworkInterface", compute::attach_network_interface),
    ("DetachNetworkInterface", compute::detach_network_interface),
    (
        "ModifyNetworkInterfaceAttribute",
        compute::modify_network_interface_attribute,
    ),
    (
        "DescribeNetworkInterfaces",
        compute::describe_network_interfaces,
    ),
    ("AssignIpv6Addresses", compute::assign_ipv6_addresses),
    ("UnassignIpv6Addresses", compute::unassign_ipv6_addresses),
    ("CreateLaunchTemplate", compute::create_launch_template),
    (
        "DescribeLaunchTemplates",
        compute::describe_launch_templates,
    ),
    ("CreateTags", compute::create_tags),
    ("DeleteTags", compute::delete_tags),
    ("DescribeTags", compute::describe_tags),
];

/// The names of every served action, in table order.
pub fn action_names() -> impl Iterator<Item = &'static str> {
    ACTIONS.iter().map(|(a, _)| *a)
}

/// `<Response><Errors><Error>...` as EC2 sends it.
pub fn error_reply(status: u16, code: &str, message: &str, request_id: &str) -> Reply {
    let mut x = Xml::new();
    x.open("Response")
        .open("Errors")
        .open("Error")
        .leaf("Code", code)
        .leaf("Message", message)
        .close("Error")
        .close("Errors")
        .leaf("RequestID", request_id)
        .close("Response");
    Reply {
        status,
        body: format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}", x.finish()),
    }
}

fn domain_error(e: &Ec2Error, request_id: &str) -> Reply {
    let (status, code) = error::code(e);
    if status >= 500 {
        tracing::error!(error = %e, request_id, "EC2 request failed inside the region");
    }
    error_reply(status, &code, &error::message(e), request_id)
}

/// Answer one EC2 request (already authenticated). `token_key` signs pagination tokens.
pub fn handle(region: &Region, token_key: &[u8], params: &Params, request_id: &str) -> Reply {
    let Some(action) = params.get("Action").filter(|a| !a.is_empty()) else {
        return error_reply(
            400,
            "MissingAction",
            "The request must contain the parameter Action.",
            request_id,
        );
    };
    if let Some(v) = params.get("Version")
        && v != VERSION
    {
        return error_reply(
            400,
            "InvalidParameterValue",
            &format!(
                "Invalid value '{v}' for Version. This endpoint speaks EC2 API version {VERSION}."
            ),
            request_id,
        );
    }
    if let Err(e) = limits::check(params) {
        return domain_error(&e, request_id);
    }
    let Some((_, handler)) = ACTIONS.iter().find(|(a, _)| *a == action) else {
        return error_reply(
            400,
            "InvalidAction",
            &format!(
                "The action {action} is not valid for this web service. Supported actions: {}.",
                action_names().collect::<Vec<_>>().join(", ")
            ),
            request_id,
        );
    };
    let dry_run = match params.bool("DryRun") {
        Ok(d) => d == Some(true),
        Err(e) => return domain_error(&e, request_id),
    };
    let writer = Writer { region, dry_run };
    let ctx = Ctx {
        region: &writer,
        action: &action,
        owner: region.config().account_id.clone(),
        rname: region.config().name.clone(),
        token_key,
    };
    match handler(&ctx, params) {
        // A dry run answers only once the request has been checked as a real one would be.
        Ok(_) if dry_run => error_reply(
            412,
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
            request_id,
        ),
        Ok(inner) => {
            let tag = format!("{action}Response");
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{tag} xmlns=\"{XMLNS}\"><requestId>{request_id}</requestId>{}</{tag}>",
                inner.finish()
            );
            Reply { status: 200, body }
        }
        Err(e) => domain_error(&e, request_id),
    }
}

/// The region as an action sees it: with `DryRun=true` every write runs and is then undone
/// ([`Region::dry_run`]), so the answer says whether the request would have succeeded.
pub struct Writer<'a> {
    region: &'a Region,
    dry_run: bool,
}

impl std::ops::Deref for Writer<'_> {
    type Target = Region;
    fn deref(&self) -> &Region {
        self.region
    }
}

impl Writer<'_> {
    /// Run `op` as one atomic write of the region, or, for a dry run, check it and keep nothing.
    pub fn write<R, E: From<region::store::StoreError>>(
        &self,
        op: impl FnMut(&mut region::state::State, &mut region::Env) -> Result<R, E>,
    ) -> Result<R, E> {
        if self.dry_run {
            self.region.dry_run(op)
        } else {
            self.region.write(op)
        }
    }
}

impl Ctx<'_> {
    /// The page this request asks for (see [`page::request`]).
    pub fn page(&self, p: &Params, ids_param: Option<&str>) -> Result<PageRequest, Ec2Error> {
        page::request(self.token_key, self.action, p, ids_param)
    }

    /// `<nextToken>` when more results follow.
    pub fn next_token<T>(&self, x: &mut Xml, paged: &Paged<T>) {
        if let Some(last) = &paged.last {
            x.leaf("nextToken", page::encode(self.token_key, self.action, last));
        }
    }

    /// The `ClientToken` of an idempotent call with the fingerprint of the rest of the request.
    pub fn client_token(&self, p: &Params) -> Option<(String, String)> {
        let token = p.get("ClientToken")?;
        let fp = region::ec2::tokens::fingerprint(
            p.iter()
                .filter(|(k, _)| !matches!(*k, "ClientToken" | "DryRun" | "Action" | "Version")),
        );
        Some((token, fp))
    }
}

/// `<return>true</return>`.
pub fn ok_return() -> Xml {
    let mut x = Xml::new();
    x.leaf("return", true);
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_region_md_lists_every_served_ec2_action() {
        let doc = include_str!("../../../../docs/region.md");
        let missing: Vec<&str> = action_names()
            .filter(|a| !doc.contains(&format!("`{a}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "docs/region.md does not list {missing:?}"
        );
    }

    #[test]
    fn the_invalid_action_message_lists_exactly_the_served_actions() {
        let region = region::Region::open(
            region::RegionConfig {
                name: "us-east-1".into(),
                account_id: "123456789012".into(),
            },
            Box::new(region::store::MemStore::default()),
            Box::new(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1)),
            Box::new(|| 0),
        )
        .unwrap();
        let r = handle(
            &region,
            b"k",
            &Params::parse(b"Action=Nope&Version=2016-11-15"),
            "r",
        );
        let listed = r
            .body
            .split_once("Supported actions: ")
            .and_then(|(_, rest)| rest.split_once(".</Message>"))
            .map(|(l, _)| l.split(", ").collect::<Vec<_>>())
            .unwrap();
        assert_eq!(listed, action_names().collect::<Vec<_>>());
    }

    #[test]
    fn every_action_is_served_once() {
        let mut names: Vec<&str> = action_names().collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "an action appears twice in ACTIONS");
    }
}
