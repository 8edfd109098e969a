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
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

const UP_TIMEOUT: Duration = Duration::from_secs(180);
const CMD_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a health verdict may take: two failed checks 5 s apart, plus polling.
const VERDICT: Duration = Duration::from_secs(40);

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the lab tests need root: `sixfold up` creates network namespaces; run the suite as root"
    );
}

fn sixfold_bin() -> &'static str {
    env!("CARGO_BIN_EXE_sixfold")
}

fn run_env(
    program: &str,
    args: &[&str],
    env: &[(String, String)],
    timeout: Duration,
) -> (i32, String, String) {
    let mut cmd = Command::new(program);
    cmd.args(args).env("SIXFOLD_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = dataplane::exec::run(cmd, b"", timeout)
        .unwrap_or_else(|e| panic!("{program} {args:?} did not finish: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Lab {
    name: String,
    up_output: String,
}

impl Lab {
    fn up(extra: &[&str]) -> Lab {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "b{}x{}",
            std::process::id() % 100_000,
            N.fetch_add(1, Ordering::SeqCst)
        );
        let mut args = vec!["up", "--name", &name];
        args.extend_from_slice(extra);
        let (code, out, err) = run_env(sixfold_bin(), &args, &[], UP_TIMEOUT);
        let lab = Lab {
            name,
            up_output: out.clone(),
        };
        assert_eq!(code, 0, "sixfold up failed:\n{out}\n{err}");
        lab
    }
    fn state_dir(&self) -> PathBuf {
        Path::new("/run/sixfold-lab").join(&self.name)
    }
    fn cmd(&self, args: &[&str]) -> (i32, String, String) {
        let mut a = args.to_vec();
        a.extend(["--name", &self.name]);
        run_env(sixfold_bin(), &a, &[], CMD_TIMEOUT)
    }
    fn status(&self) -> Value {
        let (code, out, err) = self.cmd(&["status", "--output", "json"]);
        assert_eq!(code, 0, "status failed: {err}");
        serde_json::from_str(&out).expect("status --output json prints JSON")
    }
    fn state(&self) -> lab::LabState {
        lab::status::load(&self.name, &self.state_dir()).expect("the lab's state")
    }
    /// The AWS CLI's environment for the lab's region (`status --env`).
    fn aws_env(&self) -> Vec<(String, String)> {
        let (code, env, err) = self.cmd(&["status", "--env"]);
        assert_eq!(code, 0, "{err}");
        env.lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
            .collect()
    }
    /// `aws elbv2 describe-target-health`: (id, state, reason) of every target.
    fn health(&self, tg: &str) -> Vec<(String, String, String)> {
        let aws = common::aws_binary();
        let (code, out, err) = run_env(
            aws.to_str().unwrap(),
            &[
                "elbv2",
                "describe-target-health",
                "--target-group-arn",
                tg,
                "--output",
                "json",
            ],
            &self.aws_env(),
            CMD_TIMEOUT,
        );
        assert_eq!(code, 0, "describe-target-health failed: {err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        v["TargetHealthDescriptions"]
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
    fn wait_health(
        &self,
        tg: &str,
        ok: impl Fn(&[(String, String, String)]) -> bool,
    ) -> Vec<(String, String, String)> {
        let start = Instant::now();
        loop {
            let rows = self.health(tg);
            if ok(&rows) || start.elapsed() > VERDICT {
                return rows;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    fn pod_ip(&self, pod: &str) -> String {
        self.state()
            .pod(pod)
            .unwrap_or_else(|| panic!("no pod {pod}"))
            .ipv6
            .to_string()
    }
    /// `n` connections from the internet host to `addr` through an NLB: the pods that answered.
    fn answers(&self, addr: SocketAddr, n: usize) -> Vec<String> {
        let ns = format!("sfl-{}-inet", self.name);
        (0..n)
            .map(|_| {
                let line = lab::lb::matrix::ask(&ns, addr, lab::lb::plan::Kind::Nlb)
                    .unwrap_or_else(|e| panic!("no answer through {addr}: {e}"));
                line.split(' ').next().unwrap_or("").to_owned()
            })
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.cmd(&["down"]);
    }
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
    require_root();
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
            .unwrap_or_else(|| panic!("no row {path:?} in up's matrix:\n{}", lab.up_output));
        assert_eq!(row["ok"], true, "{row}");
        assert!(
            row["seen"].as_str().unwrap().contains("answered by web-"),
            "{row}"
        );
        assert!(lab.up_output.contains(path), "{}", lab.up_output);
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
    let rows = lab.health(&nlb_tg);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows.iter().all(|r| r.1 == "healthy"), "{rows:?}");

    // An ALB and an internal NLB through `service expose`.
    let (code, out, err) = lab.cmd(&[
        "service",
        "expose",
        "web1",
        "--type",
        "LoadBalancer",
        "--kind",
        "alb",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = lab.cmd(&[
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
    let (code, _, err) = lab.cmd(&[
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
    let (code, _, err) = lab.cmd(&["service", "expose", "web1", "--type", "NodePort"]);
    assert_ne!(code, 0);
    assert!(err.contains("--type LoadBalancer"), "{err}");
    let s = lab.status();
    for name in ["k8s-web1-alb", "k8s-web1-nlbi"] {
        let tg = lb_named(&s, name)["target_group_arn"]
            .as_str()
            .unwrap()
            .to_owned();
        let rows = lab.wait_health(&tg, |r| r.len() == 4 && r.iter().all(|x| x.1 == "healthy"));
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
    let dead = lab.pod_ip("web-1-1");
    let p = state
        .processes
        .iter()
        .find(|p| p.role == "pod web-1-1")
        .expect("web-1-1's responder is recorded");
    // SAFETY: kill has no memory preconditions; the pid is the lab's own recorded responder.
    assert_eq!(unsafe { libc::kill(p.pid as i32, libc::SIGTERM) }, 0);
    let rows = lab.wait_health(&nlb_tg, |r| {
        r.iter().any(|x| x.0 == dead && x.1 == "unhealthy")
    });
    let row = rows.iter().find(|r| r.0 == dead).unwrap();
    assert_eq!(
        (row.1.as_str(), row.2.as_str()),
        ("unhealthy", "Target.FailedHealthChecks"),
        "{rows:?}"
    );
    let seen: BTreeSet<String> = lab.answers(public, 8).into_iter().collect();
    assert!(!seen.contains("web-1-1"), "{seen:?}");
    assert_eq!(
        seen.len(),
        3,
        "the three healthy pods share the load: {seen:?}"
    );

    // A deleted pod leaves the target group and gets no more traffic.
    let gone = lab.pod_ip("web-2-2");
    let (code, out, err) = lab.cmd(&["pod", "delete", "web-2-2"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("deregistered"), "{out}");
    let rows = lab.health(&nlb_tg);
    assert!(!rows.iter().any(|r| r.0 == gone), "{rows:?}");
    let seen: BTreeSet<String> = lab.answers(public, 8).into_iter().collect();
    assert!(
        !seen.contains("web-2-2") && !seen.contains("web-1-1"),
        "{seen:?}"
    );

    // A new pod of the service joins it and, once healthy, answers too.
    let (code, out, err) = lab.cmd(&["pod", "run", "web1-extra"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let extra = lab.pod_ip("web1-extra");
    let rows = lab.wait_health(&nlb_tg, |r| {
        r.iter().any(|x| x.0 == extra && x.1 == "healthy")
    });
    assert!(
        rows.iter().any(|x| x.0 == extra && x.1 == "healthy"),
        "{rows:?}"
    );
    let seen: BTreeSet<String> = lab.answers(public, 9).into_iter().collect();
    assert!(seen.contains("web1-extra"), "{seen:?}");
}
