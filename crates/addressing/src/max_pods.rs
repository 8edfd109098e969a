//! How many pods an EKS IPv6 node may run.
//!
//! With IPv6 prefix delegation a node's /80 holds far more addresses than pods, so the limit is
//! Kubernetes' scalability guidance rather than ENI capacity: 110 pods on instances with fewer
//! than 30 vCPUs, 250 on larger ones.

/// The pod limit of instances with fewer than [`LARGE_INSTANCE_VCPUS`] vCPUs.
pub const MAX_PODS_SMALL: u32 = 110;
/// The pod limit of instances with at least [`LARGE_INSTANCE_VCPUS`] vCPUs.
pub const MAX_PODS_LARGE: u32 = 250;
/// From this many vCPUs on, an instance is large.
pub const LARGE_INSTANCE_VCPUS: u32 = 30;
/// From this `Nxlarge` size on, an instance is large (8xlarge has 32 vCPUs in every family).
pub const LARGE_INSTANCE_XLARGE: u32 = 8;

/// A name that is not `<family>.<size>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{name}` is not an EC2 instance type name; write `<family>.<size>`, like `m5.large`, `c6i.8xlarge` or `m5.metal`, or give the vCPU count"
)]
pub struct InstanceTypeError {
    /// The name as given.
    pub name: String,
}

/// Max pods from the vCPU count: 110 below 30 vCPUs, 250 from 30 on.
pub fn max_pods_for_vcpus(vcpus: u32) -> u32 {
    if vcpus < LARGE_INSTANCE_VCPUS {
        MAX_PODS_SMALL
    } else {
        MAX_PODS_LARGE
    }
}

/// Max pods from the instance type name, for callers that do not know the vCPU count.
///
/// Rule: the size is the part after the first `.`. Bare-metal sizes (`metal`, `metal-24xl`)
/// and `Nxlarge` with N >= 8 give 250; `nano`, `micro`, `small`, `medium`, `large`, `xlarge`
/// and `Nxlarge` with N < 8 give 110. Anything else is an [`InstanceTypeError`].
pub fn max_pods_for_instance_type(name: &str) -> Result<u32, InstanceTypeError> {
    let bad = || InstanceTypeError {
        name: name.to_owned(),
    };
    let (family, size) = name.split_once('.').ok_or_else(bad)?;
    if family.is_empty()
        || !family
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(bad());
    }
    if size == "metal"
        || size
            .strip_prefix("metal-")
            .is_some_and(|rest| !rest.is_empty())
    {
        return Ok(MAX_PODS_LARGE);
    }
    if matches!(
        size,
        "nano" | "micro" | "small" | "medium" | "large" | "xlarge"
    ) {
        return Ok(MAX_PODS_SMALL);
    }
    let multiple = size
        .strip_suffix("xlarge")
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let multiple: u32 = multiple.and_then(|n| n.parse().ok()).ok_or_else(bad)?;
    Ok(if multiple >= LARGE_INSTANCE_XLARGE {
        MAX_PODS_LARGE
    } else {
        MAX_PODS_SMALL
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_vcpus_is_the_threshold() {
        assert_eq!(max_pods_for_vcpus(2), 110);
        assert_eq!(max_pods_for_vcpus(29), 110);
        assert_eq!(max_pods_for_vcpus(30), 250);
        assert_eq!(max_pods_for_vcpus(192), 250);
    }

    #[test]
    fn eight_xlarge_and_metal_are_large() {
        for (name, want) in [
            ("t3.micro", 110),
            ("m5.large", 110),
            ("m5.xlarge", 110),
            ("m5.4xlarge", 110),
            ("c6i.8xlarge", 250),
            ("c5n.9xlarge", 250),
            ("m5.24xlarge", 250),
            ("m5.metal", 250),
            ("m7i.metal-24xl", 250),
            ("u-6tb1.metal", 250),
            ("m7i-flex.2xlarge", 110),
        ] {
            assert_eq!(max_pods_for_instance_type(name), Ok(want), "{name}");
        }
    }

    #[test]
    fn malformed_names_are_rejected_with_the_expected_shape() {
        for name in [
            "",
            "m5",
            ".large",
            "m5.",
            "m5.huge",
            "m5.xxlarge",
            "m5.metal-",
            "m 5.large",
        ] {
            let err = max_pods_for_instance_type(name).unwrap_err();
            assert!(err.to_string().contains("<family>.<size>"), "{name}: {err}");
        }
    }
}
