//! The load balancers' rows of the connectivity matrix: from the internet host, the load
//! balancer's public IPv4 reaches an IPv6 pod and its IPv6 reaches a pod (several connections,
//! each answer naming the pod, which must be a healthy target and must see the load balancer's
//! IPv6 — or, through an ALB, report the client in `X-Forwarded-For`); an internal load balancer
//! answers from inside the VPC and is refused from the internet by the egress-only gateway.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::lb::LoadBalancerInfo;
use crate::lb::plan::Kind;
use crate::matrix::{Check, EIGW_REFUSAL, Probe, TIMEOUT, refused_by_eigw};
use crate::probe;
use crate::state::LabState;

/// Connections made through each load balancer to see the balancing.
pub const TRIES: usize = 4;

/// One answer through `lb` at `addr` from namespace `ns`: the line a pod sent (NLB: the
/// responder's line; ALB: the HTTP body's lines joined with `; `).
pub fn ask(ns: &str, addr: SocketAddr, kind: Kind) -> Result<String, String> {
    probe::in_ns(ns, move || match kind {
        Kind::Nlb => probe::tcp_line(addr, TIMEOUT, Duration::from_secs(3)),
        Kind::Alb => http_get(addr, TIMEOUT).map_err(|e| probe::describe(&e)),
    })
}

/// `GET /` over HTTP/1.1 with `Connection: close`; the body's lines joined with `; `.
pub fn http_get(addr: SocketAddr, timeout: Duration) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut buf = Vec::new();
    s.take(64 * 1024).read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!(
            "answered {:?}",
            head.lines().next().unwrap_or("")
        )));
    }
    Ok(body.trim().lines().collect::<Vec<_>>().join("; "))
}

/// Judge answers through `lb`: every one from a healthy target's pod, each seeing the load
/// balancer's IPv6 (NLB) or reporting `client` in `X-Forwarded-For` (ALB).
pub fn judge(
    lb: &LoadBalancerInfo,
    client: IpAddr,
    answers: &[Result<String, String>],
) -> (bool, String) {
    let healthy: Vec<&str> = lb
        .targets
        .iter()
        .filter(|t| t.state == "healthy")
        .map(|t| t.pod.as_str())
        .collect();
    let mut pods = Vec::new();
    for a in answers {
        let line = match a {
            Ok(l) => l,
            Err(e) => {
                return (
                    false,
                    format!("{e} (after {} answers from {})", pods.len(), pods.join(",")),
                );
            }
        };
        let pod = line.split(' ').next().unwrap_or("");
        let sees = match lb.kind {
            Kind::Nlb => line == &format!("{pod} saw {}", lb.ipv6),
            Kind::Alb => {
                line.starts_with(&format!("{pod} saw {}", lb.ipv6))
                    && line.contains(&format!("x-forwarded-for: {client}"))
            }
        };
        if !healthy.contains(&pod) || !sees {
            return (
                false,
                format!(
                    "unexpected answer {line:?} (healthy targets: {})",
                    healthy.join(",")
                ),
            );
        }
        pods.push(pod.to_owned());
    }
    (
        true,
        format!("{} connections answered by {}", pods.len(), pods.join(",")),
    )
}

/// The rows for every load balancer of `state`.
pub(crate) fn plan(state: &LabState) -> Vec<(Check, Probe)> {
    let mut out: Vec<(Check, Probe)> = Vec::new();
    let Ok(names) = crate::plan::Names::new(&state.name) else {
        return out;
    };
    let inet = names.internet();
    for lb in &state.load_balancers {
        let what = if lb.kind == Kind::Nlb { "NLB" } else { "ALB" };
        let expect = match lb.kind {
            Kind::Nlb => format!("healthy target pods, each seeing {}", lb.ipv6),
            Kind::Alb => "healthy target pods, X-Forwarded-For naming the client".to_owned(),
        };
        let mut row = |path: String, from: &str, to: String, expect: String, p: Probe| {
            out.push((Check::new(&path, from, to, expect), p));
        };
        let through =
            |ns: String, addr: SocketAddr, client: IpAddr, lb: LoadBalancerInfo| -> Probe {
                Box::new(move || {
                    let answers: Vec<_> = (0..TRIES).map(|_| ask(&ns, addr, lb.kind)).collect();
                    judge(&lb, client, &answers)
                })
            };
        if lb.internet_facing() {
            let v4 = lb.public_ipv4.map(|public| {
                (
                    format!("IPv4 internet → {what} IPv4 → IPv6 pod"),
                    IpAddr::V4(public),
                    // The internet namespace's IPv4 connections leave from its link address
                    // (203.0.113.10 sits on its loopback): that is the client.
                    IpAddr::V4(crate::plan::INTERNET_LINK_V4),
                )
            });
            let v6 = (
                format!("IPv6 internet → {what} IPv6 → pod"),
                IpAddr::V6(lb.ipv6),
                IpAddr::V6(state.internet_ipv6),
            );
            for (path, ip, client) in v4.into_iter().chain([v6]) {
                let addr = SocketAddr::new(ip, lb.port);
                row(
                    path,
                    "internet",
                    format!("{} {addr}", lb.name),
                    expect.clone(),
                    through(inet.clone(), addr, client, lb.clone()),
                );
            }
        } else {
            let addr = SocketAddr::new(IpAddr::V6(lb.ipv6), lb.port);
            if let Some(pod) = state.pods.iter().find(|p| !p.fargate) {
                row(
                    format!("pod → internal {what} IPv6 → pod"),
                    &pod.name,
                    format!("{} {addr}", lb.name),
                    expect.clone(),
                    through(pod.netns.clone(), addr, IpAddr::V6(pod.ipv6), lb.clone()),
                );
            }
            let ns = inet.clone();
            row(
                format!("internet → internal {what} IPv6 (not reachable)"),
                "internet",
                format!("{} {addr}", lb.name),
                format!("refused by the EIGW: {EIGW_REFUSAL}"),
                Box::new(move || refused_by_eigw(&ns, addr)),
            );
        }
    }
    out
}

/// Run only the load balancers' rows (the paths first, then the refusals), in order.
pub fn run(state: &LabState) -> Vec<Check> {
    let (refused, allowed): (Vec<_>, Vec<_>) = plan(state)
        .into_iter()
        .partition(|(c, _)| c.path.starts_with("internet →"));
    allowed
        .into_iter()
        .chain(refused)
        .map(|(mut c, p)| {
            let start = std::time::Instant::now();
            let (ok, seen) = p();
            c.ok = ok;
            c.seen = seen;
            c.ms = start.elapsed().as_millis();
            c
        })
        .collect()
}
