//! Handlers of the compute actions: zones, instance types, instances, network interfaces (and
//! their IPv6 addresses and prefixes), launch templates, tags.

use region::ec2::Ec2Error;
use region::ec2::enis::{CreateNetworkInterface, EniAttribute};
use region::ec2::instances::{AssignIpv6, RunInstances};
use region::ec2::model::{Instance, Tags};
use region::ec2::page::PageRequest;
use region::ids::{AttachmentId, InstanceId, NetworkInterfaceId, SecurityGroupId, SubnetId};

use super::{Ctx, input, ok_return, render};
use crate::query::Params;
use crate::xml::Xml;

pub fn describe_availability_zones(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let names = p.list("ZoneName");
    let ids = p.list("ZoneId");
    let filters = p.filters();
    region::ec2::filter::validate(
        &filters,
        "DescribeAvailabilityZones",
        &["zone-name", "zone-id", "state", "region-name", "group-name"],
        "zone-name, zone-id, state, region-name, group-name",
    )?;
    let zones: Vec<_> = region::zones::all(&c.rname)
        .into_iter()
        .filter(|z| names.is_empty() || names.contains(&z.name))
        .filter(|z| ids.is_empty() || ids.contains(&z.id))
        .filter(|z| {
            region::ec2::filter::matches(&filters, &Tags::new(), |n| match n {
                "zone-name" => vec![z.name.clone()],
                "zone-id" => vec![z.id.clone()],
                "state" => vec!["available".into()],
                "region-name" | "group-name" => vec![c.rname.clone()],
                _ => vec![],
            })
        })
        .collect();
    if let Some(n) = names.iter().find(|n| !zones.iter().any(|z| &z.name == *n)) {
        return Err(Ec2Error::invalid(
            "ZoneName",
            n.clone(),
            format!("The zones of this region are {0}a to {0}f.", c.rname),
        ));
    }
    let mut x = Xml::new();
    x.items("availabilityZoneInfo", zones, |x, z| {
        x.leaf("optInStatus", "opt-in-not-required")
            .open("messageSet")
            .close("messageSet")
            .leaf("regionName", &c.rname)
            .leaf("zoneName", &z.name)
            .leaf("zoneId", &z.id)
            .leaf("groupName", &c.rname)
            .leaf("networkBorderGroup", &c.rname)
            .leaf("zoneType", "availability-zone")
            .leaf("zoneState", "available");
    });
    Ok(x)
}

/// Page `items` (any order) by `key`, at the API layer, for the calls whose rows are not a table.
fn page_by<T>(
    page: &PageRequest,
    mut items: Vec<T>,
    key: impl Fn(&T) -> String,
) -> region::ec2::page::Paged<T> {
    items.sort_by_key(|t| key(t));
    page.cut(items.into_iter().filter(|t| page.admits(&key(t))), &key)
}

pub fn describe_instance_types(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let page = c.page(p, None)?;
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
            "processor-info.supported-architecture",
        ],
        "instance-type, hypervisor, bare-metal, network-info.ipv6-supported, processor-info.supported-architecture",
    )?;
    let cat = c.region.catalog();
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
                "hypervisor" => vec![render::hypervisor(t).into()],
                "bare-metal" => vec![t.bare_metal.to_string()],
                "network-info.ipv6-supported" => vec!["true".into()],
                "processor-info.supported-architecture" => vec![t.architecture().into()],
                _ => vec![],
            })
        })
        .collect();
    let types = page_by(&page, types, |t| t.name.clone());
    let mut x = Xml::new();
    x.items("instanceTypeSet", &types.items, |x, t| {
        render::instance_type(x, t)
    });
    c.next_token(&mut x, &types);
    Ok(x)
}

fn metadata_ipv6(p: &Params, name: &'static str) -> Result<bool, Ec2Error> {
    match p.get(name).as_deref() {
        None | Some("disabled") => Ok(false),
        Some("enabled") => Ok(true),
        Some(v) => Err(Ec2Error::invalid(name, v, "Use enabled or disabled.")),
    }
}

