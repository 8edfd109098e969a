//! OpenID Connect providers (IAM) and STS `AssumeRoleWithWebIdentity`: a service-account token
//! signed by a cluster's OIDC issuer key is checked (signature, issuer registered with IAM,
//! audience, expiry, the role's trust policy) and exchanged for temporary credentials that the
//! region accepts on every API until they expire.

use serde_json::{Value, json};

use super::error::IamError;
use super::jwt;
use super::model::{OidcProvider, Role, Session, SigningKey};
use super::{UPPER_ALNUM, random_chars};
use crate::ec2::filter::wildcard;
use crate::eks::model::Cluster;
use crate::region::Env;
use crate::state::State;

/// Default and bounds of `DurationSeconds`.
pub const DEFAULT_DURATION: u32 = 3600;
/// Shortest `DurationSeconds` accepted (15 minutes); the longest is the role's `MaxSessionDuration`.
pub const MIN_DURATION: u32 = 900;
/// Most OIDC providers in an account (IAM's quota).
pub const MAX_PROVIDERS: usize = 100;

/// An issuer URL without its scheme and trailing `/` (how IAM names providers).
pub fn host_path(url: &str) -> &str {
    url.trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
}

/// AssumeRoleWithWebIdentity's parameters.
#[derive(Debug, Clone)]
pub struct AssumeRoleWithWebIdentity {
    /// `RoleArn`.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub session_name: String,
    /// `WebIdentityToken`: the OIDC JWT.
    pub token: String,
    /// `DurationSeconds` (default [`DEFAULT_DURATION`]).
    pub duration: Option<u32>,
}

/// What STS answers besides the credentials.
#[derive(Debug, Clone)]
pub struct Assumed {
    /// The temporary credentials.
    pub session: Session,
    /// The token's `sub`.
    pub subject: String,
    /// The token's `aud`.
    pub audience: String,
    /// The provider (issuer without scheme).
    pub provider: String,
}

/// A policy or claim value that may be one string or a list of them, as its strings (anything
/// else: none).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

/// Whether the `Condition` block of a trust statement holds for the token's claims.
fn conditions_hold(cond: Option<&Value>, provider: &str, claims: &Value) -> bool {
    let Some(cond) = cond else { return true };
    let Some(ops) = cond.as_object() else {
        return false;
    };
    ops.iter().all(|(op, kv)| {
        let Some(kv) = kv.as_object() else {
            return false;
        };
        kv.iter().all(|(key, want)| {
            let Some(claim) = key.strip_prefix(provider).and_then(|k| k.strip_prefix(':')) else {
                return false;
            };
            let got = strings(claims.get(claim));
            let wants = strings(Some(want));
            let test = |w: &str, g: &str| match op.as_str() {
                "StringEquals" => w == g,
                "StringLike" => wildcard(w, g),
                _ => false,
            };
            !got.is_empty() && got.iter().any(|g| wants.iter().any(|w| test(w, g)))
        })
    })
}

/// Whether a trust policy lets web identities of `provider_arn` assume the role.
fn trusts(policy: &str, provider_arn: &str, provider: &str, claims: &Value) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(policy) else {
        return false;
    };
    let statements = match v.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(o @ Value::Object(_)) => vec![o.clone()],
        _ => return false,
    };
    statements.iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && strings(s.get("Principal").and_then(|p| p.get("Federated")))
                .iter()
                .any(|f| f == provider_arn)
            && strings(s.get("Action"))
                .iter()
                .any(|a| wildcard(&a.to_ascii_lowercase(), "sts:assumerolewithwebidentity"))
            && conditions_hold(s.get("Condition"), provider, claims)
    })
}

