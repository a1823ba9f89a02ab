use super::*;

const SEED: &str = include_str!("../testdata/gickup-blueprint.yaml");

fn messages(findings: &[Finding]) -> String {
    findings.iter().map(|f| format!("{f}\n")).collect()
}

#[test]
fn seed_blueprint_findings() {
    let findings = lint("bp.yaml", SEED, Some("Deployment"));
    let all = messages(&findings);
    assert!(
        all.contains("bp.yaml:27:3: action \"restore\" has no `phases`: its body is a list"),
        "{all}"
    );
    assert!(all.contains(".ArtifactsIn.esBackup: no action of this blueprint outputs artifact \"esBackup\" (did you mean ghBackup?)"), "{all}");
    // The reference sits on line 42 of the file, inside the block scalar.
    let esb = findings
        .iter()
        .find(|f| f.message.contains("esBackup"))
        .unwrap();
    assert_eq!((esb.line, esb.col), (42, 26), "{all}");
    assert_eq!(findings.len(), 2, "{all}");
}

#[test]
fn statefulset_blueprint_must_not_use_deployment() {
    let findings = lint("bp.yaml", SEED, Some("StatefulSet"));
    let all = messages(&findings);
    assert!(all.contains(".Deployment is not set when the blueprint runs against a StatefulSet (use .StatefulSet)"), "{all}");
    let first = findings
        .iter()
        .find(|f| f.message.starts_with(".Deployment"))
        .unwrap();
    assert_eq!((first.line, first.col), (14, 24), "{all}");
}

fn bp(actions: &str) -> String {
    format!("apiVersion: cr.kanister.io/v1alpha1\nkind: Blueprint\nmetadata:\n  name: t\nactions:\n{actions}")
}

#[test]
fn yaml_errors_have_positions() {
    let findings = lint("x.yaml", "a: [1, 2\nb: 3\n", None);
    assert_eq!(findings.len(), 1);
    assert!(
        findings[0].to_string().starts_with("x.yaml:"),
        "{}",
        findings[0]
    );
    assert!(
        findings[0].message.starts_with("YAML error"),
        "{}",
        findings[0]
    );
}

#[test]
fn unknown_keys_and_missing_parts() {
    let text = bp("  backup:\n    phasez: []\n  other:\n    phases:\n    - func: KubeTask\n      nam: x\n      args:\n        image: i\n        command: [a]\n");
    let all = messages(&lint("b.yaml", &text, None));
    assert!(
        all.contains("b.yaml:6:3: action \"backup\" has no `phases`"),
        "{all}"
    );
    assert!(
        all.contains(
            "b.yaml:7:5: unknown key `phasez` in action \"backup\" (did you mean phases?)"
        ),
        "{all}"
    );
    assert!(
        all.contains(
            "b.yaml:11:7: unknown key `nam` in phase 1 of action \"other\" (did you mean name?)"
        ),
        "{all}"
    );
    assert!(
        all.contains("phase 1 of action \"other\" has no `name`"),
        "{all}"
    );
}

#[test]
fn phase_order_functions_and_required_args() {
    let text = bp(concat!(
        "  backup:\n",
        "    outputArtifacts:\n",
        "      out:\n",
        "        keyValue:\n",
        "          path: \"{{ .Phases.second.Output.p }}\"\n",
        "          bad: \"{{ .Phases.nope.Output.p }}\"\n",
        "    phases:\n",
        "    - func: KubeExec\n",
        "      name: first\n",
        "      args:\n",
        "        namespace: \"{{ .Phases.second.Output.ns }}\"\n",
        "        command: [\"{{ if }}\"]\n",
        "    - func: KubeExce\n",
        "      name: second\n",
        "      args:\n",
        "        x: \"{{ .Phases.first.Output.ok }}\"\n",
        "        \"{{ .Phases.frist.Output.k }}\": v\n",
    ));
    let findings = lint("p.yaml", &text, None);
    let all = messages(&findings);
    // An output artifact may use any phase; an unknown one gets a hint.
    assert!(!all.contains("Phases.second.Output.p"), "{all}");
    assert!(
        all.contains("p.yaml:11:20: .Phases.nope: action \"backup\" has no phase named \"nope\""),
        "{all}"
    );
    // A phase may use only earlier phases.
    assert!(all.contains("p.yaml:16:24: .Phases.second refers to phase \"second\", which does not run before this point"), "{all}");
    // In flow style (`[...]`) the position is only approximate: the line is right.
    assert!(
        all.contains("p.yaml:17:")
            && all.contains("template syntax error: missing value for command"),
        "{all}"
    );
    assert!(
        all.contains("p.yaml:13:5: phase \"first\" (KubeExec) is missing required arg `pod`"),
        "{all}"
    );
    assert!(
        all.contains("p.yaml:18:7: unknown phase function \"KubeExce\" (did you mean KubeExec?)"),
        "{all}"
    );
    // Map keys are templates too.
    assert!(all.contains("p.yaml:22:13: .Phases.frist: action \"backup\" has no phase named \"frist\" (did you mean first?)"), "{all}");
    assert!(!all.contains(".Phases.first.Output.ok"), "{all}");
}

