//! The redb store's guarantees: commits survive reopening, only a missing file makes a new
//! store, and a damaged file is refused and left exactly as found.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

fn row(key: &str, value: Option<&[u8]>) -> Change {
    Change {
        table: "vpcs".into(),
        key: key.into(),
        value: value.map(<[u8]>::to_vec),
    }
}

/// A store at `path` holding a few rows, closed again.
fn make_store(path: &Path) {
    let s = RedbStore::open(path).unwrap();
    for i in 0..50 {
        s.commit(&[row(&format!("vpc-{i}"), Some(&[b'x'; 300]))], i)
            .unwrap();
    }
}

#[test]
fn redb_store_keeps_commits_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("region.redb");
    {
        let s = RedbStore::open(&path).unwrap();
        let rev = s
            .commit(&[row("vpc-1", Some(b"{}")), row("vpc-2", Some(b"[]"))], 0)
            .unwrap();
        assert_eq!(rev, 1);
        assert_eq!(s.commit(&[row("vpc-2", None)], 1).unwrap(), 2);
    }
    let s = RedbStore::open(&path).unwrap();
    let snap = s.load().unwrap();
    assert_eq!(snap.revision, 2, "the revision survives reopening");
    assert_eq!(
        snap.records,
        vec![Record {
            table: "vpcs".into(),
            key: "vpc-1".into(),
            value: b"{}".to_vec()
        }]
    );
    // The log survived too: the delete is replayable after revision 1.
    let ch = s.changes_since(1, 100).unwrap();
    assert_eq!(ch.through, 2);
    assert_eq!(
        ch.events,
        vec![crate::store::Event {
            revision: 2,
            change: row("vpc-2", None)
        }]
    );
}

#[test]
fn redb_store_numbers_commits_and_compacts_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let s = RedbStore::open(&dir.path().join("r.redb"))
        .unwrap()
        .with_log_limit(3);
    crate::store::tests::check_store(&s);
}

/// Each damage that once started an empty region, panicked, or blamed another process.
type Damage = fn(&mut Vec<u8>);

const DAMAGES: [(&str, Damage); 5] = [
    ("truncated to 0 bytes", |b| b.clear()),
    ("truncated to half", |b| b.truncate(b.len() / 2)),
    ("truncated to 5 bytes", |b| b.truncate(5)),
    ("random bytes in the header", |b| {
        for (i, x) in b[9..512].iter_mut().enumerate() {
            *x = (i as u8).wrapping_mul(37).wrapping_add(11);
        }
    }),
    ("garbage file", |b| {
        let n = b.len();
        *b = (0..n).map(|i| (i * 7919 % 251) as u8).collect();
    }),
];

#[test]
fn a_damaged_store_is_refused_and_left_untouched_never_started_empty() {
    for (what, damage) in DAMAGES {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("region.redb");
        make_store(&path);
        let mut bytes = std::fs::read(&path).unwrap();
        damage(&mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        let err = match RedbStore::open(&path).and_then(|s| s.load().map(|r| (s, r.records))) {
            Ok((_, rows)) => panic!(
                "{what}: opened with {} rows instead of refusing",
                rows.len()
            ),
            Err(e) => e,
        };
        assert!(
            matches!(&err, StoreError::Unreadable { path: p, .. } if p == &path),
            "{what}: {err}"
        );
        let msg = err.to_string();
        eprintln!("{what}: {msg}");
        assert!(
            msg.contains("restore it from a backup") && msg.contains("move it away"),
            "{what}: {msg}"
        );
        assert!(!msg.contains('\n'), "{what}: one line, got {msg:?}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{what}: the refused file was modified"
        );
        assert!(
            !dir.path().join("region.redb.new").exists(),
            "{what}: a new store was made beside it"
        );
    }
}

#[test]
fn a_redb_file_without_the_rows_table_is_not_taken_for_a_region() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("region.redb");
    drop(::redb::Database::create(&path).unwrap());
    let before = std::fs::read(&path).unwrap();
    let err = RedbStore::open(&path).err().expect("refused");
    assert!(err.to_string().contains("no `rows` table"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_store_held_by_another_handle_is_reported_as_locked_not_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("region.redb");
    let _first = RedbStore::open(&path).unwrap();
    let err = RedbStore::open(&path).err().expect("second open refused");
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
}

#[test]
fn a_new_store_is_mode_0600_and_a_stale_half_made_one_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("region.redb");
    std::fs::write(dir.path().join("region.redb.new"), b"half made").unwrap();
    let s = RedbStore::open(&path).unwrap();
    assert!(s.load().unwrap().records.is_empty());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(!dir.path().join("region.redb.new").exists());
}

#[test]
fn an_existing_store_open_to_others_is_narrowed_to_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("region.redb");
    make_store(&path);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let s = RedbStore::open(&path).unwrap();
    assert_eq!(s.load().unwrap().records.len(), 50);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_store_made_before_the_change_feed_is_at_revision_0_and_can_be_followed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("region.redb");
    {
        // What `sixfold serve` made before revisions existed: only the `rows` table.
        let db = ::redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(ROWS)
            .unwrap()
            .insert("vpcs\u{1f}vpc-1", b"{}".as_slice())
            .unwrap();
        tx.commit().unwrap();
    }
    let s = RedbStore::open(&path).unwrap();
    assert_eq!(s.revision().unwrap(), 0);
    assert_eq!(s.load().unwrap().records.len(), 1);
    let ch = s.changes_since(0, 10).unwrap();
    assert!(ch.events.is_empty());
    assert_eq!(ch.through, 0);
    assert_eq!(s.commit(&[row("vpc-2", Some(b"{}"))], 0).unwrap(), 1);
    assert_eq!(s.changes_since(0, 10).unwrap().events.len(), 1);
}
