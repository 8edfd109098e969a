//! The region's availability zones: names `<region>a` to `<region>f` and their zone ids
//! (`use1-az1` ...), as DescribeAvailabilityZones reports them and CreateSubnet accepts them.

use crate::ec2::Ec2Error;

/// Zones per region.
pub const LETTERS: [char; 6] = ['a', 'b', 'c', 'd', 'e', 'f'];

/// One availability zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// `us-east-1a`.
    pub name: String,
    /// `use1-az1`.
    pub id: String,
}

/// The short code EC2 uses in zone ids: `us-east-1` -> `use1`, `ap-southeast-2` -> `apse2`.
pub fn region_code(region: &str) -> String {
    let mut out = String::new();
    for (i, part) in region.split('-').enumerate() {
        if i == 0 || part.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(part);
            continue;
        }
        for (word, abbr) in [
            ("north", "n"),
            ("south", "s"),
            ("east", "e"),
            ("west", "w"),
            ("central", "c"),
        ] {
            if let Some(rest) = part.strip_prefix(word) {
                out.push_str(abbr);
                for (w2, a2) in [("east", "e"), ("west", "w")] {
                    if rest == w2 {
                        out.push_str(a2);
                    }
                }
                break;
            }
        }
    }
    out
}

/// Every zone of `region`.
pub fn all(region: &str) -> Vec<Zone> {
    let code = region_code(region);
    LETTERS
        .iter()
        .enumerate()
        .map(|(i, l)| Zone {
            name: format!("{region}{l}"),
            id: format!("{code}-az{}", i + 1),
        })
        .collect()
}

/// The zone id of zone name `name` (`None` if the region has no such zone).
pub fn id_of(region: &str, name: &str) -> Option<String> {
    all(region)
        .into_iter()
        .find(|z| z.name == name)
        .map(|z| z.id)
}

/// The zone CreateSubnet asked for: by name, by id, or the first zone when neither is given.
pub fn resolve(region: &str, name: Option<&str>, id: Option<&str>) -> Result<Zone, Ec2Error> {
    let zones = all(region);
    let list =
        |f: fn(&Zone) -> &String| zones.iter().map(f).cloned().collect::<Vec<_>>().join(", ");
    match (name, id) {
        (Some(_), Some(_)) => Err(Ec2Error::InvalidParameterCombination {
            message: "Give --availability-zone or --availability-zone-id, not both.".into(),
        }),
        (Some(n), None) => zones.iter().find(|z| z.name == n).cloned().ok_or_else(|| {
            Ec2Error::invalid(
                "AvailabilityZone",
                n,
                format!("The zones of this region are {}.", list(|z| &z.name)),
            )
        }),
        (None, Some(i)) => zones.iter().find(|z| z.id == i).cloned().ok_or_else(|| {
            Ec2Error::invalid(
                "AvailabilityZoneId",
                i,
                format!("The zone ids of this region are {}.", list(|z| &z.id)),
            )
        }),
        (None, None) => zones
            .into_iter()
            .next()
            .ok_or_else(|| Ec2Error::invalid("AvailabilityZone", "", "This region has no zones.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_ids_use_ec2s_region_codes() {
        assert_eq!(region_code("us-east-1"), "use1");
        assert_eq!(region_code("eu-central-1"), "euc1");
        assert_eq!(region_code("ap-southeast-2"), "apse2");
        assert_eq!(
            id_of("us-east-1", "us-east-1c").as_deref(),
            Some("use1-az3")
        );
    }

    #[test]
    fn an_unknown_zone_id_is_refused_with_the_list() {
        let e = resolve("us-east-1", None, Some("bogus-az9")).unwrap_err();
        assert!(e.to_string().contains("use1-az1"), "{e}");
        assert_eq!(
            resolve("us-east-1", None, Some("use1-az2")).unwrap().name,
            "us-east-1b"
        );
    }
}
