//! Network namespaces: the ONLY module that switches namespaces.
//!
//! [`NetNs::run`] runs a closure on a fresh OS thread that first joins the namespace with
//! `setns(2)` and then exits when the closure returns, so a thread that has switched is never
//! reused (nothing can be left in the wrong namespace, even if switching back would fail).
//! Sockets opened inside keep their namespace for life: [`NetNs::netlink`] returns a handle
//! usable from any thread.
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::netlink::Netlink;

/// `NSFS_MAGIC` from `linux/magic.h`: the filesystem of namespace files.
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// An open handle on a network namespace (keeps it alive while open).
#[derive(Debug)]
pub struct NetNs {
    file: File,
    path: PathBuf,
}

impl NetNs {
    /// Open a namespace by path (`/run/netns/NAME`, `/proc/PID/ns/net`, ...). A missing path or
    /// a file that is not a namespace (e.g. an unmounted leftover under `/run/netns`) is
    /// [`Error::NetnsGone`].
    pub fn open(path: impl AsRef<Path>) -> Result<NetNs> {
        let path = path.as_ref().to_path_buf();
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Error::NetnsGone { path }),
            Err(source) => return Err(Error::Netns { path, source }),
        };
        // SAFETY: statfs is plain old data; zeroed is valid and fstatfs fills it in.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: the descriptor is open for the duration of the call and `st` is writable.
        let rc = unsafe { libc::fstatfs(file.as_raw_fd(), &mut st) };
        if rc < 0 {
            return Err(Error::Netns {
                path,
                source: io::Error::last_os_error(),
            });
        }
        #[allow(clippy::unnecessary_cast)] // f_type's width differs between libc targets
        if st.f_type as i64 != NSFS_MAGIC {
            return Err(Error::NetnsGone { path });
        }
        Ok(NetNs { file, path })
    }

    /// Open a named namespace as `ip netns` makes them: `/run/netns/NAME`.
    pub fn by_name(name: &str) -> Result<NetNs> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(Error::Invalid {
                what: "namespace name",
                detail: format!("{name:?} must be a plain file name"),
            });
        }
        NetNs::open(Path::new("/run/netns").join(name))
    }

    /// The calling thread's current namespace.
    pub fn current() -> Result<NetNs> {
        NetNs::open("/proc/thread-self/ns/net")
    }

    /// True when this is the calling process's own network namespace (`/proc/self/ns/net`):
    /// the same namespace file (device and inode), whatever path it was opened by.
    pub fn is_own(&self) -> Result<bool> {
        use std::os::unix::fs::MetadataExt;
        let own = Path::new("/proc/self/ns/net");
        let mine = std::fs::metadata(own).map_err(|source| Error::Netns {
            path: own.to_path_buf(),
            source,
        })?;
        let this = self.file.metadata().map_err(|source| Error::Netns {
            path: self.path.clone(),
            source,
        })?;
        Ok((this.dev(), this.ino()) == (mine.dev(), mine.ino()))
    }

    /// The path this handle was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` inside this namespace on a fresh OS thread that exits afterwards. A panic in
    /// `f` is propagated to the caller.
    pub fn run<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        crate::trace::span(
            || "netns thread (spawn, setns, join)".into(),
            || self.run_(f),
        )
    }

    fn run_<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        let fd = self.file.as_raw_fd();
        let depth = crate::trace::depth();
        std::thread::scope(|s| {
            let handle = s.spawn(move || {
                crate::trace::set_depth(depth);
                // SAFETY: `fd` is a namespace descriptor kept open by `self` for the whole scope.
                let rc = unsafe { libc::setns(fd, libc::CLONE_NEWNET) };
                if rc < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(f())
            });
            match handle.join() {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(source)) => Err(Error::Netns {
                    path: self.path.clone(),
                    source,
                }),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// Open a netlink handle inside this namespace (usable from any thread afterwards).
    pub fn netlink(&self) -> Result<Netlink> {
        self.run(Netlink::open)?
    }
}

impl AsFd for NetNs {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}
