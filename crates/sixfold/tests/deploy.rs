//! The deployable artefacts in `deploy/`: the Kubernetes manifests validated offline against
//! the schemas of Kubernetes 1.29 to 1.33 (`kubernetes-validate --strict`) and checked against
//! what the agent and the plugins actually use; and (root) the container image, built with
//! podman from Debian packages and run the way the DaemonSet runs it, against a region, all
//! inside a network namespace the test made.
//!
//! Missing tools (kubernetes-validate, podman, apt-get) fail the test with the fix; nothing
//! skips itself.

mod common;
#[path = "common/image.rs"]
mod image;
#[path = "common/manifests.rs"]
mod manifests;
#[path = "common/node_lab.rs"]
mod node_lab;
#[path = "common/node_parts.rs"]
mod node_parts;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::{Overrides, Podman, one_instance, run_args, s};
use ipnet::Ipv6Net;
use manifests::*;
use node_lab::{OpenNs, TestNs, node_ns, require_root, sh};
use node_parts::{plugin_dir, require_tool};
use serde_json::Value;

/// The Kubernetes versions the manifests must be valid for.
const KUBERNETES_VERSIONS: [&str; 5] = ["1.29.0", "1.30.0", "1.31.0", "1.32.0", "1.33.0"];

#[test]
fn manifests_validate_strictly_for_kubernetes_1_29_to_1_33() {
    let tool = venv_tool("kubernetes-validate");
    let files = manifest_files();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().expect("file").to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"daemonset.yaml".to_owned())
            && names.contains(&"serviceaccount.yaml".to_owned()),
        "{names:?}"
    );
    for version in KUBERNETES_VERSIONS {
        let mut cmd = std::process::Command::new(&tool);
        cmd.args(["--strict", "--kubernetes-version", version])
            .args(&files);
        let out = dataplane::exec::run(cmd, b"", Duration::from_secs(120))
            .expect("kubernetes-validate runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "deploy/kubernetes is not valid for Kubernetes {version}:\n{stdout}\n{stderr}"
        );
        // One "passed" line per resource, so a file the tool silently ignored is noticed.
        let short = version.trim_end_matches(".0");
        for resource in ["daemonset/sixfold-node", "serviceaccount/aws-node"] {
            assert!(
                stdout
                    .lines()
                    .chain(stderr.lines())
                    .any(|l| l.contains("passed") && l.contains(resource) && l.contains(short)),
                "no pass reported for {resource} on {version}:\n{stdout}\n{stderr}"
            );
        }
    }
}

#[test]
fn a_manifest_error_fails_the_validation() {
    // The check above can fail: the same tool on a copy with a misspelt field refuses it.
    let tool = venv_tool("kubernetes-validate");
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(manifest_dir().join("daemonset.yaml")).expect("read");
    assert!(text.contains("hostNetwork: true"));
    let bad = dir.path().join("daemonset.yaml");
    std::fs::write(&bad, text.replace("hostNetwork: true", "hostNetwrk: true")).expect("write");
    let mut cmd = std::process::Command::new(&tool);
    cmd.args(["--strict", "--kubernetes-version", "1.33.0"])
        .arg(&bad);
    let out = dataplane::exec::run(cmd, b"", Duration::from_secs(120)).expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a misspelt field passed: {stdout}");
    assert!(stdout.contains("hostNetwrk"), "{stdout}");
}

