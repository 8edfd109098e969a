//! Burst client for the agent socket (benchmarks only: `bench/agent-burst.sh`, `bench/cni.sh`).
//!
//! Each round sends `--n` concurrent ADDs, one connection each, opened back to back from one
//! thread, waits for every answer, then does the same with DELs of the same attachments. A
//! request's latency runs from just before its `connect` to the moment its whole answer line has
//! been read: what a CNI plugin waits for on the socket (accept, read, the durable commit, the
//! answer), without the plugin's own process start. One thread on epoll reads the answers, so
//! the client adds microseconds, not a thread wake-up per request.
//!
//! Prints one JSON object: `{"add": STATS, "del": STATS}` with
//! `STATS = {"n", "p50_ms", "p90_ms", "p99_ms", "max_ms"}` over all rounds (nearest-rank
//! percentiles). Any answer other than `added` / `deleted`, or one missing after 30 s, is an
//! error (exit 1).
//!
//! `cargo run --release -p agent --example burst -- --socket S [--n 250] [--rounds 4] [--tag b]`

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream as StdStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use agent_api::{AttachmentKey, Request, Response};
use clap::Parser;
use mio::net::UnixStream;
use mio::{Events, Interest, Poll, Token};

#[derive(Parser)]
struct Cli {
    /// The agent's socket.
    #[arg(long)]
    socket: PathBuf,
    /// Concurrent requests per burst (the agent serves at most 256 connections at once).
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u32).range(1..=256))]
    n: u32,
    /// Rounds of (ADD burst, DEL burst).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// Container id prefix (so several runs against one agent do not collide).
    #[arg(long, default_value = "burst")]
    tag: String,
}

/// How long a whole burst may take before the run fails.
const BURST_TIMEOUT: Duration = Duration::from_secs(30);

struct Pending {
    stream: UnixStream,
    started: Instant,
    answer: Vec<u8>,
}

fn key(tag: &str, round: u32, j: u32) -> AttachmentKey {
    AttachmentKey {
        network: "burst".into(),
        container_id: format!("{tag}-{round}-{j}"),
        ifname: "eth0".into(),
    }
}

/// The answers being waited for.
struct Waiting {
    poll: Poll,
    events: Events,
    pending: HashMap<Token, Pending>,
    /// Latencies of the answers read so far, in ms.
    lat: Vec<f64>,
    want: fn(&Response) -> bool,
}

impl Waiting {
    /// One epoll wait of at most `timeout`, reading every answer that is ready (timed at once).
    fn turn(&mut self, timeout: Duration) -> Result<(), String> {
        if let Err(e) = self.poll.poll(&mut self.events, Some(timeout)) {
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(format!("poll: {e}"));
        }
        let mut chunk = [0u8; 4096];
        for ev in self.events.iter() {
            let Some(p) = self.pending.get_mut(&ev.token()) else {
                continue;
            };
            let done = loop {
                match p.stream.read(&mut chunk) {
                    Ok(0) => break true,
                    Ok(n) => {
                        p.answer.extend_from_slice(&chunk[..n]);
                        if p.answer.ends_with(b"\n") {
                            break true;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(format!("reading an answer: {e}")),
                }
            };
            if done {
                let ms = p.started.elapsed().as_secs_f64() * 1000.0;
                let answer: Response = serde_json::from_slice(&p.answer).map_err(|e| {
                    format!(
                        "answer {:?} is not a response: {e}",
                        String::from_utf8_lossy(&p.answer)
                    )
                })?;
                if !(self.want)(&answer) {
                    return Err(format!("unexpected answer: {answer:?}"));
                }
                self.lat.push(ms);
                self.pending.remove(&ev.token());
            }
        }
        Ok(())
    }
}

/// Send `reqs` at once, one connection each; the latency of each, in ms. Between two sends the
/// answers already there are read (without waiting), so an early answer is timed when it
/// arrives, not when the last request has been sent.
fn burst(cli: &Cli, reqs: Vec<Request>, want: fn(&Response) -> bool) -> Result<Vec<f64>, String> {
    let lines: Vec<Vec<u8>> = reqs
        .iter()
        .map(|r| {
            serde_json::to_vec(r).map(|mut l| {
                l.push(b'\n');
                l
            })
        })
        .collect::<Result<_, _>>()
        .map_err(|e| format!("encoding a request: {e}"))?;
    let mut w = Waiting {
        poll: Poll::new().map_err(|e| format!("epoll: {e}"))?,
        events: Events::with_capacity(1024),
        pending: HashMap::new(),
        lat: Vec::with_capacity(lines.len()),
        want,
    };
    for (j, line) in lines.iter().enumerate() {
        let started = Instant::now();
        let mut s = StdStream::connect(&cli.socket)
            .map_err(|e| format!("connect {}: {e}", cli.socket.display()))?;
        // A request line is far smaller than an empty socket's buffer: one write takes it all.
        s.write_all(line).map_err(|e| format!("send: {e}"))?;
        s.set_nonblocking(true)
            .map_err(|e| format!("nonblocking: {e}"))?;
        let mut stream = UnixStream::from_std(s);
        w.poll
            .registry()
            .register(&mut stream, Token(j), Interest::READABLE)
            .map_err(|e| format!("register: {e}"))?;
        w.pending.insert(
            Token(j),
            Pending {
                stream,
                started,
                answer: Vec::new(),
            },
        );
        w.turn(Duration::ZERO)?;
    }
    let deadline = Instant::now() + BURST_TIMEOUT;
    while !w.pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "{} of {} requests unanswered after {BURST_TIMEOUT:?}",
                w.pending.len(),
                lines.len()
            ));
        }
        w.turn(left)?;
    }
    Ok(w.lat)
}

fn stats(mut xs: Vec<f64>) -> serde_json::Value {
    xs.sort_by(f64::total_cmp);
    let rank = |q: f64| {
        let i = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len()) - 1;
        (xs[i] * 1000.0).round() / 1000.0
    };
    serde_json::json!({
        "n": xs.len(), "p50_ms": rank(0.5), "p90_ms": rank(0.9), "p99_ms": rank(0.99), "max_ms": rank(1.0),
    })
}

fn run(cli: &Cli) -> Result<serde_json::Value, String> {
    let (mut adds, mut dels) = (Vec::new(), Vec::new());
    for round in 0..cli.rounds {
        let keys: Vec<AttachmentKey> = (0..cli.n).map(|j| key(&cli.tag, round, j)).collect();
        let reqs = keys
            .iter()
            .map(|k| Request::Add {
                key: k.clone(),
                netns: None,
            })
            .collect();
        adds.extend(burst(cli, reqs, |r| matches!(r, Response::Added { .. }))?);
        let reqs = keys.into_iter().map(|key| Request::Del { key }).collect();
        dels.extend(burst(cli, reqs, |r| matches!(r, Response::Deleted { .. }))?);
    }
    Ok(serde_json::json!({"add": stats(adds), "del": stats(dels)}))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(out) => {
            println!("{out}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("burst: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
