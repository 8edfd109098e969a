//! The region's change feed on the wire (`/sixfold/v1/...`, SigV4 signing name `sixfold`):
//! `GET /sixfold/v1/revision`, `GET /sixfold/v1/snapshot` and the long-lived
//! `GET /sixfold/v1/watch?since=R`, which streams every change committed after revision `R` as
//! newline-delimited JSON, then follows new commits live, with a heartbeat line when idle.
//! Errors are JSON `{"message"}` with `x-amzn-ErrorType`, as the EKS API answers them.
//! docs/region.md is the reference.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use region::store::{Event, StoreError};

use crate::json_reply::{self, json_error};
use crate::{App, Incoming};

/// Where the feed's routes live.
pub const PREFIX: &str = "/sixfold/v1/";
/// The SigV4 signing name of the feed (that of every `/sixfold/v1/` endpoint).
pub use crate::json_reply::SIGNING_NAME;
/// Most watches served at once (each holds one blocking thread).
pub const MAX_WATCHES: usize = 64;
/// Most events one read of the log gathers before they are sent.
const BATCH: usize = 1000;
/// Default and bounds of the heartbeat interval (`heartbeat=` seconds).
const HEARTBEAT_DEFAULT: u64 = 10;
const HEARTBEAT_MAX: u64 = 60;

static WATCHES: AtomicUsize = AtomicUsize::new(0);

/// A store failure as an answer: compaction is 410 `Compacted` (re-list), an unreachable store
/// 503 `ServiceUnavailable`, anything else 500.
fn store_error(e: &StoreError) -> Response {
    match e {
        StoreError::Compacted {
            requested,
            compacted,
        } => json_error(
            410,
            "Compacted",
            &e.to_string(),
            serde_json::json!({"requestedRevision": requested, "compactedRevision": compacted}),
        ),
        StoreError::Unavailable(_) | StoreError::Conflict { .. } => {
            json_reply::error(503, "ServiceUnavailable", &e.to_string())
        }
        _ => json_reply::error(500, "ServerException", &e.to_string()),
    }
}

/// One event as a feed line (without the newline).
pub fn event_json(e: &Event) -> serde_json::Value {
    let c = &e.change;
    let mut v = serde_json::json!({
        "revision": e.revision,
        "table": c.table,
        "key": c.key,
        "op": if c.value.is_some() { "put" } else { "delete" },
    });
    if let (Some(obj), Some(bytes)) = (v.as_object_mut(), &c.value) {
        let value = serde_json::from_slice(bytes)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(bytes).into()));
        obj.insert("value".into(), value);
    }
    v
}

fn query_u64(query: &str, name: &str) -> Result<Option<u64>, Box<Response>> {
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k == name {
            return v.parse().map(Some).map_err(|_| {
                Box::new(json_reply::error(
                    400,
                    "InvalidParameterException",
                    &format!(
                        "{name}={v:?} is not a revision number; pass a whole number like {name}=0"
                    ),
                ))
            });
        }
    }
    Ok(None)
}

/// Bring the replica up to the store's revision, off the async threads.
async fn sync(app: &Arc<App>) -> Result<(), StoreError> {
    let a = app.clone();
    tokio::task::spawn_blocking(move || a.region.sync())
        .await
        .unwrap_or_else(|e| Err(StoreError::Io(format!("sync task failed: {e}"))))
}

