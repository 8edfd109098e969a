//! Elastic Load Balancing v2, the subset an IPv6 cluster's services need: network and
//! application load balancers (ipv4 or dualstack), target groups of IP or instance targets
//! (ipv4 or ipv6), listeners that forward to one target group, and tags. The rules AWS enforces
//! between address families are checked here; see `docs/region.md` ("Elastic Load Balancing v2").
//!
//! Pure domain like the rest of the region: the randomness of ARNs comes from [`Env`].

pub mod error;
pub mod health;
pub mod listeners;
pub mod load_balancers;
pub mod model;
pub mod tags;
pub mod target_groups;

pub use error::ElbError;

use rand::RngCore;

use crate::Env;

/// Longest load balancer or target group name (AWS: 32).
pub const MAX_NAME: usize = 32;

/// Check a load balancer or target group name: 1–32 characters of `[a-zA-Z0-9-]`, not starting
/// or ending with a hyphen (and, for load balancers, not starting with `internal-`).
pub fn check_name(member: &str, name: &str, load_balancer: bool) -> Result<(), ElbError> {
    let fix = "Use 1 to 32 letters, digits and hyphens, not starting or ending with a hyphen.";
    if name.is_empty()
        || name.chars().count() > MAX_NAME
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        || name.starts_with('-')
        || name.ends_with('-')
    {
        return Err(ElbError::invalid(member, name, fix));
    }
    if load_balancer && name.starts_with("internal-") {
        return Err(ElbError::invalid(
            member,
            name,
            "A load balancer name cannot start with 'internal-' (that prefix is reserved for internal DNS names).",
        ));
    }
    Ok(())
}

/// 16 lowercase hex digits, the id part of ELB ARNs.
pub fn hex_id(rng: &mut dyn RngCore) -> String {
    format!("{:016x}", rng.next_u64())
}

/// `arn:aws:elasticloadbalancing:<region>:<account>:<resource>`.
pub fn arn(env: &Env, resource: &str) -> String {
    format!(
        "arn:aws:elasticloadbalancing:{}:{}:{resource}",
        env.config.name, env.config.account_id
    )
}

/// The kind of ELB resource an ARN names, from its resource part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArnKind {
    /// `loadbalancer/...`
    LoadBalancer,
    /// `targetgroup/...`
    TargetGroup,
    /// `listener/...`
    Listener,
}

/// What an ELB ARN names, or `None` when it is not an ELB ARN of a kind served here.
pub fn arn_kind(arn: &str) -> Option<ArnKind> {
    let rest = arn.strip_prefix("arn:aws:elasticloadbalancing:")?;
    let resource = rest.splitn(3, ':').nth(2)?;
    if resource.starts_with("loadbalancer/") {
        Some(ArnKind::LoadBalancer)
    } else if resource.starts_with("targetgroup/") {
        Some(ArnKind::TargetGroup)
    } else if resource.starts_with("listener/") {
        Some(ArnKind::Listener)
    } else {
        None
    }
}

/// Most items of a Describe page (AWS's `PageSize` maximum).
pub const MAX_PAGE: usize = 400;

/// One page of keys of an ordered table: the items after `marker` (a key returned as
/// `NextMarker`), at most `page_size`, and the marker of the next page if there is one.
pub fn page<T: Clone>(
    items: Vec<(String, T)>,
    marker: Option<&str>,
    page_size: Option<usize>,
) -> Result<(Vec<T>, Option<String>), ElbError> {
    let size = page_size.unwrap_or(MAX_PAGE);
    if !(1..=MAX_PAGE).contains(&size) {
        return Err(ElbError::invalid(
            "PageSize",
            size,
            format!("Give a page size from 1 to {MAX_PAGE}."),
        ));
    }
    let start = match marker {
        None => 0,
        Some(m) => {
            if arn_kind(m).is_none() {
                return Err(ElbError::invalid(
                    "Marker",
                    m,
                    "Pass the NextMarker of the previous page unchanged.",
                ));
            }
            items.partition_point(|(k, _)| k.as_str() <= m)
        }
    };
    let rest = &items[start.min(items.len())..];
    let taken: Vec<(String, T)> = rest.iter().take(size).cloned().collect();
    let next = (rest.len() > size)
        .then(|| taken.last().map(|(k, _)| k.clone()))
        .flatten();
    Ok((taken.into_iter().map(|(_, v)| v).collect(), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_and_plain() {
        assert!(check_name("Name", "web-1", true).is_ok());
        assert!(check_name("Name", &"a".repeat(32), true).is_ok());
        for bad in ["", "-a", "a-", "a_b", "ä", &"a".repeat(33)] {
            let e = check_name("Name", bad, true).unwrap_err().to_string();
            assert!(e.contains(&format!("'{bad}'")), "{e}");
        }
        assert!(check_name("Name", "internal-x", true).is_err());
        assert!(check_name("Name", "internal-x", false).is_ok());
    }

    #[test]
    fn pages_follow_the_marker_and_end_without_one() {
        let items: Vec<(String, u32)> = (0..5)
            .map(|i| {
                (
                    format!("arn:aws:elasticloadbalancing:r:1:targetgroup/t{i}/x"),
                    i,
                )
            })
            .collect();
        let (a, m) = page(items.clone(), None, Some(2)).unwrap();
        assert_eq!(a, vec![0, 1]);
        let (b, m) = page(items.clone(), m.as_deref(), Some(2)).unwrap();
        assert_eq!(b, vec![2, 3]);
        let (c, m) = page(items.clone(), m.as_deref(), Some(2)).unwrap();
        assert_eq!((c, m), (vec![4], None));
        assert!(page(items.clone(), Some("junk"), None).is_err());
        assert!(page(items, None, Some(0)).is_err());
    }
}

#[cfg(test)]
mod domain_tests;
