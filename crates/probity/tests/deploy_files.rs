//! The production deployment files of `deploy/systemd` are what an operator would install:
//! systemd accepts the units as written (`systemd-analyze verify`, with no warning: an
//! unknown or misspelt key is only a warning to systemd, and a unit that ignores a
//! hardening line is a unit without it), the server command they start exists, the NATS
//! node configuration parses (`nats-server -t`), and every variable of the environment
//! example is documented in the README. Missing tools fail the test saying so.

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/systemd")
}

/// Runs `systemd-analyze verify` on `unit`, copied into a fresh directory with its
/// binaries pointed at the ones on this machine (the units name the installed paths).
fn verify(unit: &str) {
    let text = std::fs::read_to_string(deploy().join(unit)).expect("reading the unit");
    let text = text.replace("/usr/local/bin/probity", env!("CARGO_BIN_EXE_probity"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join(unit);
    std::fs::write(&path, text).expect("writing the unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze is needed to check the units (Debian package systemd)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "{unit}: systemd-analyze verify said: {stderr}"
    );
}

#[test]
fn systemd_accepts_the_probity_unit_and_the_command_it_starts_exists() {
    verify("probity@.service");
    let unit = std::fs::read_to_string(deploy().join("probity@.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/probity"));
    let args: Vec<&str> = words.collect();
    let status = Command::new(env!("CARGO_BIN_EXE_probity"))
        .args(&args)
        .arg("--help")
        .output()
        .expect("running probity");
    assert!(
        status.status.success(),
        "`probity {}` is not a command: {}",
        args.join(" "),
        String::from_utf8_lossy(&status.stderr)
    );
}

#[test]
fn systemd_accepts_the_nats_unit() {
    verify("nats.service");
}

#[test]
fn the_nats_node_configuration_parses() {
    let out = Command::new("nats-server")
        .arg("-t")
        .arg("-c")
        .arg(deploy().join("nats.conf.example"))
        .output()
        .expect("nats-server is needed to check its configuration");
    assert!(
        out.status.success(),
        "nats-server -t: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_variable_of_the_environment_example_is_documented() {
    let example = std::fs::read_to_string(deploy().join("probity.env.example")).unwrap();
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let keys: Vec<&str> = example
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    assert!(keys.len() >= 5, "{keys:?}");
    for key in keys {
        assert!(
            readme.contains(&format!("`{key}`")),
            "{key} of probity.env.example is not in the README's configuration"
        );
    }
}
