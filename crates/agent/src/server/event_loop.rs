//! The agent socket's event loop: one thread accepts, reads and answers every connection,
//! non-blocking on epoll (through `mio`); the durable commits happen beside it, on the
//! [`committer`] thread.
//!
//! Each turn reads whatever has arrived and queues the complete requests. Whenever the
//! committer is idle, the loop hands it the queue (at most `max_batch` requests) as one batch:
//! one store transaction, one fsync (group commit). While that batch is being made durable the
//! loop keeps accepting and reading, so the next batch gathers meanwhile; when the committer
//! hands the batch's answers back (waking the loop), they are written at once and the next batch
//! goes out. A lone request is a batch of one with no added wait; a request in a burst waits at
//! most for the commit in progress and then its own. Nothing is answered before its batch is
//! durable.
//!
//! Bounds: at most [`MAX_CONNECTIONS`] open connections (beyond that the caller is answered
//! `busy`, CNI 11, at once); a request line of at most [`MAX_REQUEST_BYTES`]; a request must be
//! read within [`IO_TIMEOUT`] of the accept (else it is answered `invalid_request`) and its
//! answer taken within [`IO_TIMEOUT`] of being ready (else the connection is closed).

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use agent_api::{ErrorKind, Request, Response};
use mio::net::{UnixListener, UnixStream};
use mio::{Events, Interest, Poll, Token, Waker};
use tracing::{debug, warn};

use super::committer::{self, Answered, Queued};
use super::{IO_TIMEOUT, MAX_CONNECTIONS, MAX_REQUEST_BYTES, Shared, SocketError};

const LISTENER: Token = Token(0);
/// The committer's wake-up: a batch's answers are ready.
const WAKER: Token = Token(1);
/// Connection tokens start here.
const FIRST_CONN: usize = 2;
/// Longest sleep in `poll`: deadlines are checked, and `stop` seen, at least this often.
const TICK: Duration = Duration::from_millis(250);

/// The socket's listener registered with its epoll instance, ready to [`run`](Self::run).
#[derive(Debug)]
pub(crate) struct EventLoop {
    poll: Poll,
    listener: UnixListener,
    max_batch: usize,
}

/// One plugin connection.
#[derive(Debug)]
struct Conn {
    stream: UnixStream,
    /// The request line as read so far; once answered, the answer line being written.
    buf: Vec<u8>,
    written: usize,
    phase: Phase,
    deadline: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Reading,
    /// The request is queued, or in the batch being committed.
    Answering,
    Writing,
}

/// What a step on a connection left it as.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Waiting for the socket (more request bytes, or room to write).
    Wait,
    /// A whole request line has been read.
    Request,
    /// Finished or broken: close it.
    Close,
}

fn invalid(message: String) -> Response {
    Response::Error {
        kind: ErrorKind::InvalidRequest,
        message,
    }
}

impl Conn {
    fn new(stream: UnixStream) -> Conn {
        Conn {
            stream,
            buf: Vec::new(),
            written: 0,
            phase: Phase::Reading,
            deadline: Instant::now() + IO_TIMEOUT,
        }
    }

    /// Read what has arrived; a line is complete at its newline or at end of stream.
    fn read(&mut self) -> Step {
        let mut chunk = [0u8; 8192];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Step::Request,
                Ok(n) => {
                    let start = self.buf.len();
                    self.buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = self.buf[start..].iter().position(|b| *b == b'\n') {
                        self.buf.truncate(start + i + 1);
                        return Step::Request;
                    }
                    if self.buf.len() as u64 > MAX_REQUEST_BYTES {
                        return Step::Request;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    debug!(error = %e, "reading a plugin's request failed");
                    return Step::Close;
                }
            }
        }
    }

    /// The request read, or the answer for a bad one.
    fn parse(&self) -> Result<Request, Response> {
        if self.buf.len() as u64 > MAX_REQUEST_BYTES {
            return Err(invalid(format!(
                "request longer than {MAX_REQUEST_BYTES} bytes"
            )));
        }
        serde_json::from_slice(&self.buf)
            .map_err(|e| invalid(format!("request is not a valid request line: {e}")))
    }

    /// Start writing `resp` (and write what the socket takes now).
    fn answer(&mut self, resp: &Response) -> Step {
        match committer::encode(resp) {
            Some(line) => self.answer_line(line),
            None => Step::Close,
        }
    }

    /// Start writing the encoded answer `line` (and write what the socket takes now).
    fn answer_line(&mut self, line: Vec<u8>) -> Step {
        self.buf = line;
        self.written = 0;
        self.phase = Phase::Writing;
        self.deadline = Instant::now() + IO_TIMEOUT;
        self.write()
    }

    fn write(&mut self) -> Step {
        while self.written < self.buf.len() {
            match self.stream.write(&self.buf[self.written..]) {
                Ok(0) => return Step::Close,
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    debug!(error = %e, "could not answer a plugin (it went away?)");
                    return Step::Close;
                }
            }
        }
        Step::Close
    }
}

