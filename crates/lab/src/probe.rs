//! Probes: real packets from inside a namespace. A TCP connect that reads the responder's line,
//! and a DNS AAAA lookup against the cluster DNS. Used in-process (on a [`NetNs`] thread) by the
//! matrix and by the hidden `sixfold lab-probe` subcommand (run with `ip netns exec`).

use std::io::{BufRead, BufReader};
use std::net::{Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use dataplane::netns::NetNs;

/// Connect to `addr` and read one line. Connection refusals are retried until `patience` has
/// passed (a server that was just started may not listen yet); each attempt has `timeout`.
pub fn tcp_line(addr: SocketAddr, timeout: Duration, patience: Duration) -> Result<String, String> {
    let start = Instant::now();
    loop {
        match try_tcp_line(addr, timeout) {
            Ok(line) => return Ok(line),
            Err(e)
                if e.kind() == std::io::ErrorKind::ConnectionRefused
                    && start.elapsed() < patience =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(describe(&e)),
        }
    }
}

/// One connection attempt to `addr` (no retry) that reads one line; the raw I/O error is kept so
/// a caller can tell one refusal from another (the kernel's errno for an ICMPv6 error, a timeout).
pub fn try_tcp_line(addr: SocketAddr, timeout: Duration) -> std::io::Result<String> {
    read_line(TcpStream::connect_timeout(&addr, timeout)?, timeout)
}

/// One line from a connected stream, waiting at most `timeout`.
fn read_line(s: TcpStream, timeout: Duration) -> std::io::Result<String> {
    s.set_read_timeout(Some(timeout))?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    if line.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed without a line",
        ));
    }
    Ok(line.trim().to_owned())
}

/// One connection attempt like [`try_tcp_line`], except that an ICMPv6 error answering the SYN
/// (a refusal: no route, administratively prohibited) is reported at once. On the lab's veth
/// links the error comes back while `connect()` still holds the socket, and the kernel keeps it
/// only as a soft error (`TcpExtLockDroppedIcmps`) until the SYN's retransmission a second later;
/// with `IPV6_RECVERR` the error is queued on the socket as well, `poll` wakes with `POLLERR`,
/// and its errno is read from the error queue. IPv4 targets fall back to [`try_tcp_line`].
pub fn try_tcp_line_fast_refusal(addr: SocketAddr, timeout: Duration) -> std::io::Result<String> {
    let SocketAddr::V6(a) = addr else {
        return try_tcp_line(addr, timeout);
    };
    // SAFETY: socket() has no memory preconditions; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET6,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh socket this function owns; OwnedFd closes it on every return.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let on: libc::c_int = 1;
    // SAFETY: the option value points at a live c_int of the given size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_IPV6,
            libc::IPV6_RECVERR,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let sa = libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: a.port().to_be(),
        sin6_flowinfo: a.flowinfo(),
        sin6_addr: libc::in6_addr {
            s6_addr: a.ip().octets(),
        },
        sin6_scope_id: a.scope_id(),
    };
    // SAFETY: sa is a valid sockaddr_in6 and the length is its size.
    let r = unsafe {
        libc::connect(
            fd,
            (&sa as *const libc::sockaddr_in6).cast(),
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        )
    };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
        wait_connected(fd, timeout)?;
    }
    let s = TcpStream::from(sock);
    s.set_nonblocking(false)?;
    read_line(s, timeout)
}

/// Wait until the non-blocking connect on `fd` is done: connected, refused (the socket's error
/// or an ICMP error on its error queue), or timed out.
fn wait_connected(fd: libc::c_int, timeout: Duration) -> std::io::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connection timed out",
            ));
        }
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: p is one live pollfd.
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            continue;
        }
        if let Some(e) = socket_error(fd)? {
            return Err(e);
        }
        if p.revents & libc::POLLERR != 0
            && let Some(e) = queued_icmp_error(fd)?
        {
            return Err(e);
        }
        if p.revents & libc::POLLOUT != 0 {
            return Ok(());
        }
    }
}

