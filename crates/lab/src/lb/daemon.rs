//! `sixfold lab-lb`: one load balancer's node, run inside its namespace. It listens on
//! `[::]:PORT` (IPv4 clients arrive as v4-mapped addresses on the same socket), and
//!
//! - **NLB**: forwards each TCP connection to a target (round robin), IPv4 clients carried to
//!   IPv6 targets; the target sees the load balancer's IPv6 (client IP preservation is off for
//!   IPv6 `ip` targets, as on AWS);
//! - **ALB**: reads the HTTP request head, adds `X-Forwarded-For` (appending to one already
//!   there), `X-Forwarded-Proto` and `X-Forwarded-Port`, sends it with `Connection: close` to a
//!   target and relays the answer (one request per client connection);
//!
//! only to **healthy** targets (while none is healthy, to all of them: ELB fails open). It polls
//! the region for the group's targets and health check settings every second (through the lab's
//! region forwarder on `127.0.0.1`), checks each target every `HealthCheckIntervalSeconds` with
//! `HealthCheckTimeoutSeconds` (TCP connect, or HTTP GET of the path against the matcher), turns
//! results into verdicts with the thresholds ([`plan::Tracker`]) and reports every change to the
//! region (`POST /sixfold/v1/target-health`).

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::daemons::splice;
use crate::error::{LabError, Result};
use crate::lb::api::{CheckSettings, Elb, Verdict};
use crate::lb::plan::{self, Failure, Health, Kind, Tracker};
use crate::state::RegionInfo;

/// Longest HTTP request or response head read (bytes).
pub const MAX_HEAD: usize = 16 * 1024;
/// How often the region is asked for the group's targets.
const POLL: Duration = Duration::from_secs(1);
/// How long a connection to a target may take before the next target is tried.
const CONNECT: Duration = Duration::from_secs(2);
/// Most targets tried for one client connection.
const TRIES: usize = 3;

/// What `sixfold lab-lb --config FILE` runs (written by `service expose`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonConfig {
    pub name: String,
    pub kind: Kind,
    pub port: u16,
    pub target_group_arn: String,
    /// The region, as reached from inside the namespace (the lab's forwarder).
    pub region: RegionInfo,
}

impl DaemonConfig {
    /// Where the config of load balancer `name` lives.
    pub fn path(state_dir: &Path, name: &str) -> PathBuf {
        state_dir.join("lb").join(format!("{name}.json"))
    }
}

struct Entry {
    addr: SocketAddr,
    tracker: Tracker,
    next_check: Instant,
    checking: bool,
}

struct Shared {
    targets: Mutex<Vec<Entry>>,
    rr: AtomicUsize,
}

impl Shared {
    /// The targets to try for one connection, in order: healthy ones (round robin), or all
    /// of them while none is healthy.
    fn candidates(&self) -> Vec<SocketAddr> {
        let t = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        let healthy: Vec<SocketAddr> = t
            .iter()
            .filter(|e| e.tracker.health == Health::Healthy)
            .map(|e| e.addr)
            .collect();
        let mut pool = if healthy.is_empty() {
            t.iter().map(|e| e.addr).collect()
        } else {
            healthy
        };
        if pool.is_empty() {
            return pool;
        }
        let start = self.rr.fetch_add(1, Ordering::Relaxed) % pool.len();
        pool.rotate_left(start);
        pool.truncate(TRIES);
        pool
    }
}

/// Run the load balancer of `config` until the process ends.
pub fn run(config: &Path) -> Result<()> {
    let text =
        std::fs::read(config).map_err(LabError::io("reading the load balancer config", config))?;
    let cfg: DaemonConfig = serde_json::from_slice(&text).map_err(|source| LabError::State {
        path: config.to_owned(),
        source,
    })?;
    let elb = Elb::connect(&cfg.region)?;
    let shared = Arc::new(Shared {
        targets: Mutex::new(Vec::new()),
        rr: AtomicUsize::new(0),
    });
    let listen = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), cfg.port);
    let l = TcpListener::bind(listen)
        .map_err(LabError::io("load balancer bind", listen.to_string()))?;
    {
        let shared = shared.clone();
        let (kind, port) = (cfg.kind, cfg.port);
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(c) = conn else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let _ = match kind {
                        Kind::Nlb => forward_tcp(c, &shared),
                        Kind::Alb => proxy_http(c, &shared, port),
                    };
                });
            }
        });
    }
    println!(
        "load balancer {} ({}) listening on {listen}, target group {}",
        cfg.name,
        cfg.kind.as_str(),
        cfg.target_group_arn
    );
    control(&cfg, &elb, &shared)
}

