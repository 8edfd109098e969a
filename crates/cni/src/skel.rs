//! The plugin harness (like CNI's `skel`): parse the environment and stdin, build a
//! [`Request`], call exactly one [`Plugin`] method, and turn the outcome into stdout + exit
//! code. Errors become CNI error JSON here and nowhere else.
use std::io::{Read, Write};

use serde_json::{Value, json};

use crate::config::{NetConf, peek_version};
use crate::env::{Command, Env};
use crate::error::Error;
use crate::version::CniVersion;

/// One invocation's input.
#[derive(Debug, Clone)]
pub struct Request {
    pub env: Env,
    pub conf: NetConf,
}

/// A CNI plugin: one method per command. VERSION is answered by the harness.
pub trait Plugin {
    /// ADD: returns the result JSON, already shaped for `req.conf.cni_version`.
    fn add(&self, req: &Request) -> Result<Value, Error>;
    /// DEL: must succeed when things are already gone.
    fn del(&self, req: &Request) -> Result<(), Error>;
    /// CHECK: compare `prevResult` with reality.
    fn check(&self, req: &Request) -> Result<(), Error>;
    /// STATUS: is the plugin ready for ADD?
    fn status(&self, req: &Request) -> Result<(), Error>;
    /// GC: release everything not in `cni.dev/valid-attachments`.
    fn gc(&self, req: &Request) -> Result<(), Error>;
}

/// What to print and how to exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: String,
    pub exit_code: i32,
}

/// The VERSION answer for a requested version string (answers in it when supported).
pub fn version_answer(requested: Option<&str>) -> Value {
    let v = requested
        .and_then(CniVersion::parse)
        .unwrap_or(CniVersion::LATEST);
    json!({"cniVersion": v.as_str(), "supportedVersions": CniVersion::supported_strings()})
}

/// Run one invocation without touching the process (testable).
pub fn dispatch(
    plugin: &dyn Plugin,
    get_env: impl Fn(&str) -> Option<String>,
    stdin: &[u8],
) -> Outcome {
    let requested = peek_version(stdin);
    let err_version = requested
        .as_deref()
        .and_then(CniVersion::parse)
        .unwrap_or(CniVersion::LATEST);
    let fail = |e: Error| Outcome {
        stdout: json_line(&serde_json::to_value(e.to_cni(err_version)).unwrap_or(Value::Null)),
        exit_code: 1,
    };
    let env = match Env::parse(get_env) {
        Ok(env) => env,
        Err(e) => return fail(e),
    };
    if env.command == Command::Version {
        return Outcome {
            stdout: json_line(&version_answer(requested.as_deref())),
            exit_code: 0,
        };
    }
    let conf = match NetConf::parse(stdin) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let version = conf.cni_version;
    let too_old = |command: &'static str, needs: &'static str| Error::CommandNotInVersion {
        command,
        version,
        needs,
    };
    let req = Request { env, conf };
    let res = match req.env.command {
        Command::Add => plugin.add(&req).map(Some),
        Command::Del => plugin.del(&req).map(|_| None),
        Command::Check if !version.has_check() => Err(too_old("CHECK", "0.4.0")),
        Command::Check => plugin.check(&req).map(|_| None),
        Command::Status if !version.has_status_and_gc() => Err(too_old("STATUS", "1.1.0")),
        Command::Status => plugin.status(&req).map(|_| None),
        Command::Gc if !version.has_status_and_gc() => Err(too_old("GC", "1.1.0")),
        Command::Gc => plugin.gc(&req).map(|_| None),
        Command::Version => Ok(None),
    };
    match res {
        Ok(Some(v)) => Outcome {
            stdout: json_line(&v),
            exit_code: 0,
        },
        Ok(None) => Outcome {
            stdout: String::new(),
            exit_code: 0,
        },
        Err(e) => Outcome {
            stdout: json_line(&serde_json::to_value(e.to_cni(version)).unwrap_or(Value::Null)),
            exit_code: 1,
        },
    }
}

fn json_line(v: &Value) -> String {
    let mut s = v.to_string();
    s.push('\n');
    s
}

