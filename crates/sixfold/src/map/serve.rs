//! `sixfold map --serve ADDR`: a small HTTP server (std threads, no runtime) for the live map.
//! `GET /` is the page; `GET /events?since=REV` is a server-sent-event stream that sends the
//! plan's HTML (`{"rev":N,"html":...}`) each time it changes. One watcher thread rebuilds the
//! plan whenever [`ChangeSignal::wait`] says something may have changed (the region's change
//! feed, or a lab file) and publishes it only if the drawing differs. Connections are bounded;
//! every socket has timeouts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::Context;

use super::Source;
use super::changes::ChangeSignal;

/// Most connections served at once (each live page holds one).
const MAX_CONNECTIONS: usize = 64;
/// Longest request head read.
const MAX_HEAD: u64 = 8 * 1024;
/// A comment line every so often, so dead clients are noticed.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// The latest published plan.
#[derive(Default)]
struct Current {
    rev: u64,
    /// The plan's HTML (what `/events` sends and the page swaps in).
    html: String,
    /// Why the last read failed, shown above the last good plan.
    error: Option<String>,
}

struct Shared {
    current: Mutex<Current>,
    changed: Condvar,
}

impl Shared {
    fn snapshot(&self) -> (u64, String) {
        let c = self.current.lock().unwrap_or_else(|p| p.into_inner());
        (c.rev, shown(&c))
    }
}

fn shown(c: &Current) -> String {
    match &c.error {
        Some(e) => format!(
            r#"<p role="alert" class="fid">cannot read the plan: {}; showing the last one read</p>{}"#,
            map::render::esc_text(e),
            c.html
        ),
        None => c.html.clone(),
    }
}

pub fn run(source: Source, addr: SocketAddr) -> anyhow::Result<()> {
    let mut signal = source.changes();
    signal.reading();
    let first = source.read()?;
    let shared = Arc::new(Shared {
        current: Mutex::new(Current {
            rev: 1,
            html: map::render::render_plan(&first),
            error: None,
        }),
        changed: Condvar::new(),
    });
    let title = first.title.clone();
    let listener = TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr()?;
    let how = if signal.follows_feed() {
        "live, following the region's change feed"
    } else {
        "live, re-read every second: the endpoint has no change feed"
    };
    println!("serving the map of {title} on http://{local}/ ({how}; Ctrl-C stops)");
    let _ = std::io::stdout().flush();
    {
        let shared = shared.clone();
        std::thread::spawn(move || watch(source, &shared, signal));
    }
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if open.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            let _ = reply(
                &stream,
                "503 Service Unavailable",
                "text/plain",
                b"too many connections; close a map tab\n",
            );
            continue;
        }
        open.fetch_add(1, Ordering::SeqCst);
        let (shared, open, title) = (shared.clone(), open.clone(), title.clone());
        std::thread::spawn(move || {
            let _ = handle(stream, &shared, &title);
            open.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(())
}

/// Rebuild the plan after each signal; publish it when the drawing changed.
fn watch(source: Source, shared: &Shared, mut signal: ChangeSignal) {
    loop {
        signal.wait();
        signal.reading();
        let next = source.read().map(|p| map::render::render_plan(&p));
        let mut c = shared.current.lock().unwrap_or_else(|p| p.into_inner());
        let changed = match next {
            Ok(html) => {
                let changed = html != c.html || c.error.is_some();
                c.html = html;
                c.error = None;
                changed
            }
            Err(e) => {
                let e = format!("{e:#}");
                let changed = c.error.as_ref() != Some(&e);
                c.error = Some(e);
                changed
            }
        };
        if changed {
            c.rev += 1;
            shared.changed.notify_all();
        }
    }
}

fn reply(mut s: &TcpStream, status: &str, ctype: &str, body: &[u8]) -> std::io::Result<()> {
    write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    s.flush()
}

fn handle(stream: TcpStream, shared: &Shared, title: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut head = BufReader::new((&stream).take(MAX_HEAD));
    let mut first = String::new();
    head.read_line(&mut first)?;
    loop {
        let mut l = String::new();
        if head.read_line(&mut l)? == 0 || l == "\r\n" || l == "\n" {
            break;
        }
    }
    let mut parts = first.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method != "GET" {
        return reply(
            &stream,
            "405 Method Not Allowed",
            "text/plain",
            b"only GET: the map is read-only\n",
        );
    }
    match path {
        "/" => {
            let (rev, html) = shared.snapshot();
            let page = map::render::page(title, &html, map::Options { live: true, rev });
            reply(
                &stream,
                "200 OK",
                "text/html; charset=utf-8",
                page.as_bytes(),
            )
        }
        "/events" => {
            let since = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("since="))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            events(stream, shared, since)
        }
        _ => reply(
            &stream,
            "404 Not Found",
            "text/plain",
            b"not found: the map is at / and its updates at /events\n",
        ),
    }
}

/// Stream changes after revision `since` until the client goes away.
fn events(mut s: TcpStream, shared: &Shared, mut since: u64) -> std::io::Result<()> {
    s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: keep-alive\r\n\r\nretry: 1000\n\n")?;
    s.flush()?;
    loop {
        let msg = {
            let c = shared.current.lock().unwrap_or_else(|p| p.into_inner());
            let (c, _) = shared
                .changed
                .wait_timeout_while(c, KEEPALIVE, |c| c.rev <= since)
                .unwrap_or_else(|p| p.into_inner());
            if c.rev > since {
                since = c.rev;
                let data = serde_json::json!({"rev": c.rev, "html": shown(&c)});
                Some(format!("id: {}\ndata: {data}\n\n", c.rev))
            } else {
                None
            }
        };
        match msg {
            Some(m) => s.write_all(m.as_bytes())?,
            None => s.write_all(b": keepalive\n\n")?,
        }
        s.flush()?;
    }
}
