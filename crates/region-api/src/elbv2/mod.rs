//! Elastic Load Balancing v2 over the Query protocol (`Version=2015-12-01`, signing name
//! `elasticloadbalancing`): form posts to `/` answered with awsQuery XML
//! (`<XResponse><XResult>..</XResult><ResponseMetadata>..`), errors as
//! `<ErrorResponse><Error><Type>Sender</Type><Code>..`. [`ACTIONS`] is the one table of what is
//! served: dispatch, the `InvalidAction` message and the docs list all come from it.

pub(crate) mod error;
pub(crate) mod render;

use std::sync::Arc;

use axum::response::Response;
use region::Region;
use region::elb::ElbError;
use region::elb::listeners::CreateListener;
use region::elb::load_balancers::{CreateLoadBalancer, Select};
use region::elb::model::{LbIpType, LbType, Protocol, Scheme, Tags, TargetType, TgIpType};
use region::elb::target_groups::{CreateTargetGroup, HealthCheckInput, TargetInput};

use crate::awsquery;
use crate::ec2::limits::{bad_char, shown};
use crate::query::Params;
use crate::xml::Xml;
use crate::{App, Incoming};

/// The XML namespace of every ELBv2 reply.
pub const XMLNS: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";
/// The ELBv2 API version this server speaks.
pub const VERSION: &str = "2015-12-01";

/// Most parameters of one request.
pub const MAX_PARAMS: usize = 1000;
/// Longest value of any parameter, in characters.
pub const MAX_VALUE: usize = 2048;
/// Most items of a list parameter other than targets and tags (names, ARNs, subnets).
pub const MAX_LIST: usize = 20;
/// Most security groups of a load balancer (AWS: 5).
pub const MAX_SECURITY_GROUPS: usize = 5;

/// An action's handler: the parameters in, the inner XML of `<ActionResult>` out.
type Handler = fn(&Region, &Params) -> Result<String, ElbError>;

/// Every action served, with its handler.
pub const ACTIONS: &[(&str, Handler)] = &[
    ("CreateLoadBalancer", create_load_balancer),
    ("DescribeLoadBalancers", describe_load_balancers),
    ("DeleteLoadBalancer", delete_load_balancer),
    ("SetIpAddressType", set_ip_address_type),
    ("CreateTargetGroup", create_target_group),
    ("DescribeTargetGroups", describe_target_groups),
    ("DeleteTargetGroup", delete_target_group),
    ("RegisterTargets", register_targets),
    ("DeregisterTargets", deregister_targets),
    ("DescribeTargetHealth", describe_target_health),
    ("CreateListener", create_listener),
    ("DescribeListeners", describe_listeners),
    ("DeleteListener", delete_listener),
    ("AddTags", add_tags),
    ("RemoveTags", remove_tags),
    ("DescribeTags", describe_tags),
];

/// `<ErrorResponse><Error><Type>..</Type><Code>..</Code><Message>..` as ELBv2 sends it (the
/// Query protocol's error form, in ELBv2's namespace).
pub fn error_xml(status: u16, code: &str, message: &str, request_id: &str) -> Response {
    awsquery::error(XMLNS, status, code, message, request_id)
}

fn domain_error(e: &ElbError, request_id: &str) -> Response {
    let (status, code) = error::code(e);
    if status >= 500 {
        tracing::error!(error = %e, request_id, "ELBv2 request failed inside the region");
    }
    error_xml(status, code, &error::message(e), request_id)
}

