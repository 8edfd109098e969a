//! The region's access key: created on first start and written to `DIR/credentials` in the AWS
//! shared-credentials format under profile `sixfold` (mode 0600), read back on later starts.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sigv4::Credentials;

pub const PROFILE: &str = "sixfold";

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}; is the data dir writable?")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} has no [{PROFILE}] profile with aws_access_key_id and aws_secret_access_key; remove the file to have a new key made"
    )]
    Missing { path: PathBuf },
}

/// Read `[profile]` keys from a shared-credentials text.
pub fn parse(text: &str, profile: &str) -> Option<Credentials> {
    let mut in_profile = false;
    let (mut id, mut secret) = (None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') && line.ends_with(']') {
            in_profile = line[1..line.len() - 1].trim() == profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            match k.trim() {
                "aws_access_key_id" => id = Some(v.trim().to_string()),
                "aws_secret_access_key" => secret = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    Some(Credentials::new(id?, secret?))
}

/// The key pair of the region at `dir`, made (and written) if there is none yet. Returns the
/// credentials and whether they were just created.
pub fn load_or_create(dir: &Path) -> Result<(Credentials, bool), CredentialsError> {
    let path = dir.join("credentials");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let c = parse(&text, PROFILE)
                .ok_or_else(|| CredentialsError::Missing { path: path.clone() })?;
            Ok((c, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let c = sigv4::generate_credentials(&mut rand::rngs::OsRng);
            let tmp = dir.join(".credentials.tmp");
            let w = |source| CredentialsError::Write {
                path: path.clone(),
                source,
            };
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(w)?;
            write!(
                f,
                "# Written by `sixfold serve`: the key of this region.\n[{PROFILE}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                c.access_key_id, c.secret_access_key
            )
            .map_err(w)?;
            f.sync_all().map_err(w)?;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(w)?;
            std::fs::rename(&tmp, &path).map_err(w)?;
            Ok((c, true))
        }
        Err(source) => Err(CredentialsError::Read { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_writes_a_0600_profile_and_later_starts_read_it() {
        let d = tempfile::tempdir().unwrap();
        let (a, created) = load_or_create(d.path()).unwrap();
        assert!(created);
        let mode = std::fs::metadata(d.path().join("credentials"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let (b, created) = load_or_create(d.path()).unwrap();
        assert!(!created);
        assert_eq!(a, b);
    }

    #[test]
    fn other_profiles_are_ignored() {
        let t = "[default]\naws_access_key_id=A\naws_secret_access_key=B\n[sixfold]\naws_access_key_id = C\naws_secret_access_key = D\n";
        assert_eq!(parse(t, "sixfold").unwrap(), Credentials::new("C", "D"));
        assert!(parse("[x]\n", "sixfold").is_none());
    }
}
