//! RFC 4193 unique-local /108s for IPv6 cluster service CIDRs.
//!
//! Layout of the generated block: `fd` (8 bits, the locally assigned half of fc00::/7), a
//! 40-bit random global id, a 16-bit subnet id of 0, then 44 zero bits up to the /108 boundary:
//! `fdXX:XXXX:XXXX::/108`. The random source is an argument, so generation is deterministic in
//! tests.

use std::collections::BTreeSet;

use rand::RngCore;

use crate::cidr::Ipv6Subnet;
use crate::service::ServiceCidr108;

/// How many random global ids are drawn before giving up. With 2^40 ids a collision is
/// vanishingly rare; hitting this limit means the random source is broken.
pub const MAX_ATTEMPTS: u32 = 64;

/// Why no service CIDR could be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UlaError {
    /// Every draw collided with an existing CIDR.
    #[error(
        "drew {attempts} unique-local /108s and each one is already in use; the random source is not random: seed it from the operating system"
    )]
    NoFreeGlobalId {
        /// How many draws were made.
        attempts: u32,
    },
}

/// The service /108 for a 40-bit `global_id` (higher bits are ignored).
pub fn service_cidr_for(global_id: u64) -> ServiceCidr108 {
    let id = u128::from(global_id & ((1 << 40) - 1));
    let network = (0xfd << 120) | (id << 80);
    // The top byte is 0xfd, so the block is inside fd00::/8, a part of fc00::/7.
    ServiceCidr108::unique_local_by_construction(Ipv6Subnet::from_bits_masked(network))
}

/// A fresh service /108 `fdXX:XXXX:XXXX::/108` with a random 40-bit global id, not in
/// `existing`.
///
/// Guarantees: the result is inside fd00::/8, has prefix length 108, and is not in `existing`.
/// Draws up to [`MAX_ATTEMPTS`] times.
pub fn generate<R: RngCore + ?Sized>(
    rng: &mut R,
    existing: &BTreeSet<ServiceCidr108>,
) -> Result<ServiceCidr108, UlaError> {
    for _ in 0..MAX_ATTEMPTS {
        let mut id = [0u8; 8];
        rng.fill_bytes(&mut id[3..]);
        let candidate = service_cidr_for(u64::from_be_bytes(id));
        if !existing.contains(&candidate) {
            return Ok(candidate);
        }
    }
    Err(UlaError::NoFreeGlobalId {
        attempts: MAX_ATTEMPTS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn global_id_fills_bits_8_to_48() {
        assert_eq!(
            service_cidr_for(0x12_3456_789a).to_string(),
            "fd12:3456:789a::/108"
        );
        assert_eq!(
            service_cidr_for(u64::MAX).to_string(),
            "fdff:ffff:ffff::/108"
        );
    }

    #[test]
    fn generation_is_deterministic_for_a_seed() {
        let a = generate(&mut StdRng::seed_from_u64(9), &BTreeSet::new()).unwrap();
        let b = generate(&mut StdRng::seed_from_u64(9), &BTreeSet::new()).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn generation_retries_past_existing_ones() {
        let first = generate(&mut StdRng::seed_from_u64(9), &BTreeSet::new()).unwrap();
        let second = generate(&mut StdRng::seed_from_u64(9), &[first].into()).unwrap();
        assert_ne!(first, second);
    }

    /// A random source that always answers the same bytes.
    struct Stuck;
    impl RngCore for Stuck {
        fn next_u32(&mut self) -> u32 {
            0
        }
        fn next_u64(&mut self) -> u64 {
            0
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.fill(0);
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
            dest.fill(0);
            Ok(())
        }
    }

    #[test]
    fn a_stuck_random_source_is_an_error_not_a_hang() {
        let existing = [service_cidr_for(0)].into();
        let err = generate(&mut Stuck, &existing).unwrap_err();
        assert_eq!(
            err,
            UlaError::NoFreeGlobalId {
                attempts: MAX_ATTEMPTS
            }
        );
        assert!(err.to_string().contains("random source"));
    }
}