/// The whole `main` of a plugin binary: read stdin, dispatch, print, exit.
pub fn main(plugin: &dyn Plugin) -> ! {
    let mut stdin = Vec::new();
    let outcome = match std::io::stdin().read_to_end(&mut stdin) {
        Ok(_) => dispatch(plugin, |k| std::env::var(k).ok(), &stdin),
        Err(source) => {
            let e = Error::Io {
                what: "reading the configuration from stdin".into(),
                source,
            };
            Outcome {
                stdout: json_line(
                    &serde_json::to_value(e.to_cni(CniVersion::LATEST)).unwrap_or(Value::Null),
                ),
                exit_code: 1,
            }
        }
    };
    let mut out = std::io::stdout().lock();
    // Nothing sensible is left to do if stdout is closed: the exit code still tells.
    let _ = out.write_all(outcome.stdout.as_bytes());
    let _ = out.flush();
    std::process::exit(outcome.exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fake;
    impl Plugin for Fake {
        fn add(&self, req: &Request) -> Result<Value, Error> {
            Ok(crate::result::CniResult::default().to_json(req.conf.cni_version))
        }
        fn del(&self, _: &Request) -> Result<(), Error> {
            Ok(())
        }
        fn check(&self, _: &Request) -> Result<(), Error> {
            Err(Error::CheckFailed(vec!["route ::/0".into()]))
        }
        fn status(&self, _: &Request) -> Result<(), Error> {
            Ok(())
        }
        fn gc(&self, _: &Request) -> Result<(), Error> {
            Ok(())
        }
    }

    fn run(cmd: &str, stdin: &str) -> (Value, i32) {
        let env: HashMap<&str, &str> = [
            ("CNI_COMMAND", cmd),
            ("CNI_CONTAINERID", "c1"),
            ("CNI_NETNS", "/run/netns/x"),
            ("CNI_IFNAME", "eth0"),
        ]
        .into();
        let o = dispatch(
            &Fake,
            |k| env.get(k).map(|s| s.to_string()),
            stdin.as_bytes(),
        );
        (
            if o.stdout.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&o.stdout).unwrap()
            },
            o.exit_code,
        )
    }

    #[test]
    fn version_needs_only_cni_version() {
        let (v, code) = run("VERSION", r#"{"cniVersion":"1.0.0"}"#);
        assert_eq!(code, 0);
        assert_eq!(v["cniVersion"], "1.0.0");
        assert_eq!(
            v["supportedVersions"],
            json!(["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
        );
        let (v, _) = run("VERSION", "");
        assert_eq!(v["cniVersion"], "1.1.0");
    }

    #[test]
    fn malformed_stdin_is_a_decode_error() {
        let (v, code) = run("ADD", "{oops");
        assert_eq!(code, 1);
        assert_eq!(v["code"], 6);
        assert_eq!(v["cniVersion"], "1.1.0");
    }

    #[test]
    fn errors_answer_in_the_config_version() {
        let (v, _) = run("CHECK", r#"{"cniVersion":"0.4.0","name":"n"}"#);
        assert_eq!(
            (v["cniVersion"].as_str(), v["code"].as_u64()),
            (Some("0.4.0"), Some(1000))
        );
        assert!(v["msg"].as_str().unwrap().contains("route ::/0"));
    }

    #[test]
    fn commands_missing_from_old_versions_are_incompatible() {
        assert_eq!(
            run("CHECK", r#"{"cniVersion":"0.3.1","name":"n"}"#).0["code"],
            1
        );
        assert_eq!(
            run("STATUS", r#"{"cniVersion":"1.0.0","name":"n"}"#).0["code"],
            1
        );
        assert_eq!(
            run("GC", r#"{"cniVersion":"1.0.0","name":"n"}"#).0["code"],
            1
        );
        assert_eq!(run("STATUS", r#"{"cniVersion":"1.1.0","name":"n"}"#).1, 0);
    }

    #[test]
    fn add_answers_in_the_config_version() {
        let (v, code) = run("ADD", r#"{"cniVersion":"0.3.1","name":"n"}"#);
        assert_eq!((code, v["cniVersion"].as_str()), (0, Some("0.3.1")));
    }
}