/// Poll targets and settings, run due checks, report verdict changes. Never returns.
fn control(cfg: &DaemonConfig, elb: &Elb, shared: &Shared) -> Result<()> {
    let (tx, rx) = mpsc::channel::<(SocketAddr, std::result::Result<(), Failure>)>();
    let mut settings: Option<CheckSettings> = None;
    let mut last_poll: Option<Instant> = None;
    let mut last_settings: Option<Instant> = None;
    loop {
        if last_settings.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            match elb.check_settings(&cfg.target_group_arn) {
                Ok(s) => {
                    settings = Some(s);
                    last_settings = Some(Instant::now());
                }
                Err(e) => eprintln!("reading the health check settings: {e}"),
            }
        }
        let Some(s) = settings.clone() else {
            std::thread::sleep(POLL);
            continue;
        };
        if last_poll.is_none_or(|t| t.elapsed() >= POLL) {
            last_poll = Some(Instant::now());
            match elb.target_health(&cfg.target_group_arn) {
                Ok(rows) => {
                    let want: Vec<SocketAddr> = rows
                        .iter()
                        .filter_map(|r| {
                            r.id.parse::<IpAddr>()
                                .ok()
                                .map(|ip| SocketAddr::new(ip, r.port))
                        })
                        .collect();
                    let mut t = shared.targets.lock().unwrap_or_else(|p| p.into_inner());
                    t.retain(|e| want.contains(&e.addr));
                    for a in want {
                        if !t.iter().any(|e| e.addr == a) {
                            println!("target {a} registered");
                            t.push(Entry {
                                addr: a,
                                tracker: Tracker::default(),
                                next_check: Instant::now(),
                                checking: false,
                            });
                        }
                    }
                }
                Err(e) => eprintln!("reading the targets: {e}"),
            }
        }
        {
            let mut t = shared.targets.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            for e in t.iter_mut().filter(|e| !e.checking && e.next_check <= now) {
                e.checking = true;
                let (tx, s, addr) = (tx.clone(), s.clone(), e.addr);
                std::thread::spawn(move || {
                    let _ = tx.send((addr, check(addr, &s)));
                });
            }
        }
        let mut changed = false;
        while let Ok((addr, result)) = rx.recv_timeout(Duration::from_millis(100)) {
            let mut t = shared.targets.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = t.iter_mut().find(|e| e.addr == addr) {
                e.checking = false;
                e.next_check = Instant::now() + Duration::from_secs(u64::from(s.interval_s.max(1)));
                if e.tracker.record(result, s.healthy, s.unhealthy) {
                    println!("target {addr}: {:?}", e.tracker.health);
                    changed = true;
                }
            }
        }
        if changed {
            let verdicts = verdicts(shared);
            if let Err(e) = elb.report(&cfg.target_group_arn, &verdicts) {
                eprintln!("reporting target health: {e}");
            }
        }
    }
}

fn verdicts(shared: &Shared) -> Vec<Verdict> {
    let t = shared.targets.lock().unwrap_or_else(|p| p.into_inner());
    t.iter()
        .filter_map(|e| {
            let (state, reason, codes) = match &e.tracker.health {
                Health::Initial => return None,
                Health::Healthy => ("healthy", None, None),
                Health::Unhealthy(f) => (
                    "unhealthy",
                    Some(f.reason()),
                    match f {
                        Failure::Codes(c) => Some(c.to_string()),
                        _ => None,
                    },
                ),
            };
            Some(Verdict {
                id: e.addr.ip().to_string(),
                port: e.addr.port(),
                state,
                reason,
                codes,
            })
        })
        .collect()
}

fn failure(e: &io::Error) -> Failure {
    if matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) {
        Failure::Timeout
    } else {
        Failure::Failed
    }
}

/// One health check of `target` per `s`.
pub fn check(target: SocketAddr, s: &CheckSettings) -> std::result::Result<(), Failure> {
    let port = if s.port == "traffic-port" {
        target.port()
    } else {
        s.port.parse().unwrap_or(target.port())
    };
    let addr = SocketAddr::new(target.ip(), port);
    let timeout = Duration::from_secs(u64::from(s.timeout_s.max(1)));
    let mut c = TcpStream::connect_timeout(&addr, timeout).map_err(|e| failure(&e))?;
    if s.protocol == "TCP" {
        return Ok(());
    }
    let _ = c.set_read_timeout(Some(timeout));
    let _ = c.set_write_timeout(Some(timeout));
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: ELB-HealthChecker/2.0\r\nConnection: close\r\n\r\n",
        s.path.as_deref().unwrap_or("/")
    );
    c.write_all(req.as_bytes()).map_err(|e| failure(&e))?;
    let (head, _) = read_head(&mut c).map_err(|e| failure(&e))?;
    let code: u16 = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or(Failure::Failed)?;
    if plan::matches(s.matcher.as_deref().unwrap_or("200"), code) {
        Ok(())
    } else {
        Err(Failure::Codes(code))
    }
}

/// Read an HTTP head (through the blank line), at most [`MAX_HEAD`] bytes: the head as text
/// and any bytes read past it. `UnexpectedEof` if the peer closed first.
pub fn read_head(c: &mut TcpStream) -> io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("an HTTP head longer than {MAX_HEAD} bytes"),
            ));
        }
        let n = c.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before the head ended",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The client's address as `X-Forwarded-For` writes it (v4-mapped shown as IPv4).