impl EventLoop {
    /// Register `listener` (bound at `path`) with a new epoll instance; batches will hold at
    /// most `max_batch` requests (at least 1).
    pub(crate) fn new(
        listener: std::os::unix::net::UnixListener,
        path: &Path,
        max_batch: usize,
    ) -> Result<EventLoop, SocketError> {
        let io = |op: &'static str| {
            let path = path.to_owned();
            move |source| SocketError::Io { op, path, source }
        };
        listener
            .set_nonblocking(true)
            .map_err(io("make non-blocking"))?;
        let mut listener = UnixListener::from_std(listener);
        let poll = Poll::new().map_err(io("create an epoll instance for"))?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(io("register with epoll"))?;
        Ok(EventLoop {
            poll,
            listener,
            max_batch: max_batch.max(1),
        })
    }

    /// Serve until `stop` is set (the stopper then connects once to wake the loop). The
    /// committer thread lives exactly as long as this call; if it cannot be started, the loop
    /// commits the batches itself (correct, only without the overlap).
    pub(crate) fn run(self, shared: &Shared, stop: &AtomicBool) {
        let (batches, batches_rx) = mpsc::channel();
        let (answered_tx, answered) = mpsc::channel();
        std::thread::scope(|scope| {
            let committer = Waker::new(self.poll.registry(), WAKER)
                .and_then(|waker| {
                    std::thread::Builder::new()
                        .name("agent-commit".into())
                        .spawn_scoped(scope, move || {
                            committer::run(shared, batches_rx, answered_tx, waker)
                        })
                })
                .map(|_| Committer {
                    batches,
                    answered,
                    busy: false,
                })
                .map_err(|e| {
                    warn!(error = %e, "cannot start the agent's commit thread; committing on the socket thread")
                })
                .ok();
            Serving {
                shared,
                poll: self.poll,
                listener: self.listener,
                max_batch: self.max_batch,
                conns: HashMap::new(),
                next_token: FIRST_CONN,
                queue: VecDeque::new(),
                committer,
            }
            .serve(stop);
            // Leaving the scope drops the loop's ends of the channels: the committer finishes
            // the batch in hand (if any) and ends; the scope joins it.
        });
    }
}

/// The loop's end of the committer thread.
struct Committer {
    batches: Sender<Vec<Queued>>,
    answered: Receiver<Answered>,
    /// A batch is out and its answers not back yet.
    busy: bool,
}

/// The event loop's state while it serves.
struct Serving<'a> {
    shared: &'a Shared,
    poll: Poll,
    listener: UnixListener,
    max_batch: usize,
    conns: HashMap<Token, Conn>,
    next_token: usize,
    /// Requests read and not handed to the committer yet, oldest first.
    queue: VecDeque<Queued>,
    /// `None`: batches are committed on this thread.
    committer: Option<Committer>,
}

