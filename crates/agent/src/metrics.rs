//! Prometheus text metrics and the `/v1/status` introspection JSON, served by a tiny HTTP/1.1
//! responder on a std `TcpListener` (loopback by default). One request per connection, bounded
//! by a read timeout; anything but `GET /metrics` and `GET /v1/status` gets 404/405.
//!
//! Metrics (all prefixed `sixfold_agent_`): `ready`, `allocations`, `cooling`,
//! `prefix_addresses`, `add_duration_seconds` and `del_duration_seconds` (histograms, including
//! the wait for the state lock and the durable write), `requests_total{op}`,
//! `errors_total{kind}`, `prefix_blocked` (1 while EC2 or STS refuses what the prefix needs)
//! and `prefix_denials_total` (refused attempts).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use agent_api::ErrorKind;
use tracing::{debug, warn};

use crate::server::Shared;

/// Histogram bucket upper bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// A fixed-bucket latency histogram on atomics.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Per-bucket counts (not cumulative); the last slot is `+Inf`.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_ns: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        cumulative += self.counts[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
    }
}

const OPS: [&str; 5] = ["add", "del", "list", "gc", "status"];
const KINDS: [(ErrorKind, &str); 5] = [
    (ErrorKind::InvalidRequest, "invalid_request"),
    (ErrorKind::Exhausted, "exhausted"),
    (ErrorKind::NotReady, "not_ready"),
    (ErrorKind::Busy, "busy"),
    (ErrorKind::Internal, "internal"),
];

/// The agent's counters. Gauges are read from the node state at scrape time.
#[derive(Debug, Default)]
pub struct Metrics {
    pub add: Histogram,
    pub del: Histogram,
    requests: [AtomicU64; OPS.len()],
    errors: [AtomicU64; KINDS.len()],
    /// 1 while the prefix is refused (see [`crate::prefix::Denial`]).
    pub(crate) prefix_blocked: AtomicU64,
    /// Refused attempts to acquire the prefix.
    pub(crate) prefix_denials: AtomicU64,
}

/// Values read from the node state for one scrape.
#[derive(Debug, Clone, Copy)]
pub struct Gauges {
    pub allocations: u64,
    pub cooling: u64,
    pub prefix_addresses: u64,
}

