//! RS256 JSON Web Tokens for the clusters' OIDC issuers: key generation (RSA 2048), the JWKS
//! entry, signing (minting service-account tokens) and verification (STS). Pure: the random
//! source is the caller's.

use rand::{CryptoRng, RngCore};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::error::IamError;
use super::model::SigningKey;

/// Bits of every signing key.
pub const KEY_BITS: usize = 2048;
/// Longest token accepted.
pub const MAX_TOKEN_LEN: usize = 20_000;

/// The region's random source as `rsa` wants it. The region's generator is `StdRng` seeded from
/// the OS (a CSPRNG) in production; tests seed it for determinism.
struct Csprng<'a>(&'a mut dyn RngCore);

impl RngCore for Csprng<'_> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.0.try_fill_bytes(dest)
    }
}

impl CryptoRng for Csprng<'_> {}

/// Base64url without padding.
pub fn b64url(data: &[u8]) -> String {
    crate::eks::base64(data)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

/// Decode base64url (padding optional).
pub fn unb64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn big(h: &str) -> Option<BigUint> {
    let bytes: Option<Vec<u8>> = (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
        .collect();
    Some(BigUint::from_bytes_be(&bytes?))
}

/// A new signing key for `cluster`.
pub fn generate(rng: &mut dyn RngCore, cluster: &str, now: u64) -> Result<SigningKey, IamError> {
    let mut r = Csprng(rng);
    let key = RsaPrivateKey::new(&mut r, KEY_BITS).map_err(|e| IamError::InvalidInput {
        message: format!("cannot generate the OIDC signing key of cluster {cluster}: {e}"),
    })?;
    let n = key.n().to_bytes_be();
    let kid = hex(&Sha256::digest(&n)[..20]);
    Ok(SigningKey {
        cluster: cluster.to_string(),
        kid,
        n: hex(&n),
        e: hex(&key.e().to_bytes_be()),
        d: hex(&key.d().to_bytes_be()),
        primes: key.primes().iter().map(|p| hex(&p.to_bytes_be())).collect(),
        created_at: now,
    })
}

fn public(k: &SigningKey) -> Option<RsaPublicKey> {
    RsaPublicKey::new(big(&k.n)?, big(&k.e)?).ok()
}

fn private(k: &SigningKey) -> Option<RsaPrivateKey> {
    let primes: Option<Vec<BigUint>> = k.primes.iter().map(|p| big(p)).collect();
    RsaPrivateKey::from_components(big(&k.n)?, big(&k.e)?, big(&k.d)?, primes?).ok()
}

/// The key's JWKS entry.
pub fn jwk(k: &SigningKey) -> Value {
    let n = big(&k.n).map(|b| b.to_bytes_be()).unwrap_or_default();
    let e = big(&k.e).map(|b| b.to_bytes_be()).unwrap_or_default();
    json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": k.kid, "n": b64url(&n), "e": b64url(&e)})
}

/// Sign `claims` with `k` (RS256).
pub fn sign(k: &SigningKey, claims: &Value) -> Result<String, IamError> {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": k.kid});
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let key = private(k).ok_or_else(|| IamError::InvalidInput {
        message: format!("the stored signing key of cluster {} is damaged", k.cluster),
    })?;
    let sig = key
        .sign(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(input.as_bytes()),
        )
        .map_err(|e| IamError::InvalidInput {
            message: format!("cannot sign: {e}"),
        })?;
    Ok(format!("{input}.{}", b64url(&sig)))
}

/// A token split and decoded, not yet verified.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The JOSE header (JSON).
    pub header: Value,
    /// The claims (JSON).
    pub claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

/// Split and decode a compact JWS.
pub fn decode(token: &str) -> Result<Decoded, IamError> {
    let bad = |why: &str| {
        IamError::invalid_token(format!(
            "The web identity token is not a valid JWT ({why}); pass the service account token file unchanged."
        ))
    };
    if token.len() > MAX_TOKEN_LEN {
        return Err(bad("it is too long"));
    }
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [h, c, s] = parts.as_slice() else {
        return Err(bad("it does not have three dot-separated parts"));
    };
    let json = |p: &str, what: &str| -> Result<Value, IamError> {
        let bytes = unb64url(p).ok_or_else(|| bad(&format!("its {what} is not base64url")))?;
        serde_json::from_slice(&bytes).map_err(|_| bad(&format!("its {what} is not JSON")))
    };
    Ok(Decoded {
        header: json(h, "header")?,
        claims: json(c, "payload")?,
        signing_input: format!("{h}.{c}"),
        signature: unb64url(s).ok_or_else(|| bad("its signature is not base64url"))?,
    })
}

impl Decoded {
    /// Whether the RS256 signature verifies with `k`.
    pub fn verifies_with(&self, k: &SigningKey) -> bool {
        let Some(key) = public(k) else { return false };
        self.header.get("alg").and_then(Value::as_str) == Some("RS256")
            && key
                .verify(
                    Pkcs1v15Sign::new::<Sha256>(),
                    &Sha256::digest(self.signing_input.as_bytes()),
                    &self.signature,
                )
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_signed_token_verifies_and_a_tampered_one_does_not() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let k = generate(&mut rng, "c", 0).unwrap();
        let t = sign(
            &k,
            &json!({"sub": "system:serviceaccount:kube-system:aws-node"}),
        )
        .unwrap();
        let d = decode(&t).unwrap();
        assert!(d.verifies_with(&k));
        assert_eq!(d.header["kid"], k.kid.as_str());
        let other = generate(&mut rng, "d", 0).unwrap();
        assert!(!d.verifies_with(&other));
        let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
        parts[1] = b64url(br#"{"sub":"system:serviceaccount:default:evil"}"#);
        assert!(!decode(&parts.join(".")).unwrap().verifies_with(&k));
        assert!(decode("a.b").is_err());
    }

    #[test]
    fn base64url_round_trips() {
        for n in 0..40u8 {
            let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(unb64url(&b64url(&data)).unwrap(), data);
        }
    }
}
