//! What the DaemonSet's init container does on a node before the agent starts
//! (`sixfold install-cni`): copy the CNI plugin binaries the agent's conflist names
//! (`sixfold-cni`, `sixfold-egress-cni` and the `host-local` IPAM plugin the egress plugin
//! execs) from the image into the node's CNI binary dir, and turn on forwarding in the node's
//! network namespace.
//!
//! Each binary is copied under a temporary dot-name in the target dir, made executable,
//! fsync-ed and renamed into place, so a runtime running a plugin at that moment executes the
//! old binary or the new one, never a half-written file (a plain copy over a binary that is
//! being executed also fails with `ETXTBSY`). The conflist itself is not installed here: the
//! agent writes it once it holds the node's prefix and answers the plugins, so the runtime
//! never sees the network as ready before the agent is.

use std::fs;
use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The binaries the agent's conflist needs in the node's CNI binary dir.
pub const CNI_BINARIES: [&str; 3] = ["sixfold-cni", "sixfold-egress-cni", "host-local"];

/// A binary larger than this is refused (the plugins are a few MiB; a debug build ~10 MiB).
pub const MAX_BINARY_BYTES: u64 = 256 << 20;

/// Why the CNI binaries could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(
        "{path} is missing or not a regular file: the image must carry the CNI plugins \
         there (build it with deploy/build-image), or pass --from with the dir that has them"
    )]
    Missing { path: PathBuf },
    #[error(
        "{path} is {bytes} bytes, over the {MAX_BINARY_BYTES}-byte bound for a CNI plugin; \
         point --from at the plugin binaries"
    )]
    TooLarge { path: PathBuf, bytes: u64 },
    #[error(
        "cannot install {from} as {to}: {source}; check that the node's CNI binary dir is \
         mounted writable (hostPath /opt/cni/bin)"
    )]
    Copy {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "turning on forwarding in the node's network namespace failed: {0}; the init \
         container must be privileged (the container's /proc/sys is read-only otherwise)"
    )]
    Forwarding(#[source] dataplane::Error),
}

/// Install each of `names` from `from` into `to` (created `0755` if missing), atomically per
/// file; returns the installed paths. Every source is checked before anything is written, so
/// a missing plugin leaves the node's dir untouched.
pub fn install_binaries(
    from: &Path,
    to: &Path,
    names: &[&str],
) -> Result<Vec<PathBuf>, InstallError> {
    for name in names {
        let path = from.join(name);
        match fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() > MAX_BINARY_BYTES => {
                return Err(InstallError::TooLarge {
                    path,
                    bytes: m.len(),
                });
            }
            Ok(m) if m.is_file() => {}
            _ => return Err(InstallError::Missing { path }),
        }
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(to)
        .map_err(|source| InstallError::Copy {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            source,
        })?;
    let mut installed = Vec::with_capacity(names.len());
    for name in names {
        let src = from.join(name);
        let dst = to.join(name);
        copy_atomically(&src, &dst).map_err(|source| InstallError::Copy {
            from: src.clone(),
            to: dst.clone(),
            source,
        })?;
        installed.push(dst);
    }
    fs::File::open(to)
        .and_then(|d| d.sync_all())
        .map_err(|source| InstallError::Copy {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            source,
        })?;
    Ok(installed)
}

/// Copy `src` over `dst` (mode `0755`) atomically, bounded by [`MAX_BINARY_BYTES`].
fn copy_atomically(src: &Path, dst: &Path) -> std::io::Result<()> {
    let mut input = fs::File::open(src)?.take(MAX_BINARY_BYTES);
    crate::host::replace_atomically(dst, Some(0o755), |out| {
        std::io::copy(&mut input, out).map(|_| ())
    })
}

/// IPv6 and IPv4 forwarding in the current network namespace (the node's, with host
/// networking), as the agent would at start ([`dataplane::node_setup`]); done here because the
/// agent's container is not privileged and sees `/proc/sys` read-only, where the agent then
/// finds forwarding already on and writes nothing.
pub fn enable_forwarding() -> Result<(), InstallError> {
    dataplane::node_setup().map_err(InstallError::Forwarding)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn fill(dir: &Path, names: &[&str]) {
        for n in names {
            fs::write(dir.join(n), format!("#!/bin/sh\necho {n}\n")).unwrap();
        }
    }

    #[test]
    fn installs_every_binary_executable_and_replaces_old_ones() {
        let from = tempfile::tempdir().unwrap();
        let node = tempfile::tempdir().unwrap();
        let to = node.path().join("opt/cni/bin");
        fill(from.path(), &CNI_BINARIES);
        fs::create_dir_all(&to).unwrap();
        fs::write(to.join("sixfold-cni"), "old").unwrap();
        fs::write(to.join("loopback"), "someone else's").unwrap();

        let got = install_binaries(from.path(), &to, &CNI_BINARIES).unwrap();
        assert_eq!(got.len(), 3);
        for n in CNI_BINARIES {
            let p = to.join(n);
            assert_eq!(
                fs::read_to_string(&p).unwrap(),
                format!("#!/bin/sh\necho {n}\n")
            );
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o755
            );
        }
        let mut names: Vec<_> = fs::read_dir(&to)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "host-local",
                "loopback",
                "sixfold-cni",
                "sixfold-egress-cni"
            ],
            "no temp files left, other plugins kept"
        );
    }

    #[test]
    fn a_missing_plugin_names_it_and_writes_nothing() {
        let from = tempfile::tempdir().unwrap();
        let node = tempfile::tempdir().unwrap();
        let to = node.path().join("bin");
        fill(from.path(), &["sixfold-cni", "sixfold-egress-cni"]);
        let err = install_binaries(from.path(), &to, &CNI_BINARIES).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("host-local") && msg.contains("--from"),
            "{msg}"
        );
        assert!(!to.exists(), "nothing installed when a source is missing");
    }

    #[test]
    fn a_directory_in_place_of_a_plugin_is_refused() {
        let from = tempfile::tempdir().unwrap();
        let node = tempfile::tempdir().unwrap();
        fill(from.path(), &["sixfold-cni", "sixfold-egress-cni"]);
        fs::create_dir(from.path().join("host-local")).unwrap();
        let err = install_binaries(from.path(), node.path(), &CNI_BINARIES).unwrap_err();
        assert!(matches!(err, InstallError::Missing { .. }), "{err}");
    }
}
