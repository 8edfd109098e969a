//! The region's access key: created on first start and written to `DIR/credentials` in the AWS
//! shared-credentials format under profile `sixfold` (mode 0600), read back on later starts.
//!
//! The caller holds the data dir's lock ([`crate::datadir::DataDir`]), so reading and making
//! the key never race another server. Links are never followed: the temporary file is made with
//! `O_CREAT|O_EXCL|O_NOFOLLOW` and mode 0600 from its first moment (a planted `.credentials.tmp`
//! link is unlinked, not written through), and a `credentials` that is a link is refused. Like
//! ssh with a private key, a `credentials` readable or writable by group or others is refused
//! rather than silently narrowed: someone may already have read it, so its owner must decide.

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sigv4::Credentials;

/// The profile name the region's key is written under in `DIR/credentials`.
pub const PROFILE: &str = "sixfold";
/// Mode of a credentials file this process writes.
const MODE: u32 = 0o600;

/// Why the region's key could not be read or written; each message names the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The file exists but could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The credentials file.
        path: PathBuf,
        /// The I/O error underneath.
        #[source]
        source: std::io::Error,
    },
    /// The key could not be written (temporary file, fsync or rename).
    #[error("cannot write {path}: {source}; is the data dir writable?")]
    Write {
        /// The credentials file being written.
        path: PathBuf,
        /// The I/O error underneath.
        #[source]
        source: std::io::Error,
    },
    /// The file holds no complete `[sixfold]` profile.
    #[error(
        "{path} has no [{PROFILE}] profile with aws_access_key_id and aws_secret_access_key; remove the file to have a new key made"
    )]
    Missing {
        /// The credentials file.
        path: PathBuf,
    },
    /// The path is a symbolic link, a FIFO or anything else but a regular file; it is never followed.
    #[error(
        "{path} is a symbolic link or not a regular file; the region's key must be a plain file in the data dir: replace it with the file itself (mode 0600), or remove it to have a new key made"
    )]
    NotAFile {
        /// The refused path.
        path: PathBuf,
    },
    /// The file is readable or writable by group or others.
    #[error(
        "permissions {mode:04o} for {path} are too open: the region's key must be readable by its owner only; chmod 600 {path} (or remove it to have a new key made)"
    )]
    TooOpen {
        /// The refused file.
        path: PathBuf,
        /// Its permission bits (without the file type).
        mode: u32,
    },
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
/// credentials and whether they were just created. The caller must hold the data dir's lock.
pub fn load_or_create(dir: &Path) -> Result<(Credentials, bool), CredentialsError> {
    let path = dir.join("credentials");
    let file = std::fs::OpenOptions::new()
        .read(true)
        // O_NONBLOCK: a FIFO planted here must not hang the start; it is refused below.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path);
    match file {
        Ok(f) => Ok((read_existing(&path, f)?, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((create(dir, &path)?, true)),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(CredentialsError::NotAFile { path }),
        Err(source) => Err(CredentialsError::Read { path, source }),
    }
}

fn read_existing(path: &Path, mut f: std::fs::File) -> Result<Credentials, CredentialsError> {
    let read = |source| CredentialsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = f.metadata().map_err(read)?;
    if !meta.is_file() {
        return Err(CredentialsError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(CredentialsError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    let mut text = String::new();
    // The file is a few hundred bytes; a bound keeps a huge planted file from being slurped.
    (&mut f)
        .take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(read)?;
    parse(&text, PROFILE).ok_or_else(|| CredentialsError::Missing {
        path: path.to_path_buf(),
    })
}

/// Make a new key and write it to `path` via a fresh temporary file renamed into place.
fn create(dir: &Path, path: &Path) -> Result<Credentials, CredentialsError> {
    let c = sigv4::generate_credentials(&mut rand::rngs::OsRng);
    write_to(dir, path, &c)?;
    Ok(c)
}

/// Write `c` as `dir/credentials` (replacing what is there): a replica of a region kept in
/// etcd writes the key every replica shares. The caller must hold the data dir's lock.
pub fn store(dir: &Path, c: &Credentials) -> Result<(), CredentialsError> {
    write_to(dir, &dir.join("credentials"), c)
}

fn write_to(dir: &Path, path: &Path, c: &Credentials) -> Result<(), CredentialsError> {
    let tmp = dir.join(".credentials.tmp");
    let w = |source| CredentialsError::Write {
        path: path.to_path_buf(),
        source,
    };
    // A leftover of a crashed start, or a planted link: unlinking removes the link itself.
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(w(e)),
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(w)?;
    // The umask can only have taken bits away; set the mode exactly before the key is written.
    f.set_permissions(std::fs::Permissions::from_mode(MODE))
        .map_err(w)?;
    write!(
        f,
        "# Written by `sixfold serve`: the key of this region.\n[{PROFILE}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        c.access_key_id, c.secret_access_key
    )
    .map_err(w)?;
    f.sync_all().map_err(w)?;
    std::fs::rename(&tmp, path).map_err(w)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(w)?;
    Ok(())
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
    fn a_planted_symlink_at_the_temporary_path_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let dir = d.path().join("region");
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(".credentials.tmp")).unwrap();
        let (c, created) = load_or_create(&dir).unwrap();
        assert!(created);
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        let meta = std::fs::symlink_metadata(dir.join("credentials")).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(load_or_create(&dir).unwrap().0, c);
    }

    #[test]
    fn a_credentials_symlink_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let (_, _) = load_or_create(d.path()).unwrap();
        let elsewhere = d.path().join("elsewhere");
        std::fs::rename(d.path().join("credentials"), &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, d.path().join("credentials")).unwrap();
        let err = load_or_create(d.path()).unwrap_err();
        assert!(matches!(err, CredentialsError::NotAFile { .. }), "{err}");
        // A dangling link is refused too, not replaced through.
        std::fs::remove_file(&elsewhere).unwrap();
        let err = load_or_create(d.path()).unwrap_err();
        assert!(matches!(err, CredentialsError::NotAFile { .. }), "{err}");
        assert!(!elsewhere.exists());
    }

    #[test]
    fn credentials_open_to_group_or_others_are_refused_like_ssh_does() {
        let d = tempfile::tempdir().unwrap();
        load_or_create(d.path()).unwrap();
        let path = d.path().join("credentials");
        for mode in [0o666, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = load_or_create(d.path()).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("permissions {mode:04o} for {}", path.display()))
                    && msg.contains(&format!("chmod 600 {}", path.display())),
                "{msg}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(!load_or_create(d.path()).unwrap().1, "0400 is fine");
    }

    #[test]
    fn other_profiles_are_ignored() {
        let t = "[default]\naws_access_key_id=A\naws_secret_access_key=B\n[sixfold]\naws_access_key_id = C\naws_secret_access_key = D\n";
        assert_eq!(parse(t, "sixfold").unwrap(), Credentials::new("C", "D"));
        assert!(parse("[x]\n", "sixfold").is_none());
    }
}
