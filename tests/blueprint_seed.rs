//! End-to-end through the public API with the seed blueprint forgesafe must
//! accept: lint it as given, then render its (repaired) actions.

use forgesafe::blueprint::{lint::lint, model::Blueprint, render::render_action, template};
use serde_json::json;

const SEED: &str = include_str!("../src/blueprint/testdata/gickup-blueprint.yaml");

#[test]
fn lint_reports_the_seed_mistakes() {
    let findings = lint("gickup.yaml", SEED, Some("Deployment"));
    let text: Vec<String> = findings.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|f| f.starts_with("gickup.yaml:27:3: ")
                && f.contains("\"restore\" has no `phases`")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|f| f.contains(".ArtifactsIn.esBackup") && f.contains("did you mean ghBackup?")),
        "{text:#?}"
    );
}

#[test]
fn the_seed_does_not_deserialise_until_restore_has_phases() {
    assert!(Blueprint::from_yaml(SEED).is_err());
    let fixed = SEED
        .replace(
            "  restore:\n    - func",
            "  restore:\n    phases:\n    - func",
        )
        .replace("esBackup", "ghBackup");
    let bp = Blueprint::from_yaml(&fixed).unwrap();
    assert!(lint("fixed.yaml", &fixed, Some("Deployment")).is_empty());
    let ctx = json!({
        "Deployment": {"Namespace": "gickup", "Pods": ["gickup-0"]},
        "ArtifactsIn": {"ghBackup": {"KopiaSnapshot": "{\"id\":\"k1\"}"}},
        "Profile": {"Location": {"type": "s3Compliant", "bucket": "b"}, "Credential": {"Type": "keyPair", "KeyPair": {"ID": "AK", "Secret": "SK"}}}
    });
    let restore = render_action(&bp, "restore", &ctx).unwrap();
    let script = restore["phases"][0]["args"]["command"][6].as_str().unwrap();
    assert!(
        script.starts_with("kopia_snap='{\"id\":\"k1\"}'\n"),
        "{script}"
    );
    assert!(script.contains(r#"--profile '{"Location":{"type":"s3Compliant","bucket":"b","endpoint":"","prefix":"","region":""},"Credential":{"Type":"keyPair","KeyPair":{"ID":"AK","Secret":"SK"},"Secret":null,"KopiaServerSecret":null},"SkipSSLVerify":false}'"#), "{script}");
}

#[test]
fn template_api_reports_field_refs() {
    let ast = template::parse("{{ .ArtifactsIn.x.KeyValue.k }}").unwrap();
    let refs = template::field_refs(&ast);
    assert_eq!(refs[0].path, ["ArtifactsIn", "x", "KeyValue", "k"]);
    assert_eq!(refs[0].offset, 3);
}