/// `IamInstanceProfile.Arn` or `IamInstanceProfile.Name` (not both).
fn instance_profile(p: &Params) -> Result<Option<region::iam::profiles::ProfileRef>, Ec2Error> {
    use region::iam::profiles::ProfileRef;
    match (p.get("IamInstanceProfile.Arn"), p.get("IamInstanceProfile.Name")) {
        (Some(_), Some(_)) => Err(Ec2Error::InvalidParameterCombination {
            message: "The parameter 'iamInstanceProfile.name' may not be used in combination with 'iamInstanceProfile.arn': give Arn= or Name=.".into(),
        }),
        (Some(a), None) => Ok(Some(ProfileRef::Arn(a))),
        (None, Some(n)) => Ok(Some(ProfileRef::Name(n))),
        (None, None) => Ok(None),
    }
}

fn reservation(c: &Ctx, x: &mut Xml, rid: &str, insts: &[&Instance], s: &region::state::State) {
    x.leaf("reservationId", rid).leaf("ownerId", &c.owner);
    x.open("groupSet").close("groupSet");
    x.items("instancesSet", insts, |x, i| {
        render::instance(x, i, s, &c.owner, &c.rname)
    });
}

pub fn run_instances(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let subnet_id = match p.opt_id::<SubnetId>("SubnetId")? {
        Some(id) => id,
        None => p
            .opt_id::<SubnetId>("NetworkInterface.1.SubnetId")?
            .ok_or_else(|| Ec2Error::InvalidParameterCombination {
                message: "No default VPC for this user: give --subnet-id.".into(),
            })?,
    };
    let req = RunInstances {
        image_id: p.required("ImageId")?,
        instance_type: p.get("InstanceType"),
        min_count: p.int("MinCount")?.ok_or(input::missing("MinCount"))?,
        max_count: p.int("MaxCount")?.ok_or(input::missing("MaxCount"))?,
        subnet_id,
        security_group_ids: p.ids("SecurityGroupId")?,
        key_name: p.get("KeyName"),
        ipv6_address_count: p.int("Ipv6AddressCount")?,
        private_ip_address: p.get("PrivateIpAddress"),
        metadata_ipv6: metadata_ipv6(p, "MetadataOptions.HttpProtocolIpv6")?,
        instance_tags: p.tag_specs("instance"),
        eni_tags: p.tag_specs("network-interface"),
        iam_instance_profile: instance_profile(p)?,
    };
    let token = c.client_token(p);
    let (rid, ids) = c.region.write(|s, env| {
        if let Some((t, fp)) = &token
            && let Some(ids) = s.client_token_replay(c.action, t, fp)?
        {
            let rid = ids
                .first()
                .and_then(|i| s.instances.get(i))
                .map(|i| i.reservation_id.clone())
                .unwrap_or_default();
            return Ok((rid, ids));
        }
        let r = s.run_instances(env, req.clone())?;
        let ids: Vec<String> = r.instances.iter().map(|i| i.id.clone()).collect();
        if let Some((t, fp)) = &token {
            s.client_token_record(c.action, t, fp, ids.clone(), env.now);
        }
        Ok::<_, Ec2Error>((r.id, ids))
    })?;
    let s = c.region.read();
    let insts: Vec<&Instance> = ids.iter().filter_map(|i| s.instances.get(i)).collect();
    let mut x = Xml::new();
    reservation(c, &mut x, &rid, &insts, &s);
    Ok(x)
}

pub fn describe_instances(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let page = c.page(p, Some("InstanceId"))?;
    let s = c.region.read();
    let insts = s.describe_instances(&p.ids::<InstanceId>("InstanceId")?, &p.filters(), &page)?;
    let mut reservations: Vec<(String, Vec<&Instance>)> = Vec::new();
    for i in &insts.items {
        match reservations
            .iter_mut()
            .find(|(r, _)| *r == i.reservation_id)
        {
            Some((_, v)) => v.push(i),
            None => reservations.push((i.reservation_id.clone(), vec![i])),
        }
    }
    let mut x = Xml::new();
    x.items("reservationSet", &reservations, |x, (rid, is)| {
        reservation(c, x, rid, is, &s)
    });
    c.next_token(&mut x, &insts);
    Ok(x)
}

