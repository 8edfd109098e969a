//! The committer: the thread that answers the event loop's batches, so the loop keeps
//! accepting and reading while a batch is made durable.
//!
//! The loop hands over at most one batch at a time (the requests read since the last hand-over,
//! at most `max_batch` of them). The committer answers it with [`Shared::answer_batch`] (one
//! store transaction, one fsync), encodes the answer lines, hands them back and wakes the loop,
//! which writes them at once: a request is answered as soon as its own batch is durable, and
//! never before. While one batch is being committed, the next one gathers in the loop.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender};
use std::time::Instant;

use agent_api::{ErrorKind, Request, Response};
use mio::{Token, Waker};
use tracing::warn;

use super::Shared;

/// A request read from connection `Token` at `Instant`, waiting for its batch.
pub(super) type Queued = (Token, Request, Instant);

/// A batch's answers: per connection, the encoded answer line (`None`: it could not be
/// encoded; the connection is closed, and the plugin retries).
pub(super) type Answered = Vec<(Token, Option<Vec<u8>>)>;

/// An answer line (JSON and a newline) for `resp`.
pub(super) fn encode(resp: &Response) -> Option<Vec<u8>> {
    match serde_json::to_vec(resp) {
        Ok(mut line) => {
            line.push(b'\n');
            Some(line)
        }
        Err(e) => {
            warn!(error = %e, "cannot encode an answer");
            None
        }
    }
}

/// Answer `batch` as one store transaction and encode the answers. A panic while answering
/// (a bug) answers every request of the batch `internal` instead of taking the agent down.
pub(super) fn answer(shared: &Shared, batch: Vec<Queued>) -> Answered {
    let n = batch.len();
    let (tokens, reqs): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .map(|(token, req, started)| (token, (req, started)))
        .unzip();
    let answers =
        catch_unwind(AssertUnwindSafe(|| shared.answer_batch(reqs))).unwrap_or_else(|_| {
            vec![
                Response::Error {
                    kind: ErrorKind::Internal,
                    message: "the agent failed while answering this request; retry".into(),
                };
                n
            ]
        });
    tokens.into_iter().zip(answers.iter().map(encode)).collect()
}

/// The committer thread's body: answer each batch the loop sends, hand the answers back and
/// wake the loop. Ends when the loop drops its end of `batches` (or of `answered`).
pub(super) fn run(
    shared: &Shared,
    batches: Receiver<Vec<Queued>>,
    answered: Sender<Answered>,
    waker: Waker,
) {
    for batch in batches {
        if answered.send(answer(shared, batch)).is_err() {
            return;
        }
        if let Err(e) = waker.wake() {
            // The loop still sees the answers on its next tick.
            warn!(error = %e, "cannot wake the agent socket's event loop");
        }
    }
}
