//! The Kubernetes manifests in `deploy/kubernetes/`, loaded as JSON (with the venv's Python and
//! PyYAML, which `kubernetes-validate` brings), and the tools that check them. A missing tool is
//! a failure that says how to install it, never a skip.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// `deploy/kubernetes/`.
pub fn manifest_dir() -> PathBuf {
    repo_root().join("deploy/kubernetes")
}

/// Every manifest file, sorted.
pub fn manifest_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(manifest_dir())
        .expect("deploy/kubernetes exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifests in deploy/kubernetes");
    files
}

/// A tool of the venv: `$PATH` first, then `<repo>/.venv/bin`. Missing → panic with the fix.
pub fn venv_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([repo_root().join(".venv/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed: the manifest tests need kubernetes-validate (PyPI) in \
                 ./.venv; run `scripts/install-deps --tests` (or \
                 `.venv/bin/pip install kubernetes-validate`)"
            )
        })
}

/// The venv's Python (the one kubernetes-validate is installed in, so PyYAML is there).
pub fn venv_python() -> PathBuf {
    let validate = venv_tool("kubernetes-validate");
    let python = validate.with_file_name("python3");
    assert!(
        python.is_file(),
        "{} has no python3 beside it: install kubernetes-validate into a venv (scripts/install-deps --tests)",
        validate.display()
    );
    python
}

/// Every document of every manifest file, as JSON.
pub fn load_all() -> Vec<Value> {
    let mut cmd = Command::new(venv_python());
    cmd.args([
        "-c",
        "import json, sys, yaml\n\
         docs = [d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d is not None]\n\
         print(json.dumps(docs))",
    ])
    .args(manifest_files());
    let out = dataplane::exec::run(cmd, b"", Duration::from_secs(30)).expect("python runs");
    assert!(
        out.status.success(),
        "loading the manifests failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout).expect("JSON from python") {
        Value::Array(docs) => docs,
        v => panic!("not a list of documents: {v}"),
    }
}

/// The one document of `kind`.
pub fn find(docs: &[Value], kind: &str) -> Value {
    let mut of_kind = docs.iter().filter(|d| d["kind"] == kind);
    let doc = of_kind
        .next()
        .unwrap_or_else(|| panic!("no {kind} in deploy/kubernetes"))
        .clone();
    assert!(of_kind.next().is_none(), "more than one {kind}");
    doc
}

/// The container `name` of the DaemonSet (`containers` or `initContainers`).
pub fn container(ds: &Value, list: &str, name: &str) -> Value {
    ds["spec"]["template"]["spec"][list]
        .as_array()
        .unwrap_or_else(|| panic!("the DaemonSet has no {list}"))
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("the DaemonSet has no {list} entry {name}"))
        .clone()
}

/// Strings of a JSON array (`command`, `args`).
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

/// The value following `flag` in `args`.
pub fn flag(args: &[String], name: &str) -> String {
    let i = args
        .iter()
        .position(|a| a == name)
        .unwrap_or_else(|| panic!("{name} is not among {args:?}"));
    args.get(i + 1)
        .unwrap_or_else(|| panic!("{name} has no value in {args:?}"))
        .clone()
}

/// A container's env var (plain `value` only).
pub fn env(c: &Value, name: &str) -> Option<String> {
    c["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str().map(str::to_owned))
}

/// The DaemonSet's volume `name`.
pub fn volume(ds: &Value, name: &str) -> Value {
    ds["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no volume {name}"))
        .clone()
}

/// The container's mount that holds `path` (the longest mount path that is a prefix of it),
/// with its volume.
pub fn mount_of(ds: &Value, c: &Value, path: &str) -> (Value, Value) {
    let m = c["volumeMounts"]
        .as_array()
        .expect("volumeMounts")
        .iter()
        .filter(|m| Path::new(path).starts_with(m["mountPath"].as_str().expect("mountPath")))
        .max_by_key(|m| m["mountPath"].as_str().map_or(0, str::len))
        .unwrap_or_else(|| panic!("{path} is not on any volume of {}", c["name"]))
        .clone();
    let v = volume(ds, m["name"].as_str().expect("mount name"));
    (m, v)
}
