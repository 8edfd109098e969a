//! Where the client's credentials come from: given explicitly, the standard environment
//! variables, or a profile of the shared credentials file (`~/.aws/credentials`, INI format).
//! Parsing is split from reading so it is tested without touching the environment or disk.

use std::path::{Path, PathBuf};

use sigv4::Credentials;

/// Why credentials could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// `AWS_ACCESS_KEY_ID` is set but `AWS_SECRET_ACCESS_KEY` is not (or the reverse).
    #[error("{set} is set but {missing} is not: set both (or neither, to use a profile)")]
    IncompleteEnv {
        /// The variable that is set.
        set: &'static str,
        /// The variable that is missing.
        missing: &'static str,
    },
    /// The credentials file could not be read.
    #[error(
        "cannot read the AWS credentials file {path}: {source}; create it (aws configure) or set AWS_SHARED_CREDENTIALS_FILE"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The profile is not in the file.
    #[error(
        "profile [{profile}] is not in {path}: add it (aws configure --profile {profile}) or pick another with AWS_PROFILE"
    )]
    ProfileNotFound {
        /// The file.
        path: PathBuf,
        /// The profile asked for.
        profile: String,
    },
    /// The profile lacks a key.
    #[error("profile [{profile}] in {path} has no {key}: add `{key} = ...` to it")]
    MissingKey {
        /// The file.
        path: PathBuf,
        /// The profile.
        profile: String,
        /// `aws_access_key_id` or `aws_secret_access_key`.
        key: &'static str,
    },
    /// No source of the chain has credentials.
    #[error(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_ROLE_ARN and \
         AWS_WEB_IDENTITY_TOKEN_FILE (IRSA), or create {path} (aws configure), or run on an \
         instance with an instance profile (IMDS: {imds})"
    )]
    NotFound {
        /// The credentials file looked at.
        path: PathBuf,
        /// Why the instance profile gave nothing.
        imds: String,
    },
    /// The web identity token file could not be read.
    #[error(
        "cannot read the web identity token file {path} (AWS_WEB_IDENTITY_TOKEN_FILE): {source}; \
         is the service account token projected into the pod?"
    )]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// STS did not give credentials for the web identity.
    #[error(
        "AssumeRoleWithWebIdentity of {role_arn} at {sts_url} failed: {detail}; check the role's \
         trust policy (federated OIDC provider of the cluster, sub \
         system:serviceaccount:<namespace>:<service account>, aud sts.amazonaws.com)"
    )]
    WebIdentity {
        /// The role asked for.
        role_arn: String,
        /// The STS endpoint.
        sts_url: String,
        /// STS's error or the transport failure.
        detail: String,
    },
    /// Instance profile credentials could not be read from IMDS.
    #[error("instance profile credentials: {0}")]
    Imds(#[from] crate::imds::ImdsError),
}

/// Credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optional
/// `AWS_SESSION_TOKEN`, read through `var`; `Ok(None)` when neither key variable is set.
pub fn from_env_with(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<Credentials>, CredentialsError> {
    let non_empty = |name: &str| var(name).filter(|v| !v.is_empty());
    match (
        non_empty("AWS_ACCESS_KEY_ID"),
        non_empty("AWS_SECRET_ACCESS_KEY"),
    ) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(CredentialsError::IncompleteEnv {
            set: "AWS_ACCESS_KEY_ID",
            missing: "AWS_SECRET_ACCESS_KEY",
        }),
        (None, Some(_)) => Err(CredentialsError::IncompleteEnv {
            set: "AWS_SECRET_ACCESS_KEY",
            missing: "AWS_ACCESS_KEY_ID",
        }),
        (Some(id), Some(secret)) => {
            let creds = Credentials::new(id, secret);
            Ok(Some(match non_empty("AWS_SESSION_TOKEN") {
                Some(token) => creds.with_session_token(token),
                None => creds,
            }))
        }
    }
}

/// [`from_env_with`] over the process environment.
pub fn from_env() -> Result<Option<Credentials>, CredentialsError> {
    from_env_with(|name| std::env::var(name).ok())
}