impl Metrics {
    /// Count one request of `op` (`add`, `del`, `list`, `gc`, `status`).
    pub fn request(&self, op: &str) {
        if let Some(i) = OPS.iter().position(|&o| o == op) {
            self.requests[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Count one error answer.
    pub fn error(&self, kind: ErrorKind) {
        if let Some(i) = KINDS.iter().position(|(k, _)| *k == kind) {
            self.errors[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition. `gauges` is `None` before the agent is ready.
    pub fn render(&self, gauges: Option<Gauges>) -> String {
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP sixfold_agent_{name} {help}\n# TYPE sixfold_agent_{name} gauge"
            );
            let _ = writeln!(out, "sixfold_agent_{name} {v}");
        };
        gauge(
            &mut out,
            "ready",
            "1 once the node prefix is acquired and the node is set up.",
            u64::from(gauges.is_some()),
        );
        let g = gauges.unwrap_or(Gauges {
            allocations: 0,
            cooling: 0,
            prefix_addresses: 0,
        });
        gauge(
            &mut out,
            "allocations",
            "Live pod addresses.",
            g.allocations,
        );
        gauge(
            &mut out,
            "cooling",
            "Released pod addresses still in their cooldown.",
            g.cooling,
        );
        gauge(
            &mut out,
            "prefix_addresses",
            "Addresses in the node's delegated prefix.",
            g.prefix_addresses,
        );
        gauge(
            &mut out,
            "prefix_blocked",
            "1 while EC2 or STS refuses the calls the node prefix needs (see /v1/status).",
            self.prefix_blocked.load(Ordering::Relaxed),
        );
        let denials = self.prefix_denials.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP sixfold_agent_prefix_denials_total Refused attempts to acquire the node prefix.\n\
             # TYPE sixfold_agent_prefix_denials_total counter\n\
             sixfold_agent_prefix_denials_total {denials}"
        );
        self.add.render(
            &mut out,
            "sixfold_agent_add_duration_seconds",
            "Time to answer an add request.",
        );
        self.del.render(
            &mut out,
            "sixfold_agent_del_duration_seconds",
            "Time to answer a del request.",
        );
        let _ = writeln!(
            out,
            "# HELP sixfold_agent_requests_total Requests by operation.\n# TYPE sixfold_agent_requests_total counter"
        );
        for (i, op) in OPS.iter().enumerate() {
            let _ = writeln!(
                out,
                "sixfold_agent_requests_total{{op=\"{op}\"}} {}",
                self.requests[i].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP sixfold_agent_errors_total Error answers by kind.\n# TYPE sixfold_agent_errors_total counter"
        );
        for (i, (_, kind)) in KINDS.iter().enumerate() {
            let _ = writeln!(
                out,
                "sixfold_agent_errors_total{{kind=\"{kind}\"}} {}",
                self.errors[i].load(Ordering::Relaxed)
            );
        }
        out
    }
}

/// How often the metrics accept loop looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Serve HTTP on `listener` until `stop` is set. The listener is polled (non-blocking, every
/// [`STOP_POLL`]) rather than woken by a connection, because the stopper may live in another
/// network namespace than the listener.
pub(crate) fn serve_http(listener: TcpListener, shared: Arc<Shared>, stop: Arc<AtomicBool>) {
    if let Err(e) = listener.set_nonblocking(true) {
        warn!(error = %e, "metrics listener cannot be made non-blocking; metrics are off");
        return;
    }
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Err(e) = stream
                    .set_nonblocking(false)
                    .and_then(|()| answer(stream, &shared))
                {
                    debug!(error = %e, "metrics connection failed");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(STOP_POLL),
            Err(e) => {
                debug!(error = %e, "metrics accept failed");
                std::thread::sleep(STOP_POLL);
            }
        }
    }
}

fn answer(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.lines().next().unwrap_or("").split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, ctype, body) = match (method, path) {
        ("GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4",
            shared.metrics.render(shared.gauges()),
        ),
        ("GET", "/v1/status") => match shared.status_json() {
            Some(v) => ("200 OK", "application/json", v.to_string()),
            None => (
                "503 Service Unavailable",
                "application/json",
                shared.not_ready_json().to_string(),
            ),
        },
        (_, "/metrics" | "/v1/status") => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n".to_owned(),
        ),
        _ => (
            "404 Not Found",
            "text/plain",
            "try /metrics or /v1/status\n".to_owned(),
        ),
    };
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(resp.as_bytes())?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(50));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(5));
        let mut out = String::new();
        h.render(&mut out, "x", "help");
        assert!(out.contains("x_bucket{le=\"0.0001\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.005\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"1\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_count 3\n"), "{out}");
    }

    #[test]
    fn render_lists_every_family() {
        let m = Metrics::default();
        m.request("add");
        m.error(ErrorKind::Exhausted);
        let out = m.render(Some(Gauges {
            allocations: 2,
            cooling: 1,
            prefix_addresses: 1 << 48,
        }));
        for line in [
            "sixfold_agent_ready 1",
            "sixfold_agent_allocations 2",
            "sixfold_agent_cooling 1",
            "sixfold_agent_prefix_addresses 281474976710656",
            "sixfold_agent_requests_total{op=\"add\"} 1",
            "sixfold_agent_errors_total{kind=\"exhausted\"} 1",
            "# TYPE sixfold_agent_add_duration_seconds histogram",
            "# TYPE sixfold_agent_del_duration_seconds histogram",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
        assert!(m.render(None).lines().any(|l| l == "sixfold_agent_ready 0"));
    }
}