/// Serve one ELBv2 Query request.
pub async fn handle(app: Arc<App>, req: Incoming) -> Response {
    let request_id = req.request_id.clone();
    let caller = match app.authenticate("elasticloadbalancing", &req) {
        Ok(c) => c,
        Err(e) => return error_xml(e.ec2_status(), e.ec2_code(), &e.message(), &request_id),
    };
    let params = Params::from_request(&req.method, &req.query, &req.body);
    if let Some(action) = params
        .get("Action")
        .filter(|a| caller.role_arn.is_some() && ACTIONS.iter().any(|(n, _)| n == a))
    {
        let resources = match crate::authz::elbv2(&action, &params) {
            Ok(r) => r,
            Err(e) => return error_xml(400, "ValidationError", &e.to_string(), &request_id),
        };
        let name = format!("elasticloadbalancing:{action}");
        if let Err(d) = app.authorize(&caller, &name, &resources) {
            return error_xml(403, "AccessDenied", &d.message(), &request_id);
        }
    }
    let app2 = app.clone();
    let rid = request_id.clone();
    match tokio::task::spawn_blocking(move || run(&app2.region, &params, &rid)).await {
        Ok(r) => r,
        Err(_) => error_xml(
            500,
            "InternalFailure",
            "An internal error occurred; please retry.",
            &request_id,
        ),
    }
}

/// Bounds on every parameter: count, length, no characters XML cannot carry.
fn check_limits(p: &Params) -> Result<(), ElbError> {
    let mut n = 0;
    for (k, v) in p.iter() {
        n += 1;
        if n > MAX_PARAMS {
            return Err(ElbError::validation(format!(
                "The request has more than {MAX_PARAMS} parameters; send fewer items per call."
            )));
        }
        for s in [k, v] {
            if let Some((i, c)) = bad_char(s) {
                return Err(ElbError::invalid(
                    k,
                    shown(s),
                    format!(
                        "The value holds the character U+{:04X} at position {i}, which is not accepted; remove it.",
                        c as u32
                    ),
                ));
            }
            if s.chars().count() > MAX_VALUE {
                return Err(ElbError::invalid(
                    k,
                    shown(s),
                    format!("Values are at most {MAX_VALUE} characters."),
                ));
            }
        }
    }
    Ok(())
}

/// Answer one authenticated ELBv2 request.
pub fn run(region: &Region, p: &Params, request_id: &str) -> Response {
    let Some(action) = p.get("Action").filter(|a| !a.is_empty()) else {
        return error_xml(
            400,
            "MissingAction",
            "The request must contain the parameter Action.",
            request_id,
        );
    };
    if let Some(v) = p.get("Version").filter(|v| v != VERSION) {
        return error_xml(
            400,
            "InvalidParameterValue",
            &format!(
                "Invalid value '{}' for Version. This endpoint speaks Elastic Load Balancing API version {VERSION}.",
                shown(&v)
            ),
            request_id,
        );
    }
    let Some((_, handler)) = ACTIONS.iter().find(|(a, _)| *a == action) else {
        let served: Vec<&str> = ACTIONS.iter().map(|(a, _)| *a).collect();
        return error_xml(
            400,
            "InvalidAction",
            &format!(
                "The action {} is not valid for this endpoint; Elastic Load Balancing here serves {}.",
                shown(&action),
                served.join(", ")
            ),
            request_id,
        );
    };
    match check_limits(p).and_then(|()| handler(region, p)) {
        Ok(inner) => awsquery::ok(XMLNS, &action, Some(inner), request_id),
        Err(e) => domain_error(&e, request_id),
    }
}

// ---- parameter helpers ----

fn required(p: &Params, name: &str) -> Result<String, ElbError> {
    p.get(name).ok_or_else(|| ElbError::missing(name))
}

/// `Name.member.N`, at most `max` items.
fn list(p: &Params, name: &str, max: usize) -> Result<Vec<String>, ElbError> {
    let v = p.list(&format!("{name}.member"));
    if v.len() > max {
        return Err(ElbError::invalid(
            name,
            format!("{} items", v.len()),
            format!("Give at most {max}."),
        ));
    }
    Ok(v)
}

fn parse_enum<T>(
    p: &Params,
    name: &str,
    parse: fn(&str) -> Option<T>,
    choices: String,
) -> Result<Option<T>, ElbError> {
    match p.get(name) {
        None => Ok(None),
        Some(s) => parse(&s)
            .map(Some)
            .ok_or_else(|| ElbError::invalid(name, shown(&s), format!("Use one of {choices}."))),
    }
}

