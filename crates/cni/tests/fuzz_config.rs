//! Property harness for the CNI configuration parser and the plugin harness: whatever a runtime
//! writes on stdin (the checked-in corpus in `tests/corpus/config.txt`, random bytes, and
//! mutations of a valid configuration), the harness answers one JSON line — a result or a CNI
//! error with a spec code and a message — and never panics. Both plugins' own fields are parsed
//! too (`PodConf::from_req`, `EgressConf::from_req`); nothing touches the dataplane, so this runs
//! unprivileged and in well under a second.

use cni::egress::EgressConf;
use cni::error::Error;
use cni::pod::PodConf;
use cni::skel::{Outcome, Plugin, Request, dispatch};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Parses the plugin-specific fields of both real plugins and stops there.
struct ParseOnly;

impl Plugin for ParseOnly {
    fn type_name(&self) -> &'static str {
        "sixfold-cni"
    }
    fn add(&self, req: &Request) -> Result<Value, Error> {
        PodConf::from_req(req)?;
        EgressConf::from_req(req)?;
        Ok(json!({"cniVersion": req.conf.cni_version.as_str()}))
    }
    fn del(&self, req: &Request) -> Result<(), Error> {
        PodConf::from_req(req).map(|_| ())
    }
    fn check(&self, req: &Request) -> Result<(), Error> {
        EgressConf::from_req(req).map(|_| ())
    }
    fn status(&self, _: &Request) -> Result<(), Error> {
        Ok(())
    }
    fn gc(&self, _: &Request) -> Result<(), Error> {
        Ok(())
    }
}

fn run(command: &str, stdin: &[u8]) -> Outcome {
    let env = |k: &str| -> Option<String> {
        match k {
            "CNI_COMMAND" => Some(command.into()),
            "CNI_CONTAINERID" => Some("fuzz".into()),
            "CNI_NETNS" => Some("/var/run/netns/fuzz".into()),
            "CNI_IFNAME" => Some("eth0".into()),
            "CNI_PATH" => Some("/usr/lib/cni".into()),
            _ => None,
        }
    };
    dispatch(&ParseOnly, env, stdin)
}

/// One JSON line on stdout (or nothing, for a successful DEL/CHECK/STATUS/GC); an error has a
/// CNI code (1–11, or 100+ for plugin-specific, 999 never for parsing) and a message.
fn assert_well_formed(input: &[u8], command: &str, out: &Outcome) {
    let shown = String::from_utf8_lossy(&input[..input.len().min(200)]).into_owned();
    if out.exit_code == 0 && out.stdout.is_empty() {
        return;
    }
    assert!(
        out.stdout.ends_with('\n') && out.stdout.matches('\n').count() == 1,
        "{command} {shown:?}: not one line: {:?}",
        out.stdout
    );
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{command} {shown:?}: stdout is not JSON ({e}): {:?}",
            out.stdout
        )
    });
    if out.exit_code != 0 {
        let code = v["code"]
            .as_u64()
            .unwrap_or_else(|| panic!("{command} {shown:?}: no code: {v}"));
        assert!(
            (1..=11).contains(&code) || (100..999).contains(&code),
            "{command} {shown:?}: code {code} is not a configuration error: {v}"
        );
        assert!(
            v["msg"].as_str().is_some_and(|m| !m.is_empty()),
            "{command} {shown:?}: no msg: {v}"
        );
    }
}

fn check_all_commands(input: &[u8]) {
    for command in ["ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION"] {
        let out = run(command, input);
        assert_well_formed(input, command, &out);
    }
}

#[test]
fn every_corpus_configuration_gets_one_well_formed_answer() {
    let corpus = include_str!("corpus/config.txt");
    let mut n = 0;
    for line in corpus.lines().filter(|l| !l.starts_with('#')) {
        check_all_commands(line.as_bytes());
        n += 1;
    }
    assert!(n >= 25, "the corpus lost its entries ({n})");
}

#[test]
fn deeply_nested_json_is_refused_not_a_stack_overflow() {
    let deep = "[".repeat(100_000);
    check_all_commands(deep.as_bytes());
    let deep_prev = format!(
        r#"{{"cniVersion":"1.0.0","name":"n","type":"sixfold-cni","prevResult":{}}}"#,
        "{\"a\":".repeat(5_000)
    );
    check_all_commands(deep_prev.as_bytes());
}

/// Mutations of a valid configuration: any member set to any JSON value.
fn member_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        Just(json!("1.0.0")),
        Just(json!("2001:db8::1/128")),
        Just(json!("host-local")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const MEMBERS: &[&str] = &[
    "cniVersion",
    "name",
    "type",
    "prevResult",
    "cni.dev/valid-attachments",
    "mtu",
    "agentSocket",
    "nodeIP",
    "randomizeSNAT",
    "ipam",
    "ifname",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_get_one_well_formed_answer(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        check_all_commands(&bytes);
    }

    #[test]
    fn mutated_configurations_get_one_well_formed_answer(
        changes in prop::collection::vec((prop::sample::select(MEMBERS), member_value()), 1..4)
    ) {
        let mut conf = json!({
            "cniVersion": "1.0.0",
            "name": "sixfold",
            "type": "sixfold-cni",
            "mtu": 9001,
            "nodeIP": "10.0.0.5",
            "ipam": {"type": "host-local", "ranges": [[{"subnet": "169.254.172.0/22"}]]}
        });
        for (member, value) in changes {
            conf[member] = value;
        }
        check_all_commands(conf.to_string().as_bytes());
    }
}
