//! The real AWS CLI as the end-to-end suites drive it: finding the binary (missing it fails,
//! never skips) and reading the JSON it prints.

use std::path::PathBuf;

use serde_json::Value;

/// The AWS CLI: `$SIXFOLD_AWS`, else `aws` on `PATH`. Missing it is a failure, never a skip.
pub fn aws_binary() -> PathBuf {
    if let Ok(p) = std::env::var("SIXFOLD_AWS") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let c = dir.join("aws");
        if c.is_file() {
            return c;
        }
    }
    panic!(
        "the AWS CLI (`aws`) is not on PATH: these tests drive the region with the real AWS CLI. Run `bash .ci/run`, or `python3 -m venv .venv && .venv/bin/pip install awscli` and put .venv/bin on PATH"
    );
}

/// The string at `v` (an id, an ARN, a CIDR of a CLI answer); panics naming `v` otherwise.
pub fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}
