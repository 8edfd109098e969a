//! The log of a refused SigV4 request: the real `sixfold serve`, its stderr captured. One line
//! per refused request, naming the reason, the access key id and the client's address — and
//! never the canonical request, the signature or the client's `X-Amz-Security-Token`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use common::query::{post_query, signed_query_headers};

const TOKEN: &str = "FwoGZXIvYXdzEXAMPLE-session-token-that-must-never-be-logged-0123456789";

struct Serve {
    child: std::process::Child,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_refused_request_logs_one_line_without_the_session_token() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log_path = tmp.path().join("serve.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sixfold"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("region"))
        .env("SIXFOLD_LOG", "debug")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn sixfold serve");
    let stdout = child.stdout.take().expect("stdout");
    let srv = Serve { child };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(i) = line.find("listening on ") {
                let _ = tx.send(line[i + "listening on ".len()..].trim().to_string());
            }
        }
    });
    let endpoint = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("sixfold serve prints its address");
    let text = std::fs::read_to_string(tmp.path().join("region/credentials")).expect("creds");
    let creds = region_api::credentials::parse(&text, "sixfold").expect("profile");
    let wrong = sigv4::Credentials::new(
        creds.access_key_id.clone(),
        "wrong-secret-wrong-secret-wrong-secret-xx",
    )
    .with_session_token(TOKEN);
    let body = "Action=DescribeVpcs&Version=2016-11-15";
    let headers = signed_query_headers(
        &endpoint,
        body,
        &wrong,
        "ec2",
        "us-east-1",
        SystemTime::now(),
    );
    let signature = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, v)| v.split("Signature=").nth(1))
        .expect("a signature")
        .to_string();
    let before = std::fs::read_to_string(&log_path)
        .unwrap_or_default()
        .lines()
        .count();
    assert_eq!(post_query(&endpoint, &headers, body).0, 403);
    // The same headers sent to EKS (signed for ec2) are refused and logged the same way.
    let mut r = ureq::get(&format!("{endpoint}/clusters")).timeout(Duration::from_secs(10));
    for (k, v) in &headers {
        if !k.eq_ignore_ascii_case("host") && !k.eq_ignore_ascii_case("content-type") {
            r = r.set(k, v);
        }
    }
    let _ = r.call();
    // Give the server a moment to flush its log lines.
    std::thread::sleep(Duration::from_millis(300));
    let log = std::fs::read_to_string(&log_path).expect("read log");
    let new: Vec<&str> = log.lines().skip(before).collect();
    assert!(
        !log.contains(TOKEN),
        "the session token reached the log:\n{log}"
    );
    assert!(
        !log.contains(&signature),
        "the signature reached the log:\n{log}"
    );
    assert!(!log.contains("canonical request"), "{log}");
    assert!(!log.contains("x-amz-security-token:"), "{log}");
    // Debug lines (from other parts) may come and go; at INFO and above there is exactly one
    // line per refused request.
    let info: Vec<&str> = new
        .iter()
        .copied()
        .filter(|l| l.contains(" INFO ") || l.contains(" WARN ") || l.contains(" ERROR "))
        .collect();
    assert_eq!(
        info.len(),
        2,
        "one line per refused request:\n{}",
        new.join("\n")
    );
    for line in &info {
        assert!(line.contains("request refused"), "{line}");
        assert!(line.contains(&creds.access_key_id), "{line}");
        assert!(line.contains("127.0.0.1"), "{line}");
    }
    assert!(info[0].contains("signature mismatch"), "{}", info[0]);
    assert!(info[1].contains("signed for service"), "{}", info[1]);
    drop(srv);
}
