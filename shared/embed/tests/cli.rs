//! The `snapkb-embed` binary as a process: lines in, one JSON vector per line out.
#![cfg(feature = "model")]

use std::{
    io::Write,
    process::{Command, Stdio},
};

fn model_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2")
}

#[test]
fn embeds_each_stdin_line_as_one_json_vector_line() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_snapkb-embed"))
        .arg("--model-dir")
        .arg(model_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let input: String = (0..40).map(|i| format!("sentence number {i}\n")).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Vec<f32>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        40,
        "one output line per input line, across batch boundaries"
    );
    assert!(lines.iter().all(|v| v.len() == 384));
    let norm: f32 = lines[33].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
}

#[test]
fn a_missing_model_is_a_clear_error_and_a_failing_exit() {
    let out = Command::new(env!("CARGO_BIN_EXE_snapkb-embed"))
        .arg("--model-dir")
        .arg("/nonexistent/model")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("infra/dev/fetch-model.sh"), "{stderr}");
}
