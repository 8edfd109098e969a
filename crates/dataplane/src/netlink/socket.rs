//! The netlink socket: one request with an acknowledgement, or one dump, retried when the kernel
//! says the dump was interrupted. Errors are mapped once here: `EEXIST` to
//! [`Error::Exists`], `ENOENT`/`ENODEV`/`ESRCH`/`EADDRNOTAVAIL` to [`Error::NotFound`].
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::wire::{self, Msg, c};
use crate::error::{Error, Result};

/// How often an interrupted dump is retried before giving up.
const DUMP_RETRIES: usize = 10;

/// A netlink socket bound to the network namespace it was opened in (a socket keeps its
/// namespace for life, whichever thread later uses it).
#[derive(Debug)]
pub(crate) struct Socket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl Socket {
    /// Open a socket of `protocol` (`NETLINK_ROUTE`, `NETLINK_NETFILTER`) in the calling
    /// thread's network namespace.
    pub fn open(protocol: i32) -> Result<Self> {
        let op = || "socket".to_string();
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                protocol,
            )
        };
        if raw < 0 {
            return Err(Error::Netlink {
                op: op(),
                ext: None,
                source: io::Error::last_os_error(),
            });
        }
        // SAFETY: `raw` is a freshly created, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // Extended acks give readable kernel messages; capped acks keep error answers small.
        // Both are optional (older kernels): failures are ignored on purpose.
        for opt in [c::NETLINK_EXT_ACK, c::NETLINK_CAP_ACK] {
            let one: libc::c_int = 1;
            // SAFETY: `one` outlives the call and the length matches its type.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    c::SOL_NETLINK,
                    opt,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        // SAFETY: sockaddr_nl is plain old data; all-zero is a valid value (kernel assigns the port).
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `sa` is a valid sockaddr_nl and the length is its size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(Error::Netlink {
                op: "bind".into(),
                ext: None,
                source: io::Error::last_os_error(),
            });
        }
        Ok(Socket {
            fd,
            seq: 1,
            buf: vec![0u8; 64 * 1024],
        })
    }

    fn send(&mut self, msg: Msg, op: &str) -> Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let bytes = msg.finish(seq);
        // SAFETY: kernel destination is the zeroed sockaddr_nl (pid 0); `bytes` is valid for its length.
        let rc = unsafe {
            let mut sa: libc::sockaddr_nl = std::mem::zeroed();
            sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            libc::sendto(
                self.fd.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                0,
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(Error::Netlink {
                op: op.into(),
                ext: None,
                source: io::Error::last_os_error(),
            });
        }
        Ok(seq)
    }

    /// Receive one datagram into the internal buffer, returning its length.
    fn recv(&mut self, op: &str) -> Result<usize> {
        loop {
            // SAFETY: the buffer is valid for writes of its full length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    0,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::Netlink {
                    op: op.into(),
                    ext: None,
                    source: e,
                });
            }
            return Ok(n as usize);
        }
    }

    /// Send a request with `NLM_F_ACK` and wait for its acknowledgement. `what` names the object
    /// for [`Error::NotFound`]/[`Error::Exists`].
    pub fn request(&mut self, msg: Msg, op: &str, what: &dyn Fn() -> String) -> Result<()> {
        crate::trace::span(|| format!("netlink {op}"), || self.request_(msg, op, what))
    }

    fn request_(&mut self, msg: Msg, op: &str, what: &dyn Fn() -> String) -> Result<()> {
        let seq = self.send(msg, op)?;
        loop {
            let n = self.recv(op)?;
            let mut done = false;
            let mut result = Ok(());
            for (hdr, payload) in messages(&self.buf[..n]) {
                if hdr.seq != seq {
                    continue;
                }
                if hdr.ty == c::NLMSG_ERROR {
                    result = ack_result(hdr.flags, payload, op, what);
                    done = true;
                }
            }
            if done {
                return result;
            }
        }
    }

    /// Dump: send `build()` with `NLM_F_DUMP` and collect every answer's payload (after the
    /// netlink header). Retried from scratch when the kernel flags `NLM_F_DUMP_INTR`.
    pub fn dump(
        &mut self,
        build: &dyn Fn() -> Msg,
        op: &str,
        what: &dyn Fn() -> String,
    ) -> Result<Vec<Vec<u8>>> {
        crate::trace::span(
            || format!("netlink {op} (dump)"),
            || self.dump_(build, op, what),
        )
    }

    fn dump_(
        &mut self,
        build: &dyn Fn() -> Msg,
        op: &str,
        what: &dyn Fn() -> String,
    ) -> Result<Vec<Vec<u8>>> {
        for _ in 0..DUMP_RETRIES {
            let seq = self.send(build(), op)?;
            let mut out = Vec::new();
            let mut interrupted = false;
            'recv: loop {
                let n = self.recv(op)?;
                for (hdr, payload) in messages(&self.buf[..n]) {
                    if hdr.seq != seq {
                        continue;
                    }
                    if hdr.flags & c::NLM_F_DUMP_INTR != 0 {
                        interrupted = true;
                    }
                    match hdr.ty {
                        c::NLMSG_DONE => break 'recv,
                        c::NLMSG_ERROR => {
                            ack_result(hdr.flags, payload, op, what)?;
                            break 'recv;
                        }
                        _ => out.push(payload.to_vec()),
                    }
                    if hdr.flags & c::NLM_F_MULTI == 0 {
                        break 'recv;
                    }
                }
            }
            if !interrupted {
                return Ok(out);
            }
        }
        Err(Error::Netlink {
            op: op.into(),
            ext: None,
            source: io::Error::new(
                io::ErrorKind::Interrupted,
                format!("dump interrupted {DUMP_RETRIES} times in a row"),
            ),
        })
    }

    /// Send a request that gets exactly one answer message (a "get"), returning its payload.
    pub fn get(&mut self, msg: Msg, op: &str, what: &dyn Fn() -> String) -> Result<Vec<u8>> {
        crate::trace::span(|| format!("netlink {op}"), || self.get_(msg, op, what))
    }

    fn get_(&mut self, msg: Msg, op: &str, what: &dyn Fn() -> String) -> Result<Vec<u8>> {
        let seq = self.send(msg, op)?;
        loop {
            let n = self.recv(op)?;
            for (hdr, payload) in messages(&self.buf[..n]) {
                if hdr.seq != seq {
                    continue;
                }
                if hdr.ty == c::NLMSG_ERROR {
                    ack_result(hdr.flags, payload, op, what)?;
                    return Err(Error::Malformed {
                        op: op.into(),
                        detail: "acknowledgement instead of an answer".into(),
                    });
                }
                return Ok(payload.to_vec());
            }
        }
    }
}

