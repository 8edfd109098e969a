//! The sixfold image in the tests: a podman private to one test (own storage with the `vfs`
//! driver, so removing its dir leaves no mount behind; own cgroup parent), the image built with
//! `deploy/build-image`, and a DaemonSet container turned into the `podman run` flags that give
//! it what the kubelet would: its command, env, security context and host-path mounts (the host
//! paths mapped under a temporary "host" dir); and the region's one-node VPC those tests run
//! against. Everything is removed on drop.

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ipnet::Ipv6Net;
use serde_json::Value;

use crate::manifests::{repo_root, strings, volume};
use crate::node_lab::Cli;
pub use test_support::aws::s;

/// Bound of `deploy/build-image` (downloads the .debs the first time, then uses the cache).
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// A podman private to one test, its containers run in the network namespace `netns`.
pub struct Podman {
    pub dir: tempfile::TempDir,
    pub netns: String,
    pub cgroup_parent: String,
    pub containers: Vec<String>,
}

impl Podman {
    pub fn new(netns: &str) -> Podman {
        let dir = tempfile::Builder::new()
            .prefix("sixfold-podman-")
            .tempdir()
            .expect("podman dir");
        Podman {
            dir,
            netns: netns.to_owned(),
            cgroup_parent: format!("/sfdeploy-{}", std::process::id()),
            containers: Vec::new(),
        }
    }

    /// The global flags: private storage (vfs), runroot, tmpdir; cgroupfs; file events.
    pub fn global_args(&self) -> Vec<String> {
        let d = self.dir.path();
        vec![
            "--root".into(),
            d.join("storage").display().to_string(),
            "--runroot".into(),
            d.join("run").display().to_string(),
            "--tmpdir".into(),
            d.join("tmp").display().to_string(),
            "--storage-driver".into(),
            "vfs".into(),
            "--cgroup-manager".into(),
            "cgroupfs".into(),
            "--events-backend".into(),
            "file".into(),
        ]
    }

    /// `podman <global flags> <args>`, with a private containers.conf (runc: crun refuses this
    /// machine's hybrid cgroup layout; a private network config dir, so the host's
    /// /etc/cni/net.d is never read or written).
    pub fn command(&self, args: &[&str]) -> Command {
        let conf = self.dir.path().join("containers.conf");
        if !conf.exists() {
            let net = self.dir.path().join("net.d");
            std::fs::create_dir_all(&net).expect("podman network dir");
            std::fs::write(
                &conf,
                format!(
                    "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                     [network]\nnetwork_backend = \"cni\"\nnetwork_config_dir = \"{}\"\n",
                    net.display()
                ),
            )
            .expect("containers.conf");
        }
        let mut cmd = Command::new("podman");
        cmd.args(self.global_args())
            .args(args)
            .env("CONTAINERS_CONF", conf);
        cmd
    }

    pub fn run(&self, args: &[&str], timeout: Duration) -> Cli {
        test_support::run(self.command(args), timeout)
    }

