//! End to end: the region's change feed (`/sixfold/v1/revision`, `snapshot`, `watch`) on the
//! real `sixfold serve`, written to with the real AWS CLI and followed with the feed client.

mod common;

use std::time::Duration;

use common::Server;
use common::net::dual_stack_vpc;
use ec2_client::feed::{FeedClient, FeedError, FeedEvent, Op};

fn client(srv: &Server) -> FeedClient {
    FeedClient::new("us-east-1", &srv.endpoint, srv.credentials()).expect("feed client")
}

fn create_vpc(srv: &Server) -> String {
    dual_stack_vpc(srv).0
}

/// The changes of the watch until one touching `vpcs/<key>` with `op`, bounded.
fn until(w: &mut ec2_client::feed::Watch, key: &str, op: Op, seen: &mut Vec<FeedEvent>) -> u64 {
    for _ in 0..200 {
        let ev = w.next().expect("watch ended").expect("watch event");
        seen.push(ev.clone());
        if let FeedEvent::Change {
            revision,
            table,
            key: k,
            op: o,
            ..
        } = &ev
            && table == "vpcs"
            && k == key
            && *o == op
        {
            return *revision;
        }
    }
    panic!("no {op:?} of vpcs/{key} within 200 events: {seen:?}");
}

#[test]
fn a_watch_sees_vpc_create_and_delete_in_order_and_resumes_from_a_revision() {
    let mut srv = Server::start();
    let feed = client(&srv);
    assert_eq!(
        feed.revision().unwrap(),
        0,
        "a fresh region is at revision 0"
    );

    let mut w = feed.watch(0, Duration::from_secs(1)).unwrap();
    let vpc = create_vpc(&srv);
    let mut seen = Vec::new();
    let created = until(&mut w, &vpc, Op::Put, &mut seen);
    srv.aws(&["ec2", "delete-vpc", "--vpc-id", &vpc]);
    let deleted = until(&mut w, &vpc, Op::Delete, &mut seen);
    assert!(
        created < deleted,
        "create {created} before delete {deleted}"
    );
    let revs: Vec<u64> = seen.iter().map(FeedEvent::revision).collect();
    assert!(
        revs.windows(2).all(|p| p[0] <= p[1]),
        "revisions never go back: {revs:?}"
    );
    // The create carried the VPC's row, with its /56.
    let put = seen
        .iter()
        .find_map(|e| match e {
            FeedEvent::Change {
                table, key, value, ..
            } if table == "vpcs" && key == &vpc => value.clone(),
            _ => None,
        })
        .expect("the VPC's put");
    assert!(put.to_string().contains("2001:db8"), "row: {put}");
    assert_eq!(feed.revision().unwrap(), deleted);

    // The rest of the delete's commit (its route table and security group), then, idle, a
    // heartbeat at the current revision.
    for _ in 0..20 {
        match w.next().expect("heartbeat").expect("heartbeat") {
            FeedEvent::Heartbeat { revision } => {
                assert_eq!(revision, deleted);
                break;
            }
            other => assert_eq!(other.revision(), deleted, "{other:?}"),
        }
    }

    // Resume after the create: the first change is the delete's commit. The log survives kill -9.
    srv.kill9_and_restart();
    let feed = client(&srv);
    assert_eq!(feed.revision().unwrap(), deleted);
    let mut w = feed.watch(created, Duration::from_secs(1)).unwrap();
    let first = w.next().unwrap().unwrap();
    assert_eq!(
        first.revision(),
        deleted,
        "first event after {created}: {first:?}"
    );
    let snap = feed.snapshot().unwrap();
    assert_eq!(snap.revision, deleted);
    assert!(!snap.rows.iter().any(|(t, k, _)| t == "vpcs" && k == &vpc));
}

#[test]
fn a_watch_from_a_compacted_revision_is_told_to_relist() {
    let srv = Server::start_with(&["--change-log-limit", "2"]);
    let feed = client(&srv);
    for _ in 0..3 {
        create_vpc(&srv);
    }
    let head = feed.revision().unwrap();
    assert_eq!(head, 3, "one commit per create-vpc");
    match feed.watch(0, Duration::from_secs(1)) {
        Err(FeedError::Compacted {
            requested: 0,
            compacted: 1,
        }) => {}
        other => panic!("expected Compacted, got {other:?}"),
    }
    // From the log's start it works, and the snapshot gives the revision to watch from.
    let snap = feed.snapshot().unwrap();
    assert_eq!(snap.revision, head);
    assert_eq!(snap.rows.iter().filter(|(t, _, _)| t == "vpcs").count(), 3);
    let mut w = feed.watch(1, Duration::from_secs(1)).unwrap();
    assert_eq!(w.next().unwrap().unwrap().revision(), 2);
    // Bad input is a clear client error.
    let signed_bad = feed.watch(u64::MAX, Duration::from_secs(1));
    assert!(
        signed_bad.is_ok(),
        "a future revision waits: {signed_bad:?}"
    );
}
