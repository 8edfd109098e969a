//! Bounds on every EC2 Query input, checked at the edge before an action runs, so that no request
//! can store data a later read cannot render, or make a Describe call do unbounded work. Each
//! limit is refused with the code EC2 uses for it; docs/region.md lists them under "Limits".

use std::collections::BTreeMap;

use region::ec2::Ec2Error;
use region::ec2::tags::check_tags;

use crate::query::Params;

/// Longest value of any one parameter, in characters. No EC2 input modelled here is longer
/// (tag values are 256, descriptions 255, ids and CIDRs far shorter).
pub const MAX_VALUE: usize = 1024;
/// Most `Filter.N` of one request.
pub const MAX_FILTERS: usize = 50;
/// Most `Filter.N.Value.M` of one filter (EC2's own limit).
pub const MAX_FILTER_VALUES: usize = 200;
/// Longest filter value, in characters.
pub const MAX_FILTER_VALUE: usize = 255;
/// Longest security group name, group description and rule description, in characters.
pub const MAX_DESCRIPTION: usize = 255;

/// The first control character of `s` that XML 1.0 cannot carry or that EC2 does not store (every
/// C0 control but tab, newline and carriage return; U+FFFE, U+FFFF), with its character index.
pub fn bad_char(s: &str) -> Option<(usize, char)> {
    s.chars()
        .enumerate()
        .find(|(_, c)| !crate::xml::xml_char(*c))
}

/// `s` with controls shown as `\u{..}` and cut to 64 characters, for an error message.
pub fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(64).flat_map(char::escape_debug).collect();
    if s.chars().nth(64).is_some() {
        out.push_str("...");
    }
    out
}

fn too_long(name: &str, value: &str, max: usize) -> Ec2Error {
    Ec2Error::invalid(
        "a parameter",
        shown(name),
        format!(
            "The value of {} is {} characters; it may be at most {max} (value starts {}).",
            shown(name),
            value.chars().count(),
            shown(value)
        ),
    )
}

/// Check every parameter of a request against the limits above.
pub fn check(p: &Params) -> Result<(), Ec2Error> {
    for (k, v) in p.iter() {
        for (what, s) in [("name", k), ("value", v)] {
            if let Some((i, c)) = bad_char(s) {
                return Err(Ec2Error::invalid(
                    "a parameter",
                    shown(k),
                    format!(
                        "The parameter {what} holds the control character U+{:04X} at position {i} ({}); control characters other than tab, newline and carriage return are not accepted. Remove it.",
                        c as u32,
                        shown(s)
                    ),
                ));
            }
        }
        if v.chars().count() > MAX_VALUE {
            return Err(too_long(k, v, MAX_VALUE));
        }
        let is_description = k == "GroupName"
            || k == "GroupDescription"
            || (k.starts_with("IpPermissions.") && k.ends_with(".Description"));
        if is_description && v.chars().count() > MAX_DESCRIPTION {
            return Err(too_long(k, v, MAX_DESCRIPTION));
        }
    }
    check_filters(p)?;
    check_tag_specs(p)
}

fn check_filters(p: &Params) -> Result<(), Ec2Error> {
    let filters = p.filters();
    if filters.len() > MAX_FILTERS {
        return Err(Ec2Error::FilterLimitExceeded {
            message: format!(
                "The request uses {} filters; at most {MAX_FILTERS} are allowed. Combine values into fewer filters.",
                filters.len()
            ),
        });
    }
    for f in &filters {
        if f.values.len() > MAX_FILTER_VALUES {
            return Err(Ec2Error::FilterLimitExceeded {
                message: format!(
                    "The filter '{}' has {} values; at most {MAX_FILTER_VALUES} are allowed per filter. Split the request.",
                    shown(&f.name),
                    f.values.len()
                ),
            });
        }
        if let Some(v) = f
            .values
            .iter()
            .find(|v| v.chars().count() > MAX_FILTER_VALUE)
        {
            return Err(Ec2Error::invalid(
                "Filter.Value",
                shown(v),
                format!(
                    "A value of filter '{}' is {} characters; filter values are at most {MAX_FILTER_VALUE}.",
                    shown(&f.name),
                    v.chars().count()
                ),
            ));
        }
    }
    Ok(())
}

