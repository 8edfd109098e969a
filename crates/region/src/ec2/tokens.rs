//! Idempotency of the EC2 calls that take a `ClientToken` (RunInstances,
//! CreateNetworkInterface, CreateRouteTable, CreateEgressOnlyInternetGateway,
//! CreateLaunchTemplate): the token -> (action, request fingerprint, ids made) mapping is a table
//! of the region, so a replay after a restart still answers the first result.

use super::error::Ec2Error;
use super::model::ClientTokenRecord;
use crate::state::State;

/// EC2 accepts client tokens of up to 64 ASCII characters.
pub const MAX_CLIENT_TOKEN: usize = 64;

/// A stable fingerprint (FNV-1a, 64 bits) of a request's parameters, in sorted name order.
/// The caller leaves out `ClientToken`, `DryRun`, `Action` and `Version`.
pub fn fingerprint<'a>(params: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = params.collect();
    pairs.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in pairs {
        for b in k.bytes().chain([0]).chain(v.bytes()).chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Check a token's form.
pub fn check_token(token: &str) -> Result<(), Ec2Error> {
    if token.is_empty() || token.len() > MAX_CLIENT_TOKEN || !token.is_ascii() {
        return Err(Ec2Error::invalid(
            "ClientToken",
            token.chars().take(80).collect::<String>(),
            format!("A client token is 1 to {MAX_CLIENT_TOKEN} ASCII characters."),
        ));
    }
    Ok(())
}

impl State {
    /// `Some(ids)` when `token` was already used by the same request (a replay: answer those
    /// resources); `None` for a new token. The same token on another request is refused.
    pub fn client_token_replay(
        &self,
        action: &str,
        token: &str,
        fingerprint: &str,
    ) -> Result<Option<Vec<String>>, Ec2Error> {
        check_token(token)?;
        match self.client_tokens.get(token) {
            None => Ok(None),
            Some(r) if r.action == action && r.fingerprint == fingerprint => {
                Ok(Some(r.ids.clone()))
            }
            Some(_) => Err(Ec2Error::IdempotentParameterMismatch {
                token: token.to_string(),
                action: action.to_string(),
            }),
        }
    }

    /// Remember what the first request with `token` made.
    pub fn client_token_record(
        &mut self,
        action: &str,
        token: &str,
        fingerprint: &str,
        ids: Vec<String>,
        now: u64,
    ) {
        self.client_tokens.insert(
            token.to_string(),
            ClientTokenRecord {
                action: action.to_string(),
                fingerprint: fingerprint.to_string(),
                ids,
                created: now,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_ignores_parameter_order_but_not_values() {
        let a = fingerprint([("A", "1"), ("B", "2")].into_iter());
        let b = fingerprint([("B", "2"), ("A", "1")].into_iter());
        let c = fingerprint([("A", "1"), ("B", "3")].into_iter());
        // A value may not leak into the next name.
        let d = fingerprint([("A", "1B"), ("", "2")].into_iter());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn the_same_token_on_another_request_is_a_mismatch() {
        let mut s = State::default();
        assert_eq!(
            s.client_token_replay("RunInstances", "t1", "f1").unwrap(),
            None
        );
        s.client_token_record("RunInstances", "t1", "f1", vec!["i-1".into()], 0);
        assert_eq!(
            s.client_token_replay("RunInstances", "t1", "f1").unwrap(),
            Some(vec!["i-1".to_string()])
        );
        assert!(matches!(
            s.client_token_replay("RunInstances", "t1", "f2"),
            Err(Ec2Error::IdempotentParameterMismatch { .. })
        ));
        assert!(matches!(
            s.client_token_replay("CreateRouteTable", "t1", "f1"),
            Err(Ec2Error::IdempotentParameterMismatch { .. })
        ));
        assert!(
            s.client_token_replay("RunInstances", &"x".repeat(65), "f")
                .is_err()
        );
    }
}
