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

#[cfg(test)]
impl Request {
    /// A STATUS request with the configuration `conf`, for the plugins' configuration tests.
    pub(crate) fn status_with(conf: Value) -> Request {
        let env =
            crate::env::Env::parse(|k| (k == "CNI_COMMAND").then(|| "STATUS".to_string())).unwrap();
        Request {
            env,
            conf: crate::config::NetConf::parse(conf.to_string().as_bytes()).unwrap(),
        }
    }
}

/// A CNI plugin: one method per command. VERSION is answered by the harness.
pub trait Plugin {
    /// The plugin's CNI `type` (its binary's name); a configuration naming another type is
    /// refused before any method runs.
    fn type_name(&self) -> &'static str;
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

/// The configuration's `type` must name this plugin: its own name, or the name it was
/// started under (runtimes exec `CNI_PATH/<type>`, so an installed alias is fine).
fn check_type(plugin: &dyn Plugin, invoked_as: Option<&str>, conf: &NetConf) -> Result<(), Error> {
    let got = conf.plugin_type.as_str();
    if got == plugin.type_name() || invoked_as == Some(got) {
        return Ok(());
    }
    Err(Error::InvalidConfig(format!(
        "`type` {got:?} does not name this plugin ({}); a runtime runs the binary named by `type`, so fix the conflist entry",
        plugin.type_name()
    )))
}

/// Run one invocation without touching the process (testable).
pub fn dispatch(
    plugin: &dyn Plugin,
    get_env: impl Fn(&str) -> Option<String>,
    stdin: &[u8],
) -> Outcome {
    dispatch_as(plugin, None, get_env, stdin)
}

/// [`dispatch`] for a binary started as `invoked_as` (the file name of `argv[0]`).
pub fn dispatch_as(
    plugin: &dyn Plugin,
    invoked_as: Option<&str>,
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
        // Absent is fine (VERSION needs nothing), but an empty string is no version.
        if requested.as_deref() == Some("") {
            return fail(Error::IncompatibleVersion { got: String::new() });
        }
        return Outcome {
            stdout: json_line(&version_answer(requested.as_deref())),
            exit_code: 0,
        };
    }
    let conf = match dataplane::trace::span(
        || "parse the configuration".into(),
        || NetConf::parse(stdin),
    ) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Err(e) = check_type(plugin, invoked_as, &conf) {
        return fail(e);
    }
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
    let t_start = dataplane::trace::monotonic_s();
    let mut stdin = Vec::new();
    let outcome = match std::io::stdin().read_to_end(&mut stdin) {
        Ok(_) => {
            let argv0 = std::env::args_os().next();
            let invoked_as = argv0
                .as_deref()
                .map(std::path::Path::new)
                .and_then(std::path::Path::file_name)
                .and_then(|n| n.to_str());
            dispatch_as(plugin, invoked_as, |k| std::env::var(k).ok(), &stdin)
        }
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
    if dataplane::trace::enabled() {
        let command = std::env::var("CNI_COMMAND").unwrap_or_default();
        dataplane::trace::flush(&format!("{} {command}", plugin.type_name()), t_start);
    }
    std::process::exit(outcome.exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fake;
    impl Plugin for Fake {
        fn type_name(&self) -> &'static str {
            "fake"
        }
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
        let (v, _) = run(
            "CHECK",
            r#"{"cniVersion":"0.4.0","name":"n","type":"fake"}"#,
        );
        assert_eq!(
            (v["cniVersion"].as_str(), v["code"].as_u64()),
            (Some("0.4.0"), Some(1000))
        );
        assert!(v["msg"].as_str().unwrap().contains("route ::/0"));
    }

    #[test]
    fn commands_missing_from_old_versions_are_incompatible() {
        assert_eq!(
            run(
                "CHECK",
                r#"{"cniVersion":"0.3.1","name":"n","type":"fake"}"#
            )
            .0["code"],
            1
        );
        assert_eq!(
            run(
                "STATUS",
                r#"{"cniVersion":"1.0.0","name":"n","type":"fake"}"#
            )
            .0["code"],
            1
        );
        assert_eq!(
            run("GC", r#"{"cniVersion":"1.0.0","name":"n","type":"fake"}"#).0["code"],
            1
        );
        assert_eq!(
            run(
                "STATUS",
                r#"{"cniVersion":"1.1.0","name":"n","type":"fake"}"#
            )
            .1,
            0
        );
    }

    #[test]
    fn add_answers_in_the_config_version() {
        let (v, code) = run("ADD", r#"{"cniVersion":"0.3.1","name":"n","type":"fake"}"#);
        assert_eq!((code, v["cniVersion"].as_str()), (0, Some("0.3.1")));
    }

    #[test]
    fn a_type_naming_another_plugin_is_refused() {
        let (v, code) = run(
            "ADD",
            r#"{"cniVersion":"1.0.0","name":"n","type":"bridge"}"#,
        );
        assert_eq!((code, v["code"].as_u64()), (1, Some(7)), "{v}");
        assert!(v["msg"].as_str().unwrap().contains("bridge"), "{v}");
        let env = |k: &str| (k == "CNI_COMMAND").then(|| "STATUS".to_string());
        let stdin = br#"{"cniVersion":"1.1.0","name":"n","type":"alias"}"#;
        assert_eq!(dispatch_as(&Fake, Some("alias"), env, stdin).exit_code, 0);
    }

    #[test]
    fn version_with_an_empty_cni_version_is_refused() {
        let (v, code) = run("VERSION", r#"{"cniVersion":""}"#);
        assert_eq!((code, v["code"].as_u64()), (1, Some(1)), "{v}");
    }
}
