//! The connectivity matrix: every path of the design, checked with real packets from inside the
//! namespaces (probes on [`NetNs`](dataplane::netns::NetNs) threads, in parallel), each with
//! what it expected and what the far end reported seeing.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::plan::{INTERNET_PORT, POD_PORT, SERVICE_PORT};
use crate::probe;
use crate::state::{LabState, PodInfo};

pub(crate) const TIMEOUT: Duration = Duration::from_secs(2);
const PATIENCE: Duration = Duration::from_secs(3);
/// Connections made to each service to see the balancing.
const SERVICE_TRIES: usize = 6;

/// One checked path.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub path: String,
    pub from: String,
    pub to: String,
    pub ok: bool,
    /// What was expected.
    pub expect: String,
    /// What the far end reported (or the error).
    pub seen: String,
    /// How long the check took, in milliseconds.
    pub ms: u128,
}

pub(crate) type Probe = Box<dyn FnOnce() -> (bool, String) + Send>;

fn line_from(ns: String, addr: SocketAddr) -> Result<String, String> {
    probe::in_ns(&ns, move || probe::tcp_line(addr, TIMEOUT, PATIENCE))
}

fn sock(ip: impl Into<IpAddr>, port: u16) -> SocketAddr {
    SocketAddr::new(ip.into(), port)
}

/// `expect` exactly, or a failure showing what came instead.
fn exact(ns: String, addr: SocketAddr, expect: String) -> Probe {
    Box::new(move || match line_from(ns, addr) {
        Ok(l) => (l == expect, l),
        Err(e) => (false, e),
    })
}

/// Build the checks for `state` (skipping paths whose ends the lab was built without).
fn plan(state: &LabState) -> Vec<(Check, Probe)> {
    let mut out: Vec<(Check, Probe)> = Vec::new();
    let mut add = |path: &str, from: &PodInfo, to: String, expect: String, p: Probe| {
        out.push((
            Check {
                path: path.to_owned(),
                from: from.name.clone(),
                to,
                ok: false,
                expect,
                seen: String::new(),
                ms: 0,
            },
            p,
        ))
    };
    let ec2: Vec<&PodInfo> = state.pods.iter().filter(|p| !p.fargate).collect();
    let fargate: Vec<&PodInfo> = state.pods.iter().filter(|p| p.fargate).collect();
    let on =
        |node: &str| -> Vec<&PodInfo> { ec2.iter().copied().filter(|p| p.node == node).collect() };
    let first_node = state
        .nodes
        .first()
        .map(|n| n.name.clone())
        .unwrap_or_default();
    let last_node = state
        .nodes
        .last()
        .map(|n| n.name.clone())
        .unwrap_or_default();
    let a = on(&first_node).first().copied();
    let a2 = on(&first_node).get(1).copied();
    let z = on(&last_node).first().copied();

    if let (Some(a), Some(b)) = (a, a2) {
        let exp = format!("{} saw {}", b.name, a.ipv6);
        add(
            "pod → pod, same node",
            a,
            format!("{} [{}]:{POD_PORT}", b.name, b.ipv6),
            exp.clone(),
            exact(a.netns.clone(), sock(b.ipv6, POD_PORT), exp),
        );
    }
    if let (Some(a), Some(z)) = (a, z)
        && first_node != last_node
    {
        for (x, y) in [(a, z), (z, a)] {
            let exp = format!("{} saw {}", y.name, x.ipv6);
            add(
                "pod → pod, across nodes",
                x,
                format!("{} [{}]:{POD_PORT}", y.name, y.ipv6),
                exp.clone(),
                exact(x.netns.clone(), sock(y.ipv6, POD_PORT), exp),
            );
        }
    }
    let dns = state.cluster.as_ref().map(|c| c.dns);
    for svc in &state.services {
        let Some(from) = a else { break };
        let backends = svc.backends.clone();
        let (ns, cip, src, me) = (
            from.netns.clone(),
            svc.cluster_ip,
            from.ipv6,
            from.name.clone(),
        );
        add(
            "pod → service (ClusterIP)",
            from,
            format!(
                "{}/{} [{}]:{SERVICE_PORT}",
                svc.namespace, svc.name, svc.cluster_ip
            ),
            format!("one of {} saw {src}", backends.join(",")),
            Box::new(move || service_probe(ns, cip, (src, &me), &backends, None)),
        );
        let Some(dns) = dns else { continue };
        let from = z.unwrap_or(from);
        let backends = svc.backends.clone();
        let (ns, cip, src, name, me) = (
            from.netns.clone(),
            svc.cluster_ip,
            from.ipv6,
            svc.dns_name.clone(),
            from.name.clone(),
        );
        add(
            "pod → service (DNS name)",
            from,
            format!("{} (AAAA from [{dns}]:53)", svc.dns_name),
            format!(
                "{} → {cip}, one of {} saw {src}",
                svc.dns_name,
                backends.join(",")
            ),
            Box::new(move || service_probe(ns, cip, (src, &me), &backends, Some((dns, name)))),
        );
    }
    for pod in [a, z].into_iter().flatten() {
        let Some(node) = state.node(&pod.node) else {
            continue;
        };
        let exp = format!("internet saw {}", node.public_ipv4);
        add(
            "pod → IPv4 internet (via IGW NAT)",
            pod,
            format!("{}:{INTERNET_PORT}", state.internet_ipv4),
            exp.clone(),
            exact(
                pod.netns.clone(),
                sock(state.internet_ipv4, INTERNET_PORT),
                exp,
            ),
        );
        if first_node == last_node {
            break;
        }
    }
    if let Some(a) = a {
        let exp = format!("internet saw {}", a.ipv6);
        add(
            "pod → IPv6 internet (via EIGW)",
            a,
            format!("[{}]:{INTERNET_PORT}", state.internet_ipv6),
            exp.clone(),
            exact(
                a.netns.clone(),
                sock(state.internet_ipv6, INTERNET_PORT),
                exp,
            ),
        );
        let inet = crate::plan::Names::new(&state.name)
            .map(|n| n.internet())
            .map_err(|e| format!("the internet namespace of lab {}: {e}", state.name));
        let target = sock(a.ipv6, POD_PORT);
        let internet = PodInfo {
            name: "internet".into(),
            ..a.clone()
        };
        add(
            "internet → pod IPv6 (unsolicited)",
            &internet,
            format!("{} [{}]:{POD_PORT}", a.name, a.ipv6),
            format!("refused by the EIGW: {EIGW_REFUSAL}"),
            Box::new(move || match inet {
                Ok(ns) => refused_by_eigw(&ns, target),
                Err(e) => (false, format!("no probe ran: {e}")),
            }),
        );
    }
    if let (Some(f), Some(a)) = (fargate.first(), a) {
        let exp = format!("{} saw {}", a.name, f.ipv6);
        add(
            "Fargate pod → EC2 pod",
            f,
            format!("{} [{}]:{POD_PORT}", a.name, a.ipv6),
            exp.clone(),
            exact(f.netns.clone(), sock(a.ipv6, POD_PORT), exp),
        );
        let from = z.unwrap_or(a);
        let exp = format!("{} saw {}", f.name, from.ipv6);
        add(
            "EC2 pod → Fargate pod",
            from,
            format!("{} [{}]:{POD_PORT}", f.name, f.ipv6),
            exp.clone(),
            exact(from.netns.clone(), sock(f.ipv6, POD_PORT), exp),
        );
    }
    out.extend(crate::lb::matrix::plan(state));
    out
}