/// `TagSpecification.N`: the tags each resource type would get (specifications of one type
/// merge), checked as CreateTags checks them.
fn check_tag_specs(p: &Params) -> Result<(), Ec2Error> {
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    for spec in p.structs("TagSpecification") {
        let ty = spec.get("ResourceType").unwrap_or_default();
        let tags = spec.tags("Tag");
        check_tags(&format!("the new {}", shown(&ty)), &tags)?;
        *by_type.entry(ty).or_default() += tags.len();
    }
    for (ty, n) in by_type {
        if n > region::ec2::tags::MAX_TAGS {
            return Err(Ec2Error::TagLimitExceeded {
                resource: format!("the new {}", shown(&ty)),
                count: n,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> String {
        crate::ec2::error::code(&check(&Params::parse(body.as_bytes())).unwrap_err()).1
    }

    #[test]
    fn control_characters_are_refused_in_names_and_values() {
        assert_eq!(code("Action=DescribeVpcs%00"), "InvalidParameterValue");
        assert_eq!(code("Action%01=DescribeVpcs"), "InvalidParameterValue");
        let e = check(&Params::parse(b"Tag.1.Key=a&Tag.1.Value=x%01y")).unwrap_err();
        assert!(e.to_string().contains("U+0001"), "{e}");
        assert!(!e.to_string().contains('\u{1}'), "{e}");
        assert!(check(&Params::parse(b"Tag.1.Key=a&Tag.1.Value=x%09y%0Az")).is_ok());
    }

    #[test]
    fn too_many_filters_or_filter_values_are_refused_with_filter_limit_exceeded() {
        let many: String = (1..=51)
            .map(|i| format!("&Filter.{i}.Name=vpc-id&Filter.{i}.Value.1=x"))
            .collect();
        assert_eq!(
            code(&format!("Action=DescribeVpcs{many}")),
            "FilterLimitExceeded"
        );
        let values: String = (1..=201)
            .map(|i| format!("&Filter.1.Value.{i}=v{i}"))
            .collect();
        assert_eq!(
            code(&format!("Action=DescribeVpcs&Filter.1.Name=vpc-id{values}")),
            "FilterLimitExceeded"
        );
        let stars = "*".repeat(60_000);
        assert_eq!(
            code(&format!(
                "Action=DescribeVpcs&Filter.1.Name=vpc-id&Filter.1.Value.1={stars}"
            )),
            "InvalidParameterValue"
        );
    }

    #[test]
    fn create_time_tags_are_bounded_like_create_tags() {
        let tags: String = (1..=51)
            .map(|i| {
                format!("&TagSpecification.1.Tag.{i}.Key=k{i}&TagSpecification.1.Tag.{i}.Value=v")
            })
            .collect();
        assert_eq!(
            code(&format!(
                "Action=CreateVpc&TagSpecification.1.ResourceType=vpc{tags}"
            )),
            "TagLimitExceeded"
        );
        let long = "v".repeat(257);
        assert_eq!(
            code(&format!(
                "Action=CreateVpc&TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=k&TagSpecification.1.Tag.1.Value={long}"
            )),
            "InvalidParameterValue"
        );
        assert_eq!(
            code(
                "Action=CreateVpc&TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=aws:x&TagSpecification.1.Tag.1.Value=v"
            ),
            "InvalidParameterValue"
        );
        let huge = "v".repeat(900_000);
        assert_eq!(
            code(&format!("Action=CreateVpc&ImageId={huge}")),
            "InvalidParameterValue"
        );
    }

    #[test]
    fn security_group_names_and_descriptions_are_bounded() {
        let long = "d".repeat(256);
        assert_eq!(
            code(&format!(
                "Action=CreateSecurityGroup&GroupName=g&GroupDescription={long}"
            )),
            "InvalidParameterValue"
        );
        assert!(
            check(&Params::parse(
                format!("GroupDescription={}", "d".repeat(255)).as_bytes()
            ))
            .is_ok()
        );
    }
}
