//! The region's state in etcd v3, for several stateless `sixfold serve` replicas in front of
//! one etcd cluster ([`EtcdStore`], a [`region::store::Store`]).
//!
//! Keys, under `/sixfold/<region>/`:
//! - `rev`: touched by every commit; its `mod_revision` is the region's revision (an etcd
//!   revision, so the change feed is etcd's revision and watch);
//! - `rows/<table>/<id>`: one resource as JSON (the same rows as the embedded store);
//! - `credentials`: the region's access key (`<id>\n<secret>`), made by the first replica.
//!
//! Every commit is one etcd transaction: `if mod_revision(rev) == base then put rev, put/delete
//! rows`. A replica whose cached state is older than etcd's loses the compare and catches up
//! first, so all writes serialize optimistically and two replicas never hand out the same
//! address or id. The trait is synchronous: calls block on a small runtime of their own (the
//! region runs operations on blocking threads).

use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, Txn, TxnOp, WatchOptions,
};
use region::store::{Change, Changes, Event, Record, RowsSince, Snapshot, Store, StoreError};

/// How long one etcd call may take before the store reports itself unavailable.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// Most operations one etcd transaction may carry (etcd's `--max-txn-ops`, default 128); a
/// commit touching more rows is refused with a clear error.
pub const DEFAULT_MAX_TXN_OPS: usize = 128;

/// Why the etcd store could not start.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    #[error("cannot start the etcd client runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error(
        "{0:?} is not an etcd endpoint list; give --etcd-endpoints http://HOST:PORT[,http://HOST:PORT...]"
    )]
    Endpoints(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The region's rows in etcd.
pub struct EtcdStore {
    rt: tokio::runtime::Runtime,
    client: Client,
    prefix: String,
    max_txn_ops: usize,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("etcd {what} failed: {e}"))
}

