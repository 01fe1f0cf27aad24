//! The Spin component as built by infra/edge/spin-build.sh (no Spin runtime installs here):
//! it validates as a component, imports only interfaces Spin hosts provide and exports the
//! HTTP handler; and spin.toml declares and passes every variable the component reads. Its
//! storage (S3 and DynamoDB over outbound HTTP with SigV4) is tested natively in
//! infra/aws-http against the local servers.

use std::{collections::BTreeSet, path::PathBuf};

use wasmparser::{Encoding, Parser, Payload, Validator, WasmFeatures};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Interfaces a Spin 3 host provides (WASI 0.2 and Spin's own), by package and interface.
const SPIN_PROVIDES: &[(&str, &[&str])] = &[
    (
        "wasi:cli",
        &[
            "environment",
            "exit",
            "stdin",
            "stdout",
            "stderr",
            "terminal-input",
            "terminal-output",
            "terminal-stdin",
            "terminal-stdout",
            "terminal-stderr",
        ],
    ),
    ("wasi:clocks", &["monotonic-clock", "wall-clock"]),
    ("wasi:filesystem", &["types", "preopens"]),
    ("wasi:io", &["error", "poll", "streams"]),
    ("wasi:random", &["random", "insecure", "insecure-seed"]),
    (
        "wasi:sockets",
        &[
            "network",
            "instance-network",
            "tcp",
            "tcp-create-socket",
            "udp",
            "udp-create-socket",
            "ip-name-lookup",
        ],
    ),
    ("wasi:http", &["types", "outgoing-handler"]),
    (
        "fermyon:spin",
        &[
            "variables",
            "key-value",
            "sqlite",
            "llm",
            "redis",
            "mqtt",
            "postgres",
            "mysql",
            "rdbms-types",
        ],
    ),
];

/// Why `import` (`package/interface@version`) is not something Spin provides, if it is not.
fn refused(import: &str) -> Option<String> {
    let Some((path, version)) = import.split_once('@') else {
        return Some(format!("{import}: no version"));
    };
    let Some((package, interface)) = path.split_once('/') else {
        return Some(format!("{import}: not package/interface"));
    };
    let Some((_, interfaces)) = SPIN_PROVIDES.iter().find(|(p, _)| *p == package) else {
        return Some(format!("{import}: Spin provides no package {package}"));
    };
    if !interfaces.contains(&interface) {
        return Some(format!(
            "{import}: {package} has no interface {interface} in Spin"
        ));
    }
    let expected = if package == "fermyon:spin" {
        "2.0."
    } else {
        "0.2."
    };
    (!version.starts_with(expected))
        .then(|| format!("{import}: Spin provides {package}@{expected}x"))
}

/// The component's own (top-level) imports and exports.
#[expect(
    clippy::wildcard_enum_match_arm,
    reason = "only the component's import and export sections matter here"
)]
fn component_interfaces(bytes: &[u8]) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut imports, mut exports) = (BTreeSet::new(), BTreeSet::new());
    let mut depth = 0;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.expect("parse the component") {
            Payload::Version { encoding, .. } => {
                assert!(
                    depth > 0 || encoding == Encoding::Component,
                    "not a component"
                );
                depth += 1;
            }
            Payload::End(_) => depth -= 1,
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    imports.insert(import.expect("import").name.0.to_string());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    exports.insert(export.expect("export").name.0.to_string());
                }
            }
            _ => {}
        }
    }
    (imports, exports)
}

#[test]
fn the_component_validates_and_imports_only_interfaces_spin_provides() {
    let path = repo().join("target/edge/spin/snapkb_spin.wasm");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run infra/edge/spin-build.sh first (infra/dev/test.sh does)",
            path.display()
        )
    });
    Validator::new_with_features(WasmFeatures::all())
        .validate_all(&bytes)
        .expect("a valid component");
    let (imports, exports) = component_interfaces(&bytes);
    let refusals: Vec<String> = imports.iter().filter_map(|i| refused(i)).collect();
    assert!(
        refusals.is_empty(),
        "imports Spin does not provide: {refusals:#?}"
    );
    for needed in ["wasi:http/outgoing-handler", "fermyon:spin/variables"] {
        assert!(
            imports.iter().any(|i| i.starts_with(needed)),
            "{needed} missing from {imports:?}"
        );
    }
    assert!(
        exports
            .iter()
            .any(|e| e.starts_with("wasi:http/incoming-handler@0.2.")),
        "the HTTP handler is not exported: {exports:?}"
    );
}

#[test]
fn the_import_check_refuses_what_spin_does_not_provide() {
    assert_eq!(refused("wasi:io/streams@0.2.12"), None);
    assert_eq!(refused("fermyon:spin/variables@2.0.0"), None);
    assert!(refused("wasi:http/outgoing-handler@0.3.0-rc").is_some());
    assert!(refused("wasi:nn/inference@0.2.0").is_some());
    assert!(refused("wasi:cli/run@0.2.0").is_some());
    assert!(refused("wasi:io/streams").is_some());
    assert!(refused("spin-host-thing@1.0.0").is_some());
    assert!(refused("fermyon:spin/variables@3.0.0").is_some());
}

#[test]
fn spin_toml_declares_and_passes_every_variable_the_component_reads() {
    let text = std::fs::read_to_string(repo().join("functions/spin/spin.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&text).expect("spin.toml parses");
    assert_eq!(manifest["spin_manifest_version"].as_integer(), Some(2));
    let declared: BTreeSet<&str> = manifest["variables"]
        .as_table()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let variables = snapkb_spin::spin_variables();
    let read: BTreeSet<&str> = variables.iter().map(String::as_str).collect();
    assert_eq!(
        declared, read,
        "[variables] are exactly what the component reads"
    );
    let component = manifest["component"]["snapkb"].as_table().unwrap();
    let passed = component["variables"].as_table().unwrap();
    for name in read {
        assert_eq!(
            passed.get(name).and_then(|v| v.as_str()),
            Some(format!("{{{{ {name} }}}}").as_str()),
            "[component.snapkb.variables] passes {name}"
        );
    }
    assert_eq!(
        component["source"].as_str(),
        Some("../../target/edge/spin/snapkb_spin.wasm"),
        "the source is what spin-build.sh writes"
    );
    let hosts: Vec<&str> = component["allowed_outbound_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h.as_str())
        .collect();
    assert_eq!(hosts, vec!["https://*.amazonaws.com"]);
    let trigger = &manifest["trigger"]["http"].as_array().unwrap()[0];
    assert_eq!(trigger["route"].as_str(), Some("/..."));
    assert_eq!(trigger["component"].as_str(), Some("snapkb"));
}
