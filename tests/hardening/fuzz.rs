//! Issue #9, fuzzing with proptest: the lbc.toml loader, the template manifest parser,
//! the .dockerignore matcher and the three-way merge never panic, stay bounded, and keep
//! their invariants. The normal test run tries a few hundred inputs per target; set
//! `PROPTEST_CASES` for more (`scripts/fuzz.sh` does).

use std::path::Path;

use lbc::config;
use lbc::context::DockerIgnore;
use lbc::error::Error;
use lbc::template::manifest::Manifest;
use lbc::upgrade::merge::merge;
use proptest::prelude::*;
use proptest::test_runner::Config;

fn cfg() -> Config {
    let mut c = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 300;
    }
    c.failure_persistence = None;
    c
}

/// A message about a bad file: names it, stays short.
fn check_error(e: &Error, file: &str) {
    let text = e.to_string();
    assert!(text.len() < 3_000, "unbounded error ({} bytes)", text.len());
    if let Error::Config { rendered, .. } = e {
        assert!(rendered.contains(file), "{rendered}");
    }
}

const SECTIONS: &[&str] = &[
    "[project]",
    "[image]",
    "[image.args]",
    "[image.bases]",
    "[registry]",
    "[tasks]",
    "[tasks.x]",
    "[tasks.y.env]",
    "[deploy]",
    "[env.local]",
    "[env.staging]",
    "[env.local.vars]",
    "[env.staging.set]",
    "[[env]]",
    "[env.\"-x\"]",
    "",
];
const KEYS: &[&str] = &[
    "schema",
    "name",
    "description",
    "repository",
    "dockerfile",
    "context",
    "target",
    "platform",
    "server",
    "username_env",
    "password_env",
    "run",
    "stage",
    "image",
    "env",
    "chart",
    "manifests",
    "kustomize",
    "release",
    "kind",
    "protected",
    "port",
    "container_port",
    "bind",
    "health",
    "vars",
    "namespace",
    "kubeconfig",
    "values",
    "set",
    "timeout",
    "promote_from",
    "helm",
    "kubectl",
    "x",
    "\"A=B\"",
    "\"\"",
    "\"-x\"",
    "PATH",
];
const VALUES: &[&str] = &[
    "\"\"",
    "\"hello\"",
    "\"-v/:/host\"",
    "\"--help\"",
    "\"../..\"",
    "\"/\"",
    "\".\"",
    "\"a\\nb\"",
    "\"staging\"",
    "\"local\"",
    "\"docker\"",
    "\"kubernetes\"",
    "0",
    "1",
    "8080",
    "70000",
    "-1",
    "true",
    "[]",
    "[\"\"]",
    "[\"true\"]",
    "[\"-x\", \"y\"]",
    "{ run = [] }",
    "{ run = \"true\", stage = \"a\", image = \"b\" }",
    "{ \"a,b\" = \"x\" }",
    "\"5m\"",
    "\"5 minutes\"",
    "\"registry.example.com/team/hello\"",
    "\"Hello_World\"",
    "\"/healthz\"",
    "\"127.0.0.1\"",
    "\"r.io:5000\"",
    "\"linux/amd64\"",
    "\"é\"",
    "2",
    "\"x,y=z\"",
    "\"PATH=/evil\"",
    "{}",
    "1.5",
    "\"\\u0000\"",
];

fn toml_line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (prop::sample::select(KEYS), prop::sample::select(VALUES))
            .prop_map(|(k, v)| format!("{k} = {v}")),
        1 => prop::sample::select(SECTIONS).prop_map(str::to_owned),
        1 => "[ -~]{0,40}",
    ]
}

fn toml_doc() -> impl Strategy<Value = String> {
    (any::<bool>(), prop::collection::vec(toml_line(), 0..16)).prop_map(|(head, lines)| {
        let mut s = String::new();
        if head {
            s.push_str("[project]\nname = \"hello\"\n");
        }
        for l in lines {
            s.push_str(&l);
            s.push('\n');
        }
        s
    })
}

/// What an accepted lbc.toml guarantees: nothing lbc would pass to a tool as an option
/// or cannot run.
fn check_accepted(c: &config::Config) {
    use lbc::validate;
    for (name, t) in &c.tasks {
        if let config::TaskCommand::Argv(a) = &t.run {
            assert!(
                !a.is_empty() && !a[0].trim().is_empty(),
                "task {name}: {a:?}"
            );
        }
        for v in t.env.keys() {
            assert!(validate::env_name(v).is_ok(), "{v}");
        }
        for v in t.image.iter().chain(&t.stage) {
            assert!(!v.starts_with('-') && !v.is_empty(), "{v}");
        }
    }
    if let Some(i) = &c.image {
        assert!(validate::repo_path(&i.context).is_ok(), "{}", i.context);
        assert!(
            validate::repo_path(&i.dockerfile).is_ok(),
            "{}",
            i.dockerfile
        );
        for v in i.target.iter().chain(&i.platform) {
            assert!(!v.starts_with('-') && !v.is_empty(), "{v}");
        }
    }
    for (name, e) in &c.env {
        assert_ne!(e.port, Some(0));
        assert_ne!(e.container_port, Some(0));
        assert_ne!(e.promote_from.as_deref(), Some(name.as_str()));
        for v in e.vars.keys() {
            assert!(validate::env_name(v).is_ok(), "{v}");
        }
        for v in e.namespace.iter().chain(&e.context) {
            assert!(!v.starts_with('-') && !v.is_empty(), "{v}");
        }
    }
    if let Some(r) = c.deploy.as_ref().and_then(|d| d.release.as_ref()) {
        assert!(validate::release_name(r).is_ok(), "{r}");
    }
}