impl EtcdStore {
    /// Connect to `endpoints` (comma-separated `http://HOST:PORT`) for region `region`. Does
    /// not fail when etcd is down: calls then answer [`StoreError::Unavailable`] until it is
    /// back.
    pub fn connect(endpoints: &str, region: &str) -> Result<Self, EtcdError> {
        let eps: Vec<String> = endpoints
            .split(',')
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect();
        if eps.is_empty()
            || eps.iter().any(|e| {
                !(e.starts_with("http://") || e.starts_with("https://")) || e.contains(' ')
            })
        {
            return Err(EtcdError::Endpoints(endpoints.to_string()));
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("etcd-client")
            .enable_all()
            .build()
            .map_err(EtcdError::Runtime)?;
        let opts = ConnectOptions::new()
            .with_connect_timeout(CALL_TIMEOUT)
            .with_timeout(CALL_TIMEOUT)
            .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2))
            .with_keep_alive_while_idle(true);
        // The client connects lazily per endpoint: a cluster that is down now is not an error.
        let client = rt
            .block_on(Client::connect(eps, Some(opts)))
            .map_err(|e| unavailable("connect", e))?;
        Ok(Self {
            rt,
            client,
            prefix: format!("/sixfold/{region}/"),
            max_txn_ops: DEFAULT_MAX_TXN_OPS,
        })
    }

    /// Allow transactions of up to `n` operations (match etcd's `--max-txn-ops`).
    pub fn with_max_txn_ops(mut self, n: usize) -> Self {
        self.max_txn_ops = n.max(2);
        self
    }

    fn rev_key(&self) -> String {
        format!("{}rev", self.prefix)
    }

    fn row_key(&self, table: &str, key: &str) -> String {
        format!("{}rows/{table}/{key}", self.prefix)
    }

    fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The region's access key `(id, secret)`: the one in etcd, or `make()` stored there if
    /// there is none yet (create-if-absent, so concurrent first starts agree). Returns whether
    /// this call made it.
    pub fn credentials_or_create(
        &self,
        make: impl FnOnce() -> (String, String),
    ) -> Result<((String, String), bool), StoreError> {
        let key = format!("{}credentials", self.prefix);
        let (id, secret) = make();
        let mut kv = self.client.kv_client();
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.clone(), format!("{id}\n{secret}"), None)])
            .or_else([TxnOp::get(key.clone(), None)]);
        let resp = self
            .block(kv.txn(txn))
            .map_err(|e| unavailable("credentials txn", e))?;
        if resp.succeeded() {
            return Ok(((id, secret), true));
        }
        let resp = self
            .block(kv.get(key.clone(), None))
            .map_err(|e| unavailable("credentials get", e))?;
        let text = resp
            .kvs()
            .first()
            .and_then(|kv| kv.value_str().ok())
            .unwrap_or("")
            .to_string();
        match text.split_once('\n') {
            Some((i, s)) if !i.is_empty() && !s.is_empty() => {
                Ok(((i.to_string(), s.to_string()), false))
            }
            _ => Err(StoreError::Corrupt {
                table: "etcd".into(),
                key,
                message: "the credentials key is not `<id>\\n<secret>`".into(),
            }),
        }
    }

    /// Whether any key of this region exists in etcd.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        let mut kv = self.client.kv_client();
        let resp = self
            .block(kv.get(
                self.prefix.clone(),
                Some(GetOptions::new().with_prefix().with_count_only()),
            ))
            .map_err(|e| unavailable("count", e))?;
        Ok(resp.count() == 0)
    }

    /// Copy `records` into the region prefix (migration from the embedded store; the caller
    /// checked that the prefix held nothing but the key it stored), in transactions of at most
    /// the txn limit, then the `rev` key, created only if absent: a second import fails there.
    pub fn import(&self, records: &[Record]) -> Result<u64, StoreError> {
        let mut kv = self.client.kv_client();
        for chunk in records.chunks(self.max_txn_ops.max(2) - 1) {
            let ops: Vec<TxnOp> = chunk
                .iter()
                .map(|r| TxnOp::put(self.row_key(&r.table, &r.key), r.value.clone(), None))
                .collect();
            self.block(kv.txn(Txn::new().and_then(ops)))
                .map_err(|e| unavailable("import txn", e))?;
        }
        let rev = self.rev_key();
        let resp = self
            .block(
                kv.txn(
                    Txn::new()
                        .when([Compare::create_revision(rev.clone(), CompareOp::Equal, 0)])
                        .and_then([TxnOp::put(rev, "imported", None)]),
                ),
            )
            .map_err(|e| unavailable("import rev", e))?;
        if !resp.succeeded() {
            return Err(StoreError::Conflict { base: 0 });
        }
        Ok(resp.header().map(|h| h.revision() as u64).unwrap_or(0))
    }

    /// Parse a key under `rows/` into `(table, id)`.
    fn parse_row_key<'k>(&self, key: &'k [u8]) -> Option<(&'k str, &'k str)> {
        let k = std::str::from_utf8(key).ok()?;
        let rest = k.strip_prefix(&self.prefix)?.strip_prefix("rows/")?;
        rest.split_once('/')
    }
}

