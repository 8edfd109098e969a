//! Probes: real packets from inside a namespace. A TCP connect that reads the responder's line,
//! and a DNS AAAA lookup against the cluster DNS. Used in-process (on a [`NetNs`] thread) by the
//! matrix and by the hidden `sixfold lab-probe` subcommand (run with `ip netns exec`).

use std::io::{BufRead, BufReader};
use std::net::{Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
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
    let s = TcpStream::connect_timeout(&addr, timeout)?;
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