impl Serving<'_> {
    fn serve(mut self, stop: &AtomicBool) {
        let mut events = Events::with_capacity(1024);
        while !stop.load(Ordering::SeqCst) {
            if let Err(e) = self.poll.poll(&mut events, Some(TICK)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    warn!(error = %e, "waiting on the agent socket failed");
                    std::thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept(),
                    // The answers are collected below, on every turn.
                    WAKER => {}
                    token => {
                        if let Some(conn) = self.conns.get_mut(&token) {
                            let step = match conn.phase {
                                Phase::Reading => conn.read(),
                                Phase::Writing => conn.write(),
                                Phase::Answering => Step::Wait,
                            };
                            self.settle(token, step);
                        }
                    }
                }
            }
            self.collect();
            self.dispatch();
            self.expire();
        }
    }

    /// Accept every waiting connection and read what each has already sent.
    fn accept(&mut self) {
        loop {
            let mut stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of descriptors, say: the waiting callers stay queued; try again later.
                    warn!(error = %e, "accept on the agent socket failed");
                    return;
                }
            };
            if self.conns.len() >= MAX_CONNECTIONS {
                self.shared.metrics.error(ErrorKind::Busy);
                let busy = Response::Error {
                    kind: ErrorKind::Busy,
                    message: format!(
                        "the agent is busy (all {MAX_CONNECTIONS} connection slots are taken); retry"
                    ),
                };
                // A short line fits an empty socket buffer; if not, the caller sees a hang-up
                // and retries all the same.
                let _ = Conn::new(stream).answer(&busy);
                continue;
            }
            self.next_token = self.next_token.wrapping_add(1).max(FIRST_CONN);
            let token = Token(self.next_token);
            if let Err(e) = self.poll.registry().register(
                &mut stream,
                token,
                Interest::READABLE | Interest::WRITABLE,
            ) {
                warn!(error = %e, "cannot register a plugin connection with epoll");
                continue;
            }
            let mut conn = Conn::new(stream);
            let step = conn.read();
            self.conns.insert(token, conn);
            self.settle(token, step);
        }
    }

    /// Act on what a step left `token` as: queue a complete request, answer a bad one, close.
    fn settle(&mut self, token: Token, step: Step) {
        let step = match step {
            Step::Request => match self.conns.get_mut(&token) {
                Some(conn) => match conn.parse() {
                    Ok(req) => {
                        conn.phase = Phase::Answering;
                        self.queue.push_back((token, req, Instant::now()));
                        Step::Wait
                    }
                    Err(resp) => {
                        if let Response::Error { kind, .. } = &resp {
                            self.shared.metrics.error(*kind);
                        }
                        conn.answer(&resp)
                    }
                },
                None => Step::Close,
            },
            other => other,
        };
        if step == Step::Close {
            // Closing the descriptor also removes it from the epoll set.
            self.conns.remove(&token);
        }
    }

    /// Write the answers of every batch the committer has finished.
    fn collect(&mut self) {
        loop {
            let got = match &mut self.committer {
                Some(c) => match c.answered.try_recv() {
                    Ok(answered) => {
                        c.busy = false;
                        answered
                    }
                    Err(TryRecvError::Empty) => return,
                    Err(TryRecvError::Disconnected) => {
                        // Only a bug ends the thread early; its batch in hand is unanswered
                        // (those callers time out and retry), the loop carries on alone.
                        warn!("the agent's commit thread ended; committing on the socket thread");
                        self.committer = None;
                        return;
                    }
                },
                None => return,
            };
            self.deliver(got);
        }
    }

    /// Hand the queue to the committer in batches of at most `max_batch`, one batch at a time
    /// (or, without a committer, answer them here).
    fn dispatch(&mut self) {
        while !self.queue.is_empty() {
            if self.committer.as_ref().is_some_and(|c| c.busy) {
                return;
            }
            let n = self.queue.len().min(self.max_batch);
            let batch: Vec<Queued> = self.queue.drain(..n).collect();
            let batch = match &mut self.committer {
                Some(c) => match c.batches.send(batch) {
                    Ok(()) => {
                        c.busy = true;
                        continue;
                    }
                    Err(mpsc::SendError(batch)) => {
                        warn!("the agent's commit thread ended; committing on the socket thread");
                        self.committer = None;
                        batch
                    }
                },
                None => batch,
            };
            let answered = committer::answer(self.shared, batch);
            self.deliver(answered);
        }
    }

    /// Start writing a batch's answers.
    fn deliver(&mut self, answered: Answered) {
        for (token, line) in answered {
            if let Some(conn) = self.conns.get_mut(&token) {
                let step = match line {
                    Some(line) => conn.answer_line(line),
                    None => Step::Close,
                };
                if step == Step::Close {
                    self.conns.remove(&token);
                }
            }
        }
    }

    /// Close connections past their deadline, answering the ones still being read. A request
    /// waiting for its batch has no deadline: it waits on the agent, not on its caller.
    fn expire(&mut self) {
        let now = Instant::now();
        let late: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| c.phase != Phase::Answering && c.deadline <= now)
            .map(|(t, _)| *t)
            .collect();
        for token in late {
            if let Some(mut conn) = self.conns.remove(&token)
                && conn.phase == Phase::Reading
            {
                self.shared.metrics.error(ErrorKind::InvalidRequest);
                let _ = conn.answer(&invalid(format!(
                    "no complete request line within {} s",
                    IO_TIMEOUT.as_secs()
                )));
            }
        }
    }
}
