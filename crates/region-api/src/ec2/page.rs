//! `MaxResults` / `NextToken` of the EC2 Describe calls. Bounds per action come from botocore's
//! `ec2/2016-11-15` model (DescribeInstances and DescribeTags have none there; EC2's documented
//! 5-1000 applies). A `NextToken` is opaque to clients: the hex of the last id of the previous
//! page, then an HMAC-SHA256 (region key) over the action and that id, so a garbled or forged
//! token, or one from another action, is refused with `InvalidPaginationToken`.

use hmac::{Hmac, Mac};
use region::ec2::Ec2Error;
use region::ec2::page::PageRequest;
use sha2::Sha256;

use crate::query::Params;

/// (action, MaxResults min, MaxResults max), from botocore's model.
pub const BOUNDS: &[(&str, usize, usize)] = &[
    ("DescribeVpcs", 5, 1000),
    ("DescribeSubnets", 5, 1000),
    ("DescribeInternetGateways", 5, 1000),
    ("DescribeEgressOnlyInternetGateways", 5, 255),
    ("DescribeRouteTables", 5, 100),
    ("DescribeSecurityGroups", 5, 1000),
    ("DescribeSecurityGroupRules", 5, 1000),
    ("DescribeInstanceTypes", 5, 100),
    ("DescribeInstances", 5, 1000),
    ("DescribeNetworkInterfaces", 5, 1000),
    ("DescribeTags", 5, 1000),
    ("DescribeLaunchTemplates", 1, 200),
];

/// Bytes of the HMAC kept in a token.
const MAC_LEN: usize = 12;
/// Longest token accepted (ids are short; anything longer is not ours).
const MAX_TOKEN: usize = 512;

fn mac(key: &[u8], action: &str, id: &str) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut m = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return vec![0; MAC_LEN],
    };
    m.update(action.as_bytes());
    m.update(b"\n");
    m.update(id.as_bytes());
    m.finalize().into_bytes()[..MAC_LEN].to_vec()
}

/// The `NextToken` that resumes `action` after `id`.
pub fn encode(key: &[u8], action: &str, id: &str) -> String {
    format!("{}{}", hex::encode(id), hex::encode(mac(key, action, id)))
}

/// The id a token resumes after, if it is one of ours for `action`.
pub fn decode(key: &[u8], action: &str, token: &str) -> Option<String> {
    if token.len() > MAX_TOKEN || token.len() < 2 * MAC_LEN {
        return None;
    }
    let bytes = hex::decode(token).ok()?;
    let (id, tag) = bytes.split_at(bytes.len() - MAC_LEN);
    let id = String::from_utf8(id.to_vec()).ok()?;
    let want = mac(key, action, &id);
    // Constant-time enough for a 12-byte tag: compare every byte.
    let diff = want.iter().zip(tag).fold(0u8, |d, (a, b)| d | (a ^ b));
    (diff == 0).then_some(id)
}

/// The page a request asks for. `ids_param` names the id list that EC2 refuses to combine with
/// `MaxResults` for this action (DescribeInstances, DescribeNetworkInterfaces), if any.
pub fn request(
    key: &[u8],
    action: &str,
    p: &Params,
    ids_param: Option<&str>,
) -> Result<PageRequest, Ec2Error> {
    let (min, max) = BOUNDS
        .iter()
        .find(|(a, _, _)| *a == action)
        .map(|(_, lo, hi)| (*lo, *hi))
        .unwrap_or((5, 1000));
    let max_results = match p.get("MaxResults") {
        None => None,
        Some(v) => {
            let n: usize = v.parse().map_err(|_| {
                Ec2Error::invalid(
                    "MaxResults",
                    v.clone(),
                    format!("Give a whole number from {min} to {max}."),
                )
            })?;
            if !(min..=max).contains(&n) {
                return Err(Ec2Error::invalid(
                    "MaxResults",
                    v,
                    format!("{action} takes MaxResults from {min} to {max}."),
                ));
            }
            Some(n)
        }
    };
    if let Some(ids) = ids_param
        && max_results.is_some()
        && !p.list(ids).is_empty()
    {
        return Err(Ec2Error::InvalidParameterCombination {
            message: format!(
                "The parameter {ids} cannot be used with the parameter maxResults; page through all results, or name the ids without --max-results."
            ),
        });
    }
    let after = match p.get("NextToken") {
        None => None,
        Some(t) if t.is_empty() => None,
        Some(t) => Some(decode(key, action, &t).ok_or_else(|| Ec2Error::InvalidPaginationToken {
            name: "NextToken",
            message: format!(
                "'{}' is not a token this region gave for {action}; pass the NextToken of the previous {action} reply unchanged, or leave it out to start over.",
                t.chars().take(64).collect::<String>()
            ),
        })?),
    };
    // Without MaxResults, a NextToken still resumes (the rest in one page).
    Ok(PageRequest {
        after,
        max: max_results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_resumes_only_its_own_action_and_refuses_tampering() {
        let t = encode(b"k", "DescribeVpcs", "vpc-0123");
        assert_eq!(
            decode(b"k", "DescribeVpcs", &t).as_deref(),
            Some("vpc-0123")
        );
        assert_eq!(decode(b"k", "DescribeSubnets", &t), None);
        assert_eq!(decode(b"other", "DescribeVpcs", &t), None);
        // A forged id with the old tag.
        let forged = format!("{}{}", hex::encode("vpc-9999"), &t[t.len() - 2 * MAC_LEN..]);
        assert_eq!(decode(b"k", "DescribeVpcs", &forged), None);
        assert_eq!(decode(b"k", "DescribeVpcs", "garbage"), None);
        assert_eq!(decode(b"k", "DescribeVpcs", &"0".repeat(600)), None);
    }

    #[test]
    fn max_results_outside_the_models_bounds_is_refused() {
        let p = Params::parse(b"MaxResults=3");
        assert!(request(b"k", "DescribeVpcs", &p, None).is_err());
        let p = Params::parse(b"MaxResults=101");
        assert!(request(b"k", "DescribeRouteTables", &p, None).is_err());
        let p = Params::parse(b"MaxResults=1");
        assert_eq!(
            request(b"k", "DescribeLaunchTemplates", &p, None)
                .unwrap()
                .max,
            Some(1)
        );
        let p = Params::parse(b"MaxResults=5&InstanceId.1=i-1");
        assert!(request(b"k", "DescribeInstances", &p, Some("InstanceId")).is_err());
    }
}
