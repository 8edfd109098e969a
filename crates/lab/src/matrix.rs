//! The connectivity matrix: every path of the design, checked with real packets from inside the
//! namespaces (probes on [`NetNs`](dataplane::netns::NetNs) threads, in parallel), each with
//! what it expected and what the far end reported seeing.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub mod policy_rows;

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

/// A row's far end, what it must answer, and the probe that checks it.
pub(crate) type Row = (String, String, Probe);

/// From namespace `ns`, the line at `addr` must be `expect` exactly, or the row fails showing what
/// came instead.
fn exact(ns: &str, to: String, addr: SocketAddr, expect: String) -> Row {
    let (ns, want) = (ns.to_owned(), expect.clone());
    let p: Probe = Box::new(move || match line_from(ns, addr) {
        Ok(l) => (l == want, l),
        Err(e) => (false, e),
    });
    (to, expect, p)
}

/// Pod `x` to pod `y`'s responder, which must answer seeing `x`'s own address.
fn to_pod(x: &PodInfo, y: &PodInfo) -> Row {
    exact(
        &x.netns,
        format!("{} [{}]:{POD_PORT}", y.name, y.ipv6),
        sock(y.ipv6, POD_PORT),
        format!("{} saw {}", y.name, x.ipv6),
    )
}

impl Check {
    /// A row not run yet.
    pub(crate) fn new(path: &str, from: &str, to: String, expect: String) -> Check {
        Check {
            path: path.to_owned(),
            from: from.to_owned(),
            to,
            ok: false,
            expect,
            seen: String::new(),
            ms: 0,
        }
    }
}

/// Build the checks for `state` (skipping paths whose ends the lab was built without).
fn plan(state: &LabState) -> Vec<(Check, Probe)> {
    let mut out: Vec<(Check, Probe)> = Vec::new();
    let mut add = |path: &str, from: &PodInfo, (to, expect, p): Row| {
        out.push((Check::new(path, &from.name, to, expect), p))
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
        add("pod → pod, same node", a, to_pod(a, b));
    }
    if let (Some(a), Some(z)) = (a, z)
        && first_node != last_node
    {
        for (x, y) in [(a, z), (z, a)] {
            add("pod → pod, across nodes", x, to_pod(x, y));
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
            (
                format!(
                    "{}/{} [{}]:{SERVICE_PORT}",
                    svc.namespace, svc.name, svc.cluster_ip
                ),
                format!("one of {} saw {src}", backends.join(",")),
                Box::new(move || service_probe(ns, cip, (src, &me), &backends, None)),
            ),
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
            (
                format!("{} (AAAA from [{dns}]:53)", svc.dns_name),
                format!(
                    "{} → {cip}, one of {} saw {src}",
                    svc.dns_name,
                    backends.join(",")
                ),
                Box::new(move || service_probe(ns, cip, (src, &me), &backends, Some((dns, name)))),
            ),
        );
    }
    for pod in [a, z].into_iter().flatten() {
        let Some(node) = state.node(&pod.node) else {
            continue;
        };
        add(
            "pod → IPv4 internet (via IGW NAT)",
            pod,
            exact(
                &pod.netns,
                format!("{}:{INTERNET_PORT}", state.internet_ipv4),
                sock(state.internet_ipv4, INTERNET_PORT),
                format!("internet saw {}", node.public_ipv4),
            ),
        );
        if first_node == last_node {
            break;
        }
    }
    if let Some(a) = a {
        add(
            "pod → IPv6 internet (via EIGW)",
            a,
            to_internet_v6(state, a),
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
            (
                format!("{} [{}]:{POD_PORT}", a.name, a.ipv6),
                format!("refused by the EIGW: {EIGW_REFUSAL}"),
                Box::new(move || match inet {
                    Ok(ns) => refused_by_eigw(&ns, target),
                    Err(e) => (false, format!("no probe ran: {e}")),
                }),
            ),
        );
    }
    if let (Some(f), Some(a)) = (fargate.first(), a) {
        add("Fargate pod → EC2 pod", f, to_pod(f, a));
        let from = z.unwrap_or(a);
        add("EC2 pod → Fargate pod", from, to_pod(from, f));
    }
    out.extend(crate::lb::matrix::plan(state));
    out
}

/// Pod `a` to the internet host's IPv6, which must see the pod's own address (no NAT on IPv6).
pub(crate) fn to_internet_v6(state: &LabState, a: &PodInfo) -> Row {
    exact(
        &a.netns,
        format!("[{}]:{INTERNET_PORT}", state.internet_ipv6),
        sock(state.internet_ipv6, INTERNET_PORT),
        format!("internet saw {}", a.ipv6),
    )
}

/// A refusal a negative row is proven by: the errno the kernel reports to `connect()` for it,
/// how the row names it, and whose refusal it is.
#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    pub errno: i32,
    pub text: &'static str,
    pub by: &'static str,
}

/// What the EIGW answers an unsolicited inbound connection: its nft rule is
/// `reject with icmpv6 type admin-prohibited`, which the kernel reports to `connect()` as EACCES.
pub(crate) const EIGW_REFUSAL: &str =
    "ICMPv6 destination unreachable, administratively prohibited (EACCES)";

