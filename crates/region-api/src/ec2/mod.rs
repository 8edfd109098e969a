//! The EC2 Query API: `Action=...&Version=2016-11-15` form posts answered with XML.

pub mod error;
pub mod limits;
pub mod render;

use region::Region;
use region::ec2::Ec2Error;
use region::ec2::instances::{AssignIpv6, RunInstances};
use region::ec2::model::Tags;
use region::ec2::security_groups::Permission;
use region::ec2::vpc::{CidrAssociation, CreateSubnet, CreateVpc};

use crate::query::Params;
use crate::xml::Xml;

pub const XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";
pub const VERSION: &str = "2016-11-15";

/// An EC2 answer: HTTP status and XML body.
pub struct Reply {
    pub status: u16,
    pub body: String,
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

/// The actions this endpoint answers.
pub const ACTIONS: &[&str] = &[
    "CreateVpc",
    "AssociateVpcCidrBlock",
    "DescribeVpcs",
    "DeleteVpc",
    "CreateSubnet",
    "ModifySubnetAttribute",
    "DescribeSubnets",
    "DeleteSubnet",
    "CreateInternetGateway",
    "AttachInternetGateway",
    "DetachInternetGateway",
    "DeleteInternetGateway",
    "DescribeInternetGateways",
    "CreateEgressOnlyInternetGateway",
    "DeleteEgressOnlyInternetGateway",
    "DescribeEgressOnlyInternetGateways",
    "CreateRouteTable",
    "CreateRoute",
    "DeleteRoute",
    "AssociateRouteTable",
    "DisassociateRouteTable",
    "DeleteRouteTable",
    "DescribeRouteTables",
    "CreateSecurityGroup",
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "DeleteSecurityGroup",
    "DescribeSecurityGroups",
    "DescribeInstanceTypes",
    "RunInstances",
    "DescribeInstances",
    "TerminateInstances",
    "DescribeNetworkInterfaces",
    "AssignIpv6Addresses",
    "UnassignIpv6Addresses",
    "CreateTags",
    "DeleteTags",
    "DescribeTags",
    "DescribeAvailabilityZones",
];

fn permissions(p: &Params) -> Vec<Permission> {
    let mut perms: Vec<Permission> = p
        .structs("IpPermissions")
        .into_iter()
        .map(|q| Permission {
            protocol: q.get("IpProtocol"),
            from_port: q.get("FromPort").and_then(|s| s.parse().ok()),
            to_port: q.get("ToPort").and_then(|s| s.parse().ok()),
            ipv4_ranges: q
                .structs("IpRanges")
                .into_iter()
                .filter_map(|r| Some((r.get("CidrIp")?, r.get("Description"))))
                .collect(),
            ipv6_ranges: q
                .structs("Ipv6Ranges")
                .into_iter()
                .filter_map(|r| Some((r.get("CidrIpv6")?, r.get("Description"))))
                .collect(),
            groups: q
                .structs("Groups")
                .into_iter()
                .filter_map(|r| r.get("GroupId"))
                .collect(),
        })
        .collect();
    // The shorthand form: --protocol/--port/--cidr (CidrIp + IpProtocol + FromPort/ToPort).
    if perms.is_empty()
        && (p.get("CidrIp").is_some()
            || p.get("IpProtocol").is_some()
            || p.get("SourceSecurityGroupName").is_some())
    {
        perms.push(Permission {
            protocol: p.get("IpProtocol"),
            from_port: p.get("FromPort").and_then(|s| s.parse().ok()),
            to_port: p.get("ToPort").and_then(|s| s.parse().ok()),
            ipv4_ranges: p.get("CidrIp").map(|c| vec![(c, None)]).unwrap_or_default(),
            ipv6_ranges: vec![],
            groups: vec![],
        });
    }
    perms
}

fn check_ports(p: &Params) -> Result<(), Ec2Error> {
    for q in p.structs("IpPermissions") {
        for f in ["FromPort", "ToPort"] {
            if let Some(v) = q.get(f) {
                if v.parse::<i32>().is_err() {
                    return Err(Ec2Error::invalid(
                        "IpPermissions",
                        v,
                        format!("{f} must be a whole number."),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Answer one EC2 request (already authenticated).
pub fn handle(region: &Region, params: &Params, request_id: &str) -> Reply {
    let Some(action) = params.get("Action").filter(|a| !a.is_empty()) else {
        return error_reply(
            400,
            "MissingAction",
            "The request must contain the parameter Action.",
            request_id,
        );
    };
    if let Some(v) = params.get("Version") {
        if v != VERSION {
            return error_reply(
                400,
                "InvalidParameterValue",
                &format!(
                    "Invalid value '{v}' for Version. This endpoint speaks EC2 API version {VERSION}."
                ),
                request_id,
            );
        }
    }
    if let Err(e) = limits::check(params) {
        return domain_error(&e, request_id);
    }
    let dry_run = match params.bool("DryRun") {
        Ok(d) => d == Some(true),
        Err(e) => return domain_error(&e, request_id),
    };
    let region = &Writer { region, dry_run };
    match dispatch(region, &action, params) {
        // A dry run answers only once the request has been checked as a real one would be.
        Ok(Some(_)) if dry_run => error_reply(
            412,
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
            request_id,
        ),
        Ok(Some(inner)) => {
            let mut x = Xml::new();
            let tag = format!("{action}Response");
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{tag} xmlns=\"{XMLNS}\"><requestId>{request_id}</requestId>{inner}</{tag}>"
            );
            let _ = &mut x;
            Reply { status: 200, body }
        }
        Ok(None) => error_reply(
            400,
            "InvalidAction",
            &format!(
                "The action {action} is not valid for this web service. Supported actions: {}.",
                ACTIONS.join(", ")
            ),
            request_id,
        ),
        Err(e) => domain_error(&e, request_id),
    }
}

/// The region as an action sees it: with `DryRun=true` every write runs and is then undone
/// ([`Region::dry_run`]), so the answer says whether the request would have succeeded.
struct Writer<'a> {
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
    fn write<R, E: From<region::store::StoreError>>(
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

fn ok_return() -> String {
    "<return>true</return>".into()
}

fn dispatch(region: &Writer, action: &str, p: &Params) -> Result<Option<String>, Ec2Error> {
    let owner = region.config().account_id.clone();
    let rname = region.config().name.clone();
    let mut x = Xml::new();
    match action {
        "CreateVpc" => {
            let req = CreateVpc {
                cidr_block: p.get("CidrBlock"),
                amazon_provided_ipv6: p.bool("AmazonProvidedIpv6CidrBlock")?.unwrap_or(false),
                tenancy: p.get("InstanceTenancy"),
                tags: p.tag_specs("vpc"),
            };
            if p.get("Ipv6CidrBlock").is_some() || p.get("Ipv6Pool").is_some() {
                return Err(Ec2Error::invalid(
                    "Ipv6CidrBlock",
                    p.get("Ipv6CidrBlock").unwrap_or_default(),
                    "Bring-your-own IPv6 pools are not offered here; use --amazon-provided-ipv6-cidr-block.",
                ));
            }
            let v = region.write(|s, env| s.create_vpc(env, req.clone()))?;
            x.open("vpc");
            render::vpc(&mut x, &v, &owner);
            x.close("vpc");
        }
        "AssociateVpcCidrBlock" => {
            let (vpc_id, a) = region.write(|s, env| {
                s.associate_vpc_cidr_block(
                    env,
                    p.get("VpcId"),
                    p.get("CidrBlock"),
                    p.bool("AmazonProvidedIpv6CidrBlock")?.unwrap_or(false),
                )
            })?;
            match a {
                CidrAssociation::V6(a) => {
                    x.open("ipv6CidrBlockAssociation");
                    render::ipv6_assoc(&mut x, &a, "ipv6CidrBlockState");
                    x.close("ipv6CidrBlockAssociation");
                }
                CidrAssociation::V4(a) => {
                    x.open("cidrBlockAssociation")
                        .leaf("associationId", &a.id)
                        .leaf("cidrBlock", a.cidr);
                    x.open("cidrBlockState")
                        .leaf("state", "associated")
                        .close("cidrBlockState");
                    x.close("cidrBlockAssociation");
                }
            }
            x.leaf("vpcId", vpc_id);
        }
        "DescribeVpcs" => {
            let s = region.read();
            let vpcs = s.describe_vpcs(&p.list("VpcId"), &p.filters())?;
            x.items("vpcSet", &vpcs, |x, v| render::vpc(x, v, &owner));
        }
        "DeleteVpc" => {
            region.write(|s, _| s.delete_vpc(p.get("VpcId")))?;
            x = raw(ok_return());
        }
        "CreateSubnet" => {
            let req = CreateSubnet {
                vpc_id: p.get("VpcId"),
                cidr_block: p.get("CidrBlock"),
                ipv6_cidr_block: p.get("Ipv6CidrBlock"),
                availability_zone: p.get("AvailabilityZone"),
                outpost_arn: p.get("OutpostArn"),
                tags: p.tag_specs("subnet"),
            };
            let sub = region.write(|s, env| s.create_subnet(env, req.clone()))?;
            let s = region.read();
            x.open("subnet");
            render::subnet(&mut x, &sub, &s, &owner, &rname);
            x.close("subnet");
        }
        "ModifySubnetAttribute" => {
            let assign = p.bool("AssignIpv6AddressOnCreation.Value")?;
            let public = p.bool("MapPublicIpOnLaunch.Value")?;
            region.write(|s, _| s.modify_subnet_attribute(p.get("SubnetId"), assign, public))?;
            x = raw(ok_return());
        }
        "DescribeSubnets" => {
            let s = region.read();
            let subnets = s.describe_subnets(&p.list("SubnetId"), &p.filters())?;
            x.items("subnetSet", &subnets, |x, sub| {
                render::subnet(x, sub, &s, &owner, &rname)
            });
        }
        "DeleteSubnet" => {
            region.write(|s, _| s.delete_subnet(p.get("SubnetId")))?;
            x = raw(ok_return());
        }
        "CreateInternetGateway" => {
            let tags = p.tag_specs("internet-gateway");
            let g = region
                .write(|s, env| Ok::<_, Ec2Error>(s.create_internet_gateway(env, tags.clone())))?;
            x.open("internetGateway");
            render::internet_gateway(&mut x, &g, &owner);
            x.close("internetGateway");
        }
        "AttachInternetGateway" => {
            region.write(|s, _| {
                s.attach_internet_gateway(p.get("InternetGatewayId"), p.get("VpcId"))
            })?;
            x = raw(ok_return());
        }
        "DetachInternetGateway" => {
            region.write(|s, _| {
                s.detach_internet_gateway(p.get("InternetGatewayId"), p.get("VpcId"))
            })?;
            x = raw(ok_return());
        }
        "DeleteInternetGateway" => {
            region.write(|s, _| s.delete_internet_gateway(p.get("InternetGatewayId")))?;
            x = raw(ok_return());
        }
        "DescribeInternetGateways" => {
            let s = region.read();
            let gs = s.describe_internet_gateways(&p.list("InternetGatewayId"), &p.filters())?;
            x.items("internetGatewaySet", &gs, |x, g| {
                render::internet_gateway(x, g, &owner)
            });
        }
        "CreateEgressOnlyInternetGateway" => {
            let tags = p.tag_specs("egress-only-internet-gateway");
            let g = region.write(|s, env| {
                s.create_egress_only_internet_gateway(env, p.get("VpcId"), tags.clone())
            })?;
            x.opt("clientToken", p.get("ClientToken"));
            x.open("egressOnlyInternetGateway");
            render::egress_only_gateway(&mut x, &g);
            x.close("egressOnlyInternetGateway");
        }
        "DeleteEgressOnlyInternetGateway" => {
            region.write(|s, _| {
                s.delete_egress_only_internet_gateway(p.get("EgressOnlyInternetGatewayId"))
            })?;
            x.leaf("returnCode", true);
        }
        "DescribeEgressOnlyInternetGateways" => {
            let s = region.read();
            let gs = s.describe_egress_only_gateways(
                &p.list("EgressOnlyInternetGatewayId"),
                &p.filters(),
            )?;
            x.items("egressOnlyInternetGatewaySet", &gs, |x, g| {
                render::egress_only_gateway(x, g)
            });
        }
        "CreateRouteTable" => {
            let tags = p.tag_specs("route-table");
            let rt =
                region.write(|s, env| s.create_route_table(env, p.get("VpcId"), tags.clone()))?;
            x.open("routeTable");
            render::route_table(&mut x, &rt, &owner);
            x.close("routeTable");
        }
        "CreateRoute" => {
            region.write(|s, _| {
                s.create_route(
                    p.get("RouteTableId"),
                    p.get("DestinationCidrBlock"),
                    p.get("DestinationIpv6CidrBlock"),
                    p.get("GatewayId"),
                    p.get("EgressOnlyInternetGatewayId"),
                )
            })?;
            x = raw(ok_return());
        }
        "DeleteRoute" => {
            region.write(|s, _| {
                s.delete_route(
                    p.get("RouteTableId"),
                    p.get("DestinationCidrBlock"),
                    p.get("DestinationIpv6CidrBlock"),
                )
            })?;
            x = raw(ok_return());
        }
        "AssociateRouteTable" => {
            let id = region.write(|s, env| {
                s.associate_route_table(env, p.get("RouteTableId"), p.get("SubnetId"))
            })?;
            x.leaf("associationId", id);
            x.open("associationState")
                .leaf("state", "associated")
                .close("associationState");
        }
        "DisassociateRouteTable" => {
            region.write(|s, _| s.disassociate_route_table(p.get("AssociationId")))?;
            x = raw(ok_return());
        }
        "DeleteRouteTable" => {
            region.write(|s, _| s.delete_route_table(p.get("RouteTableId")))?;
            x = raw(ok_return());
        }
        "DescribeRouteTables" => {
            let s = region.read();
            let rts = s.describe_route_tables(&p.list("RouteTableId"), &p.filters())?;
            x.items("routeTableSet", &rts, |x, r| {
                render::route_table(x, r, &owner)
            });
        }
        "CreateSecurityGroup" => {
            let tags = p.tag_specs("security-group");
            let g = region.write(|s, env| {
                s.create_security_group(
                    env,
                    p.get("GroupName"),
                    p.get("GroupDescription"),
                    p.get("VpcId"),
                    tags.clone(),
                )
            })?;
            x.leaf("groupId", &g.id);
            x.leaf(
                "securityGroupArn",
                format!("arn:aws:ec2:{rname}:{owner}:security-group/{}", g.id),
            );
        }
        "AuthorizeSecurityGroupIngress" | "AuthorizeSecurityGroupEgress" => {
            check_ports(p)?;
            let egress = action.ends_with("Egress");
            let group_id = p.get("GroupId");
            let rules = region.write(|s, env| {
                s.authorize_security_group(env, group_id.clone(), egress, permissions(p))
            })?;
            x.leaf("return", true);
            let gid = group_id.unwrap_or_default();
            x.items("securityGroupRuleSet", &rules, |x, r| {
                render::rule(x, &gid, r, &owner)
            });
        }
        "RevokeSecurityGroupIngress" | "RevokeSecurityGroupEgress" => {
            check_ports(p)?;
            let egress = action.ends_with("Egress");
            region.write(|s, env| {
                s.revoke_security_group(env, p.get("GroupId"), egress, permissions(p))
            })?;
            x = raw(ok_return());
        }
        "DeleteSecurityGroup" => {
            region.write(|s, _| s.delete_security_group(p.get("GroupId")))?;
            x = raw(ok_return());
        }
        "DescribeSecurityGroups" => {
            let s = region.read();
            let gs =
                s.describe_security_groups(&p.list("GroupId"), &p.list("GroupName"), &p.filters())?;
            x.items("securityGroupInfo", &gs, |x, g| {
                render::security_group(x, g, &owner)
            });
        }
        "DescribeInstanceTypes" => describe_instance_types(region, p, &mut x)?,
        "DescribeAvailabilityZones" => {
            x.items(
                "availabilityZoneInfo",
                ['a', 'b', 'c', 'd', 'e', 'f'],
                |x, z| {
                    x.leaf("zoneName", format!("{rname}{z}"))
                        .leaf("zoneId", format!("use1-az{}", z as u32 - 'a' as u32 + 1))
                        .leaf("zoneState", "available")
                        .leaf("regionName", &rname)
                        .leaf("zoneType", "availability-zone");
                },
            );
        }
        "RunInstances" => {
            let metadata_ipv6 = match p.get("MetadataOptions.HttpProtocolIpv6").as_deref() {
                None | Some("disabled") => false,
                Some("enabled") => true,
                Some(v) => {
                    return Err(Ec2Error::invalid(
                        "MetadataOptions.HttpProtocolIpv6",
                        v,
                        "Use enabled or disabled.",
                    ));
                }
            };
            let req = RunInstances {
                image_id: p.get("ImageId"),
                instance_type: p.get("InstanceType"),
                min_count: p.int("MinCount")?,
                max_count: p.int("MaxCount")?,
                subnet_id: p
                    .get("SubnetId")
                    .or_else(|| p.get("NetworkInterface.1.SubnetId")),
                security_group_ids: p.list("SecurityGroupId"),
                key_name: p.get("KeyName"),
                ipv6_address_count: p.int("Ipv6AddressCount")?,
                private_ip_address: p.get("PrivateIpAddress"),
                metadata_ipv6,
                instance_tags: p.tag_specs("instance"),
                eni_tags: p.tag_specs("network-interface"),
            };
            let r = region.write(|s, env| s.run_instances(env, req.clone()))?;
            let s = region.read();
            x.leaf("reservationId", &r.id).leaf("ownerId", &owner);
            x.open("groupSet").close("groupSet");
            x.items("instancesSet", &r.instances, |x, i| {
                render::instance(x, i, &s, &owner, &rname)
            });
        }
        "DescribeInstances" => {
            let s = region.read();
            let insts = s.describe_instances(&p.list("InstanceId"), &p.filters())?;
            let mut reservations: Vec<(String, Vec<&region::ec2::model::Instance>)> = Vec::new();
            for i in &insts {
                match reservations
                    .iter_mut()
                    .find(|(r, _)| *r == i.reservation_id)
                {
                    Some((_, v)) => v.push(i),
                    None => reservations.push((i.reservation_id.clone(), vec![i])),
                }
            }
            x.items("reservationSet", &reservations, |x, (rid, is)| {
                x.leaf("reservationId", rid).leaf("ownerId", &owner);
                x.open("groupSet").close("groupSet");
                x.items("instancesSet", is, |x, i| {
                    render::instance(x, i, &s, &owner, &rname)
                });
            });
        }
        "TerminateInstances" => {
            let changes = region.write(|s, _| s.terminate_instances(p.list("InstanceId")))?;
            x.items("instancesSet", &changes, |x, (id, prev, cur)| {
                x.leaf("instanceId", id);
                x.open("currentState")
                    .leaf("code", cur.code())
                    .leaf("name", cur.name())
                    .close("currentState");
                x.open("previousState")
                    .leaf("code", prev.code())
                    .leaf("name", prev.name())
                    .close("previousState");
            });
        }
        "DescribeNetworkInterfaces" => {
            let s = region.read();
            let enis =
                s.describe_network_interfaces(&p.list("NetworkInterfaceId"), &p.filters())?;
            x.items("networkInterfaceSet", &enis, |x, e| {
                render::network_interface(x, e, &s, &owner, &rname)
            });
        }
        "AssignIpv6Addresses" => {
            let req = AssignIpv6 {
                eni_id: p.get("NetworkInterfaceId"),
                address_count: p.int("Ipv6AddressCount")?,
                addresses: p.list("Ipv6Addresses"),
                prefix_count: p.int("Ipv6PrefixCount")?,
                prefixes: p.list("Ipv6Prefix"),
            };
            let (eni, addrs, prefixes) = region.write(|s, env| s.assign_ipv6(env, req.clone()))?;
            x.values("assignedIpv6Addresses", &addrs);
            x.values("assignedIpv6PrefixSet", &prefixes);
            x.leaf("networkInterfaceId", eni);
        }
        "UnassignIpv6Addresses" => {
            let (eni, addrs, prefixes) = region.write(|s, _| {
                s.unassign_ipv6(
                    p.get("NetworkInterfaceId"),
                    p.list("Ipv6Addresses"),
                    p.list("Ipv6Prefix"),
                )
            })?;
            x.leaf("networkInterfaceId", eni);
            x.values("unassignedIpv6Addresses", &addrs);
            x.values("unassignedIpv6PrefixSet", &prefixes);
        }
        "CreateLaunchTemplate" => {
            let name = p
                .get("LaunchTemplateName")
                .ok_or(Ec2Error::MissingParameter {
                    name: "LaunchTemplateName",
                })?;
            let metadata_ipv6 = match p
                .get("LaunchTemplateData.MetadataOptions.HttpProtocolIpv6")
                .as_deref()
            {
                None | Some("disabled") => false,
                Some("enabled") => true,
                Some(v) => {
                    return Err(Ec2Error::invalid(
                        "LaunchTemplateData.MetadataOptions.HttpProtocolIpv6",
                        v,
                        "Use enabled or disabled.",
                    ));
                }
            };
            let itype = p.get("LaunchTemplateData.InstanceType");
            let t = region.write(|s, env| {
                s.create_launch_template(env, &name, metadata_ipv6, itype.clone())
                    .map_err(|e| {
                        Ec2Error::invalid("LaunchTemplateName", name.clone(), e.to_string())
                    })
            })?;
            x.open("launchTemplate");
            launch_template(&mut x, &t, region.now());
            x.close("launchTemplate");
        }
        "DescribeLaunchTemplates" => {
            let s = region.read();
            let ids = p.list("LaunchTemplateId");
            let names = p.list("LaunchTemplateName");
            let ts: Vec<_> = s
                .launch_templates
                .values()
                .filter(|t| {
                    (ids.is_empty() || ids.contains(&t.id))
                        && (names.is_empty() || names.contains(&t.name))
                })
                .cloned()
                .collect();
            x.items("launchTemplates", &ts, |x, t| {
                launch_template(x, t, region.now())
            });
        }
        "CreateTags" => {
            region.write(|s, _| s.create_tags(p.list("ResourceId"), p.tags("Tag")))?;
            x = raw(ok_return());
        }
        "DeleteTags" => {
            let keys: Vec<String> = p
                .structs("Tag")
                .into_iter()
                .filter_map(|t| t.get("Key"))
                .collect();
            region.write(|s, _| s.delete_tags(p.list("ResourceId"), keys.clone()))?;
            x = raw(ok_return());
        }
        "DescribeTags" => {
            let s = region.read();
            let tags = s.describe_tags(&p.filters())?;
            x.items("tagSet", &tags, |x, t| {
                x.leaf("resourceId", &t.resource_id)
                    .leaf("resourceType", t.resource_type)
                    .leaf("key", &t.key)
                    .leaf("value", &t.value);
            });
        }
        _ => return Ok(None),
    }
    Ok(Some(x.finish()))
}

fn raw(s: String) -> Xml {
    let mut x = Xml::new();
    x.raw(&s);
    x
}

fn describe_instance_types(region: &Region, p: &Params, x: &mut Xml) -> Result<(), Ec2Error> {
    let names = p.list("InstanceType");
    let filters = p.filters();
    region::ec2::filter::validate(
        &filters,
        "DescribeInstanceTypes",
        &[
            "instance-type",
            "hypervisor",
            "bare-metal",
            "network-info.ipv6-supported",
        ],
        "instance-type, hypervisor, bare-metal, network-info.ipv6-supported",
    )?;
    let cat = region.catalog();
    let mut types = Vec::new();
    if names.is_empty() {
        types.extend(cat.all());
    } else {
        for n in &names {
            types.push(cat.get(n).ok_or_else(|| {
                Ec2Error::invalid("InstanceType", n.clone(), "The instance type does not exist in this region; see `aws ec2 describe-instance-types`.")
            })?);
        }
    }
    let none = Tags::new();
    let types: Vec<_> = types
        .into_iter()
        .filter(|t| {
            region::ec2::filter::matches(&filters, &none, |n| match n {
                "instance-type" => vec![t.name.clone()],
                "hypervisor" => vec![hypervisor(t)],
                "bare-metal" => vec![t.bare_metal.to_string()],
                "network-info.ipv6-supported" => vec!["true".into()],
                _ => vec![],
            })
        })
        .collect();
    x.items("instanceTypeSet", types, |x, t| {
        x.leaf("instanceType", &t.name)
            .leaf("currentGeneration", true)
            .leaf("bareMetal", t.bare_metal);
        if !t.bare_metal || t.hypervisor != region::catalog::Hypervisor::Unknown {
            x.leaf("hypervisor", hypervisor(t));
        }
        x.open("networkInfo")
            .leaf("maximumNetworkInterfaces", t.max_enis)
            .leaf("ipv4AddressesPerInterface", t.ipv4_per_eni)
            .leaf("ipv6AddressesPerInterface", t.ipv6_per_eni())
            .leaf("ipv6Supported", true)
            .leaf("maximumNetworkCards", 1)
            .close("networkInfo");
    });
    Ok(())
}

fn launch_template(x: &mut Xml, t: &region::eks::model::LaunchTemplate, now: u64) {
    x.leaf("launchTemplateId", &t.id)
        .leaf("launchTemplateName", &t.name)
        .leaf("createTime", crate::xml::iso8601(now))
        .leaf("defaultVersionNumber", 1)
        .leaf("latestVersionNumber", 1);
}

fn hypervisor(t: &region::catalog::InstanceType) -> String {
    match t.hypervisor {
        region::catalog::Hypervisor::Nitro => "nitro".into(),
        region::catalog::Hypervisor::Xen => "xen".into(),
        region::catalog::Hypervisor::Unknown => "unknown".into(),
    }
}
