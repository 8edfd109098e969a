//! IPv4 facts the region's EKS rules need: private ranges, overlap, and the default IPv4
//! service CIDR EKS picks for an IPv4 cluster.

use crate::cidr::Ipv4Cidr;
use crate::service::Ipv4ServiceCidr;

/// 10.0.0.0/8 (RFC 1918).
pub const TEN_8: Ipv4Cidr = Ipv4Cidr::constant([10, 0, 0, 0], 8);
/// 172.16.0.0/12 (RFC 1918).
pub const ONE_SEVEN_TWO_16_12: Ipv4Cidr = Ipv4Cidr::constant([172, 16, 0, 0], 12);
/// 192.168.0.0/16 (RFC 1918).
pub const ONE_NINE_TWO_168_16: Ipv4Cidr = Ipv4Cidr::constant([192, 168, 0, 0], 16);
/// The three RFC 1918 private ranges.
pub const PRIVATE_RANGES: [Ipv4Cidr; 3] = [TEN_8, ONE_SEVEN_TWO_16_12, ONE_NINE_TWO_168_16];

/// 10.100.0.0/16, EKS's default service CIDR.
pub const DEFAULT_SERVICE_CIDR: Ipv4ServiceCidr =
    Ipv4ServiceCidr::constant(Ipv4Cidr::constant([10, 100, 0, 0], 16));
/// 172.20.0.0/16, EKS's default service CIDR when the VPC uses 10.0.0.0/8.
pub const ALTERNATE_SERVICE_CIDR: Ipv4ServiceCidr =
    Ipv4ServiceCidr::constant(Ipv4Cidr::constant([172, 20, 0, 0], 16));

/// Whether `cidr` lies entirely inside one of 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16.
pub fn is_private(cidr: &Ipv4Cidr) -> bool {
    PRIVATE_RANGES.iter().any(|range| range.contains(cidr))
}

/// Whether the two CIDRs share an address.
pub fn overlaps(a: &Ipv4Cidr, b: &Ipv4Cidr) -> bool {
    a.overlaps(b)
}

/// The service CIDR EKS chooses when the user gives none: 172.20.0.0/16 if any of the VPC's
/// IPv4 blocks overlaps 10.0.0.0/8, else 10.100.0.0/16. The result never overlaps a VPC block
/// inside 10.0.0.0/8.
pub fn default_service_cidr<'a>(
    vpc_cidrs: impl IntoIterator<Item = &'a Ipv4Cidr>,
) -> Ipv4ServiceCidr {
    if vpc_cidrs.into_iter().any(|c| c.overlaps(&TEN_8)) {
        ALTERNATE_SERVICE_CIDR
    } else {
        DEFAULT_SERVICE_CIDR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn private_means_inside_one_rfc1918_range() {
        assert!(is_private(&c("10.1.0.0/16")));
        assert!(is_private(&c("172.31.0.0/16")));
        assert!(is_private(&c("192.168.1.0/24")));
        assert!(!is_private(&c("172.32.0.0/16")));
        assert!(!is_private(&c("8.0.0.0/8")));
        assert!(
            !is_private(&c("0.0.0.0/0")),
            "containing a private range is not being private"
        );
    }

    #[test]
    fn overlap_is_containment_either_way() {
        assert!(overlaps(&c("10.0.0.0/16"), &c("10.0.1.0/24")));
        assert!(overlaps(&c("10.0.1.0/24"), &c("10.0.0.0/16")));
        assert!(!overlaps(&c("10.0.0.0/24"), &c("10.0.1.0/24")));
    }

    #[test]
    fn default_service_cidr_avoids_a_ten_slash_eight_vpc() {
        assert_eq!(
            default_service_cidr(&[c("10.0.0.0/16")]).to_string(),
            "172.20.0.0/16"
        );
        assert_eq!(
            default_service_cidr(&[c("192.168.0.0/16")]).to_string(),
            "10.100.0.0/16"
        );
        assert_eq!(default_service_cidr([]).to_string(), "10.100.0.0/16");
    }

    #[test]
    fn default_service_cidrs_are_valid_service_cidrs() {
        for d in [DEFAULT_SERVICE_CIDR, ALTERNATE_SERVICE_CIDR] {
            assert_eq!(Ipv4ServiceCidr::new(d.cidr()), Ok(d));
        }
    }
}