fn number<T: std::str::FromStr>(p: &Params, name: &str, what: &str) -> Result<Option<T>, ElbError> {
    match p.get(name) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| ElbError::invalid(name, shown(&s), format!("Give {what}."))),
    }
}

fn port(p: &Params, name: &str) -> Result<Option<u16>, ElbError> {
    number(p, name, "a port from 1 to 65535")
}

fn boolean(p: &Params, name: &str) -> Result<Option<bool>, ElbError> {
    match p.get(name).as_deref() {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(s) => Err(ElbError::invalid(name, shown(s), "Use true or false.")),
    }
}

/// `Tags.member.N.Key/Value`; a key given twice is `DuplicateTagKeys`.
fn tags(p: &Params) -> Result<Tags, ElbError> {
    let items = p.structs("Tags.member");
    if items.len() > region::elb::model::MAX_TAGS {
        return Err(ElbError::TooManyTags {
            message: format!(
                "{} tags exceed the quota of {} per resource; remove some.",
                items.len(),
                region::elb::model::MAX_TAGS
            ),
        });
    }
    let mut out = Tags::new();
    for t in items {
        let k = t
            .get("Key")
            .ok_or_else(|| ElbError::missing("Tags.member.N.Key"))?;
        if out
            .insert(k.clone(), t.get("Value").unwrap_or_default())
            .is_some()
        {
            return Err(ElbError::DuplicateTagKeys(k));
        }
    }
    Ok(out)
}

fn select(p: &Params, arns: &str, names: &str) -> Result<Select, ElbError> {
    Ok(Select {
        arns: list(p, arns, MAX_LIST)?,
        names: list(p, names, MAX_LIST)?,
        marker: p.get("Marker"),
        page_size: number(p, "PageSize", "a page size from 1 to 400")?,
    })
}

fn targets(p: &Params) -> Result<Vec<TargetInput>, ElbError> {
    let items = p.structs("Targets.member");
    if items.len() > region::elb::target_groups::MAX_TARGETS_PER_CALL {
        return Err(ElbError::invalid(
            "Targets",
            format!("{} targets", items.len()),
            format!(
                "Give at most {} targets per call.",
                region::elb::target_groups::MAX_TARGETS_PER_CALL
            ),
        ));
    }
    items
        .into_iter()
        .map(|t| {
            Ok(TargetInput {
                id: t
                    .get("Id")
                    .ok_or_else(|| ElbError::missing("Targets.member.N.Id"))?,
                port: port(&t, "Port")?,
                availability_zone: t.get("AvailabilityZone"),
            })
        })
        .collect()
}

fn next_marker(x: &mut Xml, next: Option<String>) {
    x.opt("NextMarker", next);
}

// ---- handlers ----

fn create_load_balancer(region: &Region, p: &Params) -> Result<String, ElbError> {
    let mut subnets = list(p, "Subnets", MAX_LIST)?;
    for m in p.structs("SubnetMappings.member") {
        if m.iter().any(|(k, _)| k != "SubnetId") {
            return Err(ElbError::validation(
                "SubnetMappings with allocation ids or addresses are not served here; give only SubnetId (or use --subnets).",
            ));
        }
        subnets.extend(m.get("SubnetId"));
    }
    if subnets.len() > MAX_LIST {
        return Err(ElbError::invalid(
            "Subnets",
            format!("{} subnets", subnets.len()),
            format!("Give at most {MAX_LIST}."),
        ));
    }
    let req = CreateLoadBalancer {
        name: required(p, "Name")?,
        lb_type: parse_enum(p, "Type", LbType::parse, LbType::choices())?
            .unwrap_or(LbType::Application),
        scheme: parse_enum(p, "Scheme", Scheme::parse, Scheme::choices())?
            .unwrap_or(Scheme::InternetFacing),
        ip_address_type: parse_enum(p, "IpAddressType", LbIpType::parse, LbIpType::choices())?
            .unwrap_or(LbIpType::Ipv4),
        subnets,
        security_groups: list(p, "SecurityGroups", MAX_SECURITY_GROUPS)?,
        tags: tags(p)?,
    };
    let lb = region.write(|s, env| s.create_load_balancer(env, req.clone()))?;
    let mut x = Xml::new();
    render::members(&mut x, "LoadBalancers", [&lb], render::load_balancer);
    Ok(x.finish())
}

