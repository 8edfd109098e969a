//! The socket server with the committer beside the event loop, over a real Unix socket and an
//! in-memory store whose commits can be held (as a slow fsync would hold them).

use std::io::{ErrorKind as IoKind, Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use addressing::pods::PodPool;
use agent_api::{AttachmentKey, ErrorKind, Request, Response};

use super::{EventLoop, Shared, bind_socket, serve_unix};
use crate::config::SocketMode;
use crate::node::NodeState;
use crate::prefix::NodeFacts;
use crate::store::MemStore;

const T: Duration = Duration::from_secs(10);

/// A served socket over a [`MemStore`]; stopped (and the store's gate opened) on drop.
struct Served {
    _dir: tempfile::TempDir,
    sock: PathBuf,
    store: MemStore,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.store.hold_commits(false);
        let _ = UnixStream::connect(&self.sock);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(max_batch: usize) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    let store = MemStore::new();
    let facts = NodeFacts {
        prefix: "2001:db8:0:1:abcd::/80".parse().unwrap(),
        node_ipv4: Ipv4Addr::new(10, 0, 1, 7),
        node_ipv6: None,
        eni_id: None,
    };
    let pool = PodPool::new(facts.prefix, 30_000).unwrap();
    let state = NodeState::open(facts, Box::new(store.clone()), pool).unwrap();
    let shared = Shared::default();
    *shared.state.lock().unwrap() = Some(state);
    let event_loop = EventLoop::new(
        bind_socket(&sock, SocketMode::OWNER).unwrap(),
        &sock,
        max_batch,
    )
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let thread = std::thread::spawn(move || serve_unix(event_loop, &shared, &st));
    Served {
        _dir: dir,
        sock,
        store,
        stop,
        thread: Some(thread),
    }
}

fn add_line(c: &str) -> String {
    let req = Request::Add {
        key: AttachmentKey {
            network: "sixfold".into(),
            container_id: c.into(),
            ifname: "eth0".into(),
        },
        netns: None,
    };
    serde_json::to_string(&req).unwrap() + "\n"
}

/// Connect and send `line` whole; the connection, to read the answer from.
fn send(sock: &Path, line: &str) -> UnixStream {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s.write_all(line.as_bytes()).unwrap();
    s
}

fn answer(mut s: UnixStream) -> Response {
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{out:?}: {e}"))
}

fn is_invalid(r: &Response) -> bool {
    matches!(
        r,
        Response::Error {
            kind: ErrorKind::InvalidRequest,
            ..
        }
    )
}

/// While a batch is being made durable (its commit held), the loop still accepts and reads:
/// a bad request is answered at once. The held request is not answered before its commit, and
/// is answered as soon as the commit goes through. (When the loop committed batches itself, the
/// bad request waited for the commit.)
#[test]
fn the_loop_keeps_answering_while_a_batch_is_being_made_durable() {
    let s = serve(64);
    s.store.hold_commits(true);
    let held = send(&s.sock, &add_line("a"));
    assert!(
        s.store.commit_waiting(T),
        "the add never reached its commit"
    );
    let bad = answer(send(&s.sock, "not json\n"));
    assert!(is_invalid(&bad), "{bad:?}");
    held.set_nonblocking(true).unwrap();
    let early = (&held).read(&mut [0u8; 64]);
    assert!(
        matches!(&early, Err(e) if e.kind() == IoKind::WouldBlock),
        "answered before its commit: {early:?}"
    );
    held.set_nonblocking(false).unwrap();
    s.store.hold_commits(false);
    let r = answer(held);
    assert!(matches!(r, Response::Added { .. }), "{r:?}");
    assert_eq!(s.store.commits(), 1);
}

/// The requests that arrive while a batch commits form the next batch (one commit for all of
/// them), in batches of at most `max_batch`.
#[test]
fn requests_arriving_during_a_commit_form_the_next_batch_of_at_most_max_batch() {
    for (max_batch, commits) in [(64, 2), (2, 3), (1, 4)] {
        let s = serve(max_batch);
        s.store.hold_commits(true);
        let first = send(&s.sock, &add_line("a"));
        assert!(
            s.store.commit_waiting(T),
            "the first add never reached its commit"
        );
        let rest: Vec<UnixStream> = ["b", "c", "d"]
            .iter()
            .map(|c| send(&s.sock, &add_line(c)))
            .collect();
        // Accepted after the three (the accept queue is in order, and each was read whole at
        // its accept): once this is answered, the three are queued.
        assert!(is_invalid(&answer(send(&s.sock, "{}\n"))));
        s.store.hold_commits(false);
        let mut addresses = std::collections::HashSet::new();
        for conn in std::iter::once(first).chain(rest) {
            match answer(conn) {
                Response::Added { allocation } => assert!(addresses.insert(allocation.address)),
                other => panic!("max_batch {max_batch}: {other:?}"),
            }
        }
        assert_eq!(s.store.commits(), commits, "max_batch {max_batch}");
    }
}

/// A batch whose commit fails is answered `internal` (nothing acknowledged), and the next
/// batch is served normally.
#[test]
fn a_failed_commit_is_answered_internal_and_the_next_batch_is_served() {
    let s = serve(64);
    s.store.fail_commits(true);
    let r = answer(send(&s.sock, &add_line("a")));
    assert!(
        matches!(
            &r,
            Response::Error {
                kind: ErrorKind::Internal,
                ..
            }
        ),
        "{r:?}"
    );
    s.store.fail_commits(false);
    let r = answer(send(&s.sock, &add_line("a")));
    assert!(matches!(r, Response::Added { .. }), "{r:?}");
    let r = answer(send(&s.sock, "{\"op\":\"list\"}\n"));
    let Response::List { allocations } = r else {
        panic!("{r:?}")
    };
    assert_eq!(allocations.len(), 1);
}
