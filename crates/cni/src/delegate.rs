//! Running a delegated IPAM plugin (host-local) found on `CNI_PATH`, the way libcni does:
//! same environment with `CNI_COMMAND` set, the configuration on stdin, the result on stdout.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::error::{CniError, Error, code};

/// How long an IPAM plugin may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Find `plugin` in the `CNI_PATH` directories.
pub fn find(plugin: &str, cni_path: &[PathBuf]) -> Result<PathBuf, Error> {
    if plugin.is_empty() || plugin.contains('/') {
        return Err(Error::InvalidConfig(format!(
            "ipam type {plugin:?} must be a plugin name, not a path"
        )));
    }
    cni_path.iter().map(|d| d.join(plugin)).find(|p| p.is_file()).ok_or_else(|| {
        Error::InvalidConfig(format!(
            "IPAM plugin {plugin:?} not found in CNI_PATH ({}); install it (Debian: containernetworking-plugins) or fix CNI_PATH",
            cni_path.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":")
        ))
    })
}

/// One delegated call. `overrides` replace `CNI_*` variables (e.g. for GC of other
/// attachments). Returns the plugin's stdout parsed as JSON (`None` when empty).
pub fn exec(
    binary: &Path,
    command: &str,
    overrides: &[(&str, &str)],
    stdin: &Value,
) -> Result<Option<Value>, Error> {
    let plugin = binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut cmd = Command::new(binary);
    cmd.env("CNI_COMMAND", command);
    for (k, v) in overrides {
        cmd.env(k, v);
    }
    let input = stdin.to_string();
    let out = dataplane::exec::run(cmd, input.as_bytes(), TIMEOUT).map_err(|e| Error::Ipam {
        plugin: plugin.clone(),
        code: code::INTERNAL,
        msg: e.to_string(),
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(match serde_json::from_str::<CniError>(text.trim()) {
            Ok(e) => Error::Ipam {
                plugin,
                code: e.code,
                msg: if e.details.is_empty() {
                    e.msg
                } else {
                    format!("{}: {}", e.msg, e.details)
                },
            },
            Err(_) => Error::Ipam {
                plugin,
                code: code::INTERNAL,
                msg: format!(
                    "exited with {} ({})",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            },
        });
    }
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text.trim())
        .map(Some)
        .map_err(|e| Error::Ipam {
            plugin,
            code: code::DECODE,
            msg: format!("answer is not JSON: {e}"),
        })
}
