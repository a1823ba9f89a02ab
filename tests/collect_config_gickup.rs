//! gickup's `conf.yml` must be accepted unchanged; what we do not act on must be reported.

use forgesafe::collect::config::{parse_str, ForgeKind, Source};

const SEED: &str = include_str!("fixtures/kanister-gickup-conf.yml");

fn env_with_github_token(name: &str) -> Option<String> {
    (name == "GITHUB_TOKEN").then(|| "ghp_seedtoken0123456789".to_string())
}

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn seed_config_from_the_kanister_article_parses_verbatim() {
    let loaded = parse_str(SEED, "conf.yml", &env_with_github_token).unwrap();
    assert_eq!(loaded.config.jobs.len(), 1);
    let job = &loaded.config.jobs[0];
    let [Source::Forge(github)] = job.sources.as_slice() else {
        panic!("one github source expected: {job:?}")
    };
    assert_eq!(github.kind, ForgeKind::Github);
    assert_eq!(
        github.token.as_ref().unwrap().expose(),
        "ghp_seedtoken0123456789"
    );
    assert_eq!(github.user.as_deref(), Some("<add your github username>"));
    assert_eq!(
        github.include,
        vec!["<add specific repo names here>".to_string()]
    );
    assert!(github.wiki && github.issues);
    let destination = &job.destinations[0];
    assert_eq!(destination.path, std::path::PathBuf::from("/backups"));
    assert!(destination.structured && destination.bare && destination.zip && destination.lfs);
    assert_eq!(destination.keep, Some(5));

    // Every key that is set but not acted on is named in a warning; acted-on keys are not.
    for key in ["zip", "keep", "`log`"] {
        assert!(
            loaded.warnings.iter().any(|w| w.contains(key)),
            "no warning for {key}: {:#?}",
            loaded.warnings
        );
    }
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("keep") && w.contains("retention")),
        "keep says what to do instead: {:#?}",
        loaded.warnings
    );
    assert!(
        !loaded
            .warnings
            .iter()
            .any(|w| w.contains("issues") || w.contains("wiki") || w.contains("lfs")),
        "{:#?}",
        loaded.warnings
    );
    assert_eq!(loaded.warnings.len(), 3, "{:#?}", loaded.warnings);
    // The token never appears in a Debug dump of the config.
    assert!(!format!("{:?}", loaded.config).contains("ghp_seedtoken"));
}

#[test]
fn seed_config_without_the_token_variable_fails_naming_file_key_and_fix() {
    let err = parse_str(SEED, "/config/conf.yml", &no_env).unwrap_err();
    let message = format!("{err:#}");
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.starts_with("/config/conf.yml: source.github[0].token: environment variable `GITHUB_TOKEN` is not set"), "{message}");
    assert!(message.contains("export GITHUB_TOKEN"), "{message}");
}

const FULL: &str = r#"
source:
  gitea:
    - token: 0123456789abcdef0123456789abcdef01234567
      url: https://gitea.example.org
      user: alice
      exclude: [junk]
      includeorgs: [acme]
      excludeorgs: [old]
      starred: true
      filter:
        stars: 10
        lastactivity: 1y
        languages: [go, rust]
        excludearchived: true
        excludeforks: true
  any:
    - url: https://example.org/some/repo.git
      name: repo
      username: bob
      password: hunter2
  bitbucket:
    - user: carol
      token: NOT_SET_ANYWHERE
destination:
  local:
    - path: /backups/a
      structured: true
      bare: true
  s3:
    - bucket: b
cron: "0 22 * * *"
metrics:
  prometheus:
    endpoint: /metrics
---
source:
  gitlab:
    - token: glpat-literal-token
      wiki: true
destination:
  local:
    - path: /backups/b
      bare: true
      mirror: true
      inclde: typo
---
"#;

