//! The lab's small servers, each run as a hidden `sixfold` subcommand in a namespace:
//!
//! - the responder (pods, Fargate pods and the internet hosts): answers every TCP connection
//!   with one line, `<name> saw <peer address>`, so a probe learns which source address
//!   arrived (NAT or not) and which backend a service picked;
//! - the cluster DNS server: AAAA answers from a JSON table, on UDP port 53;
//! - the region forwarder: agents run inside node namespaces, where `127.0.0.1` is the node's
//!   own loopback; the forwarder (in the root namespace) listens inside each node namespace and
//!   relays to the region on the root namespace's loopback. No address or route is added
//!   anywhere: a socket keeps the namespace it was created in.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use dataplane::netns::NetNs;

use crate::error::{LabError, Result};

/// The line a responder sends: `<name> saw <peer ip>`.
pub fn responder_line(name: &str, peer: &SocketAddr) -> String {
    let ip = match peer {
        SocketAddr::V6(v6) => v6
            .ip()
            .to_ipv4_mapped()
            .map(|v4| v4.to_string())
            .unwrap_or_else(|| v6.ip().to_string()),
        SocketAddr::V4(v4) => v4.ip().to_string(),
    };
    format!("{name} saw {ip}\n")
}

/// The HTTP body a responder answers: its line, plus the `X-Forwarded-For` it got (so an
/// application load balancer's header shows).
pub fn responder_body(name: &str, peer: &SocketAddr, head: &str) -> String {
    let mut body = responder_line(name, peer);
    for l in head.split("\r\n").skip(1) {
        if let Some((k, v)) = l.split_once(':')
            && k.trim().eq_ignore_ascii_case("x-forwarded-for")
        {
            body.push_str(&format!("x-forwarded-for: {}\n", v.trim()));
        }
    }
    body
}

/// Answer HTTP requests on `c` (keep-alive, GET without a body) with [`responder_body`].
fn serve_http(mut c: TcpStream, name: &str) -> io::Result<()> {
    let peer = c.peer_addr()?;
    c.set_read_timeout(Some(Duration::from_secs(30)))?;
    c.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut pending = Vec::new();
    loop {
        let (head, rest) = if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = pending.split_off(end + 4);
            (String::from_utf8_lossy(&pending).into_owned(), rest)
        } else {
            let (h, mut rest) = crate::lb::daemon::read_head(&mut c)?;
            let mut all = pending;
            all.extend_from_slice(h.as_bytes());
            if all.len() > h.len() {
                // A head split over reads: parse again from everything gathered.
                all.append(&mut rest);
                pending = all;
                continue;
            }
            (h, rest)
        };
        pending = rest;
        let body = responder_body(name, &peer, &head);
        let close = head.lines().any(|l| {
            l.to_ascii_lowercase().starts_with("connection:")
                && l.to_ascii_lowercase().contains("close")
        }) || head.lines().next().is_some_and(|l| l.ends_with("HTTP/1.0"));
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n{body}",
            body.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        c.write_all(answer.as_bytes())?;
        if close {
            return Ok(());
        }
    }
}

/// Serve the responder on every address of `listen` (its line on connect) and of `http`
/// (HTTP) until the process ends.
pub fn run_responder(listen: &[SocketAddr], http: &[SocketAddr], name: &str) -> Result<()> {
    let mut threads = Vec::new();
    for addr in http {
        let l =
            TcpListener::bind(addr).map_err(LabError::io("responder bind", addr.to_string()))?;
        let name = name.to_owned();
        threads.push(std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(c) = conn else { continue };
                let name = name.clone();
                std::thread::spawn(move || {
                    let _ = serve_http(c, &name);
                });
            }
        }));
    }
    for addr in listen {
        let l =
            TcpListener::bind(addr).map_err(LabError::io("responder bind", addr.to_string()))?;
        let name = name.to_owned();
        threads.push(std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { continue };
                let line = match c.peer_addr() {
                    Ok(p) => responder_line(&name, &p),
                    Err(_) => continue,
                };
                let _ = c.set_write_timeout(Some(Duration::from_secs(2)));
                let _ = c.write_all(line.as_bytes());
            }
        }));
    }
    println!("responder {name} listening on {listen:?}, HTTP on {http:?}");
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