#[test]
fn artifacts_in_keys_and_snapshots() {
    let text = bp(concat!(
        "  backup:\n",
        "    outputArtifacts:\n",
        "      snap:\n",
        "        keyValue: {path: p}\n",
        "    phases: []\n",
        "  restore:\n",
        "    phases:\n",
        "    - func: KubeTask\n",
        "      name: r\n",
        "      args:\n",
        "        image: i\n",
        "        command:\n",
        "        - \"{{ .ArtifactsIn.snap.KeyValue.path }} {{ .ArtifactsIn.snap.KeyValue.pth }}\"\n",
        "        - \"{{ .ArtifactsIn.snap.KopiaSnapshot }}\"\n",
    ));
    let all = messages(&lint("a.yaml", &text, None));
    assert!(!all.contains("KeyValue.path:"), "{all}");
    assert!(all.contains("a.yaml:18:53: .ArtifactsIn.snap.KeyValue.pth: artifact \"snap\" has no keyValue key \"pth\" (did you mean path?)"), "{all}");
    assert!(
        all.contains(
            "a.yaml:19:15: .ArtifactsIn.snap.KopiaSnapshot: artifact \"snap\" has no kopiaSnapshot"
        ),
        "{all}"
    );
}

#[test]
fn a_clean_blueprint_has_no_findings() {
    let text = bp(concat!(
        "  backup:\n",
        "    outputArtifacts:\n",
        "      out:\n",
        "        kopiaSnapshot: \"{{ .Phases.dump.Output.snap }}\"\n",
        "    phases:\n",
        "    - func: KubeExec\n",
        "      name: dump\n",
        "      args:\n",
        "        namespace: \"{{ .StatefulSet.Namespace }}\"\n",
        "        pod: \"{{ index .StatefulSet.Pods 0 }}\"\n",
        "        command: [sh, -c, \"echo {{ .Time }}\"]\n",
        "    deferPhase:\n",
        "      func: ScaleWorkload\n",
        "      name: up\n",
        "      args: {replicas: 1}\n",
        "  restore:\n",
        "    inputArtifactNames: [out]\n",
        "    phases:\n",
        "    - func: KubeTask\n",
        "      name: pull\n",
        "      args:\n",
        "        image: alpine\n",
        "        command: [\"{{ .ArtifactsIn.out.KopiaSnapshot }}\"]\n",
    ));
    let findings = lint("c.yaml", &text, Some("StatefulSet"));
    assert!(findings.is_empty(), "{}", messages(&findings));
}

#[test]
fn unknown_parameters_and_undeclared_names() {
    let text = bp(concat!(
        "  restore:\n",
        "    secretNames: [creds]\n",
        "    inputArtifactNames: [snap]\n",
        "    phases:\n",
        "    - func: KubeTask\n",
        "      name: r\n",
        "      args:\n",
        "        image: \"{{ .Deploymnet.Name }}\"\n",
        "        command:\n",
        "        - \"{{ .Secrets.cred.Data.k | toString }} {{ .Secrets.creds.Data.k | toString }}\"\n",
        "        - \"{{ .ArtifactsIn.snp.KopiaSnapshot }}\"\n",
    ));
    let all = messages(&lint("u.yaml", &text, None));
    assert!(all.contains("u.yaml:13:20: .Deploymnet is not a Kanister template parameter (did you mean Deployment?)"), "{all}");
    assert!(all.contains("u.yaml:15:15: .Secrets.cred: action \"restore\" does not list \"cred\" in secretNames (did you mean creds?)"), "{all}");
    assert!(!all.contains("Secrets.creds:"), "{all}");
    assert!(all.contains("u.yaml:16:15: .ArtifactsIn.snp: action \"restore\" does not list \"snp\" in inputArtifactNames (did you mean snap?)"), "{all}");
}

#[test]
fn duplicate_phase_names() {
    let text =
        bp("  a:\n    phases:\n    - {func: Wait, name: w}\n    - func: Wait\n      name: w\n");
    let all = messages(&lint("d.yaml", &text, None));
    assert!(
        all.contains("d.yaml:10:7: action \"a\" has more than one phase named \"w\""),
        "{all}"
    );
}

#[test]
fn an_actions_own_kind_decides_which_workload_field_is_set() {
    let text = bp(concat!(
        "  forDeployments:\n",
        "    kind: Deployment\n",
        "    phases:\n",
        "    - {func: ScaleWorkload, name: s, args: {replicas: 0, name: \"{{ .Deployment.Name }}\"}}\n",
        "  forSets:\n",
        "    kind: StatefulSet\n",
        "    phases:\n",
        "    - {func: ScaleWorkload, name: s, args: {replicas: 0, name: \"{{ .Deployment.Name }}\"}}\n",
    ));
    let findings = lint("k.yaml", &text, Some("StatefulSet"));
    let all = messages(&findings);
    assert_eq!(findings.len(), 1, "{all}");
    assert!(
        all.contains("k.yaml:13:")
            && all.contains(".Deployment is not set when the blueprint runs against a StatefulSet"),
        "{all}"
    );
    assert_eq!(lint("k.yaml", &text, None).len(), 1);
}