fn describe_load_balancers(region: &Region, p: &Params) -> Result<String, ElbError> {
    let sel = select(p, "LoadBalancerArns", "Names")?;
    let (lbs, next) = region.read().describe_load_balancers(&sel)?;
    let mut x = Xml::new();
    render::members(&mut x, "LoadBalancers", &lbs, render::load_balancer);
    next_marker(&mut x, next);
    Ok(x.finish())
}

fn delete_load_balancer(region: &Region, p: &Params) -> Result<String, ElbError> {
    let arn = required(p, "LoadBalancerArn")?;
    region.write(|s, _| s.delete_load_balancer(&arn))?;
    Ok(String::new())
}

fn set_ip_address_type(region: &Region, p: &Params) -> Result<String, ElbError> {
    let arn = required(p, "LoadBalancerArn")?;
    let to = parse_enum(p, "IpAddressType", LbIpType::parse, LbIpType::choices())?
        .ok_or_else(|| ElbError::missing("IpAddressType"))?;
    let t = region.write(|s, _| s.set_ip_address_type(&arn, to))?;
    let mut x = Xml::new();
    x.leaf("IpAddressType", t);
    Ok(x.finish())
}

fn create_target_group(region: &Region, p: &Params) -> Result<String, ElbError> {
    let req = CreateTargetGroup {
        name: required(p, "Name")?,
        protocol: parse_enum(p, "Protocol", Protocol::parse, Protocol::choices())?,
        port: port(p, "Port")?,
        vpc_id: p.get("VpcId"),
        target_type: parse_enum(p, "TargetType", TargetType::parse, TargetType::choices())?
            .unwrap_or(TargetType::Instance),
        ip_address_type: parse_enum(p, "IpAddressType", TgIpType::parse, TgIpType::choices())?
            .unwrap_or(TgIpType::Ipv4),
        health: HealthCheckInput {
            enabled: boolean(p, "HealthCheckEnabled")?,
            protocol: parse_enum(
                p,
                "HealthCheckProtocol",
                Protocol::parse,
                Protocol::choices(),
            )?,
            port: p.get("HealthCheckPort"),
            path: p.get("HealthCheckPath"),
            interval_seconds: number(
                p,
                "HealthCheckIntervalSeconds",
                "a number of seconds from 5 to 300",
            )?,
            timeout_seconds: number(
                p,
                "HealthCheckTimeoutSeconds",
                "a number of seconds from 2 to 120",
            )?,
            healthy_threshold: number(p, "HealthyThresholdCount", "a count from 2 to 10")?,
            unhealthy_threshold: number(p, "UnhealthyThresholdCount", "a count from 2 to 10")?,
            matcher: p.get("Matcher.HttpCode"),
        },
        tags: tags(p)?,
    };
    let tg = region.write(|s, env| s.create_target_group(env, req.clone()))?;
    let mut x = Xml::new();
    render::members(&mut x, "TargetGroups", [&tg], |x, t| {
        render::target_group(x, t, &[])
    });
    Ok(x.finish())
}

fn describe_target_groups(region: &Region, p: &Params) -> Result<String, ElbError> {
    let sel = select(p, "TargetGroupArns", "Names")?;
    let lb = p.get("LoadBalancerArn");
    let state = region.read();
    let (tgs, next) = state.describe_target_groups(lb.as_deref(), &sel)?;
    let mut x = Xml::new();
    render::members(&mut x, "TargetGroups", &tgs, |x, t| {
        render::target_group(x, t, &state.target_group_load_balancers(&t.arn))
    });
    next_marker(&mut x, next);
    Ok(x.finish())
}

fn delete_target_group(region: &Region, p: &Params) -> Result<String, ElbError> {
    let arn = required(p, "TargetGroupArn")?;
    region.write(|s, _| s.delete_target_group(&arn))?;
    Ok(String::new())
}

