//! The region's data dir: created mode 0700 whatever the umask, and locked for the life of the
//! process (an exclusive `flock` on `DIR/lock`, which holds the owner's pid), so that exactly one
//! `sixfold serve` reads or makes the key and the store. The lock is taken before anything
//! else in the dir is read or written: two servers started at the same moment on a new dir can
//! no longer each make a key and leave the survivor with one that `credentials` does not hold.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of a data dir this process creates.
pub const DIR_MODE: u32 = 0o700;

/// Why the data dir could not be made ready or locked; each message names the path and the fix.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// The directory could not be created.
    #[error("cannot create the data dir {path}: {source}")]
    Create {
        /// The data dir.
        path: PathBuf,
        /// The I/O error underneath.
        #[source]
        source: std::io::Error,
    },
    /// The path exists and is not a directory.
    #[error("{path} is not a directory; pick another --data-dir")]
    NotADir {
        /// The refused path.
        path: PathBuf,
    },
    /// The data dir (or its lock file) is a symbolic link; links are never followed.
    #[error(
        "{path} is a symbolic link; sixfold does not follow links it did not make in its data dir: remove it"
    )]
    Symlink {
        /// The refused link.
        path: PathBuf,
    },
    /// The lock file could not be opened or locked for a reason other than another holder.
    #[error("cannot lock {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The I/O error underneath.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the lock: the data dir is in use.
    #[error(
        "another `sixfold serve`{} is using the data dir {dir} (it holds {dir}/lock); stop it, or pick another --data-dir",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Busy {
        /// The data dir.
        dir: PathBuf,
        /// The holder's pid as written in the lock file, when it could be read.
        pid: Option<u32>,
    },
}

/// A data dir this process holds the lock of; the lock goes when this is dropped.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Create (mode 0700) or check the dir at `path`, then take its lock or fail with
    /// [`DataDirError::Busy`] naming the holder's pid. Warns when an existing dir is writable
    /// by group or others.
    pub fn open(path: &Path) -> Result<Self, DataDirError> {
        prepare(path)?;
        let lock_path = path.join("lock");
        let lock_err = |source: std::io::Error| {
            if source.raw_os_error() == Some(libc::ELOOP) {
                DataDirError::Symlink {
                    path: lock_path.clone(),
                }
            } else {
                DataDirError::Lock {
                    path: lock_path.clone(),
                    source,
                }
            }
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&lock_path)
            .map_err(lock_err)?;
        match try_flock(&file) {
            Ok(true) => {}
            Ok(false) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(DataDirError::Busy {
                    dir: path.to_path_buf(),
                    pid: text.trim().parse().ok(),
                });
            }
            Err(e) => return Err(lock_err(e)),
        }
        // Ours now: record who holds it, for the message the next one gets.
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .map_err(lock_err)?;
        Ok(Self {
            path: path.to_path_buf(),
            _lock: file,
        })
    }

    /// The data dir this lock guards.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `flock(LOCK_EX | LOCK_NB)`: `Ok(false)` when another open file holds it. (std's
/// `File::try_lock` needs Rust 1.89, above this workspace's MSRV.) The lock lasts as long as
/// the file stays open and goes with the process, however it ends.
fn try_flock(file: &File) -> std::io::Result<bool> {
    loop {
        // SAFETY: flock(2) on a descriptor `file` owns and keeps open for the whole call.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(e),
        }
    }
}

fn prepare(path: &Path) -> Result<(), DataDirError> {
    let create = |source| DataDirError::Create {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::metadata(path) {
        Ok(m) if !m.is_dir() => Err(DataDirError::NotADir {
            path: path.to_path_buf(),
        }),
        Ok(m) => {
            let mode = m.permissions().mode() & 0o7777;
            if mode & 0o022 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{mode:04o}"),
                    "the data dir is writable by group or others, who could replace the region's key or state; chmod 700 it"
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(path)
                .map_err(create)?;
            // The umask can only have taken bits away; set the mode exactly.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(DIR_MODE))
                .map_err(create)
        }
        Err(e) => Err(create(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_told_the_pid_of_the_first() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("region");
        let first = DataDir::open(&dir).unwrap();
        let err = DataDir::open(&dir).unwrap_err();
        let pid = std::process::id();
        assert!(
            matches!(err, DataDirError::Busy { pid: Some(p), .. } if p == pid),
            "{err}"
        );
        assert!(err.to_string().contains(&format!("(pid {pid})")), "{err}");
        drop(first);
        DataDir::open(&dir).expect("free again once the holder is gone");
    }

    #[test]
    fn a_new_data_dir_is_0700() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("a/region");
        DataDir::open(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn a_lock_file_that_is_a_symlink_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let dir = d.path().join("region");
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("lock")).unwrap();
        let err = DataDir::open(&dir).unwrap_err();
        assert!(matches!(err, DataDirError::Symlink { .. }), "{err}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }
}
