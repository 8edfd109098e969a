//! Idempotency of EKS mutating calls: a `clientRequestToken` seen once is stored durably (table
//! `eks_request_tokens`) with the first result, so a replay (a client retrying after a lost
//! answer) gets that result instead of a conflict or a second update. The same token with a
//! different request is refused. Tokens go with their cluster.

use super::error::EksError;
use super::model::RequestToken;
use crate::region::Env;
use crate::state::State;

/// Longest `clientRequestToken` accepted (SDKs send a 36-character UUID).
pub const MAX_TOKEN_LEN: usize = 128;

/// Which call a token belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Idempotency<'a> {
    /// The EKS operation, e.g. `CreateNodegroup`.
    pub operation: &'static str,
    /// The cluster the operation is on (a token is scoped to it).
    pub cluster: &'a str,
    /// The `clientRequestToken`, if the request has one (without one nothing is recorded).
    pub token: Option<&'a str>,
    /// A digest of the request (the wire layer computes it from the path and body).
    pub fingerprint: &'a str,
}

fn key(i: &Idempotency, token: &str) -> String {
    format!("{}/{}/{token}", i.cluster, i.operation)
}

impl State {
    /// Run `run` once per token: on a replay with the same request, `replay` rebuilds the first
    /// result from the stored `result_key` (a resource that is gone since makes the call run
    /// again). `result_key` names what `run` produced.
    pub fn idempotent<T>(
        &mut self,
        env: &mut Env,
        call: Idempotency,
        replay: impl Fn(&State, &str) -> Option<T>,
        run: impl FnOnce(&mut State, &mut Env) -> Result<T, EksError>,
        result_key: impl Fn(&T) -> String,
    ) -> Result<T, EksError> {
        let Some(token) = call.token else {
            return run(self, env);
        };
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(EksError::invalid(
                "clientRequestToken",
                token.chars().take(200).collect::<String>(),
                format!("Use 1 to {MAX_TOKEN_LEN} characters (a UUID is typical)."),
            ));
        }
        let k = key(&call, token);
        if let Some(seen) = self.eks_request_tokens.get(&k) {
            if seen.fingerprint != call.fingerprint {
                return Err(EksError::InvalidRequest {
                    message: format!(
                        "clientRequestToken {token} was already used for a different {} request on cluster {}; send a new token for a new request.",
                        call.operation, call.cluster
                    ),
                });
            }
            if let Some(first) = replay(self, &seen.result) {
                return Ok(first);
            }
        }
        let out = run(self, env)?;
        self.eks_request_tokens.insert(
            k,
            RequestToken {
                fingerprint: call.fingerprint.to_string(),
                result: result_key(&out),
                created_at: env.now,
            },
        );
        Ok(out)
    }

    /// Forget the tokens of `cluster` (it is being deleted).
    pub(crate) fn forget_tokens(&mut self, cluster: &str) {
        let prefix = format!("{cluster}/");
        let keys: Vec<String> = self
            .eks_request_tokens
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            self.eks_request_tokens.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::child_key;
    use crate::eks::nodegroups::tests::{ipv6_world, request};

    fn call<'a>(token: &'a str, fp: &'a str) -> Idempotency<'a> {
        Idempotency {
            operation: "CreateNodegroup",
            cluster: "c",
            token: Some(token),
            fingerprint: fp,
        }
    }

    #[test]
    fn a_replayed_create_returns_the_first_result_and_launches_nothing_more() {
        let (mut w, subnet) = ipv6_world();
        let mk = |s: &mut State, env: &mut Env, fp: &str| {
            s.idempotent(
                env,
                call("t-1", fp),
                |s, k| s.nodegroups.get(k).cloned(),
                |s, env| s.create_nodegroup(env, request("c", &subnet)),
                |g| child_key(&g.cluster, &g.name),
            )
        };
        let a = w.with(|s, env| mk(s, env, "fp")).unwrap();
        let launched = w.state.instances.len();
        let b = w.with(|s, env| mk(s, env, "fp")).unwrap();
        assert_eq!(a, b);
        assert_eq!(w.state.instances.len(), launched);
        let e = w.with(|s, env| mk(s, env, "other")).unwrap_err();
        assert!(e.to_string().contains("t-1"), "{e}");
    }
}