fn register_targets(region: &Region, p: &Params) -> Result<String, ElbError> {
    let arn = required(p, "TargetGroupArn")?;
    let t = targets(p)?;
    region.write(|s, _| s.register_targets(&arn, &t))?;
    Ok(String::new())
}

fn deregister_targets(region: &Region, p: &Params) -> Result<String, ElbError> {
    let arn = required(p, "TargetGroupArn")?;
    let t = targets(p)?;
    region.write(|s, _| s.deregister_targets(&arn, &t))?;
    Ok(String::new())
}

fn describe_target_health(region: &Region, p: &Params) -> Result<String, ElbError> {
    let arn = required(p, "TargetGroupArn")?;
    let t = targets(p)?;
    let rows = region.read().describe_target_health(&arn, &t)?;
    let mut x = Xml::new();
    render::members(
        &mut x,
        "TargetHealthDescriptions",
        &rows,
        render::target_health,
    );
    Ok(x.finish())
}

fn create_listener(region: &Region, p: &Params) -> Result<String, ElbError> {
    let actions = p.structs("DefaultActions.member");
    let [action] = actions.as_slice() else {
        return Err(ElbError::invalid(
            "DefaultActions",
            format!("{} actions", actions.len()),
            "Give exactly one default action: Type=forward,TargetGroupArn=arn:...",
        ));
    };
    let kind = action.get("Type").unwrap_or_default();
    if kind != "forward" {
        return Err(ElbError::invalid(
            "DefaultActions.member.1.Type",
            shown(&kind),
            "Only forward actions are served here: Type=forward,TargetGroupArn=arn:...",
        ));
    }
    let mut groups: Vec<String> = action.get("TargetGroupArn").into_iter().collect();
    for g in action.structs("ForwardConfig.TargetGroups.member") {
        groups.extend(g.get("TargetGroupArn").filter(|a| !groups.contains(a)));
    }
    let [tg] = groups.as_slice() else {
        return Err(ElbError::invalid(
            "DefaultActions.member.1.TargetGroupArn",
            format!("{} target groups", groups.len()),
            "Forward to exactly one target group.",
        ));
    };
    let certs = p.structs("Certificates.member");
    if certs.len() > 1 {
        return Err(ElbError::invalid(
            "Certificates",
            format!("{} certificates", certs.len()),
            "Give one default certificate.",
        ));
    }
    let req = CreateListener {
        load_balancer_arn: required(p, "LoadBalancerArn")?,
        protocol: parse_enum(p, "Protocol", Protocol::parse, Protocol::choices())?,
        port: port(p, "Port")?,
        certificate_arn: certs.first().and_then(|c| c.get("CertificateArn")),
        target_group_arn: tg.clone(),
        tags: tags(p)?,
    };
    let l = region.write(|s, env| s.create_listener(env, req.clone()))?;
    let mut x = Xml::new();
    render::members(&mut x, "Listeners", [&l], render::listener);
    Ok(x.finish())
}

fn describe_listeners(region: &Region, p: &Params) -> Result<String, ElbError> {
    let arns = list(p, "ListenerArns", MAX_LIST)?;
    let lb = p.get("LoadBalancerArn");
    let size = number(p, "PageSize", "a page size from 1 to 400")?;
    let (ls, next) =
        region
            .read()
            .describe_listeners(lb.as_deref(), &arns, p.get("Marker").as_deref(), size)?;
    let mut x = Xml::new();
    render::members(&mut x, "Listeners", &ls, render::listener);
    next_marker(&mut x, next);
    Ok(x.finish())
}

fn delete_listener(region: &Region, p: &Params) -> Result<String, ElbError> {
    let arn = required(p, "ListenerArn")?;
    region.write(|s, _| s.delete_listener(&arn))?;
    Ok(String::new())
}

fn add_tags(region: &Region, p: &Params) -> Result<String, ElbError> {
    let arns = list(p, "ResourceArns", MAX_LIST)?;
    let t = tags(p)?;
    region.write(|s, _| s.elb_add_tags(&arns, &t))?;
    Ok(String::new())
}