/// What the EIGW answers an unsolicited inbound connection: its nft rule is
/// `reject with icmpv6 type admin-prohibited`, which the kernel reports to `connect()` as EACCES.
pub(crate) const EIGW_REFUSAL: &str =
    "ICMPv6 destination unreachable, administratively prohibited (EACCES)";

/// One connection attempt from namespace `ns` to `target` that must be refused by the EIGW.
pub(crate) fn refused_by_eigw(ns: &str, target: SocketAddr) -> (bool, String) {
    let attempt = dataplane::netns::NetNs::by_name(ns)
        .map_err(|e| e.to_string())
        .and_then(|h| {
            h.run(move || probe::try_tcp_line(target, TIMEOUT))
                .map_err(|e| e.to_string())
        });
    judge_refusal(attempt)
}

/// A negative row is proven only by the EIGW's own refusal (EACCES from its ICMPv6
/// administratively-prohibited error). A line that got through, a timeout (a silent drop), another
/// refusal (a closed port, an unreachable host) or a probe that never ran (a missing namespace)
/// is a failed proof.
fn judge_refusal(attempt: Result<std::io::Result<String>, String>) -> (bool, String) {
    match attempt {
        Err(e) => (false, format!("no probe ran: {e}")),
        Ok(Ok(line)) => (false, format!("got through: {line}")),
        Ok(Err(e)) if e.raw_os_error() == Some(libc::EACCES) => (true, EIGW_REFUSAL.to_owned()),
        Ok(Err(e)) => (
            false,
            format!("{}, not the EIGW's refusal", probe::describe(&e)),
        ),
    }
}

/// Connect to a service `SERVICE_TRIES` times from pod `me` (address `src`): every answer must
/// come from a backend and see the pod's own address, except when the pod reached itself
/// (hairpin), which kube-proxy masquerades.
fn service_probe(
    ns: String,
    cip: std::net::Ipv6Addr,
    (src, me): (std::net::Ipv6Addr, &str),
    backends: &[String],
    dns: Option<(std::net::Ipv6Addr, String)>,
) -> (bool, String) {
    let r = probe::in_ns(&ns, move || {
        let mut prefix = String::new();
        if let Some((server, name)) = dns {
            let got = probe::resolve(server, &name, TIMEOUT)?;
            if got != cip {
                return Err(format!("{name} resolved to {got}, not {cip}"));
            }
            prefix = format!("{name} → {got}; ");
        }
        let mut lines = Vec::new();
        for _ in 0..SERVICE_TRIES {
            lines.push(probe::tcp_line(sock(cip, SERVICE_PORT), TIMEOUT, PATIENCE)?);
        }
        Ok((prefix, lines))
    });
    match r {
        Err(e) => (false, e),
        Ok((prefix, lines)) => {
            let mut hit: Vec<String> = Vec::new();
            let mut ok = true;
            for l in &lines {
                let mut parts = l.split(" saw ");
                let (who, saw) = (
                    parts.next().unwrap_or_default(),
                    parts.next().unwrap_or_default(),
                );
                ok &= backends.iter().any(|b| b == who) && (saw == src.to_string() || who == me);
                if !hit.iter().any(|h| h == who) {
                    hit.push(who.to_owned());
                }
            }
            hit.sort();
            (
                ok,
                format!(
                    "{prefix}{} connections answered by {}",
                    lines.len(),
                    hit.join(",")
                ),
            )
        }
    }
}

