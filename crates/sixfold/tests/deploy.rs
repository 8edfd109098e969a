//! The deployable artefacts in `deploy/`: the Kubernetes manifests validated offline against
//! the schemas of Kubernetes 1.29 to 1.33 (`kubernetes-validate --strict`) and checked against
//! what the agent and the plugins actually use; and (root) the container image, built with
//! podman from Debian packages and run the way the DaemonSet runs it, against a region, all
//! inside a network namespace the test made.
//!
//! Missing tools (kubernetes-validate, podman, apt-get) fail the test with the fix; nothing
//! skips itself.

#[path = "common/manifests.rs"]
mod manifests;

use std::path::Path;
use std::time::Duration;

use manifests::*;

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