/// The socket's pending error (`SO_ERROR`), if any.
fn socket_error(fd: libc::c_int) -> std::io::Result<Option<std::io::Error>> {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: err and len are live and len is err's size.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((err != 0).then(|| std::io::Error::from_raw_os_error(err)))
}

/// The errno of the first ICMPv6 error on `fd`'s error queue (`MSG_ERRQUEUE`), if any.
fn queued_icmp_error(fd: libc::c_int) -> std::io::Result<Option<std::io::Error>> {
    let mut data = [0u8; 256];
    let mut control = [0u64; 64];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: an all-zero msghdr is valid (null name, no iov, no control) before it is filled.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: msg points at live buffers of the lengths it states.
    let r = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        return match e.kind() {
            std::io::ErrorKind::WouldBlock => Ok(None),
            _ => Err(e),
        };
    }
    // SAFETY: the CMSG macros walk the control buffer recvmsg filled, within msg_controllen;
    // the extended error is read unaligned from a cmsg of its level and type.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::IPPROTO_IPV6 && (*c).cmsg_type == libc::IPV6_RECVERR {
                let ee: libc::sock_extended_err =
                    std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                if ee.ee_origin == libc::SO_EE_ORIGIN_ICMP6 && ee.ee_errno != 0 {
                    return Ok(Some(std::io::Error::from_raw_os_error(ee.ee_errno as i32)));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(None)
}

/// The probe's wording of an I/O error (the refusal the kernel reported, or a timeout).
pub fn describe(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => "connection refused".into(),
        Some(libc::EACCES) | Some(libc::EPERM) => "administratively prohibited".into(),
        Some(libc::EHOSTUNREACH) => "host unreachable".into(),
        Some(libc::ENETUNREACH) => "network unreachable".into(),
        _ if e.kind() == std::io::ErrorKind::TimedOut
            || e.kind() == std::io::ErrorKind::WouldBlock =>
        {
            "timed out".into()
        }
        _ => e.to_string(),
    }
}

/// Ask `server` (port 53) for the AAAA of `name`; three tries of `timeout` each.
pub fn resolve(server: Ipv6Addr, name: &str, timeout: Duration) -> Result<Ipv6Addr, String> {
    let sock = UdpSocket::bind("[::]:0").map_err(|e| format!("DNS socket: {e}"))?;
    sock.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let id = (std::process::id() as u16) ^ (Instant::now().elapsed().subsec_nanos() as u16);
    let q = crate::dns::query(id, name);
    let mut buf = [0u8; 1500];
    let mut last = String::from("no answer");
    for _ in 0..3 {
        if let Err(e) = sock.send_to(&q, (server, 53)) {
            last = format!("sending to {server}: {}", describe(&e));
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => {
                return crate::dns::parse_answer(id, &buf[..n]).map_err(|e| e.to_string());
            }
            Err(e) => last = format!("DNS {server}: {}", describe(&e)),
        }
    }
    Err(last)
}

/// Run `f` inside the namespace `/run/netns/<ns>` and flatten the errors into one message.
pub fn in_ns<T: Send>(ns: &str, f: impl FnOnce() -> Result<T, String> + Send) -> Result<T, String> {
    let h = NetNs::by_name(ns).map_err(|e| e.to_string())?;
    h.run(f).map_err(|e| e.to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    #[test]
    fn the_fast_refusal_probe_reads_the_line_of_a_listener() {
        let l = TcpListener::bind("[::1]:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, peer) = l.accept().unwrap();
            writeln!(s, "x saw {}", peer.ip()).unwrap();
        });
        let line = try_tcp_line_fast_refusal(addr, Duration::from_secs(2)).unwrap();
        assert_eq!(line, "x saw ::1");
        t.join().unwrap();
    }

    #[test]
    fn the_fast_refusal_probe_reports_a_closed_port_as_refused() {
        let addr = TcpListener::bind("[::1]:0").unwrap().local_addr().unwrap();
        let e = try_tcp_line_fast_refusal(addr, Duration::from_secs(2)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED), "{e}");
    }
}
