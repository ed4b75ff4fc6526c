//! The CI pipelines every stack generates (issue #3): `.gitlab-ci.yml` and
//! `.github/workflows/lbc.yml` validate against their published schemas (the ones PyPI's
//! check-jsonschema carries built in), and every pipeline calls lbc verbs only, in the
//! order style -> test -> build and push -> deploy qualification (main), staging (version
//! tag), production (manual).

use std::path::Path;
use std::process::Command;

use crate::init_support::{check_jsonschema, init, STACKS};
use crate::support::Project;

fn validate(tool: &Path, schema: &str, file: &Path) {
    let out = Command::new(tool)
        .args(["--builtin-schema", schema, "--no-cache"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} does not validate against {schema}:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn gitlab_and_github_pipelines_validate_against_their_schemas() {
    let Some(tool) = check_jsonschema("gitlab_and_github_pipelines_validate_against_their_schemas")
    else {
        return;
    };
    // The checker itself must reject a broken file, or this test proves nothing.
    let bad = Project::with(&[("bad.yml", "build:\n  script: 5\n  whenn: always\n")]);
    let out = Command::new(&tool)
        .args(["--builtin-schema", "vendor.gitlab-ci", "--no-cache"])
        .arg(bad.path().join("bad.yml"))
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "check-jsonschema accepted a broken pipeline"
    );

    for stack in STACKS {
        let p = Project::empty();
        let dir = init(&p, "ci-svc", stack, &[]);
        validate(&tool, "vendor.gitlab-ci", &dir.join(".gitlab-ci.yml"));
        validate(
            &tool,
            "vendor.github-workflows",
            &dir.join(".github/workflows/lbc.yml"),
        );
    }
}

/// The shell commands of a pipeline: GitLab `script` items, GitHub `run` steps,
/// Jenkins `sh '...'` steps.
fn commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_script = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || t.starts_with("//") {
            continue;
        }
        if let Some(rest) = t
            .strip_prefix("- run: ")
            .or_else(|| t.strip_prefix("run: "))
        {
            out.push(rest.to_owned());
        } else if let Some(rest) = t.strip_prefix("sh '") {
            out.push(rest.trim_end_matches('\'').to_owned());
        } else if t == "script:" {
            in_script = true;
            continue;
        } else if in_script {
            match t.strip_prefix("- ") {
                Some(cmd) if line.starts_with("    ") => out.push(cmd.to_owned()),
                _ => in_script = false,
            }
        }
    }
    out
}

#[test]
fn pipelines_call_lbc_verbs_only_in_the_agreed_order() {
    let p = Project::empty();
    let dir = init(&p, "ci-svc", "python", &[]);
    let want = [
        "lbc style",
        "lbc test unit",
        "lbc build --push",
        "lbc deploy qualification",
        "lbc deploy staging",
        "lbc deploy production --yes",
    ];
    for file in [".gitlab-ci.yml", ".github/workflows/lbc.yml", "Jenkinsfile"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let cmds = commands(&text);
        let verbs: Vec<&str> = cmds
            .iter()
            .map(String::as_str)
            .filter(|c| c.starts_with("lbc "))
            .collect();
        // Each verb appears, in this order.
        let mut at = 0;
        for w in want {
            let pos = verbs[at..]
                .iter()
                .position(|v| *v == w)
                .unwrap_or_else(|| panic!("{file}: `{w}` missing or out of order in {verbs:?}"));
            at += pos + 1;
        }
        // Anything else only installs lbc or writes the kubeconfig.
        for c in &cmds {
            assert!(
                c.starts_with("lbc ")
                    || c.starts_with("cargo install --locked --git")
                    || c.starts_with("mkdir -p ~/.kube"),
                "{file}: a step that is not an lbc verb: {c}"
            );
        }
    }
    let gitlab = std::fs::read_to_string(dir.join(".gitlab-ci.yml")).unwrap();
    assert!(gitlab.contains("stages:\n  - style\n  - test\n  - build\n  - deploy\n"));
    let prod = &gitlab[gitlab.find("deploy-production:").unwrap()..];
    assert!(prod.contains("when: manual"), "production is manual");
    let staging = &gitlab
        [gitlab.find("deploy-staging:").unwrap()..gitlab.find("deploy-production:").unwrap()];
    assert!(staging.contains("$CI_COMMIT_TAG =~ /^v\\d+\\.\\d+\\.\\d+$/"));
    let jenkins = std::fs::read_to_string(dir.join("Jenkinsfile")).unwrap();
    assert!(
        jenkins.contains("input {"),
        "Jenkins asks before production"
    );
    let gh = std::fs::read_to_string(dir.join(".github/workflows/lbc.yml")).unwrap();
    assert!(gh.contains("environment: production"));
}