#[test]
fn daemonset_paths_ports_and_identity_agree_with_the_agent() {
    let docs = load_all();
    let ds = find(&docs, "DaemonSet");
    let sa = find(&docs, "ServiceAccount");
    let pod = &ds["spec"]["template"]["spec"];

    // Identity: the reference CNI's account, IRSA, and no API access at all.
    assert_eq!(sa["metadata"]["name"], "aws-node");
    assert_eq!(sa["metadata"]["namespace"], "kube-system");
    assert_eq!(ds["metadata"]["namespace"], "kube-system");
    assert_eq!(pod["serviceAccountName"], "aws-node");
    assert_eq!(sa["automountServiceAccountToken"], false);
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert!(
        !docs.iter().any(|d| {
            let k = d["kind"].as_str().unwrap_or("");
            k.contains("Role") || k.contains("Binding")
        }),
        "the agent never calls the API server: no RBAC"
    );
    let role = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        .as_str()
        .expect("the ServiceAccount names its IAM role");
    assert!(
        role.starts_with("arn:aws:iam::") && role.contains(":role/"),
        "{role}"
    );

    let agent = container(&ds, "containers", "agent");
    let init = container(&ds, "initContainers", "install-cni");
    assert_eq!(
        env(&agent, "AWS_ROLE_ARN").as_deref(),
        Some(role),
        "AWS_ROLE_ARN must equal the ServiceAccount's eks.amazonaws.com/role-arn"
    );
    let token_file = env(&agent, "AWS_WEB_IDENTITY_TOKEN_FILE").expect("web identity token file");
    assert_eq!(
        token_file, "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
        "the path the EKS pod identity webhook uses"
    );
    let (m, v) = mount_of(&ds, &agent, &token_file);
    let rel = Path::new(&token_file)
        .strip_prefix(m["mountPath"].as_str().expect("mountPath"))
        .expect("under the mount");
    let sources = v["projected"]["sources"].as_array().expect("projected");
    assert!(
        sources.iter().any(|s| {
            let t = &s["serviceAccountToken"];
            t["audience"] == "sts.amazonaws.com"
                && Path::new(t["path"].as_str().unwrap_or("")) == rel
        }),
        "{token_file} must be a projected service-account token with audience sts.amazonaws.com: {v}"
    );

    // Host networking; the node's resolver (cluster DNS needs this agent first).
    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(pod["dnsPolicy"], "Default");

    // The agent: not privileged, only NET_ADMIN (nftables), no escalation.
    let sc = &agent["securityContext"];
    assert_eq!(sc["privileged"], false);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
    assert_eq!(strings(&sc["capabilities"]["add"]), ["NET_ADMIN"]);

    // The paths the conflist names are used by the plugins on the host: each must be mounted
    // at the same path it has on the node.
    let cmd = strings(&agent["command"]);
    assert_eq!(cmd, ["/usr/bin/sixfold", "agent"]);
    let args = strings(&agent["args"]);
    assert!(
        !args
            .iter()
            .any(|a| a == "--instance-id" || a == "--credentials-file"),
        "on a node the agent learns the instance from IMDS and uses IRSA: {args:?}"
    );
    for (name, default) in [
        ("--socket", agent_api::DEFAULT_SOCKET),
        ("--data-dir", agent::config::DEFAULT_DATA_DIR),
        ("--cni-conf-dir", agent::config::DEFAULT_CNI_CONF_DIR),
    ] {
        let path = flag(&args, name);
        assert_eq!(path, default, "{name} keeps the agent's default");
        let (m, v) = mount_of(&ds, &agent, &path);
        assert_eq!(
            v["hostPath"]["path"], m["mountPath"],
            "{name} {path}: mounted from the same host path"
        );
        assert_ne!(m["readOnly"], true, "{path} is written by the agent");
    }
    let netns = mount_of(&ds, &agent, "/run/netns/cni-0").0;
    assert_eq!(netns["mountPropagation"], "HostToContainer");

    // Probes and Prometheus: the agent's metrics listener.
    let metrics: std::net::SocketAddr = flag(&args, "--metrics-addr")
        .parse()
        .expect("--metrics-addr parses");
    assert!(
        metrics.ip().is_unspecified(),
        "probes come to the node's IP: {metrics}"
    );
    let port = metrics.port();
    assert_eq!(agent["readinessProbe"]["httpGet"]["path"], "/v1/status");
    assert_eq!(agent["readinessProbe"]["httpGet"]["port"], port);
    assert_eq!(agent["livenessProbe"]["httpGet"]["port"], port);
    let ann = &ds["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(ann["prometheus.io/scrape"], "true");
    assert_eq!(ann["prometheus.io/port"], port.to_string());
    assert_eq!(ann["prometheus.io/path"], "/metrics");
    assert!(agent["resources"]["requests"]["memory"].is_string());
    assert!(agent["resources"]["limits"]["memory"].is_string());

    // The init container installs exactly what the conflist runs into the host's /opt/cni/bin.
    let icmd = strings(&init["command"]);
    assert_eq!(icmd[..2], ["/usr/bin/sixfold", "install-cni"]);
    let to = flag(&icmd, "--to");
    let (m, v) = mount_of(&ds, &init, &to);
    assert_eq!(v["hostPath"]["path"], "/opt/cni/bin", "{m}");
    assert_eq!(init["securityContext"]["privileged"], true);
    assert!(icmd.contains(&"--enable-forwarding".to_owned()));
    let conflist = cni::conflist::render(&cni::conflist::Params {
        network_name: "sixfold".into(),
        agent_socket: "/run/sixfold/agent.sock".into(),
        node_ipv4: std::net::Ipv4Addr::new(10, 0, 1, 5),
        mtu: 9001,
        random_fully: false,
        egress_ipam_data_dir: "/var/lib/sixfold/agent/egress-ipam".into(),
        cni_version: "1.0.0".into(),
    });
    let mut needed: Vec<&str> = vec![];
    for p in conflist["plugins"].as_array().expect("plugins") {
        needed.push(p["type"].as_str().expect("type"));
        if let Some(ipam) = p["ipam"]["type"].as_str() {
            needed.push(ipam);
        }
    }
    needed.sort();
    let mut installed = agent::install::CNI_BINARIES.to_vec();
    installed.sort();
    assert_eq!(
        needed, installed,
        "the init container installs what the conflist runs"
    );
}

/// The sixfold binaries of this build in one dir (what `deploy/build-image --bin-dir` takes).
fn bin_dir(dir: &Path) -> PathBuf {
    let bins = dir.join("bin");
    std::fs::create_dir_all(&bins).expect("bin dir");
    let plugins = plugin_dir();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_sixfold"), bins.join("sixfold")).expect("link");
    for b in ["sixfold-cni", "sixfold-egress-cni"] {
        std::os::unix::fs::symlink(plugins.join(b), bins.join(b)).expect("link");
    }
    bins
}

/// `sixfold lab-imds` for one instance inside a test namespace; killed by PID on drop.
struct Imds(std::process::Child);

impl Imds {
    fn start(ns: &TestNs, instance_id: &str, region: &common::Server) -> Imds {
        let child = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.name,
                env!("CARGO_BIN_EXE_sixfold"),
                "lab-imds",
            ])
            .args(["--instance-id", instance_id, "--endpoint", &region.endpoint])
            .arg("--credentials")
            .arg(region.data_dir.join("credentials"))
            .env("SIXFOLD_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn sixfold lab-imds");
        let mut imds = Imds(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = SocketAddr::from(([169, 254, 169, 254], 80));
        loop {
            let up = ns
                .open()
                .run(move || TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok())
                .unwrap_or(false);
            if up {
                return imds;
            }
            if let Ok(Some(st)) = imds.0.try_wait() {
                panic!("sixfold lab-imds exited with {st}");
            }
            assert!(Instant::now() < deadline, "IMDS did not listen within 20 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Imds {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET path` on `[::1]:port` inside `ns`: (status code, body), or `None` if nothing answers.
fn http_get(ns: &TestNs, port: u16, path: &str) -> Option<(u16, String)> {
    let path = path.to_owned();
    ns.open()
        .run(move || -> Option<(u16, String)> {
            let addr = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port));
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
            write!(
                s,
                "GET {path} HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n"
            )
            .ok()?;
            let mut text = String::new();
            s.take(1 << 20).read_to_string(&mut text).ok()?;
            let code = text.split_whitespace().nth(1)?.parse().ok()?;
            let body = text
                .split_once("\r\n\r\n")
                .map_or("", |(_, b)| b)
                .to_owned();
            Some((code, body))
        })
        .ok()
        .flatten()
}

/// Root. The image built with podman from Debian packages and this build's binaries, then run as
/// the DaemonSet runs it, inside a network namespace the test made (the "node"), with the region
/// in that namespace too: the init container (privileged) installs the plugins into a temporary
/// host /opt/cni/bin and turns forwarding on; the agent container (unprivileged, only NET_ADMIN,
/// read-only root) gets the node's /80 from the region, serves /v1/status on the DaemonSet's
/// metrics port, answers on the host socket and writes the conflist into the host's CNI dir.
/// The agent learns its instance and region from IMDSv2 (`sixfold lab-imds` serving the region's
/// data at 169.254.169.254 in the namespace) and signs with IRSA: the region has the cluster's
/// OIDC provider and the DaemonSet's role, and the container gets a `sixfold token` at the
/// projected token's path. The role first lacks the IPv6 policy: the agent stays alive (the
/// liveness path answers) and not ready, naming the denial; once the policy is attached it gets
/// the /80 by itself. The only changes to the DaemonSet's container: `--ec2-endpoint` (this
/// namespace has no AWS endpoint) and AWS_ROLE_ARN naming the role in the region's account.
#[test]
fn image_runs_as_the_daemonset_runs_it_and_the_agent_gets_its_prefix() {
    require_root();
    for (tool, pkg) in [
        ("podman", "podman"),
        ("runc", "runc"),
        ("apt-get", "apt"),
        ("dpkg-deb", "dpkg"),
        ("strip", "binutils"),
    ] {
        require_tool(tool, pkg);
    }
    let ns = node_ns("img");
    let dir = tempfile::tempdir().expect("tempdir");
    let region =
        common::Server::start_in_netns(&ns.name, &dir.path().join("region"), "127.0.0.1:0");
    let node = one_instance(&region);
    let (instance_id, eni_id, eni_v4, subnet_v6) = (
        node.instance_id.clone(),
        node.eni_id.clone(),
        node.eni_v4,
        node.subnet_v6,
    );
    // The node's instance metadata, at 169.254.169.254 in the node namespace, from the region.
    let _imds = Imds::start(&ns, &instance_id, &region);
    let mut pm = Podman::new(&ns.name);
    let tag = format!("localhost/sixfold-test-{}:t", std::process::id());
    let started = Instant::now();
    pm.build_sixfold(&bin_dir(dir.path()), &tag);
    println!("image built in {:?}", started.elapsed());

    let docs = load_all();
    let ds = find(&docs, "DaemonSet");
    let host = dir.path().join("host");
    let sysctl = |key: &str| {
        sh(&["ip", "netns", "exec", &ns.name, "sysctl", "-n", key])
            .trim()
            .to_owned()
    };
    assert_eq!(
        sysctl("net.ipv6.conf.all.forwarding"),
        "0",
        "a new namespace forwards nothing"
    );

    // The init container, to completion.
    let init = container(&ds, "initContainers", "install-cni");
    let mut args: Vec<String> = vec!["run".into(), "--rm".into()];
    args.extend(run_args(
        &ds,
        &init,
        &ns.name,
        &host,
        &tag,
        &pm.cgroup_parent,
        &Overrides::default(),
    ));
    let out = pm.run(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        Duration::from_secs(120),
    );
    assert!(
        out.ok(),
        "the init container failed ({}):\n{}\n{}",
        out.code,
        out.stdout,
        out.stderr
    );
    let bin = host.join("opt/cni/bin");
    for b in agent::install::CNI_BINARIES {
        // Installed for the host: they run here, outside the image.
        let mut cmd = std::process::Command::new(bin.join(b));
        cmd.env("CNI_COMMAND", "VERSION");
        let v = node_lab::run_cmd(cmd, b"");
        assert!(
            v.ok() && v.stdout.contains("supportedVersions"),
            "{b} VERSION: {v:?}"
        );
    }
    assert_eq!(
        sysctl("net.ipv6.conf.all.forwarding"),
        "1",
        "the init container turned IPv6 forwarding on"
    );
    assert_eq!(sysctl("net.ipv4.ip_forward"), "1");

    // The agent container, detached.
    let agent_c = container(&ds, "containers", "agent");
    let name = format!("sfdeploy-{}-agent", std::process::id());
    pm.containers.push(name.clone());
    // IRSA as on a node: the role the DaemonSet names (in the region's account), trusting
    // kube-system:aws-node, and the token where the projected volume puts it. No credentials
    // file, no key in the env, no IMDS here: the agent can only sign with STS credentials.
    let ds_role = env(&agent_c, "AWS_ROLE_ARN").expect("AWS_ROLE_ARN");
    let role_name = ds_role.rsplit('/').next().expect("role name");
    let token_file = env(&agent_c, "AWS_WEB_IDENTITY_TOKEN_FILE").expect("token file");
    let (token_mount, _) = mount_of(&ds, &agent_c, &token_file);
    let token_dir = dir.path().join("projected-token");
    let role_arn = image::irsa(&region, &ns.name, &node.subnet_id, role_name, &token_dir);
    assert!(
        role_arn.ends_with(&format!(":role/{role_name}")),
        "{role_arn}"
    );
    let o = Overrides {
        drop_env: &[],
        set_env: vec![("AWS_ROLE_ARN".into(), role_arn)],
        extra_args: vec!["--ec2-endpoint".into(), region.endpoint.clone()],
        extra_mounts: vec![(token_dir, s(&token_mount["mountPath"]))],
    };
    let mut args: Vec<String> = vec![
        "run".into(),
        "--detach".into(),
        "--name".into(),
        name.clone(),
    ];
    args.extend(run_args(
        &ds,
        &agent_c,
        &ns.name,
        &host,
        &tag,
        &pm.cgroup_parent,
        &o,
    ));
    let out = pm.run(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        Duration::from_secs(120),
    );
    assert!(
        out.ok(),
        "the agent container did not start ({}):\n{}",
        out.code,
        out.stderr
    );

    let port: SocketAddr = flag(&strings(&agent_c["args"]), "--metrics-addr")
        .parse()
        .expect("addr");
    // The role has no IPv6 policy yet (the most common real-world failure): the agent stays
    // up and says so, so the DaemonSet's liveness probe (/metrics) passes while its readiness
    // probe (/v1/status) fails; nothing restarts it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let metrics = http_get(&ns, port.port(), "/metrics");
        if let Some((200, m)) = &metrics
            && m.lines().any(|l| l == "sixfold_agent_prefix_blocked 1")
        {
            break;
        }
        if Instant::now() > deadline {
            let logs = pm.run(&["logs", &name], Duration::from_secs(30));
            panic!(
                "the agent did not report the refused prefix within 60 s ({metrics:?}):\n{}{}",
                logs.stdout, logs.stderr
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, body) = http_get(&ns, port.port(), "/v1/status").expect("status answers");
    assert_eq!(code, 503, "not ready while denied: {body}");
    assert!(
        body.contains("UnauthorizedOperation"),
        "the status names the denial: {body}"
    );
    let (code, _) = http_get(&ns, port.port(), "/metrics").expect("metrics answer");
    assert_eq!(code, 200, "the liveness path answers while denied");
    image::attach_ipv6_policy(&region, role_name);

    let deadline = Instant::now() + Duration::from_secs(60);
    let status: Value = loop {
        if let Some((200, body)) = http_get(&ns, port.port(), "/v1/status") {
            break serde_json::from_str(&body).expect("status JSON");
        }
        if Instant::now() > deadline {
            let logs = pm.run(&["logs", &name], Duration::from_secs(30));
            panic!(
                "the agent container is not ready within 60 s of the policy:\n{}{}",
                logs.stdout, logs.stderr
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    println!("agent status: {status}");
    let logs = pm.run(&["logs", &name], Duration::from_secs(30));
    let logs = format!("{}{}", logs.stdout, logs.stderr);
    assert!(
        logs.contains("web identity") && logs.contains(&format!(":role/{role_name}")),
        "the agent did not sign with the IRSA role:\n{logs}"
    );
    let prefix: Ipv6Net = s(&status["prefix"]).parse().expect("a prefix");
    assert_eq!(prefix.prefix_len(), 80, "{status}");
    assert!(
        subnet_v6.contains(&prefix),
        "{prefix} is in the subnet {subnet_v6}"
    );
    assert_eq!(s(&status["node_ipv4"]), eni_v4.to_string());
    let enis = region
        .aws(&[
            "ec2",
            "describe-network-interfaces",
            "--network-interface-ids",
            &eni_id,
        ])
        .json();
    assert_eq!(
        enis["NetworkInterfaces"][0]["Ipv6Prefixes"][0]["Ipv6Prefix"],
        prefix.to_string(),
        "the region delegated that /80 to the node's ENI"
    );
    let (code, metrics) = http_get(&ns, port.port(), "/metrics").expect("metrics answer");
    assert_eq!(code, 200);
    assert!(
        metrics.lines().any(|l| l == "sixfold_agent_ready 1"),
        "{metrics}"
    );

    // What the plugins on the host see: the conflist, the socket, the state.
    let conflist: Value = serde_json::from_str(
        &std::fs::read_to_string(host.join("etc/cni/net.d/10-sixfold.conflist"))
            .expect("conflist written to the host"),
    )
    .expect("conflist JSON");
    assert_eq!(
        conflist["plugins"][0]["agentSocket"],
        agent_api::DEFAULT_SOCKET
    );
    assert_eq!(conflist["plugins"][1]["nodeIP"], eni_v4.to_string());
    assert_eq!(
        conflist["plugins"][1]["ipam"]["dataDir"],
        "/var/lib/sixfold/agent/egress-ipam"
    );
    let host_socket = host.join(agent_api::DEFAULT_SOCKET.trim_start_matches('/'));
    match agent_api::call(
        &host_socket,
        &agent_api::Request::Status,
        Duration::from_secs(5),
    ) {
        Ok(agent_api::Response::Status { status }) => assert_eq!(status.prefix, prefix.to_string()),
        other => panic!("the host socket answered {other:?}"),
    }
    assert!(host.join("var/lib/sixfold/agent/agent.redb").is_file());
    let table = sh(&[
        "ip", "netns", "exec", &ns.name, "nft", "list", "table", "ip", "sixfold",
    ]);
    assert!(table.contains(&format!("snat to {eni_v4}")), "{table}");

    // Only NET_ADMIN (bit 12) in the agent's effective set; not privileged.
    let pid = pm.run(
        &["inspect", "--format", "{{.State.Pid}}", &name],
        Duration::from_secs(30),
    );
    let pid = pid.stdout.trim().to_owned();
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("agent status");
    let cap_eff = st
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .expect("CapEff")
        .trim()
        .to_owned();
    assert_eq!(
        u64::from_str_radix(&cap_eff, 16).expect("hex"),
        1 << 12,
        "CapEff {cap_eff}"
    );
}