/// Serve cluster DNS on `listen` from the JSON table in `records` (name → IPv6).
pub fn run_dns(listen: SocketAddr, records: &Path) -> Result<()> {
    let text = std::fs::read(records).map_err(LabError::io("reading the DNS records", records))?;
    let table: BTreeMap<String, Ipv6Addr> =
        serde_json::from_slice(&text).map_err(|source| LabError::State {
            path: records.to_owned(),
            source,
        })?;
    let table: BTreeMap<String, Ipv6Addr> = table
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let sock = UdpSocket::bind(listen).map_err(LabError::io("DNS bind", listen.to_string()))?;
    println!("cluster DNS on {listen} with {} names", table.len());
    let mut buf = [0u8; 1500];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf) else {
            continue;
        };
        if let Some(reply) = crate::dns::answer(&buf[..n], &table) {
            let _ = sock.send_to(&reply, peer);
        }
    }
}

/// Relay `listen` inside each namespace of `netns` to `target` in this (root) namespace.
pub fn run_forwarder(target: SocketAddr, listen: SocketAddr, netns: &[PathBuf]) -> Result<()> {
    let mut threads = Vec::new();
    for path in netns {
        let ns = NetNs::open(path).map_err(LabError::dp(format!("opening {}", path.display())))?;
        let l = ns
            .run(move || TcpListener::bind(listen))
            .map_err(LabError::dp(format!("entering {}", path.display())))?
            .map_err(LabError::io("forwarder bind", path))?;
        threads.push(std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(inside) = conn else { continue };
                std::thread::spawn(move || {
                    let _ = relay(inside, target);
                });
            }
        }));
    }
    println!(
        "forwarding {listen} in {} namespaces to {target}",
        netns.len()
    );
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

fn relay(inside: TcpStream, target: SocketAddr) -> io::Result<()> {
    let outside = TcpStream::connect_timeout(&target, Duration::from_secs(3))?;
    splice(inside, outside)
}

/// Copy both ways between `a` and `b` until both sides are done (each direction's end is
/// passed on as a write shutdown). The relays here and the load balancer's proxy use it.
pub(crate) fn splice(a: TcpStream, b: TcpStream) -> io::Result<()> {
    let (mut a_r, mut a_w) = (a.try_clone()?, a);
    let (mut b_r, mut b_w) = (b.try_clone()?, b);
    let up = std::thread::spawn(move || {
        let _ = io::copy(&mut a_r, &mut b_w);
        let _ = b_w.shutdown(std::net::Shutdown::Write);
    });
    let _ = io::copy(&mut b_r, &mut a_w);
    let _ = a_w.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responder_reports_plain_addresses() {
        let v4mapped: SocketAddr = "[::ffff:203.0.113.10]:1".parse().unwrap();
        assert_eq!(responder_line("h", &v4mapped), "h saw 203.0.113.10\n");
        let v6: SocketAddr = "[2001:db8::1]:1".parse().unwrap();
        assert_eq!(responder_line("h", &v6), "h saw 2001:db8::1\n");
    }

    #[test]
    fn the_http_responder_shows_the_x_forwarded_for_it_got() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (c, _) = l.accept().unwrap();
            let _ = serve_http(c, "web-1-1");
        });
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        // Two requests on one connection (keep-alive), the second with the header.
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let (head, rest) = crate::lb::daemon::read_head(&mut c).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        let mut body = rest;
        while body.len() < "web-1-1 saw 127.0.0.1\n".len() {
            let mut b = [0u8; 256];
            let n = std::io::Read::read(&mut c, &mut b).unwrap();
            body.extend_from_slice(&b[..n]);
        }
        assert_eq!(String::from_utf8_lossy(&body), "web-1-1 saw 127.0.0.1\n");
        c.write_all(
            b"GET / HTTP/1.1\r\nX-Forwarded-For: 203.0.113.10\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut all = String::new();
        std::io::Read::read_to_string(&mut c, &mut all).unwrap();
        assert!(
            all.ends_with("web-1-1 saw 127.0.0.1\nx-forwarded-for: 203.0.113.10\n"),
            "{all}"
        );
    }
}