    /// Build the sixfold image with `deploy/build-image` from the binaries in `bin_dir`.
    pub fn build_sixfold(&self, bin_dir: &Path, tag: &str) {
        let root = repo_root();
        let podman = format!("podman {}", self.global_args().join(" "));
        let mut cmd = Command::new("bash");
        cmd.arg(root.join("deploy/build-image"))
            .args(["--bin-dir", &bin_dir.display().to_string()])
            .args(["--tag", tag])
            .args(["--deb-cache", &deb_cache().display().to_string()])
            .env("PODMAN", podman)
            .env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
            .env("TMPDIR", self.dir.path());
        let _ = self.command(&[]); // writes containers.conf
        let out = dataplane::exec::run(cmd, b"", BUILD_TIMEOUT).unwrap_or_else(|e| {
            panic!("deploy/build-image did not finish within {BUILD_TIMEOUT:?}: {e}")
        });
        assert!(
            out.status.success(),
            "deploy/build-image failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The .deb cache of the image recipe: `target/image-debs` of this build (the recipe's default
/// when run from the repository), so reruns skip the downloads.
pub fn deb_cache() -> PathBuf {
    let exe = Path::new(env!("CARGO_BIN_EXE_sixfold"));
    exe.parent().and_then(Path::parent).map_or_else(
        || repo_root().join("target/image-debs"),
        |t| t.join("image-debs"),
    )
}

impl Drop for Podman {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = self.run(
                &["rm", "--force", "--time", "0", c],
                Duration::from_secs(60),
            );
        }
        let _ = self.run(&["rmi", "--all", "--force"], Duration::from_secs(60));
        remove_cgroups(&self.cgroup_parent);
        // The storage dir (vfs: plain directories) goes with the TempDir.
    }
}

/// The cgroup dirs podman made under `parent` in every controller, deepest first.
pub fn remove_cgroups(parent: &str) {
    let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for c in controllers.flatten() {
        let root = c.path().join(parent.trim_start_matches('/'));
        let mut dirs = Vec::new();
        let mut stack = vec![root];
        while let Some(d) = stack.pop() {
            if let Ok(rd) = std::fs::read_dir(&d) {
                stack.extend(rd.flatten().filter(|e| e.path().is_dir()).map(|e| e.path()));
                dirs.push(d);
            }
        }
        for d in dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// What the test changes in a DaemonSet container to run it here.
#[derive(Default)]
pub struct Overrides<'a> {
    /// Env vars not passed (e.g. IRSA's, when the test gives a credentials file instead).
    pub drop_env: &'a [&'a str],
    /// Env vars set in place of the container's (name, value).
    pub set_env: Vec<(String, String)>,
    /// Arguments appended to the container's.
    pub extra_args: Vec<String>,
    /// Extra read-only mounts (`host path`, `container path`).
    pub extra_mounts: Vec<(PathBuf, String)>,
}

/// `podman run` arguments (after `run`) for container `c` of DaemonSet `ds`: the network
/// namespace `netns` as the node's network (host networking), every host-path volume from
/// `host_root` + its path, and the container's command, env and security context.
/// Projected volumes (the IRSA token) are not mounted; their env is dropped by `o`.
pub fn run_args(
    ds: &Value,
    c: &Value,
    netns: &str,
    host_root: &Path,
    image: &str,
    cgroup_parent: &str,
    o: &Overrides,
) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--network".into(),
        format!("ns:/run/netns/{netns}"),
        "--cgroup-parent".into(),
        cgroup_parent.into(),
        // This machine withholds CAP_SYS_RESOURCE: keep the limits within the current ones.
        "--ulimit".into(),
        "nofile=1024:1024".into(),
        "--ulimit".into(),
        "nproc=1024:1024".into(),
    ];
    let sc = &c["securityContext"];
    if sc["privileged"] == true {
        a.push("--privileged".into());
    }
    if sc["readOnlyRootFilesystem"] == true {
        a.push("--read-only".into());
    }
    if sc["allowPrivilegeEscalation"] == false {
        a.extend(["--security-opt".into(), "no-new-privileges".into()]);
    }
    if let Some(uid) = sc["runAsUser"].as_u64() {
        a.extend(["--user".into(), uid.to_string()]);
    }
    for cap in strings(&sc["capabilities"]["drop"]) {
        a.extend(["--cap-drop".into(), cap]);
    }
    for cap in strings(&sc["capabilities"]["add"]) {
        a.extend(["--cap-add".into(), cap]);
    }
    for e in c["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().expect("env name");
        if o.drop_env.contains(&name) || o.set_env.iter().any(|(n, _)| n == name) {
            continue;
        }
        let value = e["value"]
            .as_str()
            .unwrap_or_else(|| panic!("env {name} has no plain value; teach the test"));
        a.extend(["--env".into(), format!("{name}={value}")]);
    }
    for (name, value) in &o.set_env {
        a.extend(["--env".into(), format!("{name}={value}")]);
    }
    for m in c["volumeMounts"].as_array().into_iter().flatten() {
        let v = volume(ds, m["name"].as_str().expect("mount name"));
        let Some(host) = v["hostPath"]["path"].as_str() else {
            assert!(v["projected"].is_object(), "unexpected volume kind: {v}");
            continue;
        };
        let dir = host_root.join(host.trim_start_matches('/'));
        std::fs::create_dir_all(&dir).expect("host dir");
        let mut opts = vec![];
        if m["readOnly"] == true {
            opts.push("ro");
        }
        if m["mountPropagation"] == "HostToContainer" {
            opts.push("rslave");
        }
        let spec = format!(
            "{}:{}{}{}",
            dir.display(),
            m["mountPath"].as_str().expect("mountPath"),
            if opts.is_empty() { "" } else { ":" },
            opts.join(",")
        );
        a.extend(["--volume".into(), spec]);
    }
    for (host, path) in &o.extra_mounts {
        a.extend(["--volume".into(), format!("{}:{path}:ro", host.display())]);
    }
    let mut argv = strings(&c["command"]);
    argv.extend(strings(&c["args"]));
    argv.extend(o.extra_args.iter().cloned());
    assert!(!argv.is_empty(), "container {} has no command", c["name"]);
    a.extend(["--entrypoint".into(), argv[0].clone(), image.into()]);
    a.extend(argv[1..].iter().cloned());
    a
}

/// The one node of a test's region.
pub struct OneNode {
    pub instance_id: String,
    pub eni_id: String,
    pub eni_v4: Ipv4Addr,
    pub subnet_id: String,
    pub subnet_v6: Ipv6Net,
}

