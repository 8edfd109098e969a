//! Elastic Load Balancing v2 resources as the region stores them: load balancers, target groups
//! (with their registered targets) and listeners. Which load balancers use a target group is
//! derived from the listeners, never stored, so it cannot disagree with them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Tags of one ELB resource (at most [`MAX_TAGS`]).
pub type Tags = BTreeMap<String, String>;

/// Most tags one resource may carry (AWS's quota).
pub const MAX_TAGS: usize = 50;
/// Most targets one target group may hold (AWS's quota for IP targets per group is 1,000).
pub const MAX_TARGETS_PER_GROUP: usize = 1000;
/// Most listeners per load balancer (AWS's quota).
pub const MAX_LISTENERS: usize = 50;

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($var:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $(#[doc = concat!("`", $s, "` on the wire.")] $var,)* }

        impl $name {
            /// Every value, in the order botocore lists them.
            pub const ALL: &'static [$name] = &[$($name::$var,)*];

            /// The value on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s,)* }
            }

            /// Parse the wire value (exact, case-sensitive, as AWS does).
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$var),)* _ => None }
            }

            /// The accepted values, for error messages: `a | b | c`.
            pub fn choices() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(" | ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// `Type` of a load balancer (gateway load balancers are not served).
    LbType { Network = "network", Application = "application" }
);
wire_enum!(
    /// `Scheme` of a load balancer.
    Scheme { InternetFacing = "internet-facing", Internal = "internal" }
);
wire_enum!(
    /// `IpAddressType` of a load balancer.
    LbIpType { Ipv4 = "ipv4", Dualstack = "dualstack" }
);
wire_enum!(
    /// `TargetType` of a target group (lambda and alb targets are not served).
    TargetType { Instance = "instance", Ip = "ip" }
);
wire_enum!(
    /// `IpAddressType` of a target group: the address family of every target in it.
    TgIpType { Ipv4 = "ipv4", Ipv6 = "ipv6" }
);
wire_enum!(
    /// Listener and target group protocols served here.
    Protocol {
        Http = "HTTP",
        Https = "HTTPS",
        Tcp = "TCP",
        Tls = "TLS",
        Udp = "UDP",
        TcpUdp = "TCP_UDP",
    }
);

impl Protocol {
    /// Whether a load balancer of type `t` can listen on this protocol.
    pub fn fits(self, t: LbType) -> bool {
        match t {
            LbType::Application => matches!(self, Protocol::Http | Protocol::Https),
            LbType::Network => !matches!(self, Protocol::Http | Protocol::Https),
        }
    }
}

impl LbType {
    /// The ARN and DNS segment: `app` or `net`.
    pub fn arn_segment(self) -> &'static str {
        match self {
            LbType::Application => "app",
            LbType::Network => "net",
        }
    }

    /// Route 53 hosted zone of this kind of load balancer in us-east-1 (AWS's published ids).
    pub fn hosted_zone(self) -> &'static str {
        match self {
            LbType::Application => "Z35SXDOTRQ7X7K",
            LbType::Network => "Z26RNL4JYFTOTI",
        }
    }
}

/// One subnet a load balancer is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LbSubnet {
    /// The subnet (`subnet-...`).
    pub subnet_id: String,
    /// Its availability zone.
    pub availability_zone: String,
}

/// A load balancer (its data plane is the lab's business): type, scheme, subnets and groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancer {
    /// `arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app|net/NAME/ID`.
    pub arn: String,
    /// Its name, unique in the region.
    pub name: String,
    /// Its DNS name (`[internal-]NAME-ID.elb.REGION.amazonaws.com`).
    pub dns_name: String,
    /// When it was created (seconds since the Unix epoch).
    pub created_at: u64,
    /// Application or network.
    pub lb_type: LbType,
    /// Internet-facing or internal.
    pub scheme: Scheme,
    /// `ipv4` or `dualstack`.
    pub ip_address_type: LbIpType,
    /// The VPC of its subnets.
    pub vpc_id: String,
    /// One per Availability Zone.
    pub subnets: Vec<LbSubnet>,
    /// Its security groups (application load balancers), in that VPC.
    pub security_groups: Vec<String>,
    /// Tags.
    pub tags: Tags,
}