proptest! {
    #![proptest_config(cfg())]

    /// The loader on lbc.toml-like text: no panic, a bounded error naming the file, and
    /// an accepted file keeps its promises.
    #[test]
    fn lbc_toml_loader(doc in toml_doc()) {
        match config::parse(Path::new("/fuzz/lbc.toml"), &doc) {
            Ok(l) => check_accepted(&l.config),
            Err(e) => check_error(&e, "/fuzz/lbc.toml"),
        }
    }

    /// The loader on arbitrary bytes (invalid UTF-8 included).
    #[test]
    fn lbc_toml_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let path = Path::new("/fuzz/lbc.toml");
        match config::decode(path, bytes) {
            Ok(text) => {
                if let Err(e) = config::parse(path, &text) {
                    check_error(&e, "/fuzz/lbc.toml");
                }
            }
            Err(e) => check_error(&e, "/fuzz/lbc.toml"),
        }
    }

    /// The template manifest parser: no panic, bounded errors.
    #[test]
    fn template_manifest(lines in prop::collection::vec(prop_oneof![
        prop::sample::select(&[
            "[template]", "name = \"t\"", "version = \"1.0.0\"", "[variables.name]",
            "[variables.x]", "type = \"choice\"", "type = \"integer\"", "type = \"nope\"",
            "choices = []", "choices = [\"a\"]", "default = \"a\"", "default = 3",
            "pattern = \"[\"", "pattern = \"a+\"", "when = \"x ==\"", "when = \"true\"",
            "[[files]]", "paths = [\"../x\"]", "paths = []", "exclude = [\"/\"]",
            "renames = { \"a\" = \"../b\" }", "prompt = \"\"", "description = \"d\"",
        ][..]).prop_map(str::to_owned),
        "[ -~]{0,30}",
    ], 0..14)) {
        let text = lines.join("\n");
        if let Err(e) = Manifest::parse(Path::new("/fuzz/template.toml"), &text) {
            check_error(&e, "/fuzz/template.toml");
        }
    }

    /// The .dockerignore matcher: no panic, no blow-up on many `**`, and its rules.
    #[test]
    fn dockerignore_matcher(
        patterns in prop::collection::vec("(!?)((\\*\\*|[ab*?\\[\\]\\\\^.-]{1,4})/){0,6}[ab*?\\[\\]]{0,3}", 0..8),
        // Paths as the context walk makes them: no `.` or `..` segments.
        path in prop::collection::vec("[ab\\[\\]*-][ab.\\[\\]*-]{0,2}", 1..24),
    ) {
        let text = patterns.join("\n");
        let ig = DockerIgnore::parse(&text);
        let rel = path.join("/");
        let _ = ig.excluded(&rel);
        // `**` excludes everything; a later `!` of the exact path brings it back when
        // the path has no glob characters.
        let all = DockerIgnore::parse("**");
        prop_assert!(all.excluded(&rel));
        if !rel.contains(['*', '?', '[', ']', '\\']) {
            let lit = DockerIgnore::parse(&format!("{rel}\n!{rel}"));
            prop_assert!(!lit.excluded(&rel));
            let lit = DockerIgnore::parse(&rel);
            prop_assert!(lit.excluded(&rel));
        }
    }

    /// The three-way merge: merge(base, base, theirs) = theirs, merge(base, ours, base) =
    /// ours, merge(base, x, x) = x, and no input panics.
    #[test]
    fn three_way_merge(
        base in prop::collection::vec(prop::sample::select(&["a\n", "b\n", "c\n", "\n", "d", "<<<<<<< x\n"][..]), 0..12),
        ours in prop::collection::vec(prop::sample::select(&["a\n", "b\n", "x\n", "\n", "d"][..]), 0..12),
        theirs in prop::collection::vec(prop::sample::select(&["a\n", "c\n", "y\n", "\n", "e"][..]), 0..12),
    ) {
        let (b, o, t) = (base.concat(), ours.concat(), theirs.concat());
        prop_assert_eq!(merge(&b, &b, &t, "template").text, t.clone());
        prop_assert_eq!(merge(&b, &o, &b, "template").text, o.clone());
        prop_assert_eq!(merge(&b, &o, &o, "template").text, o.clone());
        let m = merge(&b, &o, &t, "template");
        if m.conflicts == 0 {
            prop_assert!(!m.text.contains(">>>>>>> template") || t.contains(">>>>>>> template") || o.contains(">>>>>>> template"));
        }
    }

    /// The merge on arbitrary text.
    #[test]
    fn three_way_merge_any(b in "[ -~\n]{0,80}", o in "[ -~\n]{0,80}", t in "[ -~\n]{0,80}") {
        let _ = merge(&b, &o, &t, "template");
        prop_assert_eq!(merge(&b, &b, &t, "template").text, t.clone());
        prop_assert_eq!(merge(&b, &o, &b, "template").text, o);
    }
}