pub fn terminate_instances(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let ids = p.ids::<InstanceId>("InstanceId")?;
    if ids.is_empty() {
        return Err(input::missing("InstanceId"));
    }
    let changes = c.region.write(|s, _| s.terminate_instances(ids.clone()))?;
    let mut x = Xml::new();
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
    Ok(x)
}

pub fn create_network_interface(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    for unsupported in [
        "Ipv4PrefixCount",
        "Ipv6PrefixCount",
        "SecondaryPrivateIpAddressCount",
    ] {
        if p.get(unsupported).is_some() {
            return Err(Ec2Error::Unsupported {
                message: format!(
                    "{unsupported} is not modelled on CreateNetworkInterface here; create the interface, then use assign-ipv6-addresses (--ipv6-prefix-count) once it is attached."
                ),
            });
        }
    }
    let req = CreateNetworkInterface {
        subnet_id: p.id("SubnetId")?,
        description: p.get("Description"),
        groups: p.ids("SecurityGroupId")?,
        private_ip_address: p.get("PrivateIpAddress"),
        ipv6_address_count: p.int("Ipv6AddressCount")?,
        tags: p.tag_specs("network-interface"),
        interface_type: p.get("InterfaceType"),
    };
    let token = c.client_token(p);
    let eni = c.region.write(|s, env| {
        if let Some((t, fp)) = &token
            && let Some(ids) = s.client_token_replay(c.action, t, fp)?
            && let Some(e) = ids.first().and_then(|id| s.network_interfaces.get(id))
        {
            return Ok(e.clone());
        }
        let e = s.create_network_interface(env, req.clone())?;
        if let Some((t, fp)) = &token {
            s.client_token_record(c.action, t, fp, vec![e.id.clone()], env.now);
        }
        Ok::<_, Ec2Error>(e)
    })?;
    let s = c.region.read();
    let mut x = Xml::new();
    x.open("networkInterface");
    render::network_interface(&mut x, &eni, &s, &c.owner, &c.rname);
    x.close("networkInterface");
    x.opt("clientToken", p.get("ClientToken"));
    Ok(x)
}

pub fn delete_network_interface(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let eni: NetworkInterfaceId = p.id("NetworkInterfaceId")?;
    c.region.write(|s, _| s.delete_network_interface(&eni))?;
    Ok(ok_return())
}

pub fn attach_network_interface(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    if p.int::<u32>("NetworkCardIndex")?.is_some_and(|n| n != 0) {
        return Err(Ec2Error::invalid(
            "NetworkCardIndex",
            p.get("NetworkCardIndex").unwrap_or_default(),
            "Instances here have one network card (index 0).",
        ));
    }
    let eni: NetworkInterfaceId = p.id("NetworkInterfaceId")?;
    let instance: InstanceId = p.id("InstanceId")?;
    let device_index = p.int("DeviceIndex")?.ok_or(input::missing("DeviceIndex"))?;
    let id = c
        .region
        .write(|s, env| s.attach_network_interface(env, &eni, &instance, device_index))?;
    let mut x = Xml::new();
    x.leaf("attachmentId", id).leaf("networkCardIndex", 0);
    Ok(x)
}

pub fn detach_network_interface(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    p.bool("Force")?;
    let id: AttachmentId = p.id("AttachmentId")?;
    c.region.write(|s, _| s.detach_network_interface(&id))?;
    Ok(ok_return())
}

