//! The binary as a runtime sees it, for what needs no netns and no agent: VERSION, the
//! error JSON and its codes, and the answers when the agent is unreachable.

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

/// An agent address where nothing listens.
const NO_AGENT: &str = r#""contrail":{"vrouter-port":1,"poll-timeout":0.01,"poll-retries":2}"#;

fn conf(version: &str) -> String {
    format!(r#"{{"cniVersion":"{version}","name":"vrouter-net","type":"vrouter-cni",{NO_AGENT}}}"#)
}

/// Runs the plugin with exactly these variables; (exit status, stdout JSON).
fn run(env: &[(&str, &str)], stdin: &str) -> (i32, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vrouter-cni"))
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn vrouter-cni");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stdout);
    let v = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("stdout is JSON")
    };
    (out.status.code().unwrap_or(-1), v)
}

fn assert_error(v: &Value, status: i32, code: u64, version: &str) {
    assert_eq!(v["code"], code, "{v}");
    assert_eq!(status, code as i32, "{v}");
    assert_eq!(v["cniVersion"], version, "{v}");
    assert!(v["msg"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert!(v["details"].is_string(), "{v}");
}

const FULL: [(&str, &str); 4] = [
    ("CNI_CONTAINERID", "c1"),
    ("CNI_NETNS", "/var/run/netns/vtcni-none"),
    ("CNI_IFNAME", "eth0"),
    ("CNI_PATH", "/opt/cni/bin"),
];

fn with(
    cmd: &'static str,
    vars: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    let mut v = vec![("CNI_COMMAND", cmd)];
    v.extend_from_slice(vars);
    v
}

#[test]
fn version_lists_supported_versions() {
    for v in ["0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
        let (status, out) = run(
            &[("CNI_COMMAND", "VERSION")],
            &format!(r#"{{"cniVersion":"{v}"}}"#),
        );
        assert_eq!(status, 0);
        assert_eq!(out["cniVersion"], v);
        assert_eq!(
            out["supportedVersions"],
            serde_json::json!(["0.3.1", "0.4.0", "1.0.0", "1.1.0"])
        );
    }
    let (status, out) = run(&[("CNI_COMMAND", "VERSION")], "");
    assert_eq!(status, 0);
    assert_eq!(out["cniVersion"], "1.1.0");
}

#[test]
fn missing_or_unknown_command() {
    let (status, out) = run(&[], &conf("1.0.0"));
    assert_error(&out, status, 4, "1.0.0");
    assert!(out["msg"].as_str().unwrap().contains("CNI_COMMAND"));
    let (status, out) = run(&[("CNI_COMMAND", "FROB")], &conf("1.0.0"));
    assert_error(&out, status, 4, "1.0.0");
}

#[test]
fn missing_env_names_the_variable() {
    for (cmd, drop) in [
        ("ADD", "CNI_NETNS"),
        ("ADD", "CNI_IFNAME"),
        ("ADD", "CNI_CONTAINERID"),
        ("ADD", "CNI_PATH"),
        ("CHECK", "CNI_NETNS"),
        ("DEL", "CNI_CONTAINERID"),
        ("DEL", "CNI_IFNAME"),
    ] {
        let vars: Vec<_> = FULL.iter().copied().filter(|(k, _)| *k != drop).collect();
        let (status, out) = run(&with(cmd, &vars), &conf("0.4.0"));
        assert_error(&out, status, 4, "0.4.0");
        assert!(
            out["msg"].as_str().unwrap().contains(drop),
            "{cmd} without {drop}: {out}"
        );
    }
    let (status, out) = run(&[("CNI_COMMAND", "STATUS")], &conf("1.1.0"));
    assert_error(&out, status, 4, "1.1.0");
    assert!(out["msg"].as_str().unwrap().contains("CNI_PATH"));
}

#[test]
fn bad_json_and_bad_versions() {
    let (status, out) = run(&with("ADD", &FULL), "{not json");
    assert_error(&out, status, 6, "1.1.0");
    let (status, out) = run(&with("ADD", &FULL), r#"{"cniVersion":"0.2.0","name":"n"}"#);
    assert_error(&out, status, 1, "1.1.0");
    let (status, out) = run(&with("ADD", &FULL), r#"{"name":"n"}"#);
    assert_error(&out, status, 1, "1.1.0");
    let (status, out) = run(
        &with("ADD", &FULL),
        r#"{"cniVersion":"1.0.0","name":"n","contrail":{"mtu":"huge"}}"#,
    );
    assert_error(&out, status, 7, "1.0.0");
    let (status, out) = run(&with("CHECK", &FULL), &conf("0.3.1"));
    assert_error(&out, status, 1, "0.3.1");
    let (status, out) = run(&with("STATUS", &FULL[3..]), &conf("1.0.0"));
    assert_error(&out, status, 1, "1.0.0");
}

#[test]
fn unreachable_agent() {
    let (status, out) = run(&with("STATUS", &FULL[3..]), &conf("1.1.0"));
    assert_error(&out, status, 50, "1.1.0");
    let (status, out) = run(&with("DEL", &FULL), &conf("1.0.0"));
    assert_error(&out, status, 11, "1.0.0");
    let (status, out) = run(&with("GC", &FULL[3..]), &conf("1.1.0"));
    assert_error(&out, status, 11, "1.1.0");
}

#[test]
fn add_into_a_missing_netns_fails_before_anything() {
    let (status, out) = run(&with("ADD", &FULL), &conf("1.0.0"));
    assert_error(&out, status, 101, "1.0.0");
}

#[test]
fn unreachable_agent_socket() {
    let conf = r#"{"cniVersion":"1.0.0","name":"n","contrail":{"agent-socket":"/nonexistent/vrouter/agent.sock","poll-timeout":0.01,"poll-retries":2}}"#;
    let (status, out) = run(&with("DEL", &FULL), conf);
    assert_error(&out, status, 11, "1.0.0");
    assert!(
        out["msg"]
            .as_str()
            .is_some_and(|m| m.contains("unix:/nonexistent/vrouter/agent.sock")),
        "{out}"
    );
}

#[test]
fn nested_mode_is_refused_before_anything() {
    for (contrail, key) in [
        (r#"{"vif-type":"macvlan"}"#, "vif-type"),
        (r#"{"parent-interface":"eth0"}"#, "parent-interface"),
    ] {
        let conf = format!(r#"{{"cniVersion":"0.4.0","name":"n","contrail":{contrail}}}"#);
        for cmd in ["ADD", "CHECK", "DEL"] {
            // Code 2 (unsupported field), not 101: the missing netns was never looked at.
            let (status, out) = run(&with(cmd, &FULL), &conf);
            assert_error(&out, status, 2, "0.4.0");
            assert!(
                out["msg"].as_str().is_some_and(|m| m.contains(key)),
                "{out}"
            );
        }
    }
}
