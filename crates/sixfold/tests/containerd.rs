//! Root. A real CRI-level runtime on the node side: Debian's containerd, started by the test with
//! its own root, state, socket and config, inside a network namespace (the "node", where the
//! region and the real `sixfold agent` run too) and a private mount namespace in which temporary
//! dirs are bind-mounted over `/etc/cni/net.d` (the agent's conflist dir) and `/opt/cni/bin`
//! (the plugins), and a tmpfs over `/run` (containerd's shims and runc keep their sockets and
//! state there), so nothing of the host's is read or written. `ctr run --cni` then wires a
//! busybox container (imported from a podman-saved archive) with the conflist the agent wrote.
//!
//! Every process is ended by its PID (containerd; any shim it left), every dir, cgroup and
//! namespace removed, also when the test fails. A missing tool fails the test with the fix.

mod common;
#[path = "common/image.rs"]
mod image;
#[path = "common/manifests.rs"]
mod manifests;
#[path = "common/node_lab.rs"]
mod node_lab;
#[path = "common/node_parts.rs"]
mod node_parts;

use std::io::Read;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use image::{Podman, one_instance, remove_cgroups};
use ipnet::Ipv6Net;
use node_lab::{node_ns, require_root, run_cmd};
use node_parts::{Agent, plugin_dir, require_tool};

/// A containerd of this test, in `netns` and its own mount namespace. Ended by PID on drop.
struct Containerd {
    child: Child,
    dir: PathBuf,
    netns: String,
    /// The containerd namespace of the test's images and containers (and their cgroup parent).
    namespace: String,
}

