//! The chart's CRD copy must be exactly what `postagram-operator crd` prints.
//! Regenerate with `UPDATE_CRD=1 cargo test -p postagram-operator --test crd_chart`
//! or `cargo run -p postagram-operator -- crd > charts/postagram-operator/crds/postagrams.postagram.dev.yaml`.

use std::path::PathBuf;

use postagram_operator::crd::{crd_yaml, Postagram};

fn chart_crd_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../charts/postagram-operator/crds/postagrams.postagram.dev.yaml")
}

#[test]
fn chart_crd_matches_generated() {
    let generated = crd_yaml().expect("crd yaml");
    let path = chart_crd_path();
    if std::env::var_os("UPDATE_CRD").is_some() {
        std::fs::write(&path, &generated).expect("write chart crd");
    }
    let in_chart = std::fs::read_to_string(&path).expect("chart crd exists");
    assert!(
        in_chart == generated,
        "{} differs from `postagram-operator crd`; regenerate it with \
         `UPDATE_CRD=1 cargo test -p postagram-operator --test crd_chart`",
        path.display()
    );
}

#[test]
fn examples_parse_as_postagrams() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("examples dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).expect("read");
            let value: serde_json::Value = serde_yaml::from_str(&text).expect("yaml");
            let pg: Postagram = serde_json::from_value(value).expect("parses as Postagram");
            pg.spec.validate().expect("valid spec");
            seen += 1;
        }
    }
    assert!(seen >= 2, "examples missing");
}