/// Serve one request under [`PREFIX`].
pub async fn handle(app: Arc<App>, req: Incoming) -> Response {
    let (method, path, query) = (&req.method, &req.path, &req.query);
    let caller = match json_reply::authenticate(&app, &req) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    // The feed carries every row (session secrets included): temporary credentials need an
    // explicit `sixfold:` permission.
    let action = match path.strip_prefix(PREFIX).unwrap_or("") {
        "revision" => Some("sixfold:GetRevision"),
        "snapshot" => Some("sixfold:GetSnapshot"),
        "watch" => Some("sixfold:Watch"),
        _ => None,
    };
    if let Some(action) = action
        && let Err(d) = app.authorize(&caller, action, &[])
    {
        return json_reply::denied(&d);
    }
    if *method != Method::GET {
        return json_reply::error(
            405,
            "InvalidRequestException",
            &format!("{method} {path} is not served; the feed's routes take GET"),
        );
    }
    match path.strip_prefix(PREFIX).unwrap_or("") {
        "revision" => match sync(&app).await {
            Ok(()) => json_reply::ok(&serde_json::json!({ "revision": app.region.revision() })),
            Err(e) => store_error(&e),
        },
        "snapshot" => {
            if let Err(e) = sync(&app).await {
                return store_error(&e);
            }
            match app.region.snapshot() {
                Ok((revision, rows)) => {
                    let rows: Vec<serde_json::Value> = rows
                        .into_iter()
                        .map(|r| {
                            let value: serde_json::Value =
                                serde_json::from_slice(&r.value).unwrap_or_default();
                            serde_json::json!({"table": r.table, "key": r.key, "value": value})
                        })
                        .collect();
                    json_reply::ok(&serde_json::json!({ "revision": revision, "rows": rows }))
                }
                Err(e) => store_error(&e),
            }
        }
        "watch" => watch(app, query).await,
        other => json_reply::error(
            404,
            "ResourceNotFoundException",
            &format!(
                "{PREFIX}{other} does not exist; the feed serves {PREFIX}revision, {PREFIX}snapshot and {PREFIX}watch?since=R"
            ),
        ),
    }
}

/// Releases a watch slot when the watch ends.
struct Slot;

impl Drop for Slot {
    fn drop(&mut self) {
        WATCHES.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn watch(app: Arc<App>, query: &str) -> Response {
    let since = match query_u64(query, "since") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let heartbeat = match query_u64(query, "heartbeat") {
        Ok(h) => h.unwrap_or(HEARTBEAT_DEFAULT).clamp(1, HEARTBEAT_MAX),
        Err(r) => return *r,
    };
    // Without `since`: from the current revision on (only new changes).
    let since = match since {
        Some(s) => s,
        None => {
            if let Err(e) = sync(&app).await {
                return store_error(&e);
            }
            app.region.revision()
        }
    };
    // Refuse up front (as a plain error answer) what the log no longer holds.
    let a = app.clone();
    let first = tokio::task::spawn_blocking(move || a.region.changes_since(since, BATCH))
        .await
        .unwrap_or_else(|e| Err(StoreError::Io(format!("watch task failed: {e}"))));
    let first = match first {
        Ok(f) => f,
        Err(e) => return store_error(&e),
    };
    if WATCHES.fetch_add(1, Ordering::SeqCst) >= MAX_WATCHES {
        WATCHES.fetch_sub(1, Ordering::SeqCst);
        return json_reply::error(
            503,
            "ServiceUnavailable",
            &format!("{MAX_WATCHES} watches are open already; close one or retry later"),
        );
    }
    let slot = Slot;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let send = |v: serde_json::Value| {
            let mut line = v.to_string();
            line.push('\n');
            tx.blocking_send(Bytes::from(line)).is_ok()
        };
        let mut batch = first;
        let mut cursor = since;
        loop {
            for e in &batch.events {
                if !send(event_json(e)) {
                    return;
                }
            }
            let got_events = !batch.events.is_empty();
            cursor = cursor.max(batch.through);
            if !got_events {
                match app.region.wait_past(cursor, Duration::from_secs(heartbeat)) {
                    Ok(rev) if rev > cursor => {}
                    Ok(_) => {
                        if !send(serde_json::json!({"heartbeat": true, "revision": cursor})) {
                            return;
                        }
                    }
                    Err(e) => {
                        send(
                            serde_json::json!({"error": "ServiceUnavailable", "message": e.to_string(), "revision": cursor}),
                        );
                        return;
                    }
                }
            }
            batch = match app.region.changes_since(cursor, BATCH) {
                Ok(b) => b,
                Err(e) => {
                    let kind = if matches!(e, StoreError::Compacted { .. }) {
                        "Compacted"
                    } else {
                        "ServiceUnavailable"
                    };
                    send(
                        serde_json::json!({"error": kind, "message": e.to_string(), "revision": cursor}),
                    );
                    return;
                }
            };
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response()
}