impl Containerd {
    fn socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }

    /// `cni_conf` and `cni_bin` appear at `/etc/cni/net.d` and `/opt/cni/bin` inside.
    fn start(dir: &Path, netns: &str, cni_conf: &Path, cni_bin: &Path) -> Containerd {
        for d in ["root", "state", "opt"] {
            std::fs::create_dir_all(dir.join(d)).expect("containerd dir");
        }
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n\
                 # Not a kubelet's runtime here: ctr drives it; CRI would read its own CNI set-up.\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{sock}\"\n\
                 [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{opt}\"\n",
                root = dir.join("root").display(),
                state = dir.join("state").display(),
                sock = dir.join("containerd.sock").display(),
                opt = dir.join("opt").display(),
            ),
        )
        .expect("containerd config");
        let q = |p: &Path| format!("'{}'", p.display());
        // /run: a tmpfs of this mount namespace only (shim sockets, runc state); /opt: a tmpfs
        // too, since the host has no /opt/cni to mount over and must not get one.
        let script = format!(
            "set -e; mount -t tmpfs sixfold-run /run; mount --bind {conf} /etc/cni/net.d; \
             mount -t tmpfs sixfold-opt /opt; mkdir -p /opt/cni/bin; mount --bind {bin} /opt/cni/bin; \
             exec containerd --config {config}",
            conf = q(cni_conf),
            bin = q(cni_bin),
            config = q(&config),
        );
        let log = std::fs::File::create(dir.join("containerd.log")).expect("log");
        // nsenter and unshare exec (no fork), and the shell execs: the child's PID is containerd's.
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{netns}"))
            .args([
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn containerd");
        let c = Containerd {
            child,
            dir: dir.to_path_buf(),
            netns: netns.to_owned(),
            namespace: format!("sfctrd-{}", std::process::id()),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if c.socket().exists() && run_cmd(c.ctr(&["version"]), b"").ok() {
                return c;
            }
            assert!(
                Instant::now() < deadline,
                "containerd did not answer within 30 s:\n{}",
                c.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `ctr` against this containerd, in its mount and network namespaces (the CNI plugins that
    /// `ctr run --cni` executes see the bind-mounted dirs and act on the node namespace).
    fn ctr(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--mount=/proc/{}/ns/mnt", self.child.id()))
            .arg(format!("--net=/run/netns/{}", self.netns))
            .arg("ctr")
            .arg("--address")
            .arg(self.socket())
            .args(["--namespace", &self.namespace])
            .args(args);
        cmd
    }

    fn log(&self) -> String {
        let s = std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default();
        s[s.len().saturating_sub(6000)..].to_owned()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // SIGTERM, then SIGKILL if it lingers; both by PID.
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child's PID, which we have not reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Shims of this containerd (re-parented away from it): identified by our socket path.
        let sock = self.socket().display().to_string();
        if let Ok(procs) = std::fs::read_dir("/proc") {
            for p in procs.flatten() {
                let Ok(spid) = p.file_name().to_string_lossy().parse::<libc::pid_t>() else {
                    continue;
                };
                let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline);
                if cmdline.contains("containerd-shim") && cmdline.contains(&sock) {
                    // SAFETY: kill(2) on a shim our containerd started, matched by our socket.
                    unsafe { libc::kill(spid, libc::SIGKILL) };
                }
            }
        }
        remove_cgroups(&format!("/{}", self.namespace));
    }
}

/// A busybox image (the static Debian binary) built with podman and saved as an archive that
/// `ctr images import` reads. Returns the image name.
fn busybox_archive(pm: &Podman, busybox: &Path, out: &Path) -> String {
    let ctx = pm.dir.path().join("busybox");
    std::fs::create_dir_all(ctx.join("bin")).expect("context");
    std::fs::copy(busybox, ctx.join("bin/busybox")).expect("copy busybox");
    for applet in ["sh", "ip", "sleep", "cat"] {
        std::os::unix::fs::symlink("busybox", ctx.join("bin").join(applet)).expect("applet");
    }
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM scratch\nCOPY bin/ /bin/\nCMD [\"/bin/sh\"]\n",
    )
    .expect("Containerfile");
    let name = format!("localhost/sfbusybox-{}:t", std::process::id());
    let ctx_s = ctx.display().to_string();
    let b = pm.run(
        &["build", "--pull=never", "-t", &name, &ctx_s],
        Duration::from_secs(120),
    );
    assert!(b.ok(), "podman build busybox: {}", b.stderr);
    let out_s = out.display().to_string();
    let s = pm.run(
        &["save", "--format", "docker-archive", "-o", &out_s, &name],
        Duration::from_secs(60),
    );
    assert!(s.ok(), "podman save: {}", s.stderr);
    name
}

#[test]
fn containerd_runs_a_container_on_the_agents_conflist_and_removing_it_releases_the_address() {
    require_root();
    for (tool, pkg) in [
        ("containerd", "containerd"),
        ("ctr", "containerd"),
        ("containerd-shim-runc-v2", "containerd"),
        ("runc", "runc"),
        ("podman", "podman"),
        ("nsenter", "util-linux"),
        ("unshare", "util-linux"),
        ("nft", "nftables"),
    ] {
        require_tool(tool, pkg);
    }
    let busybox = require_tool("busybox", "busybox-static");
    let loopback = Path::new("/usr/lib/cni/loopback");
    let host_local = Path::new("/usr/lib/cni/host-local");
    assert!(
        loopback.is_file() && host_local.is_file(),
        "install containernetworking-plugins (scripts/install-deps)"
    );

    let ns = node_ns("ctrd");
    let dir = tempfile::tempdir().expect("tempdir");
    let region =
        common::Server::start_in_netns(&ns.name, &dir.path().join("region"), "127.0.0.1:0");
    let node = one_instance(&region);
    let subnet_v6 = node.subnet_v6;
    let agent = Agent::start(
        &ns.name,
        &dir.path().join("node"),
        &node.instance_id,
        &region,
    );
    let prefix: Ipv6Net = agent.status().prefix.parse().expect("prefix");
    assert_eq!(prefix.prefix_len(), 80);
    assert!(subnet_v6.contains(&prefix));
    assert!(agent.conf_dir.join("10-sixfold.conflist").is_file());

    // The node's /opt/cni/bin: the two plugins, host-local for the egress plugin, and loopback
    // (ctr's CNI library always adds a loopback network).
    let bin = dir.path().join("opt-cni-bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let plugins = plugin_dir();
    for (src, name) in [
        (plugins.join("sixfold-cni"), "sixfold-cni"),
        (plugins.join("sixfold-egress-cni"), "sixfold-egress-cni"),
        (host_local.to_path_buf(), "host-local"),
        (loopback.to_path_buf(), "loopback"),
    ] {
        std::os::unix::fs::symlink(&src, bin.join(name)).expect("plugin link");
    }

    let pm = Podman::new(&ns.name);
    let archive = dir.path().join("busybox.tar");
    let image = busybox_archive(&pm, &busybox, &archive);
    let ctrd = Containerd::start(
        &dir.path().join("containerd"),
        &ns.name,
        &agent.conf_dir,
        &bin,
    );
    let archive_s = archive.display().to_string();
    let imp = run_cmd(
        ctrd.ctr(&["images", "import", "--snapshotter", "native", &archive_s]),
        b"",
    );
    assert!(
        imp.ok(),
        "ctr images import: {}\n{}",
        imp.stderr,
        ctrd.log()
    );

    // The container: prints its interfaces, then lives a little so the test sees the allocation.
    let id = "pod1";
    let script = "ip -o -6 addr show dev eth0 scope global; ip -o link show v4if0; \
                  ip -o -4 addr show dev v4if0; sleep 3";
    let mut run = ctrd.ctr(&[
        "run",
        "--rm",
        "--cni",
        "--snapshotter",
        "native",
        &image,
        id,
        "sh",
        "-c",
        script,
    ]);
    let mut child = run
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ctr run");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = None;
    let status = loop {
        if seen.is_none()
            && let Some(a) = agent.list().into_iter().next()
        {
            seen = Some(a);
        }
        if let Ok(Some(st)) = child.try_wait() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ctr run did not finish within 60 s:\n{}", ctrd.log());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read");
    println!("container output:\n{out}");
    assert!(
        status.success(),
        "ctr run --cni failed ({status}):\n{out}\n{err}\ncontainerd:\n{}\nagent:\n{}",
        ctrd.log(),
        agent.log_tail()
    );

    // Its IPv6 /128 from the node's /80, and the egress interface.
    let addr: Ipv6Addr = out
        .split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .and_then(|a| a.strip_suffix("/128"))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no global /128 on eth0 in the container:\n{out}"));
    assert!(
        prefix.contains(&addr),
        "{addr} is not in the node's {prefix}"
    );
    assert!(out.contains("v4if0"), "no v4if0 in the container:\n{out}");
    assert!(
        out.contains("inet 169.254.17"),
        "v4if0 has a 169.254.172.0/22 address:\n{out}"
    );
    let held = seen.expect("the agent held the container's allocation while it ran");
    assert_eq!(
        held.address, addr,
        "the agent's allocation is the container's address"
    );
    assert_eq!(held.key.ifname, "eth0");
    assert!(held.key.container_id.ends_with(id), "{:?}", held.key);

    // `--rm` ran the CNI DEL: the address is released (cooling), the host side is gone.
    let st = agent.status();
    assert_eq!(
        (st.allocated, st.cooling),
        (0, 1),
        "released and cooling: {st:?}"
    );
    assert!(agent.list().is_empty());
    let links = ns.links();
    assert!(
        !links
            .iter()
            .any(|l| l.starts_with("eni") || l.starts_with("egr")),
        "host veths left behind: {links:?}"
    );
    let rm = run_cmd(ctrd.ctr(&["images", "rm", &image]), b"");
    assert!(rm.ok(), "ctr images rm: {}", rm.stderr);
}