/// The region's VPC, subnet and one instance.
pub fn one_instance(region: &crate::common::Server) -> OneNode {
    let vpc = region
        .aws(&[
            "ec2",
            "create-vpc",
            "--cidr-block",
            "10.0.0.0/16",
            "--amazon-provided-ipv6-cidr-block",
        ])
        .json();
    let v56: Ipv6Net = s(&vpc["Vpc"]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"])
        .parse()
        .expect("VPC IPv6 block");
    let subnet_v6 = Ipv6Net::new(v56.network(), 64).expect("a /64");
    let sub = region
        .aws(&[
            "ec2",
            "create-subnet",
            "--vpc-id",
            &s(&vpc["Vpc"]["VpcId"]),
            "--cidr-block",
            "10.0.1.0/24",
            "--ipv6-cidr-block",
            &subnet_v6.to_string(),
            "--availability-zone",
            "us-east-1a",
        ])
        .json();
    let run = region
        .aws(&[
            "ec2",
            "run-instances",
            "--image-id",
            "ami-0123456789abcdef0",
            "--instance-type",
            "m5.large",
            "--subnet-id",
            &s(&sub["Subnet"]["SubnetId"]),
        ])
        .json();
    let inst = &run["Instances"][0];
    let eni = &inst["NetworkInterfaces"][0];
    OneNode {
        instance_id: s(&inst["InstanceId"]),
        eni_id: s(&eni["NetworkInterfaceId"]),
        eni_v4: s(&eni["PrivateIpAddress"]).parse().expect("ENI IPv4"),
        subnet_id: s(&sub["Subnet"]["SubnetId"]),
        subnet_v6,
    }
}

/// The IPv6 CNI policy (docs/node.md, step 2).
pub const IPV6_CNI_POLICY: &str = r#"{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": ["ec2:AssignIpv6Addresses", "ec2:DescribeInstances",
    "ec2:DescribeTags", "ec2:DescribeNetworkInterfaces", "ec2:DescribeInstanceTypes"],
   "Resource": "*"},
  {"Effect": "Allow", "Action": ["ec2:CreateTags"],
   "Resource": ["arn:aws:ec2:*:*:network-interface/*"]}]}"#;

/// IRSA in the region, as docs/node.md's steps set it up on AWS: an ipv6 cluster `c` on the
/// node's subnet (its OIDC issuer), the issuer as an IAM OIDC provider, the role `role_name`
/// trusting only `system:serviceaccount:kube-system:aws-node` (no policy yet: see
/// [`attach_ipv6_policy`]), and the service-account token the kubelet would project, minted
/// with `sixfold token` into `token_dir/token`. Returns the role's ARN.
pub fn irsa(
    region: &crate::common::Server,
    netns: &str,
    subnet_id: &str,
    role_name: &str,
    token_dir: &Path,
) -> String {
    let c = crate::common::net::ipv6_cluster_on(region, "c", subnet_id);
    let issuer = s(&c["identity"]["oidc"]["issuer"]);
    let provider = issuer
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .to_owned();
    let made = region
        .aws(&[
            "iam",
            "create-open-id-connect-provider",
            "--url",
            &issuer,
            "--client-id-list",
            "sts.amazonaws.com",
        ])
        .json();
    let provider_arn = s(&made["OpenIDConnectProviderArn"]);
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            format!("{provider}:sub"): "system:serviceaccount:kube-system:aws-node",
            format!("{provider}:aud"): "sts.amazonaws.com"}}}]})
    .to_string();
    let role = region
        .aws(&[
            "iam",
            "create-role",
            "--role-name",
            role_name,
            "--assume-role-policy-document",
            &trust,
        ])
        .json();
    let mut cmd = Command::new("ip");
    cmd.args([
        "netns",
        "exec",
        netns,
        env!("CARGO_BIN_EXE_sixfold"),
        "token",
    ])
    .args(["--cluster", "c", "--namespace", "kube-system"])
    .args(["--service-account", "aws-node"])
    .args(["--endpoint-url", &region.endpoint, "--region", "us-east-1"])
    .args(["--profile", "sixfold", "--credentials-file"])
    .arg(region.data_dir.join("credentials"))
    .env("SIXFOLD_LOG", "warn");
    let out = crate::node_lab::run_cmd(cmd, b"");
    assert!(out.ok(), "sixfold token failed: {}", out.stderr);
    std::fs::create_dir_all(token_dir).expect("token dir");
    std::fs::write(token_dir.join("token"), out.stdout.trim()).expect("token file");
    s(&role["Role"]["Arn"])
}

/// Give `role_name` the IPv6 CNI policy (inline), as docs/node.md's step 3 does.
pub fn attach_ipv6_policy(region: &crate::common::Server, role_name: &str) {
    region
        .aws(&[
            "iam",
            "put-role-policy",
            "--role-name",
            role_name,
            "--policy-name",
            "ipv6-cni",
            "--policy-document",
            IPV6_CNI_POLICY,
        ])
        .json();
}