impl State {
    /// New temporary credentials for `role` (session `session_name`, valid `duration` seconds),
    /// stored so requests signed with them are accepted until they expire. Expired sessions are
    /// dropped first, so the table stays bounded by the live ones.
    pub fn issue_session(
        &mut self,
        env: &mut Env,
        role: &Role,
        session_name: &str,
        duration: u32,
    ) -> Session {
        let expired: Vec<String> = self
            .sessions
            .values()
            .filter(|s| s.expiration <= env.now)
            .map(|s| s.access_key_id.clone())
            .collect();
        for k in expired {
            self.sessions.remove(&k);
        }
        const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let session = Session {
            access_key_id: format!("ASIA{}", random_chars(env.rng, UPPER_ALNUM, 16)),
            secret_access_key: random_chars(env.rng, SECRET, 40),
            session_token: format!("IQoJb3JpZ2luX2Vj{}", random_chars(env.rng, SECRET, 300)),
            expiration: env.now + u64::from(duration),
            role_arn: role.arn.clone(),
            assumed_role_arn: format!(
                "arn:aws:sts::{}:assumed-role/{}/{session_name}",
                env.config.account_id, role.name
            ),
            assumed_role_id: format!("{}:{session_name}", role.role_id),
        };
        self.sessions
            .insert(session.access_key_id.clone(), session.clone());
        session
    }

    /// CreateOpenIDConnectProvider.
    pub fn create_oidc_provider(
        &mut self,
        env: &mut Env,
        url: &str,
        client_ids: Vec<String>,
        thumbprints: Vec<String>,
    ) -> Result<OidcProvider, IamError> {
        if !(url.starts_with("https://") || url.starts_with("http://"))
            || url.len() > 255
            || host_path(url).is_empty()
        {
            return Err(IamError::validation(format!(
                "Invalid Url {url}: give the issuer URL, e.g. the cluster's identity.oidc.issuer from describe-cluster."
            )));
        }
        if client_ids.len() > 100 || thumbprints.len() > 5 {
            return Err(IamError::LimitExceeded {
                message: "A provider has at most 100 client ids and 5 thumbprints.".into(),
            });
        }
        if let Some(t) = thumbprints
            .iter()
            .find(|t| t.len() != 40 || !t.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(IamError::validation(format!(
                "Invalid thumbprint {t}: a thumbprint is 40 hex digits."
            )));
        }
        let arn = format!(
            "arn:aws:iam::{}:oidc-provider/{}",
            env.config.account_id,
            host_path(url)
        );
        if self.oidc_providers.contains(&arn) {
            return Err(IamError::AlreadyExists {
                message: format!("Provider with url {url} already exists ({arn})."),
            });
        }
        if self.oidc_providers.len() >= MAX_PROVIDERS {
            return Err(IamError::LimitExceeded {
                message: format!(
                    "An account has at most {MAX_PROVIDERS} OpenID Connect providers."
                ),
            });
        }
        let p = OidcProvider {
            arn: arn.clone(),
            url: url.trim_end_matches('/').to_string(),
            client_ids,
            thumbprints,
            created_at: env.now,
        };
        self.oidc_providers.insert(arn, p.clone());
        Ok(p)
    }

    /// GetOpenIDConnectProvider.
    pub fn oidc_provider(&self, arn: &str) -> Result<&OidcProvider, IamError> {
        self.oidc_providers.get(arn).ok_or_else(|| {
            IamError::no_such(format!(
                "OpenIDConnect provider {arn} not found; create it with `aws iam create-open-id-connect-provider`."
            ))
        })
    }

    /// DeleteOpenIDConnectProvider.
    pub fn delete_oidc_provider(&mut self, arn: &str) -> Result<(), IamError> {
        self.oidc_provider(arn)?;
        self.oidc_providers.remove(arn);
        Ok(())
    }

    /// The cluster whose id is `id`.
    pub fn cluster_by_id(&self, id: &str) -> Option<&Cluster> {
        self.clusters.values().find(|c| c.id == id)
    }

    /// The OIDC signing key of `cluster`, made on first use.
    pub fn cluster_signing_key(
        &mut self,
        env: &mut Env,
        cluster: &str,
    ) -> Result<SigningKey, IamError> {
        if let Some(k) = self.signing_keys.get(cluster) {
            return Ok(k.clone());
        }
        if !self.clusters.contains(cluster) {
            return Err(IamError::no_such(format!(
                "No cluster found for name: {cluster}."
            )));
        }
        let k = jwt::generate(env.rng, cluster, env.now)?;
        self.signing_keys.insert(cluster.to_string(), k.clone());
        Ok(k)
    }