pub fn modify_network_interface_attribute(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let eni: NetworkInterfaceId = p.id("NetworkInterfaceId")?;
    let mut changes = Vec::new();
    let groups = p.ids::<SecurityGroupId>("SecurityGroupId")?;
    if !groups.is_empty() {
        changes.push(EniAttribute::Groups(groups));
    }
    if let Some(d) = p.get("Description.Value") {
        if d.len() > 255 {
            return Err(Ec2Error::invalid(
                "Description",
                format!("{}...", d.chars().take(32).collect::<String>()),
                "A description is at most 255 characters.",
            ));
        }
        changes.push(EniAttribute::Description(d));
    }
    if let Some(v) = p.bool("SourceDestCheck.Value")? {
        changes.push(EniAttribute::SourceDestCheck(v));
    }
    if let Some(att) = p.opt_id::<AttachmentId>("Attachment.AttachmentId")? {
        let v = p
            .bool("Attachment.DeleteOnTermination")?
            .ok_or(input::missing("Attachment.DeleteOnTermination"))?;
        changes.push(EniAttribute::DeleteOnTermination(att, v));
    }
    let change = match <[EniAttribute; 1]>::try_from(changes) {
        Ok([c]) => c,
        Err(v) if v.is_empty() => {
            return Err(input::missing(
                "SecurityGroupId, Description, SourceDestCheck or Attachment",
            ));
        }
        Err(_) => {
            return Err(Ec2Error::InvalidParameterCombination {
                message: "Change one attribute per call (groups, description, source/dest check or attachment).".into(),
            });
        }
    };
    c.region
        .write(|s, _| s.modify_network_interface_attribute(&eni, change.clone()))?;
    Ok(ok_return())
}

pub fn describe_network_interfaces(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let page = c.page(p, Some("NetworkInterfaceId"))?;
    let s = c.region.read();
    let enis = s.describe_network_interfaces(
        &p.ids::<NetworkInterfaceId>("NetworkInterfaceId")?,
        &p.filters(),
        &page,
    )?;
    let mut x = Xml::new();
    x.items("networkInterfaceSet", &enis.items, |x, e| {
        render::network_interface(x, e, &s, &c.owner, &c.rname)
    });
    c.next_token(&mut x, &enis);
    Ok(x)
}

pub fn assign_ipv6_addresses(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let eni: NetworkInterfaceId = p.id("NetworkInterfaceId")?;
    let req = AssignIpv6 {
        address_count: p.int("Ipv6AddressCount")?,
        addresses: p.list("Ipv6Addresses"),
        prefix_count: p.int("Ipv6PrefixCount")?,
        prefixes: p.list("Ipv6Prefix"),
    };
    let want_addrs = req.address_count.is_some() || !req.addresses.is_empty();
    let want_prefixes = req.prefix_count.is_some() || !req.prefixes.is_empty();
    if !want_addrs && !want_prefixes {
        return Err(input::missing(
            "Ipv6AddressCount, Ipv6Addresses, Ipv6PrefixCount or Ipv6Prefixes",
        ));
    }
    if req.address_count.is_some() && !req.addresses.is_empty() {
        return Err(Ec2Error::InvalidParameterCombination {
            message: "Give --ipv6-address-count or --ipv6-addresses, not both.".into(),
        });
    }
    if req.prefix_count.is_some() && !req.prefixes.is_empty() {
        return Err(Ec2Error::InvalidParameterCombination {
            message: "Give --ipv6-prefix-count or --ipv6-prefixes, not both.".into(),
        });
    }
    let (eni, addrs, prefixes) = c
        .region
        .write(|s, env| s.assign_ipv6(env, &eni, req.clone()))?;
    let mut x = Xml::new();
    x.values("assignedIpv6Addresses", &addrs);
    x.values("assignedIpv6PrefixSet", &prefixes);
    x.leaf("networkInterfaceId", eni);
    Ok(x)
}

pub fn unassign_ipv6_addresses(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let eni: NetworkInterfaceId = p.id("NetworkInterfaceId")?;
    let (addresses, prefixes) = (p.list("Ipv6Addresses"), p.list("Ipv6Prefix"));
    if addresses.is_empty() && prefixes.is_empty() {
        return Err(input::missing("Ipv6Addresses or Ipv6Prefixes"));
    }
    let (eni, addrs, prefixes) = c
        .region
        .write(|s, _| s.unassign_ipv6(&eni, addresses.clone(), prefixes.clone()))?;
    let mut x = Xml::new();
    x.leaf("networkInterfaceId", eni);
    x.values("unassignedIpv6Addresses", &addrs);
    x.values("unassignedIpv6PrefixSet", &prefixes);
    Ok(x)
}