/// Reads `profile` from the shared credentials file `text` (INI: `[profile]` sections of
/// `key = value` lines; `#`/`;` comment lines; `[profile name]` headers as in `~/.aws/config`
/// are accepted too). Keys are `aws_access_key_id`, `aws_secret_access_key` and optional
/// `aws_session_token`. `path` only names the file in errors.
pub fn parse_credentials_file(
    text: &str,
    profile: &str,
    path: &Path,
) -> Result<Credentials, CredentialsError> {
    let mut in_profile = false;
    let mut found = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let section = section.trim();
            let name = section.strip_prefix("profile ").map_or(section, str::trim);
            in_profile = name == profile;
            found |= in_profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().to_owned();
        match key.trim().to_ascii_lowercase().as_str() {
            "aws_access_key_id" => id = Some(value),
            "aws_secret_access_key" => secret = Some(value),
            "aws_session_token" => token = Some(value),
            _ => {}
        }
    }
    if !found {
        return Err(CredentialsError::ProfileNotFound {
            path: path.to_owned(),
            profile: profile.to_owned(),
        });
    }
    let missing = |key| CredentialsError::MissingKey {
        path: path.to_owned(),
        profile: profile.to_owned(),
        key,
    };
    let id = id
        .filter(|v| !v.is_empty())
        .ok_or_else(|| missing("aws_access_key_id"))?;
    let secret = secret
        .filter(|v| !v.is_empty())
        .ok_or_else(|| missing("aws_secret_access_key"))?;
    let creds = Credentials::new(id, secret);
    Ok(match token.filter(|t| !t.is_empty()) {
        Some(t) => creds.with_session_token(t),
        None => creds,
    })
}

/// Reads `profile` from the credentials file at `path`.
pub fn from_profile(path: &Path, profile: &str) -> Result<Credentials, CredentialsError> {
    let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_credentials_file(&text, profile, path)
}

/// The credentials file the AWS CLI uses: `$AWS_SHARED_CREDENTIALS_FILE`, else
/// `$HOME/.aws/credentials`.
pub fn default_credentials_path() -> PathBuf {
    if let Some(p) = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(".aws").join("credentials")
}

/// The AWS CLI's order, minus instance metadata: the environment, then profile
/// `$AWS_PROFILE` (default `default`) of [`default_credentials_path`].
pub fn default_chain() -> Result<Credentials, CredentialsError> {
    if let Some(c) = from_env()? {
        return Ok(c);
    }
    let path = default_credentials_path();
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".to_owned());
    match from_profile(&path, &profile) {
        Err(CredentialsError::Read { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Err(CredentialsError::NotFound {
                path,
                imds: "not asked (this lookup stops at the credentials file)".into(),
            })
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# written by aws configure
[default]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

[profile node]
; temporary credentials
AWS_ACCESS_KEY_ID=ASIAEXAMPLEEXAMPLE01
aws_secret_access_key=secret+with/chars=
aws_session_token = FwoGZXIvYXdzEXAMPLE==
region = us-west-2

[broken]
aws_access_key_id = AKIABROKEN
";

    fn p() -> &'static Path {
        Path::new("/home/u/.aws/credentials")
    }

    #[test]
    fn reads_the_default_profile() {
        let c = parse_credentials_file(FILE, "default", p()).unwrap();
        assert_eq!(c.access_key_id, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(
            c.secret_access_key,
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        );
        assert_eq!(c.session_token, None);
    }

    #[test]
    fn reads_a_named_profile_with_a_session_token() {
        let c = parse_credentials_file(FILE, "node", p()).unwrap();
        assert_eq!(c.access_key_id, "ASIAEXAMPLEEXAMPLE01");
        // Only the first `=` splits: the value keeps its own.
        assert_eq!(c.secret_access_key, "secret+with/chars=");
        assert_eq!(c.session_token.as_deref(), Some("FwoGZXIvYXdzEXAMPLE=="));
    }

    #[test]
    fn unknown_profile_and_missing_key_name_the_problem() {
        let e = parse_credentials_file(FILE, "prod", p()).unwrap_err();
        assert!(
            matches!(e, CredentialsError::ProfileNotFound { ref profile, .. } if profile == "prod")
        );
        assert!(e.to_string().contains("[prod]"));
        let e = parse_credentials_file(FILE, "broken", p()).unwrap_err();
        assert!(
            matches!(
                e,
                CredentialsError::MissingKey {
                    key: "aws_secret_access_key",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn env_credentials_need_both_keys() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert!(from_env_with(env(&[])).unwrap().is_none());
        let c = from_env_with(env(&[
            ("AWS_ACCESS_KEY_ID", "AKIA1"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_SESSION_TOKEN", "t"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c, Credentials::new("AKIA1", "s").with_session_token("t"));
        let e = from_env_with(env(&[("AWS_ACCESS_KEY_ID", "AKIA1")])).unwrap_err();
        assert!(e.to_string().contains("AWS_SECRET_ACCESS_KEY"));
    }

    #[test]
    fn missing_file_is_a_read_error_naming_the_path() {
        let e = from_profile(Path::new("/nonexistent/sixfold/credentials"), "default").unwrap_err();
        assert!(e.to_string().contains("/nonexistent/sixfold/credentials"));
    }
}