fn remove_tags(region: &Region, p: &Params) -> Result<String, ElbError> {
    let arns = list(p, "ResourceArns", MAX_LIST)?;
    let keys = list(p, "TagKeys", region::elb::model::MAX_TAGS)?;
    region.write(|s, _| s.elb_remove_tags(&arns, &keys))?;
    Ok(String::new())
}

fn describe_tags(region: &Region, p: &Params) -> Result<String, ElbError> {
    let arns = list(p, "ResourceArns", MAX_LIST)?;
    let rows = region.read().elb_describe_tags(&arns)?;
    let mut x = Xml::new();
    render::members(&mut x, "TagDescriptions", &rows, |x, (arn, t)| {
        x.leaf("ResourceArn", arn);
        render::tags(x, t);
    });
    Ok(x.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use region::RegionConfig;
    use region::store::MemStore;

    fn region() -> Region {
        Region::open(
            RegionConfig {
                name: "us-east-1".into(),
                account_id: "123456789012".into(),
            },
            Box::new(MemStore::default()),
            Box::new(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1)),
            Box::new(|| 1_700_000_000),
        )
        .unwrap()
    }

    async fn answer(form: &str) -> (u16, String) {
        let r = run(&region(), &Params::parse(form.as_bytes()), "rid");
        let status = r.status().as_u16();
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn an_unknown_action_is_refused_naming_every_served_one() {
        let (status, body) = answer("Action=CreateRule&Version=2015-12-01").await;
        assert_eq!(status, 400);
        assert!(body.starts_with(&format!("<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type><Code>InvalidAction</Code>")), "{body}");
        assert!(body.contains("CreateRule"), "{body}");
        for (a, _) in ACTIONS {
            assert!(body.contains(a), "{a} missing from {body}");
        }
    }

    #[tokio::test]
    async fn a_wrong_version_or_a_missing_action_is_refused() {
        let (status, body) = answer("Action=DescribeLoadBalancers&Version=2012-06-01").await;
        assert_eq!(status, 400);
        assert!(
            body.contains("<Code>InvalidParameterValue</Code>") && body.contains("2012-06-01"),
            "{body}"
        );
        let (_, body) = answer("Version=2015-12-01").await;
        assert!(body.contains("<Code>MissingAction</Code>"), "{body}");
    }

    #[tokio::test]
    async fn replies_wrap_the_result_and_the_request_id() {
        let (status, body) = answer("Action=DescribeLoadBalancers&Version=2015-12-01").await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            format!(
                "<DescribeLoadBalancersResponse xmlns=\"{XMLNS}\"><DescribeLoadBalancersResult><LoadBalancers></LoadBalancers></DescribeLoadBalancersResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DescribeLoadBalancersResponse>"
            )
        );
    }

    #[tokio::test]
    async fn oversized_lists_and_values_are_refused_before_anything_runs() {
        let many: String = (1..=21)
            .map(|i| format!("&Names.member.{i}=n{i}"))
            .collect();
        let (_, body) = answer(&format!("Action=DescribeLoadBalancers{many}")).await;
        assert!(
            body.contains("<Code>ValidationError</Code>") && body.contains("21 items"),
            "{body}"
        );
        let long = "a".repeat(MAX_VALUE + 1);
        let (_, body) = answer(&format!("Action=DescribeLoadBalancers&Marker={long}")).await;
        assert!(
            body.contains("<Code>ValidationError</Code>") && body.contains("2048"),
            "{body}"
        );
        let (_, body) = answer("Action=CreateTargetGroup&Name=x&Port=99999").await;
        assert!(body.contains("&apos;99999&apos; for Port"), "{body}");
    }

    #[test]
    fn docs_list_every_served_action() {
        let doc = include_str!("../../../../docs/region.md");
        let section = doc
            .split("## Elastic Load Balancing v2")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("docs/region.md has an Elastic Load Balancing v2 section");
        for (a, _) in ACTIONS {
            assert!(
                section.contains(&format!("`{a}`")),
                "docs/region.md does not list {a}"
            );
        }
    }
}
