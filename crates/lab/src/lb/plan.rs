//! The pure part of the lab's load balancers: names and addresses the lab chooses, the
//! difference between a target group's targets and a service's pods, and the health-check
//! state machine (thresholds of consecutive results, as ELB counts them). No I/O.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{LabError, Result};

/// Most load balancers one lab runs (each has its own public IPv4 198.51.100.(200 + k)).
pub const MAX_LOAD_BALANCERS: usize = 50;
/// The port a load balancer listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 80;

/// Which kind of load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Network load balancer: TCP, forwarded to the targets.
    Nlb,
    /// Application load balancer: HTTP, proxied with `X-Forwarded-For`.
    Alb,
}

impl Kind {
    /// Parse `nlb` / `alb`.
    pub fn parse(s: &str) -> Result<Kind> {
        match s {
            "nlb" => Ok(Kind::Nlb),
            "alb" => Ok(Kind::Alb),
            other => Err(LabError::InvalidFlag {
                flag: "--kind",
                detail: format!("{other:?}: use nlb (TCP) or alb (HTTP)"),
            }),
        }
    }
    /// `nlb` / `alb`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Nlb => "nlb",
            Kind::Alb => "alb",
        }
    }
    /// The ELBv2 `Type`.
    pub fn elb_type(self) -> &'static str {
        match self {
            Kind::Nlb => "network",
            Kind::Alb => "application",
        }
    }
    /// The listener's and target group's protocol.
    pub fn protocol(self) -> &'static str {
        match self {
            Kind::Nlb => "TCP",
            Kind::Alb => "HTTP",
        }
    }
}

/// `internet-facing` or `internal`.
pub fn check_scheme(s: &str) -> Result<bool> {
    match s {
        "internet-facing" => Ok(true),
        "internal" => Ok(false),
        other => Err(LabError::InvalidFlag {
            flag: "--scheme",
            detail: format!("{other:?}: use internet-facing or internal"),
        }),
    }
}

/// Check a service name: 1..20 of `[a-z0-9-]`, a letter first, no trailing hyphen (it becomes
/// part of load balancer and target group names, at most 32 characters on ELBv2).
pub fn check_service(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 20
        && name.as_bytes()[0].is_ascii_lowercase()
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(LabError::InvalidFlag {
            flag: "NAME",
            detail: format!(
                "{:?}: a service name is 1 to 20 lowercase letters, digits and hyphens, a letter first",
                name.chars().take(40).collect::<String>()
            ),
        })
    }
}

/// The load balancer's ELBv2 name: `k8s-<service>-<kind>`, with an `i` after the kind for an
/// internal one (≤ 29 characters).
pub fn lb_name(service: &str, kind: Kind, internet_facing: bool) -> String {
    format!(
        "k8s-{service}-{}{}",
        kind.as_str(),
        if internet_facing { "" } else { "i" }
    )
}

/// The target group's ELBv2 name: the load balancer's plus `-tg` (≤ 32 characters).
pub fn tg_name(service: &str, kind: Kind, internet_facing: bool) -> String {
    format!("{}-tg", lb_name(service, kind, internet_facing))
}

/// The namespace of load balancer `k` (1-based) of lab `lab`.
pub fn netns(lab: &str, k: usize) -> String {
    format!("sfl-{lab}-lb{k}")
}

/// The VPC router's interface towards load balancer `k`.
pub fn router_if(k: usize) -> String {
    format!("lb{k}")
}

/// The public IPv4 of internet-facing load balancer `k` (1-based): 198.51.100.(200 + k).
pub fn public_v4(k: usize) -> Result<Ipv4Addr> {
    if k == 0 || k > MAX_LOAD_BALANCERS {
        return Err(LabError::InvalidFlag {
            flag: "load balancers",
            detail: format!("a lab runs at most {MAX_LOAD_BALANCERS} load balancers"),
        });
    }
    Ok(Ipv4Addr::new(198, 51, 100, 200 + k as u8))
}

/// One IPv6 target: address and port.
pub type Target6 = (Ipv6Addr, u16);

/// What to change so a group's targets equal `want`: (register, deregister), each sorted.
pub fn diff(have: &BTreeSet<Target6>, want: &BTreeSet<Target6>) -> (Vec<Target6>, Vec<Target6>) {
    (
        want.difference(have).copied().collect(),
        have.difference(want).copied().collect(),
    )
}

/// Why a health check failed (the AWS reason code it is reported with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No answer within the timeout: `Target.Timeout`.
    Timeout,
    /// Refused or reset: `Target.FailedHealthChecks`.
    Failed,
    /// An HTTP check answered a code the matcher does not take: `Target.ResponseCodeMismatch`.
    Codes(u16),
}

impl Failure {
    /// The reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            Failure::Timeout => "Target.Timeout",
            Failure::Failed => "Target.FailedHealthChecks",
            Failure::Codes(_) => "Target.ResponseCodeMismatch",
        }
    }
}