#[test]
fn several_documents_all_sources_and_warnings() {
    let loaded = parse_str(FULL, "conf.yml", &no_env).unwrap();
    let jobs = &loaded.config.jobs;
    assert_eq!(jobs.len(), 2, "the trailing empty document is skipped");
    assert_eq!(jobs[0].cron.as_deref(), Some("0 22 * * *"));
    let Source::Forge(gitea) = &jobs[0].sources[0] else {
        panic!()
    };
    assert_eq!(gitea.kind, ForgeKind::Gitea);
    assert_eq!(
        gitea.token.as_ref().unwrap().expose(),
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(gitea.filter.stars, Some(10));
    assert_eq!(gitea.filter.languages, vec!["go", "rust"]);
    assert!(gitea.filter.exclude_archived && gitea.filter.exclude_forks && gitea.starred);
    assert_eq!(gitea.include_orgs, vec!["acme"]);
    let Source::Plain(any) = &jobs[0].sources[1] else {
        panic!()
    };
    assert_eq!(any.url, "https://example.org/some/repo.git");
    assert_eq!(any.password.as_ref().unwrap().expose(), "hunter2");
    assert_eq!(
        jobs[0].sources.len(),
        2,
        "bitbucket is skipped, and its token is not resolved"
    );
    let Source::Forge(gitlab) = &jobs[1].sources[0] else {
        panic!()
    };
    assert_eq!(
        gitlab.token.as_ref().unwrap().expose(),
        "glpat-literal-token"
    );
    assert!(jobs[1].destinations[0].mirror);

    let warnings = loaded.warnings.join("\n");
    assert!(
        !warnings.contains("filter") && !warnings.contains("starred"),
        "acted-on keys warned about:\n{warnings}"
    );
    for expected in [
        "conf.yml, document 1: source.bitbucket: source `bitbucket` is not supported",
        "conf.yml, document 1: destination.s3: `s3` is not supported",
        "conf.yml, document 2: destination.local[0].inclde: not a gickup key",
    ] {
        assert!(
            warnings.contains(expected),
            "missing warning `{expected}` in:\n{warnings}"
        );
    }
    // `serve` acts on the schedule and the metrics; a command that runs once says so.
    assert!(
        !warnings.contains("cron") && !warnings.contains("metrics"),
        "{warnings}"
    );
    let serve_only = loaded.serve_only.join("\n");
    for expected in [
        "conf.yml, document 1: `cron` is acted on by `forgesafe serve` only",
        "conf.yml, document 1: `metrics` is acted on by `forgesafe serve` only",
    ] {
        assert!(
            serve_only.contains(expected),
            "missing note `{expected}` in:\n{serve_only}"
        );
    }
    let prometheus = jobs[0]
        .metrics
        .prometheus
        .as_ref()
        .expect("metrics.prometheus read");
    assert_eq!(
        (
            prometheus.endpoint.as_str(),
            prometheus.listen_addr.as_str()
        ),
        ("/metrics", ":6178"),
        "gickup's default listen_addr"
    );
}

fn error_of(text: &str) -> String {
    let message = format!("{:#}", parse_str(text, "conf.yml", &no_env).unwrap_err());
    assert_eq!(message.lines().count(), 1, "errors are one line: {message}");
    message
}

#[test]
fn bad_configs_fail_with_one_line_naming_the_key() {
    let unknown =
        error_of("source:\n  githb:\n    - user: x\ndestination:\n  local:\n    - path: /b\n");
    assert!(
        unknown.starts_with("conf.yml: source.githb: unknown source `githb`; use one of github"),
        "{unknown}"
    );

    let no_destination = error_of("source:\n  github:\n    - user: x\n");
    assert!(
        no_destination.starts_with("conf.yml: destination: no `local` destination"),
        "{no_destination}"
    );

    let malformed = error_of("source:\n  github: [\n");
    assert!(
        malformed.starts_with("conf.yml: malformed YAML:"),
        "{malformed}"
    );

    let wrong_type = error_of(
        "source:\n  github:\n    - wiki: perhaps\ndestination:\n  local:\n    - path: /b\n",
    );
    assert!(
        wrong_type.starts_with("conf.yml: source.github[0]:"),
        "{wrong_type}"
    );

    let no_path =
        error_of("source:\n  github:\n    - user: x\ndestination:\n  local:\n    - bare: true\n");
    assert!(
        no_path.starts_with("conf.yml: destination.local[0].path: missing"),
        "{no_path}"
    );

    let empty = error_of("");
    assert!(empty.starts_with("conf.yml: no `source:`"), "{empty}");
}

#[test]
fn token_file_is_read_when_given() {
    let dir = tempfile::tempdir().unwrap();
    let token_path = dir.path().join("gitea.token");
    std::fs::write(&token_path, "filetoken\n").unwrap();
    let text = format!(
        "source:\n  gitea:\n    - token_file: {}\n      url: https://g.example\ndestination:\n  local:\n    - path: /b\n      bare: true\n",
        token_path.display()
    );
    let loaded = parse_str(&text, "conf.yml", &no_env).unwrap();
    let Source::Forge(gitea) = &loaded.config.jobs[0].sources[0] else {
        panic!()
    };
    assert_eq!(gitea.token.as_ref().unwrap().expose(), "filetoken");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn only_an_explicit_bare_false_is_warned_about() {
    let config = |destination: &str| {
        format!("source:\n  any:\n    - url: https://example.org/a.git\ndestination:\n  local:\n    - path: /b\n{destination}")
    };
    let warnings = |text: String| {
        parse_str(&text, "conf.yml", &no_env)
            .unwrap()
            .warnings
            .join("\n")
    };
    assert_eq!(
        warnings(config("")),
        "",
        "gickup's `bare` unset: forgesafe's bare mirrors need no warning"
    );
    assert_eq!(warnings(config("      bare: true\n")), "");
    assert!(warnings(config("      bare: false\n")).contains("`bare: false` is ignored"));
}

#[test]
fn forge_destinations_are_read_as_live_mirrors_and_what_is_not_honoured_is_said_once() {
    let text = "source:\n  github:\n    - user: octo\ndestination:\n  local:\n    - path: /b\n  gitea:\n    - token: GITEA_TOKEN\n      url: https://git.example.org\n      user: backups\n      createorg: true\n      lfs: true\n      visibility:\n        repositories: public\n        organizations: private\n  github:\n    - token: gh-literal-token-0123\n      organization: mirror-org\n      force: false\n  gitlab:\n    - token_file: /nonexistent-token-file\n";
    let env = |name: &str| (name == "GITEA_TOKEN").then(|| "gitea-token-from-env-0123".to_string());
    // A token file that cannot be read is an error naming it.
    let err = format!("{:#}", parse_str(text, "conf.yml", &env).unwrap_err());
    assert!(err.contains("destination.gitlab[0].token_file"), "{err}");

    let text = text.replace("    - token_file: /nonexistent-token-file\n", "    - token: glpat-literal-0123\n      url: https://gitlab.example.org\n      mirror:\n        enabled: true\n");
    let loaded = parse_str(&text, "conf.yml", &env).unwrap();
    let forges = &loaded.config.jobs[0].forge_destinations;
    assert_eq!(forges.len(), 3, "{forges:?}");
    let by_kind = |kind| forges.iter().find(|f| f.kind == kind).unwrap();
    let gitea = by_kind(ForgeKind::Gitea);
    assert_eq!(gitea.token.expose(), "gitea-token-from-env-0123");
    assert_eq!(
        (gitea.url.as_deref(), gitea.owner.as_deref(), gitea.private),
        (Some("https://git.example.org"), Some("backups"), false)
    );
    let github = by_kind(ForgeKind::Github);
    assert_eq!(
        (
            github.owner.as_deref(),
            github.private,
            github.url.as_deref()
        ),
        (Some("mirror-org"), true, None)
    );
    let gitlab = by_kind(ForgeKind::Gitlab);
    assert_eq!((gitlab.owner.as_deref(), gitlab.private), (None, true));

    let warnings = loaded.warnings.join("\n");
    for expected in [
        "destination.gitea[0]: forgesafe pushes each collected repository there itself",
        "destination.gitea[0].createorg: not acted on",
        "destination.gitea[0].lfs: not acted on",
        "destination.gitea[0].visibility.organizations: not acted on",
        "destination.github[0].force: forgesafe always force-pushes",
    ] {
        assert!(
            warnings.contains(expected),
            "missing warning `{expected}` in:\n{warnings}"
        );
    }
    // GitLab's entry asks for pushes (`mirror.enabled`), which is what forgesafe does.
    assert!(!warnings.contains("destination.gitlab"), "{warnings}");
    assert!(!warnings.contains("is not supported"), "{warnings}");

    let no_token = error_of("source:\n  github:\n    - user: x\ndestination:\n  local:\n    - path: /b\n  gitea:\n    - url: https://git.example.org\n");
    assert!(
        no_token.starts_with("conf.yml: destination.gitea[0].token: missing"),
        "{no_token}"
    );
}