/// A target group's health check settings (stored and returned; probed by the lab, not here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// Whether health checks run.
    pub enabled: bool,
    /// The protocol checks use.
    pub protocol: Protocol,
    /// `traffic-port` or a port number.
    pub port: String,
    /// HTTP(S) checks only.
    pub path: Option<String>,
    /// Seconds between checks.
    pub interval_seconds: u32,
    /// Seconds a check may take.
    pub timeout_seconds: u32,
    /// Consecutive successes that make an unhealthy target healthy.
    pub healthy_threshold: u32,
    /// Consecutive failures that make a healthy target unhealthy.
    pub unhealthy_threshold: u32,
    /// HTTP(S) checks only: the codes that count as healthy (`200`, `200-299`, `200,302`).
    pub matcher: Option<String>,
}

/// One registered target: an instance id or an IP address, with its port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// An instance id (`i-...`) or an IP address, by the group's target type.
    pub id: String,
    /// The port traffic goes to.
    pub port: u16,
    /// `all` or a zone, when given at registration.
    pub availability_zone: Option<String>,
    /// What the load balancer's health checks last saw (reported by the lab through
    /// `POST /sixfold/v1/target-health`); `None` until a first report, and again after the
    /// target is registered anew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<ProbedHealth>,
}

wire_enum! {
    /// Why health checks failed, as `DescribeTargetHealth` names it.
    HealthReason {
        Timeout = "Target.Timeout",
        FailedHealthChecks = "Target.FailedHealthChecks",
        ResponseCodeMismatch = "Target.ResponseCodeMismatch",
    }
}

impl HealthReason {
    /// AWS's description of the reason (`codes`: what a mismatching HTTP check answered).
    pub fn description(self, codes: Option<&str>) -> String {
        match self {
            HealthReason::Timeout => "Request timed out".into(),
            HealthReason::FailedHealthChecks => "Health checks failed".into(),
            HealthReason::ResponseCodeMismatch => format!(
                "Health checks failed with these codes: [{}]",
                codes.unwrap_or("")
            ),
        }
    }
}

/// A health-check verdict on one target: healthy, or unhealthy with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbedHealth {
    /// Whether the checks passed (the healthy threshold reached).
    pub healthy: bool,
    /// Set exactly when unhealthy.
    pub reason: Option<HealthReason>,
    /// The HTTP codes a [`HealthReason::ResponseCodeMismatch`] check got (`404`, `500,503`).
    pub codes: Option<String>,
}

/// A target group: where listeners forward traffic, and the targets registered in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetGroup {
    /// `arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID`.
    pub arn: String,
    /// Its name, unique in the region.
    pub name: String,
    /// The protocol targets are reached with.
    pub protocol: Protocol,
    /// The default port of its targets.
    pub port: u16,
    /// The VPC its targets are in.
    pub vpc_id: String,
    /// Instance or IP targets.
    pub target_type: TargetType,
    /// The address family of its targets.
    pub ip_address_type: TgIpType,
    /// Its health check settings.
    pub health_check: HealthCheck,
    /// Registered targets, in registration order; (id, port) pairs are unique.
    pub targets: Vec<Target>,
    /// Tags.
    pub tags: Tags,
}

/// A listener: a port and protocol on a load balancer, forwarding to one target group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    /// `arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app|net/LB/LBID/ID`.
    pub arn: String,
    /// The load balancer it listens on.
    pub load_balancer_arn: String,
    /// The port it listens on.
    pub port: u16,
    /// The protocol it speaks.
    pub protocol: Protocol,
    /// The certificate of a TLS/HTTPS listener (stored, not checked against ACM).
    pub certificate_arn: Option<String>,
    /// The default action: forward to this target group.
    pub target_group_arn: String,
    /// Tags.
    pub tags: Tags,
}