/// A target's health as the load balancer tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Registered, not yet judged (gets traffic only while no target is healthy).
    Initial,
    Healthy,
    Unhealthy(Failure),
}

/// Consecutive results of one target's checks, turned into a verdict by the thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracker {
    pub health: Health,
    ok_run: u32,
    fail_run: u32,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            health: Health::Initial,
            ok_run: 0,
            fail_run: 0,
        }
    }
}

impl Tracker {
    /// Count one result; returns whether the verdict changed. Healthy after `healthy`
    /// consecutive successes, unhealthy after `unhealthy` consecutive failures.
    pub fn record(
        &mut self,
        result: std::result::Result<(), Failure>,
        healthy: u32,
        unhealthy: u32,
    ) -> bool {
        let before = self.health.clone();
        match result {
            Ok(()) => {
                self.ok_run += 1;
                self.fail_run = 0;
                if self.ok_run >= healthy.max(1) {
                    self.health = Health::Healthy;
                }
            }
            Err(f) => {
                self.fail_run += 1;
                self.ok_run = 0;
                if self.fail_run >= unhealthy.max(1) {
                    self.health = Health::Unhealthy(f);
                } else if let Health::Unhealthy(_) = self.health {
                    // Still unhealthy: keep the latest reason.
                    self.health = Health::Unhealthy(f);
                }
            }
        }
        self.health != before
    }
}

/// Whether HTTP `code` is taken by `matcher` (`200`, `200,302`, `200-299`).
pub fn matches(matcher: &str, code: u16) -> bool {
    matcher.split(',').any(|part| match part.split_once('-') {
        Some((lo, hi)) => match (lo.trim().parse::<u16>(), hi.trim().parse::<u16>()) {
            (Ok(lo), Ok(hi)) => (lo..=hi).contains(&code),
            _ => false,
        },
        None => part.trim().parse::<u16>() == Ok(code),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_turns_healthy_and_unhealthy_only_after_the_thresholds() {
        let mut t = Tracker::default();
        assert!(!t.record(Ok(()), 2, 3), "one success is not enough");
        assert_eq!(t.health, Health::Initial);
        assert!(t.record(Ok(()), 2, 3));
        assert_eq!(t.health, Health::Healthy);
        assert!(!t.record(Err(Failure::Failed), 2, 3));
        assert!(!t.record(Err(Failure::Failed), 2, 3));
        assert!(!t.record(Ok(()), 2, 3), "a success resets the failure run");
        for _ in 0..2 {
            assert!(!t.record(Err(Failure::Timeout), 2, 3));
        }
        assert!(t.record(Err(Failure::Timeout), 2, 3));
        assert_eq!(t.health, Health::Unhealthy(Failure::Timeout));
        assert!(
            t.record(Err(Failure::Codes(404)), 2, 3),
            "the reason follows the latest failure"
        );
        assert_eq!(t.health.clone(), Health::Unhealthy(Failure::Codes(404)));
    }

    #[test]
    fn matchers_take_single_codes_lists_and_ranges() {
        assert!(matches("200", 200));
        assert!(!matches("200", 404));
        assert!(matches("200,302", 302));
        assert!(matches("200-299", 204));
        assert!(!matches("200-299", 301));
        assert!(!matches("x-y", 200));
    }

    #[test]
    fn diff_registers_new_pods_and_deregisters_gone_ones() {
        let a: Ipv6Addr = "2001:db8::a".parse().unwrap();
        let b: Ipv6Addr = "2001:db8::b".parse().unwrap();
        let c: Ipv6Addr = "2001:db8::c".parse().unwrap();
        let have = BTreeSet::from([(a, 80), (b, 80)]);
        let want = BTreeSet::from([(b, 80), (c, 80)]);
        assert_eq!(diff(&have, &want), (vec![(c, 80)], vec![(a, 80)]));
        assert_eq!(diff(&want, &want), (vec![], vec![]));
    }

    #[test]
    fn names_and_addresses_fit_elb_and_the_documentation_range() {
        for s in ["web1", "a", "abcdefghij-klmnopqrs"] {
            check_service(s).unwrap();
            assert!(lb_name(s, Kind::Alb, false).len() <= 32);
            assert!(tg_name(s, Kind::Nlb, false).len() <= 32);
            assert_ne!(lb_name(s, Kind::Nlb, true), lb_name(s, Kind::Nlb, false));
        }
        for bad in ["", "Web", "1web", "web-", "abcdefghijklmnopqrstu", "a_b"] {
            assert!(check_service(bad).is_err(), "{bad:?}");
        }
        let range: ipnet::Ipv4Net = crate::plan::PUBLIC_V4_RANGE.parse().unwrap();
        assert!(range.contains(&public_v4(1).unwrap()));
        assert!(range.contains(&public_v4(MAX_LOAD_BALANCERS).unwrap()));
        assert!(public_v4(0).is_err() && public_v4(MAX_LOAD_BALANCERS + 1).is_err());
        assert!(Kind::parse("elb").is_err() && check_scheme("public").is_err());
    }
}