impl Store for EtcdStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        let mut kv = self.client.kv_client();
        // One range over the whole prefix: rows and the rev key at one etcd revision.
        let resp = self
            .block(kv.get(self.prefix.clone(), Some(GetOptions::new().with_prefix())))
            .map_err(|e| unavailable("range", e))?;
        let rev_key = self.rev_key();
        let mut snap = Snapshot::default();
        for kv in resp.kvs() {
            if kv.key() == rev_key.as_bytes() {
                snap.revision = kv.mod_revision() as u64;
            } else if let Some((table, key)) = self.parse_row_key(kv.key()) {
                snap.records.push(Record {
                    table: table.to_string(),
                    key: key.to_string(),
                    value: kv.value().to_vec(),
                });
            }
        }
        Ok(snap)
    }

    fn commit(&self, changes: &[Change], base: u64) -> Result<u64, StoreError> {
        if changes.is_empty() {
            return Ok(base);
        }
        if changes.len() + 1 > self.max_txn_ops {
            return Err(StoreError::Io(format!(
                "one operation changes {} rows, more than etcd takes in one transaction ({}); raise etcd's --max-txn-ops and sixfold's --etcd-max-txn-ops together",
                changes.len(),
                self.max_txn_ops - 1
            )));
        }
        let rev_key = self.rev_key();
        let mut ops = vec![TxnOp::put(rev_key.clone(), base.to_string(), None)];
        for c in changes {
            let k = self.row_key(&c.table, &c.key);
            ops.push(match &c.value {
                Some(v) => TxnOp::put(k, v.clone(), None),
                None => TxnOp::delete(k, None),
            });
        }
        let txn = Txn::new()
            .when([Compare::mod_revision(
                rev_key,
                CompareOp::Equal,
                base as i64,
            )])
            .and_then(ops);
        let mut kv = self.client.kv_client();
        let resp = self
            .block(kv.txn(txn))
            .map_err(|e| unavailable("commit txn", e))?;
        if !resp.succeeded() {
            return Err(StoreError::Conflict { base });
        }
        resp.header()
            .map(|h| h.revision() as u64)
            .ok_or_else(|| unavailable("commit txn", "no header in the answer"))
    }

    fn revision(&self) -> Result<u64, StoreError> {
        let mut kv = self.client.kv_client();
        // A linearizable read (etcd's default): every commit acknowledged before is seen.
        let resp = self
            .block(kv.get(self.rev_key(), None))
            .map_err(|e| unavailable("get", e))?;
        Ok(resp
            .kvs()
            .first()
            .map(|kv| kv.mod_revision() as u64)
            .unwrap_or(0))
    }

    fn changes_since(&self, since: u64, max: usize) -> Result<Changes, StoreError> {
        let head = self.revision()?;
        let mut out = Changes {
            events: Vec::new(),
            through: since.max(head),
        };
        if since >= head {
            return Ok(out);
        }
        out.through = since;
        let mut wc = self.client.watch_client();
        let collect = async {
            let (mut watcher, mut stream) = wc
                .watch(
                    self.prefix.clone(),
                    Some(
                        WatchOptions::new()
                            .with_prefix()
                            .with_start_revision(since as i64 + 1),
                    ),
                )
                .await
                .map_err(|e| unavailable("watch", e))?;
            // The commit being read: its revision and its row changes. etcd sends all events of
            // one revision in one response, and every commit touches the rev key, so the
            // commit at `head` is whole once its response has been read.
            let mut cur: Option<(u64, Vec<Event>)> = None;
            'outer: while let Some(resp) = stream
                .message()
                .await
                .map_err(|e| unavailable("watch", e))?
            {
                if resp.compact_revision() > 0 {
                    let _ = watcher.cancel().await;
                    return Err(StoreError::Compacted {
                        requested: since,
                        compacted: resp.compact_revision() as u64 - 1,
                    });
                }
                if resp.canceled() {
                    return Err(unavailable("watch", resp.cancel_reason()));
                }
                for ev in resp.events() {
                    let Some(kv) = ev.kv() else { continue };
                    let rev = kv.mod_revision() as u64;
                    if cur.as_ref().is_some_and(|(r, _)| *r != rev) {
                        if let Some((r, mut evs)) = cur.take() {
                            out.events.append(&mut evs);
                            out.through = r;
                        }
                        if out.events.len() >= max {
                            break 'outer;
                        }
                    }
                    // Commits after `head` wait for the next call (the one before is whole).
                    if rev > head {
                        break 'outer;
                    }
                    let (_, evs) = cur.get_or_insert_with(|| (rev, Vec::new()));
                    if let Some((table, key)) = self.parse_row_key(kv.key()) {
                        evs.push(Event {
                            revision: rev,
                            change: Change {
                                table: table.to_string(),
                                key: key.to_string(),
                                value: match ev.event_type() {
                                    EventType::Put => Some(kv.value().to_vec()),
                                    EventType::Delete => None,
                                },
                            },
                        });
                    }
                }
                if cur.as_ref().is_some_and(|(r, _)| *r >= head) {
                    if let Some((r, mut evs)) = cur.take() {
                        out.events.append(&mut evs);
                        out.through = r;
                    }
                    break;
                }
            }
            let _ = watcher.cancel().await;
            Ok(())
        };
        match self.block(async { tokio::time::timeout(CALL_TIMEOUT * 2, collect).await }) {
            // A stream that ended before `head` is no answer: never serve a partial replay.
            Ok(Ok(())) if out.through < head && out.events.len() < max => {
                tracing::debug!(since, head, through = out.through, "watch ended early");
                Err(unavailable(
                    "watch",
                    format!(
                        "the replay stopped at revision {} before {head}",
                        out.through
                    ),
                ))
            }
            Ok(Ok(())) => Ok(out),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(unavailable("watch", "timed out replaying changes")),
        }
    }

    fn wait_past(&self, after: u64, timeout: Duration) -> Result<u64, StoreError> {
        let now = self.revision()?;
        if now > after {
            return Ok(now);
        }
        let mut wc = self.client.watch_client();
        let rev_key = self.rev_key();
        let wait = async {
            let (mut watcher, mut stream) = wc
                .watch(
                    rev_key,
                    Some(WatchOptions::new().with_start_revision(after as i64 + 1)),
                )
                .await
                .map_err(|e| unavailable("watch", e))?;
            loop {
                match stream.message().await {
                    Ok(Some(resp)) => {
                        if let Some(kv) = resp.events().iter().filter_map(|e| e.kv()).next_back() {
                            let _ = watcher.cancel().await;
                            return Ok(kv.mod_revision() as u64);
                        }
                        if resp.canceled() {
                            return Err(unavailable("watch", resp.cancel_reason()));
                        }
                    }
                    Ok(None) => return Err(unavailable("watch", "stream closed")),
                    Err(e) => return Err(unavailable("watch", e)),
                }
            }
        };
        match self.block(async { tokio::time::timeout(timeout, wait).await }) {
            Ok(r) => r,
            Err(_) => Ok(after),
        }
    }

    fn shared(&self) -> bool {
        true
    }

    /// One transaction of three reads at one revision: rows modified after `since`, the keys of
    /// all rows, and the rev key. (A watch replay of history waits for etcd's 100 ms sync of
    /// past-revision watchers; this does not.)
    fn rows_since(&self, since: u64) -> Option<Result<RowsSince, StoreError>> {
        let rows = format!("{}rows/", self.prefix);
        let txn = Txn::new().and_then([
            TxnOp::get(
                rows.clone(),
                Some(
                    GetOptions::new()
                        .with_prefix()
                        .with_min_mod_revision(since as i64 + 1),
                ),
            ),
            TxnOp::get(rows, Some(GetOptions::new().with_prefix().with_keys_only())),
            TxnOp::get(self.rev_key(), None),
        ]);
        let mut kv = self.client.kv_client();
        let resp = match self.block(kv.txn(txn)) {
            Ok(r) => r,
            Err(e) => return Some(Err(unavailable("catch-up txn", e))),
        };
        let mut out = RowsSince::default();
        for (i, op) in resp.op_responses().into_iter().enumerate() {
            let etcd_client::TxnOpResponse::Get(g) = op else {
                continue;
            };
            for kv in g.kvs() {
                match i {
                    0 => {
                        if let Some((t, k)) = self.parse_row_key(kv.key()) {
                            out.written.push(Record {
                                table: t.to_string(),
                                key: k.to_string(),
                                value: kv.value().to_vec(),
                            });
                        }
                    }
                    1 => {
                        if let Some((t, k)) = self.parse_row_key(kv.key()) {
                            out.keys.push((t.to_string(), k.to_string()));
                        }
                    }
                    _ => out.revision = kv.mod_revision() as u64,
                }
            }
        }
        Some(Ok(out))
    }
}