pub fn create_launch_template(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let name = p
        .get("LaunchTemplateName")
        .ok_or(Ec2Error::MissingParameter {
            name: "LaunchTemplateName",
        })?;
    let metadata_ipv6 = metadata_ipv6(p, "LaunchTemplateData.MetadataOptions.HttpProtocolIpv6")?;
    let itype = p.get("LaunchTemplateData.InstanceType");
    let token = c.client_token(p);
    let t = c.region.write(|s, env| {
        if let Some((t, fp)) = &token
            && let Some(ids) = s.client_token_replay(c.action, t, fp)?
            && let Some(lt) = ids.first().and_then(|id| s.launch_templates.get(id))
        {
            return Ok(lt.clone());
        }
        let lt = s
            .create_launch_template(env, &name, metadata_ipv6, itype.clone())
            .map_err(|e| Ec2Error::invalid("LaunchTemplateName", name.clone(), e.to_string()))?;
        if let Some((t, fp)) = &token {
            s.client_token_record(c.action, t, fp, vec![lt.id.clone()], env.now);
        }
        Ok::<_, Ec2Error>(lt)
    })?;
    let mut x = Xml::new();
    x.open("launchTemplate");
    render::launch_template(&mut x, &t, c.region.now());
    x.close("launchTemplate");
    Ok(x)
}

pub fn describe_launch_templates(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let page = c.page(p, None)?;
    let s = c.region.read();
    let ids = p.list("LaunchTemplateId");
    let names = p.list("LaunchTemplateName");
    let ts: Vec<_> = s
        .launch_templates
        .values()
        .filter(|t| {
            (ids.is_empty() || ids.contains(&t.id)) && (names.is_empty() || names.contains(&t.name))
        })
        .cloned()
        .collect();
    let ts = page_by(&page, ts, |t| t.id.clone());
    let mut x = Xml::new();
    x.items("launchTemplates", &ts.items, |x, t| {
        render::launch_template(x, t, c.region.now())
    });
    c.next_token(&mut x, &ts);
    Ok(x)
}

pub fn create_tags(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let (resources, tags) = (p.list("ResourceId"), p.tags("Tag"));
    if resources.is_empty() {
        return Err(input::missing("ResourceId"));
    }
    if tags.is_empty() {
        return Err(input::missing("Tag"));
    }
    c.region
        .write(|s, _| s.create_tags(resources.clone(), tags.clone()))?;
    Ok(ok_return())
}

pub fn delete_tags(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let keys: Vec<String> = p
        .structs("Tag")
        .into_iter()
        .filter_map(|t| t.get("Key"))
        .collect();
    let resources = p.list("ResourceId");
    if resources.is_empty() {
        return Err(input::missing("ResourceId"));
    }
    c.region
        .write(|s, _| s.delete_tags(resources.clone(), keys.clone()))?;
    Ok(ok_return())
}

pub fn describe_tags(c: &Ctx, p: &Params) -> Result<Xml, Ec2Error> {
    let page = c.page(p, None)?;
    let s = c.region.read();
    let tags = s.describe_tags(&p.filters())?;
    // Resource ids and tag keys hold no NUL, so the pair sorts and resumes unambiguously.
    let tags = page_by(&page, tags, |t| format!("{}\u{0}{}", t.resource_id, t.key));
    let mut x = Xml::new();
    x.items("tagSet", &tags.items, |x, t| {
        x.leaf("resourceId", &t.resource_id)
            .leaf("resourceType", t.resource_type)
            .leaf("key", &t.key)
            .leaf("value", &t.value);
    });
    c.next_token(&mut x, &tags);
    Ok(x)
}
