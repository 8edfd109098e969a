//! The two SDK clients of the end-to-end tests, beside the AWS CLI of [`super::Server::aws`]:
//! boto3 (from the workspace's `.venv`) and the AWS SDK for JavaScript v3 (from
//! `tests/clients/node_modules`, installed by `scripts/install-deps --tests`). A test runs ONE
//! script of `tests/clients/` that drives many steps and prints one JSON document, so the cost of
//! starting Python or node is paid once per test. Scripts get the endpoint, the region's key and
//! their arguments (`SIXFOLD_ARGS`, JSON) in the environment; `lib.py` / `lib.mjs` build clients.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::{Cli, Server, run};

/// A script may drive many steps; the whole run must finish within this.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// `tests/clients/` of the workspace.
pub fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients")
}

/// The Python with boto3: `$SIXFOLD_PYTHON`, else the workspace's `.venv/bin/python3`.
/// Missing it is a failure, never a skip.
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("SIXFOLD_PYTHON") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python3");
    assert!(
        p.exists(),
        "{} is missing: the boto3 tests need the workspace venv; run `scripts/install-deps --tests`",
        p.display()
    );
    p
}

/// `node`, with the SDK installed under `tests/clients/node_modules`. Missing either is a failure.
pub fn node() -> PathBuf {
    let sdk = clients_dir().join("node_modules/@aws-sdk/client-ec2");
    assert!(
        sdk.exists(),
        "{} is missing: the JS SDK tests need `scripts/install-deps --tests` (npm ci in tests/clients)",
        sdk.display()
    );
    PathBuf::from(std::env::var("SIXFOLD_NODE").unwrap_or_else(|_| "node".into()))
}

/// Which SDK runs a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sdk {
    Boto3,
    Js,
}

impl Sdk {
    pub const ALL: [Sdk; 2] = [Sdk::Boto3, Sdk::Js];

    /// The script file for `name` (`smoke` → `smoke.py` / `smoke.mjs`).
    pub fn script(self, name: &str) -> PathBuf {
        clients_dir().join(match self {
            Sdk::Boto3 => format!("{name}.py"),
            Sdk::Js => format!("{name}.mjs"),
        })
    }
}

impl Server {
    /// Run `tests/clients/<name>.{py,mjs}` with `sdk` against this server, `args` in
    /// `SIXFOLD_ARGS`; return the JSON it printed. Panics (with stderr) when the script fails.
    pub fn sdk(&self, sdk: Sdk, name: &str, args: &Value) -> Value {
        let out = self.sdk_raw(sdk, name, args);
        assert_eq!(
            out.code, 0,
            "{sdk:?} script {name} failed:\n{}\n{}",
            out.stdout, out.stderr
        );
        serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "{sdk:?} script {name} printed no JSON ({e}):\n{}\n{}",
                out.stdout, out.stderr
            )
        })
    }

    /// As [`Server::sdk`], without judging the outcome.
    pub fn sdk_raw(&self, sdk: Sdk, name: &str, args: &Value) -> Cli {
        let script = sdk.script(name);
        assert!(script.exists(), "no script {}", script.display());
        let mut cmd = match sdk {
            Sdk::Boto3 => Command::new(python()),
            Sdk::Js => Command::new(node()),
        };
        let creds = self.credentials();
        cmd.arg(&script)
            .current_dir(clients_dir())
            .env("SIXFOLD_ENDPOINT", &self.endpoint)
            .env("SIXFOLD_ARGS", args.to_string())
            .env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &creds.secret_access_key)
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        run(cmd, SCRIPT_TIMEOUT)
    }
}