/// Run every check and return them in order: the paths that must work first (in parallel),
/// then the ones that must be refused (so neighbour discovery on the way is settled and a
/// refusal is told apart from a path still warming up).
pub fn run(state: &LabState) -> Vec<Check> {
    let (refused, allowed): (Vec<_>, Vec<_>) = plan(state)
        .into_iter()
        .enumerate()
        .partition(|(_, (c, _))| c.path.starts_with("internet →"));
    let mut done = run_wave(allowed);
    done.extend(run_wave(refused));
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, c)| c).collect()
}

fn run_wave(wave: Vec<(usize, (Check, Probe))>) -> Vec<(usize, Check)> {
    std::thread::scope(|s| {
        let handles: Vec<_> = wave
            .into_iter()
            .map(|(i, (mut c, p))| {
                let h = s.spawn(move || {
                    let start = std::time::Instant::now();
                    let (ok, seen) = p();
                    c.ok = ok;
                    c.seen = seen;
                    c.ms = start.elapsed().as_millis();
                    c
                });
                (i, h)
            })
            .collect();
        handles
            .into_iter()
            .map(|(i, h)| {
                let c = h.join().unwrap_or_else(|_| Check {
                    path: "probe".into(),
                    from: String::new(),
                    to: String::new(),
                    ok: false,
                    expect: String::new(),
                    seen: "the probe thread panicked".into(),
                    ms: 0,
                });
                (i, c)
            })
            .collect()
    })
}

/// The matrix as a table.
pub fn render(checks: &[Check]) -> String {
    let w_path = checks
        .iter()
        .map(|c| c.path.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let w_from = checks
        .iter()
        .map(|c| c.from.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let w_to = checks
        .iter()
        .map(|c| c.to.chars().count())
        .max()
        .unwrap_or(2)
        .max(2);
    let mut s = format!(
        "{:<w_path$}  {:<w_from$}  {:<w_to$}  {:<4}  {:>6}  SEEN\n",
        "PATH", "FROM", "TO", "OK", "MS"
    );
    for c in checks {
        s.push_str(&format!(
            "{:<w_path$}  {:<w_from$}  {:<w_to$}  {:<4}  {:>6}  {}\n",
            c.path,
            c.from,
            c.to,
            if c.ok { "ok" } else { "FAIL" },
            c.ms,
            if c.ok {
                c.seen.clone()
            } else {
                format!("{} (expected: {})", c.seen, c.expect)
            }
        ));
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    s.push_str(&format!(
        "{} of {} paths proven{}\n",
        checks.len() - failed,
        checks.len(),
        if failed == 0 {
            ""
        } else {
            "; SOME PATHS FAILED"
        }
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    #[test]
    fn refusal_row_passes_only_on_admin_prohibited() {
        let (ok, seen) = judge_refusal(Ok(Err(Error::from_raw_os_error(libc::EACCES))));
        assert!(ok, "{seen}");
        assert_eq!(seen, EIGW_REFUSAL);
    }

    #[test]
    fn refusal_row_fails_on_a_timeout_or_another_refusal() {
        for e in [
            Error::new(ErrorKind::TimedOut, "connection timed out"),
            Error::from_raw_os_error(libc::ECONNREFUSED),
            Error::from_raw_os_error(libc::EHOSTUNREACH),
            Error::from_raw_os_error(libc::ENETUNREACH),
        ] {
            let (ok, seen) = judge_refusal(Ok(Err(e)));
            assert!(!ok, "counted as the EIGW's refusal: {seen}");
            assert!(seen.contains("not the EIGW's refusal"), "{seen}");
        }
    }

    #[test]
    fn refusal_row_fails_when_the_line_got_through() {
        let (ok, seen) = judge_refusal(Ok(Ok("pod-a saw 2001:db8::1".into())));
        assert!(!ok);
        assert!(seen.starts_with("got through"), "{seen}");
    }

    #[test]
    fn refusal_row_fails_when_the_namespace_is_missing() {
        let ns = format!("sixfold-no-such-ns-{}", std::process::id());
        let target = sock(std::net::Ipv6Addr::LOCALHOST, POD_PORT);
        let (ok, seen) = refused_by_eigw(&ns, target);
        assert!(!ok, "a missing namespace counted as a refusal: {seen}");
        assert!(seen.starts_with("no probe ran"), "{seen}");
    }
}
