//! Issuing credentials: fresh access key ids and secrets from a caller-supplied RNG.

use rand::Rng;

use crate::Credentials;

/// Characters of an access key id after the `AKIA` prefix.
const KEY_ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Characters of a secret access key (the base64 alphabet, as AWS's secrets use).
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// New long-term credentials: an access key id `AKIA` + 16 upper-case letters or digits
/// (20 characters, like AWS's) and a 40-character secret. Use a cryptographically secure RNG
/// (`rand::rngs::OsRng`, `rand::thread_rng()`) for real keys.
pub fn generate_credentials<R: Rng + ?Sized>(rng: &mut R) -> Credentials {
    let mut pick = |alphabet: &[u8], n: usize| -> String {
        (0..n)
            .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
            .collect()
    };
    let id = format!("AKIA{}", pick(KEY_ID_ALPHABET, 16));
    let secret = pick(SECRET_ALPHABET, 40);
    Credentials::new(id, secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn generated_credentials_have_the_aws_shape() {
        let mut rng = StdRng::seed_from_u64(7);
        let a = generate_credentials(&mut rng);
        let b = generate_credentials(&mut rng);
        assert_ne!(a, b);
        for c in [a, b] {
            assert_eq!(c.access_key_id.len(), 20);
            assert!(c.access_key_id.starts_with("AKIA"));
            assert!(
                c.access_key_id
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            );
            assert_eq!(c.secret_access_key.len(), 40);
            assert!(
                c.secret_access_key
                    .bytes()
                    .all(|b| SECRET_ALPHABET.contains(&b))
            );
            assert_eq!(c.session_token, None);
        }
    }
}
