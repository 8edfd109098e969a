//! Slow-header clients (Slowloris) cannot hold the region: their connections are closed after
//! the header read timeout, and a normal signed request is answered meanwhile.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Server;

/// Whether the server closed `s` within `within` (a read returns end of file or a reset).
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left)).expect("set timeout");
        match s.read(&mut buf) {
            Ok(0) => return true,
            // hyper may answer 408 before closing; keep reading until the close.
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn slow_header_connections_are_closed_and_others_are_still_served() {
    let timeout = Duration::from_secs(1);
    let srv = Server::start_with(region_api::ServeLimits {
        header_read_timeout: timeout,
        ..Default::default()
    });
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|i| {
            let mut s = TcpStream::connect(srv.addr).expect("connect");
            // Half of them send a partial header, the other half nothing at all.
            if i % 2 == 0 {
                s.write_all(b"POST / HTTP/1.1\r\nHost: region\r\nX-Slow: ")
                    .expect("partial header");
            }
            s
        })
        .collect();
    // A normal signed request is answered while the slow ones hold their connections.
    let a = srv.ec2(&[("Action", "DescribeVpcs")]);
    assert_eq!(a.status, 200, "{}", a.body);
    // Every slow connection is closed once the header timeout has passed.
    let bound = timeout * 4;
    for (i, s) in slow.iter_mut().enumerate() {
        assert!(
            closed_within(s, bound),
            "slow connection {i} was still open {bound:?} after the {timeout:?} header timeout"
        );
    }
    // A client that trickles one header byte at a time is closed too.
    let mut s = TcpStream::connect(srv.addr).expect("connect");
    let start = Instant::now();
    let mut closed = false;
    for b in b"POST / HTTP/1.1\r\nHost: region\r\nX-Trickle: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if s.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        closed || closed_within(&mut s, bound),
        "a trickling client was kept for {:?}",
        start.elapsed()
    );
    let a = srv.ec2(&[("Action", "DescribeVpcs")]);
    assert_eq!(a.status, 200, "{}", a.body);
}

#[test]
fn an_idle_kept_alive_connection_is_closed_after_the_header_timeout() {
    let timeout = Duration::from_secs(1);
    let srv = Server::start_with(region_api::ServeLimits {
        header_read_timeout: timeout,
        ..Default::default()
    });
    let mut s = TcpStream::connect(srv.addr).expect("connect");
    // A complete (unsigned) request: answered 401, and the connection is kept alive.
    s.write_all(b"GET /clusters HTTP/1.1\r\nHost: region\r\n\r\n")
        .expect("request");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).expect("an answer");
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 4"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    // Then it sends nothing more: the region closes it rather than holding it forever.
    assert!(
        closed_within(&mut s, timeout * 4),
        "an idle kept-alive connection was held"
    );
}

#[test]
fn the_connection_cap_makes_clients_wait_not_fail() {
    let timeout = Duration::from_secs(1);
    let srv = Server::start_with(region_api::ServeLimits {
        header_read_timeout: timeout,
        max_connections: 20,
    });
    let _slow: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = TcpStream::connect(srv.addr).expect("connect");
            s.write_all(b"GET / HTTP/1.1\r\n").expect("partial");
            s
        })
        .collect();
    // Every slot is held by a slow client: the signed request waits for one to free (at most
    // the header timeout of the slow ones) and is then answered.
    let a = srv.ec2(&[("Action", "DescribeVpcs")]);
    assert_eq!(a.status, 200, "{}", a.body);
}
