//! Go-compatibility table. Expected outputs come from the Go documentation
//! cited beside each group (text/template, fmt, strconv, encoding/json, time,
//! sprig) — not from running this code.

use super::*;
use serde_json::{json, Value};

fn check(cases: &[(&str, Value, &str)]) {
    for (template, ctx, expected) in cases {
        match render(template, ctx) {
            Ok(out) => assert_eq!(&out, expected, "template {template:?} with {ctx}"),
            Err(e) => panic!("template {template:?} failed: {e}"),
        }
    }
}

fn error_of(template: &str, ctx: Value) -> String {
    match render(template, &ctx) {
        Ok(out) => panic!("template {template:?} should fail, rendered {out:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn text_actions_trimming_and_comments() {
    check(&[
        // text/template doc: "{{23 -}} < {{- 45}}" generates "23<45".
        ("{{23 -}} < {{- 45}}", json!({}), "23<45"),
        ("plain text only", json!({}), "plain text only"),
        // doc: "{{/* a comment */}}" … "{{- /* a comment with white space trimmed … */ -}}"
        ("a {{/* c */}} b", json!({}), "a  b"),
        ("a \n {{- /* c */ -}} \n b", json!({}), "ab"),
        // "-3" without a following space is a number, not a trim marker.
        ("x{{-3}}", json!({}), "x-3"),
        // "}}" inside a string literal does not close the action.
        ("{{ \"}}\" }}", json!({}), "}}"),
        // tera syntax in Go text passes through untouched.
        ("{% if x %}{# y #}", json!({}), "{% if x %}{# y #}"),
    ]);
}

#[test]
fn fields_variables_and_printing() {
    let ctx = json!({"A": {"B": {"C": "deep"}}, "S": "str", "N": 3, "F": 1.5, "Big": 1e21,
        "Mil": 1000000.0, "Small": 0.00001, "T": true, "Z": null,
        "M": {"b": 2, "a": 1, "n": null}, "L": ["a", "b", "c"], "LM": [{"k": 1}]});
    check(&[
        // text/template doc: ".Field … The result is the value of the field"; chained ".A.B.C".
        ("{{ .A.B.C }}", ctx.clone(), "deep"),
        ("{{ $.S }}", ctx.clone(), "str"),
        // fmt doc: "%v … float64 is %g"; strconv 'g' shortest uses the exponent from 1e+06 up.
        (
            "{{ .N }}|{{ .F }}|{{ .Big }}|{{ .Mil }}|{{ .Small }}",
            ctx.clone(),
            "3|1.5|1e+21|1e+06|1e-05",
        ),
        ("{{ .T }} {{ false }}", ctx.clone(), "true false"),
        // text/template prints "<no value>" for a nil interface; fmt prints "<nil>" nested.
        ("{{ .Z }}|{{ print nil }}", ctx.clone(), "<no value>|<nil>"),
        // fmt doc: maps print "sorted by key"; map[key:value], slices [a b c].
        ("{{ .M }}", ctx.clone(), "map[a:1 b:2 n:<nil>]"),
        ("{{ .L }} {{ .LM }}", ctx.clone(), "[a b c] [map[k:1]]"),
        // Variables: "$x := pipeline" declares, "$x = pipeline" assigns; "$" is the root.
        (
            "{{ $x := .S }}{{ $x }}{{ $x = \"new\" }}{{ $x }}",
            ctx.clone(),
            "strnew",
        ),
        ("{{ $v := .A }}{{ $v.B.C }}", ctx.clone(), "deep"),
        // Parenthesised pipeline with field access.
        ("{{ (index .LM 0).k }}", ctx.clone(), "1"),
        // Literals: raw strings, escapes, chars, hex, floats, bools.
        (
            "{{ `a\\n` }}|{{ \"t\\tq\\\"\" }}|{{ 'a' }}|{{ 0x1F }}|{{ 1e3 }}|{{ 2.50 }}|{{ -7 }}",
            json!({}),
            "a\\n|t\tq\"|97|31|1000|2.5|-7",
        ),
        // Pipelines pass the value as the last argument.
        ("{{ .S | printf \"%s-%s\" \"x\" }}", ctx.clone(), "x-str"),
    ]);
}

#[test]
fn control_structures() {
    let ctx = json!({"L": [1, 2, 3], "M": {"z": "last", "a": "first", "m": "mid"}, "E": [],
        "S": "x", "Empty": "", "Obj": {"K": "v"}});
    check(&[
        // text/template doc: if/else if/else; empty values are false.
        ("{{ if .S }}yes{{ end }}", ctx.clone(), "yes"),
        ("{{ if .Empty }}yes{{ else }}no{{ end }}", ctx.clone(), "no"),
        ("{{ if eq .S \"a\" }}A{{ else if eq .S \"x\" }}X{{ else }}O{{ end }}", ctx.clone(), "X"),
        ("{{ if .E }}y{{ else if .Empty }}y{{ else }}none{{ end }}", ctx.clone(), "none"),
        ("{{ if $v := .S }}[{{ $v }}]{{ end }}", ctx.clone(), "[x]"),
        // range over a list; "$i, $v :=" gives index and element.
        ("{{ range .L }}{{ . }},{{ end }}", ctx.clone(), "1,2,3,"),
        ("{{ range $i, $v := .L }}{{ $i }}:{{ $v }} {{ end }}", ctx.clone(), "0:1 1:2 2:3 "),
        ("{{ range $v := .L }}{{ $v }}{{ end }}", ctx.clone(), "123"),
        // "If the value is a map … the elements will be visited in sorted key order."
        ("{{ range $k, $v := .M }}{{ $k }}={{ $v }};{{ end }}", ctx.clone(), "a=first;m=mid;z=last;"),
        // "{{range pipeline}} T1 {{else}} T0 {{end}}": T0 when the length is zero.
        ("{{ range .E }}x{{ else }}empty{{ end }}", ctx.clone(), "empty"),
        // Go 1.18 break/continue; Go 1.22 range over an integer.
        ("{{ range .L }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 3 }}{{ break }}{{ end }}{{ . }}{{ end }}", ctx.clone(), "1"),
        ("{{ range 3 }}{{ . }}{{ end }}", ctx.clone(), "012"),
        // Inside range, "$" is still the root; assignment reaches outer variables.
        ("{{ range .L }}{{ $.S }}{{ end }}", ctx.clone(), "xxx"),
        ("{{ $last := 0 }}{{ range .L }}{{ $last = . }}{{ end }}{{ $last }}", ctx.clone(), "3"),
        ("{{ range $a := .L }}{{ $n := 0 }}{{ range $.L }}{{ $n = . }}{{ end }}{{ $a }}{{ $n }},{{ end }}", ctx.clone(), "13,23,33,"),
        // A variable declared in each iteration starts afresh each time.
        ("{{ range .L }}{{ $s := \"\" }}{{ if eq . 2 }}{{ $s = \"two\" }}{{ end }}[{{ $s }}]{{ end }}", ctx.clone(), "[][two][]"),
        // with: dot is set to the value; else when empty.
        ("{{ with .Obj }}{{ .K }}{{ end }}", ctx.clone(), "v"),
        ("{{ with .Empty }}x{{ else }}empty{{ end }}", ctx.clone(), "empty"),
        ("{{ with $o := .Obj }}{{ $o.K }}{{ end }}", ctx.clone(), "v"),
        ("{{ with .Empty }}x{{ else with .Obj }}{{ .K }}{{ end }}", ctx.clone(), "v"),
    ]);
}

#[test]
fn comparisons_and_logic() {
    let ctx = json!({"N": 3, "S": "b", "Z": null, "E": ""});
    check(&[
        // text/template doc: "eq arg1 arg2 arg3" is arg1==arg2 || arg1==arg3.
        ("{{ eq .N 3 }} {{ eq .S \"a\" \"b\" }} {{ ne .S \"b\" }}", ctx.clone(), "true true false"),
        ("{{ lt 1 2 }} {{ le 2 2 }} {{ gt \"a\" \"b\" }} {{ ge 3 4 }}", ctx.clone(), "true true false false"),
        // "and … returning the first empty argument or the last argument"; "or … the first non-empty argument or the last argument".
        ("{{ and 1 \"x\" }}|{{ and 1 0 2 }}|{{ or 0 \"\" \"y\" }}|{{ or 0 .E }}", ctx.clone(), "x|0|y|"),
        ("{{ not .E }} {{ not .S }} {{ not .Z }}", ctx.clone(), "true false true"),
        // Go 1.18: "Evaluation proceeds through the arguments left to right and returns when the
        // result is determined" — so the missing key in the unevaluated argument is no error.
        ("{{ and .E .Missing.Key }}|{{ or .S .Missing }}|{{ if and .S (eq .S \"b\") }}yes{{ end }}", ctx.clone(), "|b|yes"),
        ("{{ .S | and 1 }}|{{ .E | or 0 }}|{{ printf \"%v\" (or .E \"dflt\") }}", ctx.clone(), "b||dflt"),
        // A nil map value compared with a non-nil value is simply unequal.
        ("{{ eq .Z \"x\" }}", ctx.clone(), "false"),
    ]);
}

#[test]
fn builtin_functions() {
    let ctx = json!({"L": ["x", "y"], "M": {"a": {"b": [10, 20]}}, "S": "héllo"});
    check(&[
        // "index x 1 2 3 is, in Go syntax, x[1][2][3]"; a missing map key yields the zero value.
        (
            "{{ index .L 1 }} {{ index .M \"a\" \"b\" 1 }} {{ index .M \"nope\" }}",
            ctx.clone(),
            "y 20 <no value>",
        ),
        // len: "Returns the integer length of its argument" — bytes for strings.
        (
            "{{ len .S }} {{ len .L }} {{ len .M }}",
            ctx.clone(),
            "6 2 1",
        ),
        // fmt doc verbs: %s %d %v %q %%.
        (
            "{{ printf \"%s|%d|%v|%q|%%\" \"a\" 42 .L \"q\\\"\" }}",
            ctx.clone(),
            "a|42|[x y]|\"q\\\"\"|%",
        ),
        (
            "{{ printf \"%5s|%-3d|%03d|%+d|%.2s\" \"ab\" 7 5 3 \"xyz\" }}",
            ctx.clone(),
            "   ab|7  |005|+3|xy",
        ),
        // fmt doc: "Wrong type or unknown verb: %!verb(type=value)", "Too few arguments: %!verb(MISSING)",
        // "Too many arguments: %!(EXTRA type=value)".
        (
            "{{ printf \"%d\" \"hi\" }}|{{ printf \"%s %s\" \"a\" }}|{{ printf \"%s\" \"a\" 1 }}",
            ctx.clone(),
            "%!d(string=hi)|a %!s(MISSING)|a%!(EXTRA int=1)",
        ),
        ("{{ printf \"%q\" 65 }}", ctx.clone(), "'A'"),
        // fmt.Sprint: "Spaces are added between operands when neither is a string."
        ("{{ print 1 2 \"a\" \"b\" 3 }}", ctx.clone(), "1 2ab3"),
    ]);
}

#[test]
fn sprig_string_functions() {
    let ctx = json!({"Empty": "", "S": "Hello", "N": 0, "L": ["a", "b"]});
    check(&[
        // sprig: quote wraps in double quotes (Go %q escapes).
        ("{{ quote \"hi\" }} {{ .S | quote }} {{ quote \"a\\\"b\\n\\x01\" }}", ctx.clone(), "\"hi\" \"Hello\" \"a\\\"b\\n\\x01\""),
        ("{{ quote \"é\\u00a0\" }}", ctx.clone(), "\"é\\u00a0\""),
        // sprig: default "foo" .Bar → "foo" when .Bar is empty.
        ("{{ .Empty | default \"foo\" }} {{ .S | default \"foo\" }} {{ .N | default 7 }}", ctx.clone(), "foo Hello 7"),
        ("{{ upper \"hello\" }} {{ lower \"HELLO\" }} {{ upper \"ß\" }}", ctx.clone(), "HELLO hello ß"),
        // sprig: replace " " "-" "I Am Henry VIII" → I-Am-Henry-VIII.
        ("{{ \"I Am Henry VIII\" | replace \" \" \"-\" }}", ctx.clone(), "I-Am-Henry-VIII"),
        // sprig: trim "   hello    " → hello.
        ("[{{ trim \"   hello    \" }}]", ctx.clone(), "[hello]"),
        ("{{ b64enc \"hello\" }} {{ b64dec \"aGVsbG8=\" }}", ctx.clone(), "aGVsbG8= hello"),
        // sprig: toString converts via %v; nil → <nil>.
        ("{{ toString 12 }} {{ toString 1.5 }} {{ toString .L }} {{ toString nil }}", ctx.clone(), "12 1.5 [a b] <nil>"),
        // sprig: contains "cat" "catch"; hasPrefix "cat" "catch"; hasSuffix.
        ("{{ contains \"cat\" \"catch\" }} {{ hasPrefix \"cat\" \"catch\" }} {{ hasSuffix \"ch\" \"catch\" }} {{ contains \"dog\" \"catch\" }}",
            ctx.clone(), "true true true false"),
        // sprig: list "hello" "world" | join "_" → hello_world; nils are skipped.
        ("{{ list \"hello\" \"world\" | join \"_\" }} {{ join \",\" (list 1 nil \"x\") }} {{ join \"+\" .L }}", ctx.clone(), "hello_world 1,x a+b"),
        // sprig: split "$" "foo$bar$baz" → map{_0: foo, _1: bar, _2: baz}.
        ("{{ split \"$\" \"foo$bar$baz\" }} {{ (split \"$\" \"foo$bar\")._1 }}", ctx.clone(), "map[_0:foo _1:bar _2:baz] bar"),
        ("{{ list 1 \"a\" }} {{ dict \"b\" 2 \"a\" 1 }} {{ (dict \"k\" \"v\").k }} {{ dict \"odd\" }}", ctx.clone(),
            "[1 a] map[a:1 b:2] v map[odd:]"),
    ]);
}

#[test]
fn to_json_is_go_json_marshal() {
    check(&[
        // encoding/json: map keys sorted; compact; HTML-safe escaping of <, >, &, U+2028, U+2029.
        (
            "{{ toJson .M }}",
            json!({"M": {"b": "<&>", "a": [1, 2.5, null, true]}}),
            "{\"a\":[1,2.5,null,true],\"b\":\"\\u003c\\u0026\\u003e\"}",
        ),
        (
            "{{ toJson \"\\u2028\\n\\\"\" }}",
            json!({}),
            "\"\\u2028\\n\\\"\"",
        ),
        // Other control characters use \u00XX; U+2029 is escaped like U+2028.
        (
            "{{ toJson .S }}",
            json!({"S": "\u{1}\t\u{2029}é"}),
            "\"\\u0001\\t\\u2029é\"",
        ),
        // encoding/json floats: exponent form only from 1e21; e-07 → e-7.
        (
            "{{ toJson .F }}",
            json!({"F": [1e21, 1e20, 0.0000001, 1.5]}),
            "[1e+21,100000000000000000000,1e-7,1.5]",
        ),
    ]);
}

/// `{{ toJson .Profile }}` as Kanister prints it: `param.Profile` is a Go
/// struct, so encoding/json keeps field declaration order (Location,
/// Credential, SkipSSLVerify; type, bucket, endpoint, prefix, region) — only
/// *maps* are sorted — and `.Profile.Location.Bucket` reads the `bucket` tag.
#[test]
fn profile_is_a_go_struct() {
    let profile = json!({"Location":{"type":"s3Compliant","bucket":"b","endpoint":"http://minio:9000","prefix":"kanister","region":"us-east-1"},
        "Credential":{"Type":"keyPair","KeyPair":{"ID":"AK","Secret":"SK"},"Secret":null,"KopiaServerSecret":null},"SkipSSLVerify":false});
    let ctx = json!({"Profile": profile});
    check(&[
        ("{{ toJson .Profile }}", ctx.clone(),
            r#"{"Location":{"type":"s3Compliant","bucket":"b","endpoint":"http://minio:9000","prefix":"kanister","region":"us-east-1"},"Credential":{"Type":"keyPair","KeyPair":{"ID":"AK","Secret":"SK"},"Secret":null,"KopiaServerSecret":null},"SkipSSLVerify":false}"#),
        ("{{ .Profile.Location.Bucket }}/{{ .Profile.Location.Type }}/{{ .Profile.Credential.KeyPair.ID }}", ctx.clone(), "b/s3Compliant/AK"),
        ("{{ .Profile.Location }}", ctx.clone(), "{s3Compliant b http://minio:9000 kanister us-east-1}"),
    ]);
    let err = error_of("{{ .Profile.Location.Nope }}", ctx.clone());
    assert!(
        err.contains("can't evaluate field Nope in type v1alpha1.Location"),
        "{err}"
    );
    let err = error_of("{{ .Profile.Credential.Secret.Data }}", ctx);
    assert!(
        err.contains("nil pointer evaluating *v1.Secret.Data"),
        "{err}"
    );
    let prepared = prepare_context(sparse_profile());
    assert_eq!(
        prepare_context(prepared.clone()),
        prepared,
        "preparing twice changes nothing"
    );
    let err = error_of("{{ .Profile.Location.Nope }}", json!({"Profile": {}}));
    // A Go struct always has all its fields: missing ones are zero values.
    let sparse = sparse_profile();
    check(&[
        ("[{{ .Profile.Location.Prefix }}] {{ .Profile.SkipSSLVerify }}", sparse.clone(), "[] false"),
        // A nil pointer prints "<nil>" (fmt), unlike a missing map value's "<no value>".
        ("{{ .Profile.Credential.KeyPair }} {{ .Profile.Credential }} {{ if .Profile.Credential.Secret }}x{{ end }}",
            sparse.clone(), "<nil> { <nil> <nil> <nil>} "),
        ("{{ toJson .Profile }}", sparse,
            r#"{"Location":{"type":"s3Compliant","bucket":"b","endpoint":"","prefix":"","region":""},"Credential":{"Type":"","KeyPair":null,"Secret":null,"KopiaServerSecret":null},"SkipSSLVerify":false}"#),
    ]);
    assert!(
        err.contains("can't evaluate field Nope in type v1alpha1.Location"),
        "{err}"
    );
}

fn sparse_profile() -> Value {
    json!({"Profile": {"Location": {"type": "s3Compliant", "bucket": "b"}}})
}

#[test]
fn secrets_data_are_bytes() {
    // Kubernetes gives Secret data base64-encoded; Go sees []byte.
    let ctx = json!({"Secrets": {"s": {"metadata": {"name": "s", "namespace": "ns"}, "type": "Opaque",
        "data": {"k": "aGk=", "pw": "c2VjcmV0"}}}});
    check(&[
        ("{{ .Secrets.s.Data.k | toString }}", ctx.clone(), "hi"),
        // fmt prints a []byte as a list of numbers.
        ("{{ .Secrets.s.Data.k }}", ctx.clone(), "[104 105]"),
        ("{{ printf \"%s\" .Secrets.s.Data.pw }} {{ len .Secrets.s.Data.pw }}", ctx.clone(), "secret 6"),
        // encoding/json: "[]byte encodes as a base64-encoded string".
        ("{{ toJson .Secrets.s.Data.k }}", ctx.clone(), "\"aGk=\""),
        ("{{ .Secrets.s.Type }} {{ .Secrets.s.Name }} {{ index .Secrets.s.Data \"k\" | toString }}", ctx.clone(), "Opaque s hi"),
    ]);
    let cm = json!({"ConfigMaps": {"c": {"data": {"k": "plain"}, "binaryData": {"b": "aGk="}}}});
    check(&[(
        "{{ .ConfigMaps.c.Data.k }} {{ .ConfigMaps.c.BinaryData.b | toString }}",
        cm,
        "plain hi",
    )]);
    // Preparing twice must not decode twice.
    let once = prepare_context(ctx.clone());
    assert_eq!(prepare_context(once.clone()), once);
}

#[test]
fn dates_use_go_layouts() {
    let ctx = json!({"Time": "2024-03-05T07:08:09.123456789Z", "Unix": 1700000000});
    check(&[
        // sprig: toDate "2006-01-02" "2017-12-31" | date "02/01/2006" → 31/12/2017.
        ("{{ toDate \"2006-01-02\" \"2017-12-31\" | date \"02/01/2006\" }}", json!({}), "31/12/2017"),
        ("{{ toDate \"2006-01-02T15:04:05.999999999Z07:00\" .Time | date \"2006-01-02 15:04:05\" }}", ctx.clone(), "2024-03-05 07:08:09"),
        ("{{ toDate \"2006-01-02T15:04:05.999999999Z07:00\" .Time | date \"Mon Jan _2 3:04PM .000 MST -07:00 Z07:00\" }}",
            ctx.clone(), "Tue Mar  5 7:08AM .123 UTC +00:00 Z"),
        // sprig's date converts to the local zone first (here UTC).
        ("{{ toDate \"2006-01-02T15:04:05Z07:00\" \"2024-12-31T23:59:58+02:00\" | date \"January 2, 2006 15h04 -0700 002\" }}",
            json!({}), "December 31, 2024 21h59 +0000 366"),
        // Printed as is, the parsed time keeps its unnamed +02:00 zone (Time.String prints the offset for "MST").
        ("{{ toDate \"2006-01-02T15:04:05Z07:00\" \"2024-12-31T23:59:58+02:00\" }}", json!({}), "2024-12-31 23:59:58 +0200 +0200"),
        // time.Time's String(): "2006-01-02 15:04:05.999999999 -0700 MST".
        ("{{ toDate \"2006-01-02\" \"2017-12-31\" }}", json!({}), "2017-12-31 00:00:00 +0000 UTC"),
        // sprig ignores parse errors: Go's zero time.
        ("{{ toDate \"2006-01-02\" \"garbage\" }}", json!({}), "0001-01-01 00:00:00 +0000 UTC"),
        // sprig date accepts Unix seconds.
        ("{{ date \"2006-01-02T15:04:05Z07:00\" .Unix }}", ctx.clone(), "2023-11-14T22:13:20Z"),
        ("{{ toDate \"2006-01-02\" \"2017-12-31\" | toJson }}", json!({}), "\"2017-12-31T00:00:00Z\""),
    ]);
    let year = render("{{ now | date \"2006\" }}", &json!({})).unwrap();
    assert_eq!(year, chrono::Utc::now().format("%Y").to_string());
}

#[test]
fn missing_key_is_an_error_naming_key_and_template() {
    // text/template Option "missingkey=error": "Execution stops immediately with an error";
    // Go's text is: map has no entry for key "Nope".
    let err = error_of("x\n  {{ .A.Nope }}", json!({"A": {"B": 1}}));
    assert!(err.contains("map has no entry for key \"Nope\""), "{err}");
    assert!(err.contains("{{ .A.Nope }}"), "{err}");
    assert!(err.contains("at 2:6 <.A.Nope>"), "{err}");
    let err = error_of("{{ .A.B }}", json!({"A": null}));
    assert!(
        err.contains("nil pointer evaluating interface {}.B"),
        "{err}"
    );
    let err = error_of("{{ index .L 3 }}", json!({"L": [1]}));
    assert!(
        err.contains("error calling index: index out of range: 3"),
        "{err}"
    );
    let err = error_of("{{ eq 1 \"a\" }}", json!({}));
    assert!(err.contains("incompatible types for comparison"), "{err}");
    let err = error_of("{{ upper 3 }}", json!({}));
    assert!(
        err.contains("wrong type for value; expected string; got int"),
        "{err}"
    );
    // eq and friends take reflect.Value parameters, to which Go cannot assign a nil constant.
    let err = error_of("{{ eq .Z nil }}", json!({"Z": null}));
    assert!(err.contains("cannot assign nil to reflect.Value"), "{err}");
    let err = error_of("{{ nil | print }}", json!({}));
    assert!(err.contains("nil is not a command"), "{err}");
    let err = error_of("{{ len 3 }}", json!({}));
    assert!(err.contains("len of type int"), "{err}");
}

#[test]
fn syntax_errors_have_positions() {
    let cases = [
        ("{{ nope 1 }}", "function \"nope\" not defined", (1, 4)),
        ("ok\n  {{ $x }}", "undefined variable \"$x\"", (2, 6)),
        ("{{ if .A }}x", "missing {{end}}", (1, 4)),
        ("{{ end }}", "unexpected {{end}}", (1, 4)),
        ("{{ .A", "unclosed action", (1, 1)),
        ("{{ break }}", "{{break}} outside {{range}}", (1, 4)),
        (
            "{{ \"a\" 1 }}",
            "can't give argument to non-function",
            (1, 8),
        ),
        ("{{ (1 }}", "unclosed left paren", (1, 4)),
    ];
    for (template, message, (line, col)) in cases {
        let err = parse(template).expect_err(template);
        assert_eq!(
            err.kind,
            TemplateErrorKind::Syntax {
                line,
                col,
                offset: err_offset(&err)
            },
            "{template}: {err}"
        );
        assert!(err.to_string().contains(message), "{template}: {err}");
        assert!(err.to_string().contains(&format!("{template:?}")), "{err}");
    }
}

fn err_offset(e: &TemplateError) -> usize {
    match e.kind {
        TemplateErrorKind::Syntax { offset, .. } => offset,
        _ => usize::MAX,
    }
}

#[test]
fn field_refs_list_root_chains_with_offsets() {
    let ast = parse("{{ .Phases.a.Output.x }} {{ index .Deployment.Pods 0 }}{{ range .L }}{{ .Inner }}{{ $.Root.X }}{{ end }}").unwrap();
    let refs: Vec<(String, usize)> = field_refs(&ast)
        .into_iter()
        .map(|r| (r.path.join("."), r.offset))
        .collect();
    assert_eq!(
        refs,
        vec![
            ("Phases.a.Output.x".to_string(), 3),
            ("Deployment.Pods".to_string(), 34),
            ("L".to_string(), 64),
            ("Root.X".to_string(), 84),
        ]
    );
}

/// The seed blueprint's templates, rendered as Kanister would.
#[test]
fn seed_blueprint_templates() {
    let ctx = json!({
        "Deployment": {"Namespace": "gickup", "Name": "gickup", "Pods": ["gickup-7f9-abc"], "Containers": [["gickup"]]},
        "Phases": {"backupToStore": {"Output": {"kopiaOutput": "snap-123"}}},
        "ArtifactsIn": {"ghBackup": {"KopiaSnapshot": "snap-123"}},
        "Profile": {"Location":{"type":"s3Compliant","bucket":"b","endpoint":"http://minio:9000","prefix":"kanister","region":"us-east-1"},
            "Credential":{"Type":"keyPair","KeyPair":{"ID":"AK","Secret":"SK"},"Secret":null,"KopiaServerSecret":null},"SkipSSLVerify":false}
    });
    let profile_json = r#"{"Location":{"type":"s3Compliant","bucket":"b","endpoint":"http://minio:9000","prefix":"kanister","region":"us-east-1"},"Credential":{"Type":"keyPair","KeyPair":{"ID":"AK","Secret":"SK"},"Secret":null,"KopiaServerSecret":null},"SkipSSLVerify":false}"#;
    let backup_script = "gickup /config/conf.yml\nkando location push --profile '{{ toJson .Profile }}' --path \"{{ .Profile.Location.Bucket }}/gickup-backups\" --output-name \"kopiaOutput\" /backups\n";
    let expected_backup = format!("gickup /config/conf.yml\nkando location push --profile '{profile_json}' --path \"b/gickup-backups\" --output-name \"kopiaOutput\" /backups\n");
    check(&[
        (
            "{{ .Phases.backupToStore.Output.kopiaOutput }}",
            ctx.clone(),
            "snap-123",
        ),
        ("{{ .Deployment.Namespace }}", ctx.clone(), "gickup"),
        (
            "{{ index .Deployment.Pods 0 }}",
            ctx.clone(),
            "gickup-7f9-abc",
        ),
        (backup_script, ctx.clone(), expected_backup.as_str()),
        (
            "kopia_snap='{{ .ArtifactsIn.ghBackup.KopiaSnapshot }}'",
            ctx.clone(),
            "kopia_snap='snap-123'",
        ),
    ]);
    // The restore action's typo'd artifact name fails like Go's missingkey=error.
    let err = error_of(
        "kopia_snap='{{ .ArtifactsIn.esBackup.KopiaSnapshot }}'",
        ctx,
    );
    assert!(
        err.contains("map has no entry for key \"esBackup\""),
        "{err}"
    );
}

/// Random token soup must never panic, and whatever parses must translate
/// into tera source that tera accepts (an "internal error" would mean our
/// translation produced invalid tera).
#[test]
fn garbage_never_panics_or_breaks_translation() {
    const FRAGMENTS: &[&str] = &[
        "{{",
        "}}",
        "{{- ",
        " -}}",
        " ",
        ".",
        "A",
        ".A",
        ".B",
        "$",
        "$x",
        " := ",
        " = ",
        "|",
        "(",
        ")",
        "\"s\"",
        "'c'",
        "`r`",
        "if ",
        "end",
        "else ",
        "range ",
        "with ",
        "index ",
        "printf ",
        "/*",
        "*/",
        "1",
        "-",
        "\n",
        "é",
        "nil",
        "and ",
        "or ",
        "{% raw %}",
        "{% endraw %}",
        "{#",
        "break",
        "len ",
    ];
    let ctx = json!({"A": {"B": [1, "two"]}, "B": [3]});
    let mut seed: u64 = 0x2545F4914F6CDD1D;
    let mut rendered = 0;
    for _ in 0..3000 {
        let mut template = String::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = 1 + (seed % 12) as usize;
        for i in 0..len {
            let pick = (seed.rotate_left(i as u32 * 5) % FRAGMENTS.len() as u64) as usize;
            template.push_str(FRAGMENTS[pick]);
        }
        match render(&template, &ctx) {
            Ok(_) => rendered += 1,
            Err(e) => assert!(
                !e.message.starts_with("internal error"),
                "{template:?}: {e}"
            ),
        }
    }
    // The soup must also reach the renderer, not only the parser's errors.
    assert!(rendered > 300, "only {rendered} templates rendered");
}
