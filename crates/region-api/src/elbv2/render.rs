//! ELBv2 resources as awsQuery XML (`<member>` lists, botocore's member names).

use region::elb::model::{Listener, LoadBalancer, Tags, TargetGroup};
use region::elb::target_groups::TargetHealth;

use crate::xml::{Xml, iso8601};

/// `<tag><member>..</member>...</tag>`, each member written by `f`.
pub fn members<T>(
    x: &mut Xml,
    tag: &str,
    items: impl IntoIterator<Item = T>,
    mut f: impl FnMut(&mut Xml, T),
) {
    x.open(tag);
    for i in items {
        x.open("member");
        f(x, i);
        x.close("member");
    }
    x.close(tag);
}

pub fn load_balancer(x: &mut Xml, l: &LoadBalancer) {
    x.leaf("LoadBalancerArn", &l.arn)
        .leaf("DNSName", &l.dns_name)
        .leaf("CanonicalHostedZoneId", l.lb_type.hosted_zone())
        .leaf("CreatedTime", iso8601(l.created_at))
        .leaf("LoadBalancerName", &l.name)
        .leaf("Scheme", l.scheme)
        .leaf("VpcId", &l.vpc_id)
        .open("State")
        .leaf("Code", "active")
        .close("State")
        .leaf("Type", l.lb_type);
    members(x, "AvailabilityZones", &l.subnets, |x, s| {
        x.leaf("ZoneName", &s.availability_zone)
            .leaf("SubnetId", &s.subnet_id)
            .raw("<LoadBalancerAddresses/>");
    });
    members(x, "SecurityGroups", &l.security_groups, |x, g| {
        x.text(g);
    });
    x.leaf("IpAddressType", l.ip_address_type);
}

pub fn target_group(x: &mut Xml, t: &TargetGroup, load_balancers: &[String]) {
    let h = &t.health_check;
    x.leaf("TargetGroupArn", &t.arn)
        .leaf("TargetGroupName", &t.name)
        .leaf("Protocol", t.protocol)
        .leaf("Port", t.port)
        .leaf("VpcId", &t.vpc_id)
        .leaf("HealthCheckProtocol", h.protocol)
        .leaf("HealthCheckPort", &h.port)
        .leaf("HealthCheckEnabled", h.enabled)
        .leaf("HealthCheckIntervalSeconds", h.interval_seconds)
        .leaf("HealthCheckTimeoutSeconds", h.timeout_seconds)
        .leaf("HealthyThresholdCount", h.healthy_threshold)
        .leaf("UnhealthyThresholdCount", h.unhealthy_threshold)
        .opt("HealthCheckPath", h.path.as_ref());
    if let Some(m) = &h.matcher {
        x.open("Matcher").leaf("HttpCode", m).close("Matcher");
    }
    members(x, "LoadBalancerArns", load_balancers, |x, a| {
        x.text(a);
    });
    x.leaf("TargetType", t.target_type)
        .leaf("IpAddressType", t.ip_address_type);
    if matches!(t.protocol.as_str(), "HTTP" | "HTTPS") {
        x.leaf("ProtocolVersion", "HTTP1");
    }
}

pub fn listener(x: &mut Xml, l: &Listener) {
    x.leaf("ListenerArn", &l.arn)
        .leaf("LoadBalancerArn", &l.load_balancer_arn)
        .leaf("Port", l.port)
        .leaf("Protocol", l.protocol);
    if let Some(c) = &l.certificate_arn {
        members(x, "Certificates", [c], |x, c| {
            x.leaf("CertificateArn", c);
        });
    }
    members(x, "DefaultActions", [&l.target_group_arn], |x, tg| {
        x.leaf("Type", "forward")
            .leaf("TargetGroupArn", tg)
            .leaf("Order", 1);
        x.open("ForwardConfig");
        members(x, "TargetGroups", [tg], |x, tg| {
            x.leaf("TargetGroupArn", tg).leaf("Weight", 1);
        });
        x.close("ForwardConfig");
    });
}

pub fn target_health(x: &mut Xml, h: &TargetHealth) {
    x.open("Target")
        .leaf("Id", &h.target.id)
        .leaf("Port", h.target.port)
        .opt("AvailabilityZone", h.target.availability_zone.as_ref())
        .close("Target")
        .leaf("HealthCheckPort", &h.health_check_port)
        .open("TargetHealth")
        .leaf("State", h.state)
        .opt("Reason", h.reason)
        .opt("Description", h.description.as_ref())
        .close("TargetHealth");
}

pub fn tags(x: &mut Xml, tags: &Tags) {
    members(x, "Tags", tags, |x, (k, v)| {
        x.leaf("Key", k).leaf("Value", v);
    });
}
