//! End-to-end tests of the lab's load balancers (root): `sixfold up` exposes a service through
//! an internet-facing NLB and proves IPv4 internet → its public IPv4 → IPv6 pods and IPv6
//! internet → its IPv6 → pods (answering pods named); `sixfold service expose` adds an ALB (the
//! pods see `X-Forwarded-For`) and an internal NLB (reachable from a pod, refused from the
//! internet by the egress-only gateway); the real AWS CLI's `elbv2 describe-target-health` shows
//! what the load balancers' health checks saw; a pod whose server died turns `unhealthy`
//! (`Target.FailedHealthChecks`) and gets no more connections; a deleted pod leaves the target
//! group; a new pod of the service joins it. A drop guard runs `down`; without root the test
//! fails (no silent skip); every spawned command has a timeout.

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::Cli;
use common::lab::Lab;
use serde_json::Value;

/// How long a health verdict may take: two failed checks 5 s apart, plus polling.
const VERDICT: Duration = Duration::from_secs(40);

/// One target's health as `describe-target-health` reports it: (id, state, reason).
type Health = (String, String, String);

/// `aws elbv2 describe-target-health` with the lab's `status --env`: every target's health.
fn health(lab: &Lab, tg: &str) -> Vec<Health> {
    let out = lab.aws_by_env(&["elbv2", "describe-target-health", "--target-group-arn", tg]);
    out.json()["TargetHealthDescriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["Target"]["Id"].as_str().unwrap().to_owned(),
                d["TargetHealth"]["State"].as_str().unwrap().to_owned(),
                d["TargetHealth"]["Reason"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect()
}

/// Wait (bounded) until `ok` holds for the group's health rows; the last rows either way.
fn wait_health(lab: &Lab, tg: &str, ok: impl Fn(&[Health]) -> bool) -> Vec<Health> {
    let start = Instant::now();
    loop {
        let rows = health(lab, tg);
        if ok(&rows) || start.elapsed() > VERDICT {
            return rows;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn pod_ip(lab: &Lab, pod: &str) -> String {
    lab.lab_state()
        .pod(pod)
        .unwrap_or_else(|| panic!("no pod {pod}"))
        .ipv6
        .to_string()
}

/// `n` connections from the internet host to `addr` through an NLB: the pods that answered.
fn answers(lab: &Lab, addr: SocketAddr, n: usize) -> Vec<String> {
    let ns = format!("sfl-{}-inet", lab.name);
    (0..n)
        .map(|_| {
            let line = lab::lb::matrix::ask(&ns, addr, lab::lb::plan::Kind::Nlb)
                .unwrap_or_else(|e| panic!("no answer through {addr}: {e}"));
            line.split(' ').next().unwrap_or("").to_owned()
        })
        .collect()
}

fn lb_named<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["load_balancers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
        .unwrap_or_else(|| panic!("no load balancer {name} in {}", s["load_balancers"]))
}

#[test]
fn load_balancers_carry_ipv4_and_ipv6_clients_to_healthy_pods_only() {
    let lab = Lab::up(&[
        "--nodes",
        "2",
        "--pods-per-node",
        "2",
        "--fargate-pods",
        "0",
        "--services",
        "1",
    ]);
    // `up` exposed web1 through an internet-facing NLB and proved both families, pods named.
    let checks: Value = serde_json::from_slice(
        &std::fs::read(lab.state_dir().join("checks.json")).expect("up writes checks.json"),
    )
    .unwrap();
    for path in [
        "IPv4 internet → NLB IPv4 → IPv6 pod",
        "IPv6 internet → NLB IPv6 → pod",
    ] {
        let row = checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["path"] == path)
            .unwrap_or_else(|| panic!("no row {path:?} in up's matrix:\n{}", lab.up.stdout));
        assert_eq!(row["ok"], true, "{row}");
        assert!(
            row["seen"].as_str().unwrap().contains("answered by web-"),
            "{row}"
        );
        assert!(lab.up.stdout.contains(path), "{}", lab.up.stdout);
    }
    let s = lab.status();
    let nlb = lb_named(&s, "k8s-web1-nlb");
    assert_eq!(nlb["scheme"], "internet-facing");
    assert_eq!(nlb["public_ipv4"], "198.51.100.201");
    assert!(
        nlb["dns_name"]
            .as_str()
            .unwrap()
            .ends_with(".elb.us-east-1.amazonaws.com")
    );
    assert_eq!(nlb["listeners"][0]["protocol"], "TCP");
    assert_eq!(nlb["listeners"][0]["port"], 80);
    let nlb_tg = nlb["target_group_arn"].as_str().unwrap().to_owned();
    let rows = health(&lab, &nlb_tg);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows.iter().all(|r| r.1 == "healthy"), "{rows:?}");

    // An ALB and an internal NLB through `service expose`.
    let Cli {
        code,
        stdout: out,
        stderr: err,
    } = lab.cmd(&[
        "service",
        "expose",
        "web1",
        "--type",
        "LoadBalancer",
        "--kind",
        "alb",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let Cli {
        code,
        stdout: out,
        stderr: err,
    } = lab.cmd(&[
        "service",
        "expose",
        "web1",
        "--type",
        "LoadBalancer",
        "--scheme",
        "internal",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    // Refused: a second internal NLB for the service, another service type.
    let Cli {
        code, stderr: err, ..
    } = lab.cmd(&[
        "service",
        "expose",
        "web1",
        "--type",
        "LoadBalancer",
        "--scheme",
        "internal",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("already exposed"), "{err}");
    let Cli {
        code, stderr: err, ..
    } = lab.cmd(&["service", "expose", "web1", "--type", "NodePort"]);
    assert_ne!(code, 0);
    assert!(err.contains("--type LoadBalancer"), "{err}");
    let s = lab.status();
    for name in ["k8s-web1-alb", "k8s-web1-nlbi"] {
        let tg = lb_named(&s, name)["target_group_arn"]
            .as_str()
            .unwrap()
            .to_owned();
        let rows = wait_health(&lab, &tg, |r| {
            r.len() == 4 && r.iter().all(|x| x.1 == "healthy")
        });
        assert!(rows.iter().all(|r| r.1 == "healthy"), "{name}: {rows:?}");
    }
    assert!(lb_named(&s, "k8s-web1-nlbi")["public_ipv4"].is_null());
    let state = lab::LabState::update(&lab.name, &lab.state_dir(), |st| {
        lab::lb::sync(st)?;
        Ok(st.clone())
    })
    .unwrap();
    let rows = lab::lb::matrix::run(&state);
    let table = lab::matrix::render(&rows);
    assert!(rows.iter().all(|c| c.ok), "{table}");
    for path in [
        "IPv4 internet → ALB IPv4 → IPv6 pod",
        "IPv6 internet → ALB IPv6 → pod",
        "pod → internal NLB IPv6 → pod",
        "internet → internal NLB IPv6 (not reachable)",
    ] {
        assert!(
            rows.iter().any(|c| c.path == path),
            "no {path:?} in\n{table}"
        );
    }
    let refusal = rows
        .iter()
        .find(|c| c.path.starts_with("internet → internal"))
        .unwrap();
    assert!(refusal.seen.contains("(EACCES)"), "{table}");

    // A pod whose server died turns unhealthy and gets no more connections.
    let nlb_ip: IpAddr = "198.51.100.201".parse().unwrap();
    let public = SocketAddr::new(nlb_ip, 80);
    let dead = pod_ip(&lab, "web-1-1");
    let p = state
        .processes
        .iter()
        .find(|p| p.role == "pod web-1-1")
        .expect("web-1-1's responder is recorded");
    // SAFETY: kill has no memory preconditions; the pid is the lab's own recorded responder.
    assert_eq!(unsafe { libc::kill(p.pid as i32, libc::SIGTERM) }, 0);
    let rows = wait_health(&lab, &nlb_tg, |r| {
        r.iter().any(|x| x.0 == dead && x.1 == "unhealthy")
    });
    let row = rows.iter().find(|r| r.0 == dead).unwrap();
    assert_eq!(
        (row.1.as_str(), row.2.as_str()),
        ("unhealthy", "Target.FailedHealthChecks"),
        "{rows:?}"
    );
    let seen: BTreeSet<String> = answers(&lab, public, 8).into_iter().collect();
    assert!(!seen.contains("web-1-1"), "{seen:?}");
    assert_eq!(
        seen.len(),
        3,
        "the three healthy pods share the load: {seen:?}"
    );

    // A deleted pod leaves the target group and gets no more traffic.
    let gone = pod_ip(&lab, "web-2-2");
    let Cli {
        code,
        stdout: out,
        stderr: err,
    } = lab.cmd(&["pod", "delete", "web-2-2"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("deregistered"), "{out}");
    let rows = health(&lab, &nlb_tg);
    assert!(!rows.iter().any(|r| r.0 == gone), "{rows:?}");
    let seen: BTreeSet<String> = answers(&lab, public, 8).into_iter().collect();
    assert!(
        !seen.contains("web-2-2") && !seen.contains("web-1-1"),
        "{seen:?}"
    );

    // A new pod of the service joins it and, once healthy, answers too.
    let Cli {
        code,
        stdout: out,
        stderr: err,
    } = lab.cmd(&["pod", "run", "web1-extra"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let extra = pod_ip(&lab, "web1-extra");
    let rows = wait_health(&lab, &nlb_tg, |r| {
        r.iter().any(|x| x.0 == extra && x.1 == "healthy")
    });
    assert!(
        rows.iter().any(|x| x.0 == extra && x.1 == "healthy"),
        "{rows:?}"
    );
    let seen: BTreeSet<String> = answers(&lab, public, 9).into_iter().collect();
    assert!(seen.contains("web1-extra"), "{seen:?}");
}