/// The EIGW's refusal, as a negative row proves it.
pub const EIGW: Refusal = Refusal {
    errno: libc::EACCES,
    text: EIGW_REFUSAL,
    by: "the EIGW's refusal",
};

/// One connection attempt (no retry) from namespace `ns` to `target`, waiting at most `wait`,
/// that learns an ICMPv6 refusal at once ([`probe::try_tcp_line_fast_refusal`]); the outer error
/// is a probe that never ran (no such namespace).
pub(crate) fn attempt(
    ns: &str,
    target: SocketAddr,
    wait: Duration,
) -> Result<std::io::Result<String>, String> {
    dataplane::netns::NetNs::by_name(ns)
        .map_err(|e| e.to_string())
        .and_then(|h| {
            h.run(move || probe::try_tcp_line_fast_refusal(target, wait))
                .map_err(|e| e.to_string())
        })
}

/// One connection attempt from namespace `ns` to `target` that must be refused by the EIGW.
pub(crate) fn refused_by_eigw(ns: &str, target: SocketAddr) -> (bool, String) {
    judge_refusal(attempt(ns, target, TIMEOUT), &EIGW)
}

/// A negative row is proven only by its own refusal (for the EIGW: EACCES from its ICMPv6
/// administratively-prohibited error). A line that got through, a timeout (a silent drop), another
/// refusal (a closed port, an unreachable host) or a probe that never ran (a missing namespace)
/// is a failed proof.
pub(crate) fn judge_refusal(
    attempt: Result<std::io::Result<String>, String>,
    want: &Refusal,
) -> (bool, String) {
    match attempt {
        Err(e) => (false, format!("no probe ran: {e}")),
        Ok(Ok(line)) => (false, format!("got through: {line}")),
        Ok(Err(e)) if e.raw_os_error() == Some(want.errno) => (true, want.text.to_owned()),
        Ok(Err(e)) => (false, format!("{}, not {}", probe::describe(&e), want.by)),
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
/// refusal is told apart from a path still warming up), then the policy rows
/// ([`policy_rows`]: a route and a security-group rule taken away through the region's API and
/// given back, each proven both ways).
pub fn run(state: &LabState) -> Vec<Check> {
    let (refused, allowed): (Vec<_>, Vec<_>) = plan(state)
        .into_iter()
        .enumerate()
        .partition(|(_, (c, _))| c.path.starts_with("internet →"));
    let mut done = run_wave(allowed);
    done.extend(run_wave(refused));
    done.sort_by_key(|(i, _)| *i);
    let mut checks: Vec<Check> = done.into_iter().map(|(_, c)| c).collect();
    // Last and one after another: they take away what the other rows rely on.
    checks.extend(policy_rows::run(state));
    checks
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
                    seen: "the probe thread panicked".into(),
                    ..Check::new("probe", "", String::new(), String::new())
                });
                (i, c)
            })
            .collect()
    })
}

/// The matrix as a table.
pub fn render(checks: &[Check]) -> String {
    let width = |col: fn(&Check) -> &str, header: &str| {
        checks
            .iter()
            .map(|c| col(c).chars().count())
            .chain([header.len()])
            .max()
            .unwrap_or(0)
    };
    let w_path = width(|c| &c.path, "PATH");
    let w_from = width(|c| &c.from, "FROM");
    let w_to = width(|c| &c.to, "TO");
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
    fn the_table_aligns_its_columns_and_counts_the_failed_rows() {
        let mut ok = Check::new(
            "pod → pod, same node",
            "web-1-1",
            "web-1-2 [::1]".into(),
            "x".into(),
        );
        ok.ok = true;
        ok.seen = "web-1-2 saw ::2".into();
        let bad = Check {
            seen: "timed out".into(),
            ..Check::new("p", "a", "b".into(), "an answer".into())
        };
        let t = render(&[ok, bad]);
        let lines: Vec<&str> = t.lines().collect();
        // The column of the OK field, in characters (a path has multi-byte arrows).
        let col = |l: &str| {
            [" ok ", " FAIL ", " OK "]
                .iter()
                .find_map(|w| l.find(w))
                .map(|i| l[..i].chars().count())
        };
        assert_eq!(col(lines[0]), col(lines[1]), "{t}");
        assert_eq!(col(lines[1]), col(lines[2]), "{t}");
        assert!(lines[2].ends_with("timed out (expected: an answer)"), "{t}");
        assert_eq!(lines[3], "1 of 2 paths proven; SOME PATHS FAILED");
    }

    #[test]
    fn refusal_row_passes_only_on_admin_prohibited() {
        let (ok, seen) = judge_refusal(Ok(Err(Error::from_raw_os_error(libc::EACCES))), &EIGW);
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
            let (ok, seen) = judge_refusal(Ok(Err(e)), &EIGW);
            assert!(!ok, "counted as the EIGW's refusal: {seen}");
            assert!(seen.contains("not the EIGW's refusal"), "{seen}");
        }
    }

    #[test]
    fn refusal_row_fails_when_the_line_got_through() {
        let (ok, seen) = judge_refusal(Ok(Ok("pod-a saw 2001:db8::1".into())), &EIGW);
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
