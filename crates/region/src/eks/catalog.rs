//! What EKS offers: Kubernetes versions, AMI types, and the add-on version catalogue
//! (`vpc-cni`, `kube-proxy`, `coredns`).

/// Kubernetes versions a cluster may run, oldest first.
pub const KUBERNETES_VERSIONS: &[&str] = &[
    "1.20", "1.21", "1.22", "1.23", "1.24", "1.25", "1.26", "1.27", "1.28", "1.29", "1.30", "1.31",
    "1.32", "1.33",
];

/// The version a cluster gets when the request names none.
pub const DEFAULT_KUBERNETES_VERSION: &str = "1.31";

/// The first Kubernetes version that runs IPv6 clusters.
pub const MIN_IPV6_KUBERNETES: (u32, u32) = (1, 21);

/// The first VPC CNI version that runs IPv6 clusters.
pub const MIN_IPV6_CNI: (u32, u32, u32) = (1, 10, 1);

/// The first AWS Load Balancer Controller version that serves IPv6 clusters.
pub const MIN_IPV6_LBC: (u32, u32, u32) = (2, 3, 1);

/// Node group AMI types (botocore's `AMITypes`).
pub const AMI_TYPES: &[&str] = &[
    "AL2_x86_64",
    "AL2_x86_64_GPU",
    "AL2_ARM_64",
    "CUSTOM",
    "BOTTLEROCKET_ARM_64",
    "BOTTLEROCKET_x86_64",
    "BOTTLEROCKET_ARM_64_FIPS",
    "BOTTLEROCKET_x86_64_FIPS",
    "BOTTLEROCKET_ARM_64_NVIDIA",
    "BOTTLEROCKET_x86_64_NVIDIA",
    "BOTTLEROCKET_ARM_64_NVIDIA_FIPS",
    "BOTTLEROCKET_x86_64_NVIDIA_FIPS",
    "WINDOWS_CORE_2019_x86_64",
    "WINDOWS_FULL_2019_x86_64",
    "WINDOWS_CORE_2022_x86_64",
    "WINDOWS_FULL_2022_x86_64",
    "WINDOWS_CORE_2025_x86_64",
    "WINDOWS_FULL_2025_x86_64",
    "AL2023_x86_64_STANDARD",
    "AL2023_ARM_64_STANDARD",
    "AL2023_x86_64_NEURON",
    "AL2023_x86_64_NVIDIA",
    "AL2023_ARM_64_NVIDIA",
];

/// The `amiType` of a node group that gives none.
pub const DEFAULT_AMI_TYPE: &str = "AL2023_x86_64_STANDARD";
/// The instance type of a node group that gives none (and has no launch template naming one).
pub const DEFAULT_INSTANCE_TYPE: &str = "t3.medium";

/// Whether `ami_type` runs Windows.
pub fn is_windows(ami_type: &str) -> bool {
    ami_type.starts_with("WINDOWS_")
}

/// `major.minor` of a Kubernetes version.
pub fn kubernetes_version(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// `(major, minor, patch)` of `v1.10.1-eksbuild.1`, `1.10.1` or `2.3`.
pub fn semver(v: &str) -> Option<(u32, u32, u32)> {
    let v = v.trim().trim_start_matches('v');
    let core = v.split(['-', '+']).next()?;
    let mut it = core.split('.');
    let a = it.next()?.parse().ok()?;
    let b = it.next().map(|s| s.parse()).transpose().ok()?.unwrap_or(0);
    let c = it.next().map(|s| s.parse()).transpose().ok()?.unwrap_or(0);
    if it.next().is_some() {
        return None;
    }
    Some((a, b, c))
}

/// One installable version of an add-on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonVersion {
    /// The version string (`v1.18.3-eksbuild.1`).
    pub version: String,
    /// Kubernetes versions it runs on.
    pub kubernetes: Vec<&'static str>,
    /// Whether it is the default for those versions.
    pub default: bool,
}

/// One add-on and its versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonInfo {
    /// The add-on's name (`vpc-cni`).
    pub name: &'static str,
    /// Its type as DescribeAddonVersions reports it (`networking`, ...).
    pub kind: &'static str,
    /// Its installable versions.
    pub versions: Vec<AddonVersion>,
}

/// The add-ons this region offers.
pub const ADDON_NAMES: &[&str] = &["vpc-cni", "kube-proxy", "coredns"];

/// The add-on catalogue.
pub fn addons() -> Vec<AddonInfo> {
    let all: Vec<&'static str> = KUBERNETES_VERSIONS.to_vec();
    let vpc_cni = [
        "v1.9.3-eksbuild.1",
        "v1.10.1-eksbuild.1",
        "v1.12.6-eksbuild.2",
        "v1.15.1-eksbuild.1",
    ]
    .iter()
    .map(|v| AddonVersion {
        version: (*v).to_string(),
        kubernetes: all.clone(),
        default: false,
    })
    .chain(std::iter::once(AddonVersion {
        version: "v1.18.3-eksbuild.1".into(),
        kubernetes: all.clone(),
        default: true,
    }))
    .rev()
    .collect();
    let kube_proxy = KUBERNETES_VERSIONS
        .iter()
        .rev()
        .map(|k| AddonVersion {
            version: format!("v{k}.0-eksbuild.1"),
            kubernetes: vec![*k],
            default: true,
        })
        .collect();
    let coredns = vec![
        AddonVersion {
            version: "v1.11.1-eksbuild.4".into(),
            kubernetes: all.clone(),
            default: true,
        },
        AddonVersion {
            version: "v1.8.7-eksbuild.3".into(),
            kubernetes: all,
            default: false,
        },
    ];
    vec![
        AddonInfo {
            name: "vpc-cni",
            kind: "networking",
            versions: vpc_cni,
        },
        AddonInfo {
            name: "kube-proxy",
            kind: "networking",
            versions: kube_proxy,
        },
        AddonInfo {
            name: "coredns",
            kind: "networking",
            versions: coredns,
        },
    ]
}

/// The add-on `name`, if offered.
pub fn addon(name: &str) -> Option<AddonInfo> {
    addons().into_iter().find(|a| a.name == name)
}

impl AddonInfo {
    /// The default version for Kubernetes `k8s`.
    pub fn default_for(&self, k8s: &str) -> Option<&AddonVersion> {
        self.versions
            .iter()
            .find(|v| v.default && v.kubernetes.contains(&k8s))
            .or_else(|| self.versions.iter().find(|v| v.kubernetes.contains(&k8s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_reads_eks_build_versions() {
        assert_eq!(semver("v1.10.1-eksbuild.1"), Some((1, 10, 1)));
        assert_eq!(semver("2.3"), Some((2, 3, 0)));
        assert!(semver("v1.9.3-eksbuild.1") < semver("v1.10.1"));
        assert_eq!(semver("x"), None);
    }

    #[test]
    fn every_addon_has_a_default_for_every_kubernetes_version() {
        for a in addons() {
            for k in KUBERNETES_VERSIONS {
                assert!(a.default_for(k).is_some(), "{} {k}", a.name);
            }
        }
        assert_eq!(
            addon("vpc-cni")
                .unwrap()
                .default_for("1.31")
                .unwrap()
                .version,
            "v1.18.3-eksbuild.1"
        );
    }
}