pub fn client_ip(peer: &SocketAddr) -> IpAddr {
    match peer {
        SocketAddr::V6(v6) => v6
            .ip()
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(*v6.ip())),
        SocketAddr::V4(v4) => IpAddr::V4(*v4.ip()),
    }
}

/// The request head an ALB sends on: `X-Forwarded-For` appended (or added),
/// `X-Forwarded-Proto`/`-Port` set, `Connection: close`.
pub fn forwarded_head(head: &str, client: IpAddr, port: u16) -> String {
    let mut lines = head.split("\r\n").filter(|l| !l.is_empty());
    let mut out = String::new();
    out.push_str(lines.next().unwrap_or(""));
    out.push_str("\r\n");
    let mut xff = None;
    for l in lines {
        let name = l
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "x-forwarded-for" => {
                xff = Some(
                    l.split_once(':')
                        .map(|(_, v)| v.trim().to_owned())
                        .unwrap_or_default(),
                );
            }
            "x-forwarded-proto" | "x-forwarded-port" | "connection" | "keep-alive" => {}
            _ => {
                out.push_str(l);
                out.push_str("\r\n");
            }
        }
    }
    let xff = match xff {
        Some(v) if !v.is_empty() => format!("{v}, {client}"),
        _ => client.to_string(),
    };
    out.push_str(&format!(
        "X-Forwarded-For: {xff}\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: {port}\r\nConnection: close\r\n\r\n"
    ));
    out
}

fn connect_any(shared: &Shared) -> Option<TcpStream> {
    shared
        .candidates()
        .into_iter()
        .find_map(|a| TcpStream::connect_timeout(&a, CONNECT).ok())
}

fn forward_tcp(client: TcpStream, shared: &Shared) -> io::Result<()> {
    let Some(up) = connect_any(shared) else {
        return Ok(());
    };
    splice(client, up)
}

fn proxy_http(mut client: TcpStream, shared: &Shared, port: u16) -> io::Result<()> {
    let peer = client.peer_addr()?;
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let (head, rest) = match read_head(&mut client) {
        Ok(h) => h,
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            let _ = client.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    client.set_read_timeout(None)?;
    let Some(mut up) = connect_any(shared) else {
        let _ = client.write_all(
            b"HTTP/1.1 503 Service Temporarily Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return Ok(());
    };
    up.write_all(forwarded_head(&head, client_ip(&peer), port).as_bytes())?;
    up.write_all(&rest)?;
    splice(client, up)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alb_appends_the_client_to_x_forwarded_for_and_closes() {
        let head = "GET /x HTTP/1.1\r\nHost: lb\r\nX-Forwarded-For: 192.0.2.1\r\nConnection: keep-alive\r\n\r\n";
        let v4: SocketAddr = "[::ffff:203.0.113.10]:5000".parse().unwrap();
        let out = forwarded_head(head, client_ip(&v4), 80);
        assert!(out.starts_with("GET /x HTTP/1.1\r\nHost: lb\r\n"), "{out}");
        assert!(
            out.contains("X-Forwarded-For: 192.0.2.1, 203.0.113.10\r\n"),
            "{out}"
        );
        assert!(
            out.contains("X-Forwarded-Port: 80\r\n") && out.ends_with("Connection: close\r\n\r\n")
        );
        assert!(!out.contains("keep-alive"), "{out}");
        let v6: SocketAddr = "[2001:db8:ffff::10]:5000".parse().unwrap();
        let out = forwarded_head("GET / HTTP/1.1\r\n\r\n", client_ip(&v6), 80);
        assert!(
            out.contains("X-Forwarded-For: 2001:db8:ffff::10\r\n"),
            "{out}"
        );
    }

    #[test]
    fn a_closed_port_fails_the_check_and_a_listener_passes_it() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let open = l.local_addr().unwrap();
        drop(l);
        let s = CheckSettings {
            protocol: "TCP".into(),
            port: "traffic-port".into(),
            path: None,
            interval_s: 5,
            timeout_s: 2,
            healthy: 2,
            unhealthy: 2,
            matcher: None,
        };
        assert_eq!(check(open, &s), Err(Failure::Failed));
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(check(l.local_addr().unwrap(), &s), Ok(()));
    }

    #[test]
    fn an_http_check_takes_only_the_matcher_codes() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for answer in ["HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found"] {
                let (mut c, _) = l.accept().unwrap();
                let (head, _) = read_head(&mut c).unwrap();
                assert!(head.starts_with("GET /healthz HTTP/1.1\r\n"), "{head}");
                c.write_all(format!("{answer}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .unwrap();
            }
        });
        let s = CheckSettings {
            protocol: "HTTP".into(),
            port: "traffic-port".into(),
            path: Some("/healthz".into()),
            interval_s: 5,
            timeout_s: 2,
            healthy: 2,
            unhealthy: 2,
            matcher: Some("200".into()),
        };
        assert_eq!(check(addr, &s), Ok(()));
        assert_eq!(check(addr, &s), Err(Failure::Codes(404)));
        server.join().unwrap();
    }
}
