//! Describe calls: ids and `Filter.N` matching (with EC2's `*` and `?` wildcards and `tag:KEY`).

use super::error::Ec2Error;
use super::lookup;
use super::model::*;
use super::page::{PageRequest, Paged};
use crate::ids::{
    EgressOnlyInternetGatewayId, InstanceId, InternetGatewayId, Kind, NetworkInterfaceId,
    RouteTableId, SecurityGroupId, SubnetId, TypedId, VpcId,
};
use crate::state::State;

/// `*` matches any run, `?` any one character.
///
/// Greedy two-pointer matching: on a mismatch it returns to the last `*` and lets it swallow one
/// more character. No recursion and no backtracking beyond the last star, so the cost is at most
/// `pattern × value` steps whatever the pattern (60,000 stars or `*a*a*a…*b` are answered at
/// once, where a recursive matcher overflowed the stack or ran for minutes).
pub fn wildcard(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    let (mut pi, mut vi) = (0usize, 0usize);
    // Position of the last `*` seen and the value position it is currently matched up to.
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, vi));
                pi += 1;
            }
            Some(&c) if c == '?' || c == v[vi] => {
                pi += 1;
                vi += 1;
            }
            _ => match star {
                Some((sp, sv)) => {
                    star = Some((sp, sv + 1));
                    pi = sp + 1;
                    vi = sv + 1;
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Reject filter names the action does not know.
pub fn validate(
    filters: &[Filter],
    action: &'static str,
    names: &'static [&'static str],
    supported: &'static str,
) -> Result<(), Ec2Error> {
    for f in filters {
        let ok = names.contains(&f.name.as_str())
            || f.name.starts_with("tag:")
            || f.name == "tag-key"
            || f.name == "tag-value";
        if !ok {
            return Err(Ec2Error::InvalidFilter {
                name: f.name.clone(),
                action,
                supported,
            });
        }
    }
    Ok(())
}

/// Whether a resource passes every filter (filters AND, values OR).
pub fn matches(filters: &[Filter], tags: &Tags, facts: impl Fn(&str) -> Vec<String>) -> bool {
    filters.iter().all(|f| {
        let have: Vec<String> = if let Some(k) = f.name.strip_prefix("tag:") {
            tags.get(k).cloned().into_iter().collect()
        } else if f.name == "tag-key" {
            tags.keys().cloned().collect()
        } else if f.name == "tag-value" {
            tags.values().cloned().collect()
        } else {
            facts(&f.name)
        };
        f.values
            .iter()
            .any(|pat| have.iter().any(|h| wildcard(pat, h)))
    })
}

/// The rows named by `ids` (every one must exist), or all rows; in id order, from the page start.
fn by_ids<'a, T: Clone, I: TypedId>(
    table: &'a crate::table::Table<T>,
    ids: &[I],
    page: &PageRequest,
) -> Result<Box<dyn Iterator<Item = &'a T> + 'a>, Ec2Error> {
    if ids.is_empty() {
        return Ok(Box::new(table.range_after(page.after.as_deref())));
    }
    let mut named: Vec<(String, &'a T)> = Vec::with_capacity(ids.len());
    for id in ids {
        named.push((id.to_string(), lookup(table, id)?));
    }
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named.dedup_by(|a, b| a.0 == b.0);
    let page = page.clone();
    Ok(Box::new(
        named
            .into_iter()
            .filter(move |(id, _)| page.admits(id))
            .map(|(_, v)| v),
    ))
}

const VPC_FILTERS: &[&str] = &[
    "vpc-id",
    "cidr",
    "cidr-block-association.cidr-block",
    "ipv6-cidr-block-association.ipv6-cidr-block",
    "state",
    "is-default",
];
const SUBNET_FILTERS: &[&str] = &[
    "subnet-id",
    "vpc-id",
    "cidr-block",
    "availability-zone",
    "ipv6-cidr-block-association.ipv6-cidr-block",
    "state",
    "assign-ipv6-address-on-creation",
];
const IGW_FILTERS: &[&str] = &[
    "internet-gateway-id",
    "attachment.vpc-id",
    "attachment.state",
];
const EIGW_FILTERS: &[&str] = &["egress-only-internet-gateway-id", "attachment.vpc-id"];
const RTB_FILTERS: &[&str] = &[
    "route-table-id",
    "vpc-id",
    "association.subnet-id",
    "association.main",
    "route.destination-cidr-block",
    "route.destination-ipv6-cidr-block",
    "route.gateway-id",
    "route.egress-only-internet-gateway-id",
];
const SG_FILTERS: &[&str] = &["group-id", "group-name", "vpc-id", "description"];
const INSTANCE_FILTERS: &[&str] = &[
    "instance-id",
    "vpc-id",
    "subnet-id",
    "instance-type",
    "instance-state-name",
    "private-ip-address",
    "network-interface.network-interface-id",
    "reservation-id",
];
const ENI_FILTERS: &[&str] = &[
    "network-interface-id",
    "vpc-id",
    "subnet-id",
    "attachment.instance-id",
    "attachment.device-index",
    "private-ip-address",
    "ipv6-addresses.ipv6-address",
    "status",
    "group-id",
    "interface-type",
];

impl State {
    /// DescribeVpcs: the VPCs with these ids (all when empty) that match every filter, one page of them.
    pub fn describe_vpcs(
        &self,
        ids: &[VpcId],
        filters: &[Filter],
        page: &PageRequest,
    ) -> Result<Paged<Vpc>, Ec2Error> {
        validate(
            filters,
            "DescribeVpcs",
            VPC_FILTERS,
            "vpc-id, cidr, ipv6-cidr-block-association.ipv6-cidr-block, state, tag:KEY",
        )?;
        Ok(page.cut(
            by_ids(&self.vpcs, ids, page)?
                .filter(|v| {
                    matches(filters, &v.tags, |n| match n {
                        "vpc-id" => vec![v.id.clone()],
                        "cidr" => vec![v.cidr_block.to_string()],
                        "cidr-block-association.cidr-block" => {
                            v.ipv4_cidrs().map(|c| c.to_string()).collect()
                        }
                        "ipv6-cidr-block-association.ipv6-cidr-block" => {
                            v.ipv6_cidrs().map(|c| c.to_string()).collect()
                        }
                        "state" => vec!["available".into()],
                        "is-default" => vec!["false".into()],
                        _ => vec![],
                    })
                })
                .cloned(),
            |v| v.id.clone(),
        ))
    }

    /// DescribeSubnets: the subnets with these ids (all when empty) that match every filter, one page of them.
    pub fn describe_subnets(
        &self,
        ids: &[SubnetId],
        filters: &[Filter],
        page: &PageRequest,
    ) -> Result<Paged<Subnet>, Ec2Error> {
        validate(
            filters,
            "DescribeSubnets",
            SUBNET_FILTERS,
            "subnet-id, vpc-id, cidr-block, availability-zone, ipv6-cidr-block-association.ipv6-cidr-block, tag:KEY",
        )?;
        Ok(page.cut(
            by_ids(&self.subnets, ids, page)?
                .filter(|s| {
                    matches(filters, &s.tags, |n| match n {
                        "subnet-id" => vec![s.id.clone()],
                        "vpc-id" => vec![s.vpc_id.clone()],
                        "cidr-block" => s.cidr_block.iter().map(|c| c.to_string()).collect(),
                        "availability-zone" => vec![s.availability_zone.clone()],
                        "ipv6-cidr-block-association.ipv6-cidr-block" => {
                            s.ipv6.iter().map(|a| a.cidr.to_string()).collect()
                        }
                        "state" => vec!["available".into()],
                        "assign-ipv6-address-on-creation" => {
                            vec![s.assign_ipv6_on_creation.to_string()]
                        }
                        _ => vec![],
                    })
                })
                .cloned(),
            |v| v.id.clone(),
        ))
    }

    /// DescribeInternetGateways: the gateways with these ids (all when empty) that match every filter, one page of them.
    pub fn describe_internet_gateways(
        &self,
        ids: &[InternetGatewayId],
        filters: &[Filter],
        page: &PageRequest,
    ) -> Result<Paged<InternetGateway>, Ec2Error> {
        validate(
            filters,
            "DescribeInternetGateways",
            IGW_FILTERS,
            "internet-gateway-id, attachment.vpc-id, tag:KEY",
        )?;
        Ok(page.cut(
            by_ids(&self.internet_gateways, ids, page)?
                .filter(|g| {
                    matches(filters, &g.tags, |n| match n {
                        "internet-gateway-id" => vec![g.id.clone()],
                        "attachment.vpc-id" => g.attached_vpc.iter().cloned().collect(),
                        "attachment.state" => g
                            .attached_vpc
                            .iter()
                            .map(|_| "available".to_string())
                            .collect(),
                        _ => vec![],
                    })
                })
                .cloned(),
            |v| v.id.clone(),
        ))
    }

    /// DescribeEgressOnlyInternetGateways: the gateways with these ids (all when empty) that match every filter, one page of them.
    pub fn describe_egress_only_gateways(
        &self,
        ids: &[EgressOnlyInternetGatewayId],
        filters: &[Filter],
        page: &PageRequest,
    ) -> Result<Paged<EgressOnlyInternetGateway>, Ec2Error> {
        validate(
            filters,
            "DescribeEgressOnlyInternetGateways",
            EIGW_FILTERS,
            "egress-only-internet-gateway-id, attachment.vpc-id, tag:KEY",
        )?;
        Ok(page.cut(
            by_ids(&self.egress_only_gateways, ids, page)?
                .filter(|g| {
                    matches(filters, &g.tags, |n| match n {
                        "egress-only-internet-gateway-id" => vec![g.id.clone()],
                        "attachment.vpc-id" => vec![g.vpc_id.clone()],
                        _ => vec![],
                    })
                })
                .cloned(),
            |v| v.id.clone(),
        ))
    }

    /// DescribeRouteTables: the route tables with these ids (all when empty) that match every filter, one page of them.
    pub fn describe_route_tables(
        &self,
        ids: &[RouteTableId],
        filters: &[Filter],
        page: &PageRequest,
    ) -> Result<Paged<RouteTable>, Ec2Error> {
        validate(
            filters,
            "DescribeRouteTables",
            RTB_FILTERS,
            "route-table-id, vpc-id, association.subnet-id, association.main, route.*, tag:KEY",
        )?;
        Ok(page.cut(
            by_ids(&self.route_tables, ids, page)?
                .filter(|r| {
                    matches(filters, &r.tags, |n| match n {
                        "route-table-id" => vec![r.id.clone()],
                        "vpc-id" => vec![r.vpc_id.clone()],
                        "association.subnet-id" => {
                            r.associations.iter().map(|a| a.subnet_id.clone()).collect()
                        }
                        "association.main" => vec![r.main.to_string()],
                        "route.destination-cidr-block" => r
                            .routes
                            .iter()
                            .filter_map(|x| match x.destination {
                                Destination::V4(n) => Some(n.to_string()),
                                _ => None,
                            })
                            .collect(),
                        "route.destination-ipv6-cidr-block" => r
                            .routes
                            .iter()
                            .filter_map(|x| match x.destination {
                                Destination::V6(n) => Some(n.to_string()),
                                _ => None,
                            })
                            .collect(),
                        "route.gateway-id" => r
                            .routes
                            .iter()
                            .filter_map(|x| match &x.target {
                                Target::InternetGateway(g) => Some(g.clone()),
                                Target::Local => Some("local".into()),
                                _ => None,
                            })
                            .collect(),
                        "route.egress-only-internet-gateway-id" => r
                            .routes
                            .iter()
                            .filter_map(|x| match &x.target {
                                Target::EgressOnlyInternetGateway(g) => Some(g.clone()),
                                _ => None,
                            })
                            .collect(),
                        _ => vec![],
                    })
                })
                .cloned(),
            |v| v.id.clone(),
        ))
    }

    /// DescribeSecurityGroups: the groups with these ids (all when empty) that match every filter, one page of them.
    pub fn describe_security_groups(
        &self,
        ids: &[SecurityGroupId],
        names: &[String],
        filters: &[Filter],
        page: &PageRequest,
    ) -> Result<Paged<SecurityGroup>, Ec2Error> {
        validate(
            filters,
            "DescribeSecurityGroups",
            SG_FILTERS,
            "group-id, group-name, vpc-id, description, tag:KEY",
        )?;
        Ok(page.cut(
            by_ids(&self.security_groups, ids, page)?
                .filter(|g| names.is_empty() || names.contains(&g.name))
                .filter(|g| {
                    matches(filters, &g.tags, |n| match n {
                        "group-id" => vec![g.id.clone()],
                        "group-name" => vec![g.name.clone()],
                        "vpc-id" => vec![g.vpc_id.clone()],
                        "description" => vec![g.description.clone()],
                        _ => vec![],
                    })
                })
                .cloned(),
            |v| v.id.clone(),
        ))
    }

    /// DescribeInstances: the instances with these ids (all when empty) that match every filter, one page of them.
    pub fn describe_instances(
        &self,
        ids: &[InstanceId],
        filters: &[Filter],
        page: &PageRequest,
    ) -> Result<Paged<Instance>, Ec2Error> {
        validate(
            filters,
            "DescribeInstances",
            INSTANCE_FILTERS,
            "instance-id, vpc-id, subnet-id, instance-type, instance-state-name, private-ip-address, tag:KEY",
        )?;
        Ok(page.cut(
            by_ids(&self.instances, ids, page)?
                .filter(|i| {
                    matches(filters, &i.tags, |n| match n {
                        "instance-id" => vec![i.id.clone()],
                        "vpc-id" => vec![i.vpc_id.clone()],
                        "subnet-id" => vec![i.subnet_id.clone()],
                        "instance-type" => vec![i.instance_type.clone()],
                        "instance-state-name" => vec![i.state.name().into()],
                        "private-ip-address" => vec![i.private_ipv4.to_string()],
                        "network-interface.network-interface-id" => vec![i.primary_eni.clone()],
                        "reservation-id" => vec![i.reservation_id.clone()],
                        _ => vec![],
                    })
                })
                .cloned(),
            |v| v.id.clone(),
        ))
    }

    /// DescribeNetworkInterfaces: the ENIs with these ids (all when empty) that match every filter, one page of them.
    pub fn describe_network_interfaces(
        &self,
        ids: &[NetworkInterfaceId],
        filters: &[Filter],
        page: &PageRequest,
    ) -> Result<Paged<NetworkInterface>, Ec2Error> {
        validate(
            filters,
            "DescribeNetworkInterfaces",
            ENI_FILTERS,
            "network-interface-id, vpc-id, subnet-id, attachment.instance-id, attachment.device-index, private-ip-address, tag:KEY",
        )?;
        // Lookups by instance id use the index: their cost does not grow with the region.
        let rows: Box<dyn Iterator<Item = &NetworkInterface> + '_> =
            match by_instance_index(ids, filters) {
                Some(instances) => {
                    let mut hits: Vec<&NetworkInterface> = Vec::new();
                    for i in &instances {
                        hits.extend(self.enis_of_instance(i).filter(|e| page.admits(&e.id)));
                    }
                    hits.sort_by(|a, b| a.id.cmp(&b.id));
                    hits.dedup_by(|a, b| a.id == b.id);
                    Box::new(hits.into_iter())
                }
                None => by_ids(&self.network_interfaces, ids, page)?,
            };
        Ok(page.cut(
            rows.filter(|e| {
                matches(filters, &e.tags, |n| match n {
                    "network-interface-id" => vec![e.id.clone()],
                    "vpc-id" => vec![e.vpc_id.clone()],
                    "subnet-id" => vec![e.subnet_id.clone()],
                    "interface-type" => vec![e.interface_type.clone()],
                    "attachment.instance-id" => {
                        e.attachment.iter().map(|a| a.instance_id.clone()).collect()
                    }
                    "attachment.device-index" => e
                        .attachment
                        .iter()
                        .map(|a| a.device_index.to_string())
                        .collect(),
                    "private-ip-address" => vec![e.private_ipv4.to_string()],
                    "ipv6-addresses.ipv6-address" => {
                        e.ipv6_addresses.iter().map(|a| a.to_string()).collect()
                    }
                    "status" => vec![
                        if e.attachment.is_some() {
                            "in-use"
                        } else {
                            "available"
                        }
                        .into(),
                    ],
                    "group-id" => e.security_groups.clone(),
                    _ => vec![],
                })
            })
            .cloned(),
            |e| e.id.clone(),
        ))
    }

    /// DescribeSecurityGroupRules: the rules of every group (or of the groups named by the
    /// `group-id` filter), by rule id.
    pub fn describe_security_group_rules(
        &self,
        rule_ids: &[String],
        filters: &[Filter],
        page: &PageRequest,
    ) -> Result<Paged<(String, Rule)>, Ec2Error> {
        validate(
            filters,
            "DescribeSecurityGroupRules",
            &["group-id", "security-group-rule-id"],
            "group-id, security-group-rule-id, tag:KEY",
        )?;
        for id in rule_ids {
            super::error::check_id(Kind::SecurityGroupRule, id)?;
        }
        let mut rules: Vec<(String, Rule)> = self
            .security_groups
            .values()
            .flat_map(|g| g.rules.iter().map(move |r| (g.id.clone(), r.clone())))
            .filter(|(_, r)| rule_ids.is_empty() || rule_ids.contains(&r.id))
            .filter(|(g, r)| {
                matches(filters, &Tags::new(), |n| match n {
                    "group-id" => vec![g.clone()],
                    "security-group-rule-id" => vec![r.id.clone()],
                    _ => vec![],
                })
            })
            .collect();
        if let Some(missing) = rule_ids
            .iter()
            .find(|id| !rules.iter().any(|(_, r)| &r.id == *id))
        {
            return Err(Ec2Error::NotFound {
                kind: Kind::SecurityGroupRule,
                id: missing.clone(),
            });
        }
        rules.sort_by(|a, b| a.1.id.cmp(&b.1.id));
        Ok(page.cut(
            rules.into_iter().filter(|(_, r)| page.admits(&r.id)),
            |(_, r)| r.id.clone(),
        ))
    }
}

/// The instance ids of an `attachment.instance-id` filter with literal values (no wildcards),
/// when no ENI ids are named: such a lookup can go through the index.
fn by_instance_index(ids: &[NetworkInterfaceId], filters: &[Filter]) -> Option<Vec<String>> {
    if !ids.is_empty() {
        return None;
    }
    let f = filters
        .iter()
        .find(|f| f.name == "attachment.instance-id")?;
    if f.values.iter().any(|v| v.contains(['*', '?'])) {
        return None;
    }
    Some(f.values.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_ec2() {
        assert!(wildcard("vpc-*", "vpc-0123"));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("a?c", "abbc"));
        assert!(wildcard("*", ""));
        assert!(!wildcard("x", "y"));
        assert!(wildcard("*b", "aab"));
        assert!(!wildcard("*b", "aba"));
        assert!(wildcard("a*b*c", "aXbYbZc"));
        assert!(!wildcard("a*b*c", "aXbYbZ"));
        assert!(wildcard("**?", "x"));
        assert!(!wildcard("?", ""));
        assert!(wildcard("", ""));
        assert!(!wildcard("", "a"));
    }

    #[test]
    fn sixty_thousand_stars_do_not_overflow_the_stack() {
        let stars = "*".repeat(60_000);
        assert!(wildcard(&stars, "vpc-0123"));
        assert!(wildcard(&stars, ""));
        // Run on a small stack, as a tokio blocking thread would, to show no recursion is left.
        let h = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || wildcard(&format!("{stars}x"), "vpc-0123"))
            .expect("spawn");
        assert!(!h.join().expect("no stack overflow"));
    }

    #[test]
    fn many_star_pattern_does_not_backtrack_exponentially() {
        // `*a*a…*a*b` against sixty `a`s: exponential for a backtracking matcher.
        let pattern = format!("{}*b", "*a".repeat(14));
        let value = "a".repeat(60);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(wildcard(&pattern, &value));
        });
        let got = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the matcher answers without exponential backtracking");
        assert!(!got);
    }

    proptest::proptest! {
        #[test]
        fn wildcard_agrees_with_a_reference_matcher(
            p in "[ab*?]{0,8}", v in "[ab]{0,8}"
        ) {
            proptest::prop_assert_eq!(wildcard(&p, &v), reference(&p, &v));
        }
    }

    /// Dynamic-programming matcher used as the oracle.
    fn reference(p: &str, v: &str) -> bool {
        let p: Vec<char> = p.chars().collect();
        let v: Vec<char> = v.chars().collect();
        let mut dp = vec![vec![false; v.len() + 1]; p.len() + 1];
        dp[0][0] = true;
        for i in 1..=p.len() {
            for j in 0..=v.len() {
                dp[i][j] = match p[i - 1] {
                    '*' => dp[i - 1][j] || (j > 0 && dp[i][j - 1]),
                    '?' => j > 0 && dp[i - 1][j - 1],
                    c => j > 0 && v[j - 1] == c && dp[i - 1][j - 1],
                };
            }
        }
        dp[p.len()][v.len()]
    }
}