pub(crate) struct Header {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
}

/// Split a datagram into messages.
fn messages(buf: &[u8]) -> Vec<(Header, &[u8])> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + c::NLMSG_HDRLEN <= buf.len() {
        let (Some(len), Some(ty), Some(flags), Some(seq)) = (
            wire::u32_at(buf, off),
            wire::u16_at(buf, off + 4),
            wire::u16_at(buf, off + 6),
            wire::u32_at(buf, off + 8),
        ) else {
            break;
        };
        let len = len as usize;
        if len < c::NLMSG_HDRLEN || off + len > buf.len() {
            break;
        }
        out.push((
            Header { ty, flags, seq },
            &buf[off + c::NLMSG_HDRLEN..off + len],
        ));
        off += wire::align(len);
    }
    out
}

/// Turn an `NLMSG_ERROR` payload into a result, mapping errno once for the whole crate.
fn ack_result(flags: u16, payload: &[u8], op: &str, what: &dyn Fn() -> String) -> Result<()> {
    let errno = wire::u32_at(payload, 0)
        .map(|v| v as i32)
        .unwrap_or(-libc::EPROTO);
    if errno == 0 {
        return Ok(());
    }
    let errno = -errno;
    // With NETLINK_CAP_ACK the original message is echoed as its header only (16 bytes).
    let mut ext = None;
    if flags & c::NLM_F_ACK_TLVS != 0 {
        let tlv_start = 4 + c::NLMSG_HDRLEN;
        if payload.len() > tlv_start {
            for (ty, p) in wire::attrs(&payload[tlv_start..]) {
                if ty == c::NLMSGERR_ATTR_MSG {
                    ext = Some(wire::c_str(p));
                }
            }
        }
    }
    match errno {
        libc::EEXIST => Err(Error::Exists { what: what() }),
        libc::ENOENT | libc::ENODEV | libc::ESRCH | libc::EADDRNOTAVAIL => {
            Err(Error::NotFound { what: what() })
        }
        _ => Err(Error::Netlink {
            op: op.into(),
            ext,
            source: io::Error::from_raw_os_error(errno),
        }),
    }
}