    /// A service-account token of `cluster` (what the kubelet projects into an IRSA pod):
    /// `iss` = `issuer`, `sub` = `system:serviceaccount:NS:SA`, `aud`, valid `ttl` seconds.
    #[allow(clippy::too_many_arguments)]
    pub fn mint_service_account_token(
        &mut self,
        env: &mut Env,
        cluster: &str,
        issuer: &str,
        namespace: &str,
        service_account: &str,
        audience: &str,
        ttl: u64,
    ) -> Result<String, IamError> {
        let k = self.cluster_signing_key(env, cluster)?;
        let claims = json!({
            "iss": issuer,
            "sub": format!("system:serviceaccount:{namespace}:{service_account}"),
            "aud": [audience],
            "iat": env.now,
            "nbf": env.now,
            "exp": env.now + ttl,
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": service_account}},
        });
        jwt::sign(&k, &claims)
    }

    /// AssumeRoleWithWebIdentity. `own_issuers` is the URL prefix of this region's cluster
    /// issuers (`<endpoint>/oidc/`): only their keys are known.
    pub fn assume_role_with_web_identity(
        &mut self,
        env: &mut Env,
        own_issuers: &str,
        req: AssumeRoleWithWebIdentity,
    ) -> Result<Assumed, IamError> {
        let name_ok = (2..=64).contains(&req.session_name.len())
            && req
                .session_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        if !name_ok {
            return Err(IamError::validation(format!(
                "Invalid RoleSessionName {}: 2 to 64 letters, digits or +=,.@_- characters.",
                req.session_name
            )));
        }
        let d = jwt::decode(&req.token)?;
        let iss = d
            .claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let provider_name = host_path(iss).to_string();
        let provider_arn = format!(
            "arn:aws:iam::{}:oidc-provider/{provider_name}",
            env.config.account_id
        );
        let provider = self.oidc_providers.get(&provider_arn).cloned().ok_or_else(|| {
            IamError::invalid_token(format!(
                "No OpenIDConnect provider found in your account for {iss}; register it with `aws iam create-open-id-connect-provider --url {iss} --client-id-list sts.amazonaws.com`."
            ))
        })?;
        let key = host_path(iss)
            .strip_prefix(host_path(own_issuers))
            .map(|rest| rest.trim_start_matches('/'))
            .and_then(|id| self.cluster_by_id(id))
            .and_then(|c| self.signing_keys.get(&c.name))
            .cloned()
            .ok_or_else(|| {
                IamError::invalid_token(format!(
                    "Couldn't retrieve verification key from your identity provider {iss}: this region knows the keys of its clusters' issuers only ({own_issuers}<cluster id>)."
                ))
            })?;
        if d.header.get("kid").and_then(Value::as_str) != Some(key.kid.as_str())
            || !d.verifies_with(&key)
        {
            return Err(IamError::invalid_token(
                "The web identity token's signature does not verify with its issuer's keys (alg RS256, kid of /keys); mint it with the cluster's issuer.",
            ));
        }
        let exp =
            d.claims.get("exp").and_then(Value::as_u64).ok_or_else(|| {
                IamError::invalid_token("The web identity token has no exp claim.")
            })?;
        if env.now >= exp {
            return Err(IamError::ExpiredToken {
                message: format!(
                    "Token expired: current date/time {} must be before the expiration date/time {exp}; get a fresh token.",
                    env.now
                ),
            });
        }
        let auds = strings(d.claims.get("aud"));
        let audience = auds
            .iter()
            .find(|a| provider.client_ids.contains(a))
            .cloned()
            .ok_or_else(|| {
                IamError::invalid_token(format!(
                    "Incorrect token audience {auds:?}: provider {provider_arn} accepts {:?} (sts.amazonaws.com for IRSA).",
                    provider.client_ids
                ))
            })?;
        let subject = d
            .claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let denied = || {
            IamError::denied(format!(
                "Not authorized to perform sts:AssumeRoleWithWebIdentity: role {} does not trust {provider_arn} for sub {subject} and aud {audience} (its trust policy needs Principal.Federated {provider_arn}, Action sts:AssumeRoleWithWebIdentity and StringEquals on {provider_name}:sub / :aud).",
                req.role_arn
            ))
        };
        let role_name = req.role_arn.rsplit('/').next().unwrap_or_default();
        let role = self
            .roles
            .get(role_name)
            .filter(|r| r.arn == req.role_arn)
            .cloned()
            .ok_or_else(denied)?;
        if !trusts(
            &role.assume_role_policy,
            &provider_arn,
            &provider_name,
            &d.claims,
        ) {
            return Err(denied());
        }
        let duration = req.duration.unwrap_or(DEFAULT_DURATION);
        if duration < MIN_DURATION || duration > role.max_session_duration {
            return Err(IamError::validation(format!(
                "Invalid DurationSeconds {duration}: give {MIN_DURATION} to the role's MaxSessionDuration {}.",
                role.max_session_duration
            )));
        }
        let session = self.issue_session(env, &role, &req.session_name, duration);
        Ok(Assumed {
            session,
            subject,
            audience,
            provider: provider_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::nodegroups::tests::ipv6_world;
    use crate::iam::roles::CreateRole;

    const OWN: &str = "http://127.0.0.1:4570/oidc/";

    fn trust(provider: &str, sub: &str) -> String {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::123456789012:oidc-provider/{provider}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {format!("{provider}:sub"): sub, format!("{provider}:aud"): "sts.amazonaws.com"}}}]})
        .to_string()
    }

    #[test]
    fn a_cluster_token_is_exchanged_only_when_issuer_audience_expiry_and_trust_hold() {
        let (mut w, _) = ipv6_world();
        let id = w.state.clusters.get("c").unwrap().id.clone();
        let issuer = format!("{OWN}{id}");
        let provider = host_path(&issuer).to_string();
        let mut role = CreateRole::named("cni");
        role.assume_role_policy = trust(&provider, "system:serviceaccount:kube-system:aws-node");
        w.with(|s, env| s.create_role(env, role)).unwrap();
        let mint = |w: &mut crate::eks::testing::World, sa: &str, aud: &str, ttl: u64| {
            w.with(|s, env| {
                s.mint_service_account_token(env, "c", &issuer, "kube-system", sa, aud, ttl)
            })
            .unwrap()
        };
        let req = |token: String| AssumeRoleWithWebIdentity {
            role_arn: "arn:aws:iam::123456789012:role/cni".into(),
            session_name: "node-1".into(),
            token,
            duration: None,
        };
        let good = mint(&mut w, "aws-node", "sts.amazonaws.com", 3600);
        // No provider registered yet.
        let e = w
            .with(|s, env| s.assume_role_with_web_identity(env, OWN, req(good.clone())))
            .unwrap_err();
        assert!(matches!(e, IamError::InvalidIdentityToken { .. }), "{e}");
        w.with(|s, env| {
            s.create_oidc_provider(env, &issuer, vec!["sts.amazonaws.com".into()], vec![])
        })
        .unwrap();
        let a = w
            .with(|s, env| s.assume_role_with_web_identity(env, OWN, req(good)))
            .unwrap();
        assert!(a.session.access_key_id.starts_with("ASIA"));
        assert_eq!(a.subject, "system:serviceaccount:kube-system:aws-node");
        assert_eq!(a.session.expiration, w.now + 3600);
        assert!(w.state.sessions.contains(&a.session.access_key_id));
        // Another service account: the trust policy's sub condition refuses it.
        let other = mint(&mut w, "default", "sts.amazonaws.com", 3600);
        let e = w
            .with(|s, env| s.assume_role_with_web_identity(env, OWN, req(other)))
            .unwrap_err();
        assert!(matches!(e, IamError::AccessDenied { .. }), "{e}");
        // Wrong audience.
        let aud = mint(&mut w, "aws-node", "other", 3600);
        let e = w
            .with(|s, env| s.assume_role_with_web_identity(env, OWN, req(aud)))
            .unwrap_err();
        assert!(matches!(e, IamError::InvalidIdentityToken { .. }), "{e}");
        // Expired.
        let old = mint(&mut w, "aws-node", "sts.amazonaws.com", 60);
        w.now += 61;
        let e = w
            .with(|s, env| s.assume_role_with_web_identity(env, OWN, req(old)))
            .unwrap_err();
        assert!(matches!(e, IamError::ExpiredToken { .. }), "{e}");
    }
}
