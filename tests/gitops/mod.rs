//! #13: GitOps delivery against real git repositories (bare repositories over
//! `file://`): deploy, no-op, dry-run diff, promote, rollback, history, concurrent
//! deploys, and the failures that must leave nothing half-written.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::support::{git_in, Lbc, Project};

const CHART_YAML: &str = "apiVersion: v2\nname: hello\nversion: 0.1.0\n";
const CHART_TEMPLATE: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n  host: \"{{ .Values.ingress.host }}\"\n";

fn image(n: u8) -> String {
    let hex = format!("{n:x}").repeat(64);
    format!(
        "registry.example.com/team/hello:{n}.0@sha256:{}",
        &hex[..64]
    )
}

/// An environment repository (bare, branch main with one commit), a cache directory
/// and a project whose lbc.toml has gitops environments pointing at it.
struct Fixture {
    _dir: tempfile::TempDir,
    bare: PathBuf,
    cache: PathBuf,
    project: Project,
}

impl Fixture {
    fn new(envs: &str) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("lbc-gitops-")
            .tempdir()
            .unwrap();
        let bare = dir.path().join("environments.git");
        git_in(
            dir.path(),
            &["init", "-q", "--bare", "-b", "main", "environments.git"],
        );
        let seed = dir.path().join("seed");
        git_in(
            dir.path(),
            &[
                "clone",
                "-q",
                bare.to_str().unwrap(),
                seed.to_str().unwrap(),
            ],
        );
        std::fs::write(seed.join("README.md"), "environments\n").unwrap();
        git_in(&seed, &["add", "-A"]);
        git_in(&seed, &["commit", "-q", "-m", "initial"]);
        git_in(&seed, &["push", "-q", "origin", "HEAD:refs/heads/main"]);
        let cache = dir.path().join("cache");
        let project = project(&bare, envs);
        Fixture {
            _dir: dir,
            bare,
            cache,
            project,
        }
    }

    fn lbc(&self) -> Lbc {
        self.project
            .lbc()
            .env("XDG_CACHE_HOME", &self.cache)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
    }

    /// `git` in the environment repository.
    fn env_git(&self, args: &[&str]) -> String {
        git_in(&self.bare, args)
    }

    /// Another pipeline (or a person) commits a file to the environment repository
    /// (an empty content removes it).
    fn push_file(&self, path: &str, content: &str) {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().join("w");
        git_in(
            tmp.path(),
            &[
                "clone",
                "-q",
                self.bare.to_str().unwrap(),
                work.to_str().unwrap(),
            ],
        );
        let full = work.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        if content.is_empty() {
            std::fs::remove_file(full).unwrap();
        } else {
            std::fs::write(full, content).unwrap();
        }
        git_in(&work, &["add", "-A"]);
        git_in(&work, &["commit", "-q", "-m", &format!("by hand: {path}")]);
        git_in(&work, &["push", "-q", "origin", "HEAD:refs/heads/main"]);
    }

    fn commits(&self) -> usize {
        self.env_git(&["rev-list", "--count", "main"])
            .parse()
            .unwrap()
    }

    fn file(&self, path: &str) -> String {
        self.env_git(&["show", &format!("main:{path}")])
    }

    /// The clone lbc keeps in its cache: exactly one, and clean.
    fn assert_cache_clean(&self) {
        let root = self.cache.join("lbc/gitops");
        let clones: Vec<PathBuf> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        assert_eq!(clones.len(), 1, "{clones:?}");
        let status = git_in(
            &clones[0],
            &["status", "--porcelain", "--untracked-files=all"],
        );
        assert!(status.is_empty(), "the clone is not clean: {status}");
    }
}

fn project(bare: &Path, envs: &str) -> Project {
    let url = format!("file://{}", bare.display());
    let p = Project::with(&[
        (
            "lbc.toml",
            &format!(
                "schema = 2\n[project]\nname = \"hello\"\n[image]\nrepository = \"registry.example.com/team/hello\"\n{}",
                envs.replace("{repo}", &url)
            ),
        ),
        ("values-staging.yaml", "ingress:\n  host: staging.example.com\nreplicas: 1\n"),
        ("values-prod.yaml", "ingress:\n  host: www.example.com\nreplicas: 3\n"),
        ("deploy/chart/Chart.yaml", CHART_YAML),
        ("deploy/chart/values.yaml", "image:\n  repository: x\n  tag: y\ningress:\n  host: h\n"),
        ("deploy/chart/templates/cm.yaml", CHART_TEMPLATE),
    ]);
    p.git_init();
    p
}

const TWO_ENVS: &str = r#"[env.staging]
delivery = "gitops"
repo = "{repo}"
path = "apps/hello/staging"
format = "flux-helmrelease"
namespace = "hello"
values = ["values-staging.yaml"]
[env.production]
delivery = "gitops"
repo = "{repo}"
path = "apps/hello/production"
format = "flux-helmrelease"
namespace = "hello"
values = ["values-prod.yaml"]
protected = true
promote_from = "staging"
"#;

/// #13: a deploy writes the HelmRelease (values layered, image by digest) and kustomization,
/// commits "old -> new" with the source commit and pushes; the same deploy again is a
/// no-op (no commit); `--dry-run` prints the plan and the diff and commits nothing.
#[test]
fn gitops_deploy_commits_once_and_dry_run_shows_the_diff() {
    let f = Fixture::new(TWO_ENVS);
    let before = f.commits();
    let dry = f
        .lbc()
        .args(["deploy", "staging", "--image", &image(1), "--dry-run"])
        .run()
        .success();
    let out = dry.stdout();
    assert!(
        out.contains("git push --quiet --porcelain -- origin HEAD:refs/heads/main"),
        "{out}"
    );
    assert!(
        out.contains("+++ b/apps/hello/staging/helmrelease.yaml"),
        "{out}"
    );
    assert!(out.contains("+      host: staging.example.com"), "{out}");
    assert!(
        out.contains(&format!("+      tag: \"1.0@sha256:{}\"", "1".repeat(64))),
        "{out}"
    );
    assert!(
        out.contains("--- /dev/null\n+++ b/apps/hello/staging/kustomization.yaml"),
        "{out}"
    );
    assert_eq!(f.commits(), before, "a dry run commits nothing");

    f.lbc()
        .args(["deploy", "staging", "--image", &image(1)])
        .run()
        .success()
        .stderr_has("pushed to");
    assert_eq!(f.commits(), before + 1);
    let hr = f.file("apps/hello/staging/helmrelease.yaml");
    assert!(hr.contains("kind: HelmRelease"), "{hr}");
    assert!(hr.contains("chart: deploy/chart"), "{hr}");
    assert!(
        hr.contains(&format!("digest: \"sha256:{}\"", "1".repeat(64))),
        "{hr}"
    );
    assert!(hr.contains("host: staging.example.com"), "{hr}");
    let msg = f.env_git(&["log", "-1", "--format=%B", "main"]);
    assert!(msg.starts_with("deploy hello to staging: nothing -> registry.example.com/team/hello:1.0@sha256:111111111111"), "{msg}");
    assert!(
        msg.contains(&format!("Lbc-Source-Commit: {}", f.project.head())),
        "{msg}"
    );
    assert!(msg.contains(&format!("Lbc-Image: {}", image(1))), "{msg}");

    // The same release again: nothing to commit.
    f.lbc()
        .args(["deploy", "staging", "--image", &image(1)])
        .run()
        .success()
        .stderr_has("already holds this release: nothing to commit");
    assert_eq!(f.commits(), before + 1, "a no-op deploy makes no commit");
    let dry = f
        .lbc()
        .args([
            "deploy",
            "staging",
            "--image",
            &image(1),
            "--dry-run",
            "--output",
            "json",
        ])
        .run()
        .success();
    assert_eq!(dry.json()["diff"], "");

    // A new image: the message says old -> new, the diff is two lines.
    let dry = f
        .lbc()
        .args([
            "deploy",
            "staging",
            "--image",
            &image(2),
            "--dry-run",
            "--output",
            "json",
        ])
        .run()
        .success();
    let diff = dry.json()["diff"].as_str().unwrap().to_owned();
    assert_eq!(
        diff.lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .count(),
        2,
        "{diff}"
    );
    f.lbc()
        .args(["deploy", "staging", "--image", &image(2)])
        .run()
        .success();
    let subject = f.env_git(&["log", "-1", "--format=%s", "main"]);
    assert_eq!(subject, "deploy hello to staging: registry.example.com/team/hello:1.0@sha256:111111111111 -> registry.example.com/team/hello:2.0@sha256:222222222222");
    f.assert_cache_clean();
}

/// #13: promote commits exactly staging's digest (and records where it came from, with
/// staging's source commit) under production's path, behind the protected guard;
/// rollback writes an earlier release back as a new commit; history lists them all.
#[test]
fn gitops_promote_rollback_and_history() {
    let f = Fixture::new(TWO_ENVS);
    for n in [1, 2] {
        f.lbc()
            .args(["deploy", "staging", "--image", &image(n)])
            .run()
            .success();
    }
    let staging_release = f.env_git(&["rev-parse", "main"]);
    let before = f.commits();
    // promote_from: only what staging has committed goes to production.
    f.lbc()
        .args(["deploy", "production", "--image", &image(9), "--yes"])
        .run()
        .code_is(5)
        .stderr_has("only takes images that run in `staging`")
        .stderr_has(&format!("is not the image committed there ({})", image(2)));
    assert_eq!(f.commits(), before);
    f.lbc()
        .args(["promote", "staging", "production"])
        .run()
        .code_is(5)
        .stderr_has("protected");
    assert_eq!(f.commits(), before, "the guard refused before any commit");
    f.lbc()
        .args(["promote", "staging", "production", "--yes"])
        .run()
        .success();
    assert_eq!(f.commits(), before + 1);
    let prod = f.file("apps/hello/production/helmrelease.yaml");
    assert!(
        prod.contains(&format!("digest: \"sha256:{}\"", "2".repeat(64))),
        "{prod}"
    );
    assert!(
        prod.contains("host: www.example.com"),
        "production keeps its own values: {prod}"
    );
    let msg = f.env_git(&["log", "-1", "--format=%B", "main"]);
    assert!(msg.starts_with("promote hello to production: nothing -> registry.example.com/team/hello:2.0@sha256:222222222222"), "{msg}");
    assert!(
        msg.contains(&format!(
            "Lbc-Promoted-From: staging revision 2 (commit {staging_release})"
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("Lbc-Source-Commit: {}", f.project.head())),
        "{msg}"
    );

    // Rollback of staging: revision 1's files back, as a new commit.
    let rev1 = f.env_git(&["rev-parse", "main~2"]);
    let rev1_file = f.env_git(&[
        "show",
        &format!("{rev1}:apps/hello/staging/helmrelease.yaml"),
    ]);
    f.lbc().args(["rollback", "staging"]).run().success();
    assert_eq!(f.commits(), before + 2, "history is kept: a new commit");
    assert_eq!(f.file("apps/hello/staging/helmrelease.yaml"), rev1_file);
    let msg = f.env_git(&["log", "-1", "--format=%B", "main"]);
    assert!(msg.starts_with("rollback staging to revision 1"), "{msg}");
    assert!(msg.contains(&format!("Lbc-Rollback-To: {rev1}")), "{msg}");
    assert!(msg.contains(&format!("Lbc-Image: {}", image(1))), "{msg}");

    // Rolling back to the revision it already holds is a no-op.
    f.lbc()
        .args(["rollback", "staging", "3"])
        .run()
        .success()
        .stderr_has("nothing to commit");
    f.lbc()
        .args(["rollback", "staging", "9"])
        .run()
        .code_is(2)
        .stderr_has("has no revision 9");

    let h = f
        .lbc()
        .args(["history", "staging", "--output", "json"])
        .run()
        .success();
    let hist = h.json()["history"].as_array().unwrap().clone();
    assert_eq!(hist.len(), 3);
    assert_eq!(hist[0]["revision"], 3);
    assert_eq!(hist[0]["image"], image(1));
    assert_eq!(hist[2]["image"], image(1));
    assert_eq!(hist[1]["image"], image(2));
    f.lbc()
        .args(["history", "production"])
        .run()
        .success()
        .stdout_has("REVISION  COMMIT")
        .stdout_has("promote hello to production");
    f.lbc()
        .args(["status", "staging"])
        .run()
        .success()
        .stdout_has("committed: revision 3")
        .stdout_has(&image(1));
    // destroy: the path removed in a commit (protected: asks first); promote then has
    // nothing to take from staging.
    let before = f.commits();
    f.lbc().args(["destroy", "production"]).run().code_is(5);
    f.lbc()
        .args(["destroy", "production", "--yes"])
        .run()
        .success();
    assert_eq!(f.commits(), before + 1);
    let tree = f.env_git(&["ls-tree", "-r", "--name-only", "main"]);
    assert!(!tree.contains("apps/hello/production"), "{tree}");
    assert!(
        tree.contains("apps/hello/staging/helmrelease.yaml"),
        "{tree}"
    );
    f.lbc().args(["destroy", "staging"]).run().success();
    f.lbc()
        .args(["promote", "staging", "production", "--yes"])
        .run()
        .code_is(2)
        .stderr_has("nothing runs in `staging` to promote");
    f.assert_cache_clean();
}

/// #13: two pipelines (two projects with their own clones) deploy to one environment
/// repository at the same moment, several times: every release lands, no force-push.
#[test]
fn gitops_concurrent_deploys_both_land() {
    let f = Fixture::new(
        "[env.staging]\ndelivery = \"gitops\"\nrepo = \"{repo}\"\npath = \"apps/one/staging\"\nformat = \"flux-helmrelease\"\n",
    );
    let other = project(
        &f.bare,
        "[env.staging]\ndelivery = \"gitops\"\nrepo = \"{repo}\"\npath = \"apps/two/staging\"\nformat = \"argocd-application\"\n",
    );
    let other_cache = tempfile::tempdir().unwrap();
    let before = f.commits();
    for round in 1..=3u8 {
        let spawn = |lbc: Lbc| {
            lbc.args(["deploy", "staging", "--image", &image(round)])
                .command()
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let a = spawn(f.lbc());
        let b = spawn(
            other
                .lbc()
                .env("XDG_CACHE_HOME", other_cache.path())
                .env("GIT_CONFIG_GLOBAL", "/dev/null"),
        );
        for c in [a, b] {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    assert_eq!(f.commits(), before + 6, "every release landed");
    assert!(f
        .file("apps/one/staging/helmrelease.yaml")
        .contains(&"3".repeat(64)));
    let app = f.file("apps/two/staging/application.yaml");
    assert!(app.contains("kind: Application"), "{app}");
    assert!(app.contains(&"3".repeat(64)), "{app}");
    // Linear history: no merge commits, nothing forced away.
    assert_eq!(f.env_git(&["rev-list", "--merges", "--count", "main"]), "0");
}

/// #13: bad input and failures: a path outside the repository and a bad branch are
/// refused at load (file:line, exit 2); an unreachable repository exits 4, a missing
/// branch 2, a rejected push 1 — nothing pushed and lbc's clone left clean.
#[test]
fn gitops_bad_input_and_failures_leave_nothing_half_written() {
    for (bad, needle) in [
        ("path = \"../other\"", "climbs out with `..`"),
        ("path = \"/etc/apps\"", "it is absolute"),
        ("branch = \"-x\"", "not a valid branch name"),
        (
            "token_env = \"ghp_abc def\"",
            "not an environment variable name",
        ),
        (
            "repo = \"https://bot:ghp_s3cret@git.example.com/envs.git\"",
            "carries a password or token",
        ),
    ] {
        let key = bad.split(' ').next().unwrap();
        let envs = format!(
            "[env.staging]\ndelivery = \"gitops\"\nformat = \"manifests\"\n{}{}{bad}\n",
            if key == "path" {
                ""
            } else {
                "path = \"apps/x\"\n"
            },
            if key == "repo" {
                ""
            } else {
                "repo = \"{repo}\"\n"
            }
        );
        let f = Fixture::new(&envs);
        f.lbc()
            .args(["deploy", "staging", "--image", &image(1)])
            .run()
            .code_is(2)
            .stderr_has(needle)
            .stderr_has("lbc.toml:");
    }
    let f = Fixture::new(
        "[env.a]\ndelivery = \"gitops\"\nrepo = \"{repo}\"\npath = \"apps/x\"\nformat = \"manifests\"\n[env.b]\ndelivery = \"gitops\"\nrepo = \"{repo}\"\npath = \"apps/x/b\"\nformat = \"manifests\"\n",
    );
    f.lbc()
        .args(["deploy", "a", "--image", &image(1)])
        .run()
        .code_is(2)
        .stderr_has("`env.b` and `env.a` write to the same directory")
        .stderr_has("lbc.toml:");
    let f = Fixture::new("[env.staging]\ndelivery = \"gitops\"\nrepo = \"{repo}\"\n");
    f.lbc()
        .args(["deploy", "staging", "--image", &image(1)])
        .run()
        .code_is(2)
        .stderr_has("has delivery = \"gitops\" but no `path`");
    // `status --wait` is for gitops environments; without a context there is nothing to read.
    let f = Fixture::new(
        "[env.local]\nkind = \"docker\"\n[env.g]\ndelivery = \"gitops\"\nrepo = \"{repo}\"\npath = \"apps/g\"\nformat = \"manifests\"\n",
    );
    f.lbc()
        .args(["status", "local", "--wait"])
        .run()
        .code_is(2)
        .stderr_has("`--wait` applies to gitops environments");
    f.lbc()
        .args(["status", "g", "--wait"])
        .run()
        .code_is(2)
        .stderr_has("the environment has no `context`");
    let f = Fixture::new("[env.staging]\nrepo = \"{repo}\"\npath = \"a\"\n");
    f.lbc()
        .args(["deploy", "staging", "--image", &image(1)])
        .run()
        .code_is(2)
        .stderr_has("applies to gitops environments");

    let f = Fixture::new(
        "[env.staging]\ndelivery = \"gitops\"\nrepo = \"file:///nonexistent/lbc-envs.git\"\npath = \"apps/x\"\nformat = \"flux-helmrelease\"\n[env.qa]\ndelivery = \"gitops\"\nrepo = \"{repo}\"\nbranch = \"release\"\npath = \"apps/x\"\nformat = \"flux-helmrelease\"\n[env.dev]\ndelivery = \"gitops\"\nrepo = \"{repo}\"\npath = \"apps/dev\"\nformat = \"flux-helmrelease\"\n",
    );
    f.lbc()
        .args(["deploy", "staging", "--image", &image(1)])
        .run()
        .code_is(4)
        .stderr_has("cannot be reached");
    f.lbc()
        .args(["deploy", "qa", "--image", &image(1)])
        .run()
        .code_is(2)
        .stderr_has("branch `release` does not exist");
    // A directory lbc never released to is not lbc's to replace.
    f.push_file("apps/dev/hand-written.yaml", "kind: ConfigMap\n");
    let before = f.commits();
    f.lbc()
        .args(["deploy", "dev", "--image", &image(1)])
        .run()
        .code_is(5)
        .stderr_has("holds files that lbc never released for `dev`");
    assert_eq!(f.commits(), before);
    f.assert_cache_clean();
    f.push_file("apps/dev/hand-written.yaml", "");
    let before = f.commits();
    // A server that refuses every push (a pre-receive hook).
    let hook = f.bare.join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho 'pushes are closed' >&2\nexit 1\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    f.lbc()
        .args(["deploy", "dev", "--image", &image(1)])
        .run()
        .code_is(1)
        .stderr_has("the push to");
    assert_eq!(f.commits(), before, "nothing was pushed");
    f.assert_cache_clean();
    std::fs::remove_file(&hook).unwrap();
    // The next run starts from the clean clone and lands.
    f.lbc()
        .args(["deploy", "dev", "--image", &image(1)])
        .run()
        .success();
    assert_eq!(f.commits(), before + 1);
}

/// #13: the rendered-manifests format runs `helm template` with the environment's values
/// and the image, plus a kustomization; `lbc render` prints those files; a token named
/// by `token_env` never shows in the plan.
#[test]
fn gitops_manifests_format_and_render() {
    let Some(helm) = helm_bin("gitops_manifests_format_and_render") else {
        return;
    };
    let f = Fixture::new(&format!(
        "[env.prod]\ndelivery = \"gitops\"\nrepo = \"{{repo}}\"\npath = \"clusters/prod/hello\"\nformat = \"manifests\"\nnamespace = \"web\"\nvalues = [\"values-prod.yaml\"]\ntoken_env = \"LBC_TEST_GITOPS_TOKEN\"\nhelm = \"{helm}\"\n"
    ));
    let token = "tok-9c1e5f0a7b";
    let r = f
        .lbc()
        .env("LBC_TEST_GITOPS_TOKEN", token)
        .args(["render", "prod", "--image", &image(4)])
        .run()
        .success();
    let out = r.stdout();
    assert!(
        out.contains("# clusters/prod/hello/manifests.yaml"),
        "{out}"
    );
    assert!(out.contains("host: \"www.example.com\""), "{out}");
    assert!(out.contains(&format!("image: \"{}\"", image(4))), "{out}");
    assert!(
        out.contains("# clusters/prod/hello/kustomization.yaml"),
        "{out}"
    );
    assert!(out.contains("namespace: web"), "{out}");
    f.lbc()
        .env("LBC_TEST_GITOPS_TOKEN", token)
        .args([
            "deploy",
            "prod",
            "--image",
            &image(4),
            "--dry-run",
            "--output",
            "json",
        ])
        .run()
        .success()
        .nowhere(token);
    f.lbc()
        .env("LBC_TEST_GITOPS_TOKEN", token)
        .args(["deploy", "prod", "--image", &image(4)])
        .run()
        .success()
        .nowhere(token);
    let k = f.file("clusters/prod/hello/kustomization.yaml");
    assert!(k.contains("- manifests.yaml"), "{k}");
    f.lbc()
        .env_remove("LBC_TEST_GITOPS_TOKEN")
        .args(["deploy", "prod", "--image", &image(4)])
        .run()
        .code_is(2)
        .stderr_has("$LBC_TEST_GITOPS_TOKEN, which is not set");
}

/// helm from the test environment (`LBC_TEST_HELM`) or PATH; `None` (skipped) without.
fn helm_bin(test: &str) -> Option<String> {
    if let Some(h) = std::env::var("LBC_TEST_HELM")
        .ok()
        .filter(|v| !v.is_empty())
    {
        return Some(h);
    }
    if let Ok(p) = which_helm() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() || std::env::var_os("LBC_TEST_ENV").is_some() {
        panic!("{test}: helm is expected in the test environment; run `bash scripts/test-env.sh`");
    }
    eprintln!("skipped {test}: needs helm (run `bash scripts/test.sh`)");
    None
}

fn which_helm() -> Result<String, ()> {
    let out = std::process::Command::new("sh")
        .args(["-c", "command -v helm"])
        .output()
        .map_err(|_| ())?;
    let p = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() && !p.is_empty() {
        Ok(p)
    } else {
        Err(())
    }
}

const CRDS: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: helmreleases.helm.toolkit.fluxcd.io
spec:
  group: helm.toolkit.fluxcd.io
  names: {kind: HelmRelease, plural: helmreleases, singular: helmrelease, listKind: HelmReleaseList}
  scope: Namespaced
  versions:
  - name: v2
    served: true
    storage: true
    subresources: {status: {}}
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: applications.argoproj.io
spec:
  group: argoproj.io
  names: {kind: Application, plural: applications, singular: application, listKind: ApplicationList}
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: kustomizations.kustomize.toolkit.fluxcd.io
spec:
  group: kustomize.toolkit.fluxcd.io
  names: {kind: Kustomization, plural: kustomizations, singular: kustomization, listKind: KustomizationList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"#;

const KUSTOMIZATION: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  interval: 1m\n  path: ./apps/hello/kust\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: environments\n";

/// A test controller: applies the HelmRelease / Application committed under each path
/// (as Flux's kustomize-controller or an Argo CD app-of-apps would) and writes its
/// status: ready, or failed when the image's digest is all `b`s.
fn reconcile_once(
    bare: &Path,
    kubectl: &Path,
    env: &[(String, String)],
    dir: &Path,
    seen: &mut std::collections::BTreeMap<String, String>,
) {
    // The Flux Kustomization `flux-system/apps` applies apps/hello/kust at the tip.
    let tip = String::from_utf8_lossy(
        &std::process::Command::new("git")
            .args(["rev-parse", "main"])
            .current_dir(bare)
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .to_owned();
    let manifests = std::process::Command::new("git")
        .args(["show", "main:apps/hello/kust/manifests.yaml"])
        .current_dir(bare)
        .output()
        .unwrap();
    if manifests.status.success() && seen.get("kust") != Some(&tip) {
        let broken = String::from_utf8_lossy(&manifests.stdout).contains(&"b".repeat(64));
        let rev = format!("main@sha1:{tip}");
        let status = if broken {
            serde_json::json!({"status": {"observedGeneration": 1, "lastAttemptedRevision": rev, "lastAppliedRevision": "main@sha1:0000000000000000000000000000000000000000",
                "conditions": [{"type": "Ready", "status": "False", "reason": "ReconciliationFailed", "message": "Deployment/hello dry-run failed: image rejected by policy"}]}})
        } else {
            serde_json::json!({"status": {"observedGeneration": 1, "lastAttemptedRevision": rev, "lastAppliedRevision": rev,
                "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": format!("Applied revision: {rev}")}]}})
        };
        let o = std::process::Command::new(kubectl)
            .args([
                "patch",
                "kustomizations.kustomize.toolkit.fluxcd.io",
                "apps",
                "-n",
                "flux-system",
                "--subresource=status",
                "--type=merge",
                "-p",
                &status.to_string(),
            ])
            .envs(env.iter().cloned())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        seen.insert("kust".into(), tip);
    }
    for (file, resource, name, ns) in [
        (
            "apps/hello/flux/helmrelease.yaml",
            "helmreleases.helm.toolkit.fluxcd.io",
            "hello",
            "hello",
        ),
        (
            "apps/hello/argo/application.yaml",
            "applications.argoproj.io",
            "hello-argo",
            "argocd",
        ),
    ] {
        let out = std::process::Command::new("git")
            .args(["show", &format!("main:{file}")])
            .current_dir(bare)
            .output()
            .unwrap();
        if !out.status.success() {
            continue;
        }
        let content = String::from_utf8_lossy(&out.stdout).into_owned();
        if seen.get(file) == Some(&content) {
            continue;
        }
        let manifest = dir.join("object.yaml");
        std::fs::write(&manifest, &content).unwrap();
        let kc = |args: &[&str]| {
            let o = std::process::Command::new(kubectl)
                .args(args)
                .envs(env.iter().cloned())
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "kubectl {args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        kc(&["apply", "-f", manifest.to_str().unwrap()]);
        let generation = kc(&[
            "get",
            resource,
            name,
            "-n",
            ns,
            "-o",
            "jsonpath={.metadata.generation}",
        ]);
        let broken = content.contains(&"b".repeat(64));
        let status = if resource.starts_with("helmreleases") {
            serde_json::json!({"status": {
                "observedGeneration": generation.trim().parse::<i64>().unwrap(),
                "lastAppliedRevision": "0.1.0",
                "conditions": [if broken {
                    serde_json::json!({"type": "Ready", "status": "False", "reason": "UpgradeFailed", "message": "Helm upgrade failed: image pull back-off"})
                } else {
                    serde_json::json!({"type": "Ready", "status": "True", "reason": "UpgradeSucceeded", "message": "Helm upgrade succeeded"})
                }]
            }})
        } else {
            let source: serde_json::Value = serde_json::from_str(&kc(&[
                "get",
                resource,
                name,
                "-n",
                ns,
                "-o",
                "jsonpath={.spec.source}",
            ]))
            .unwrap();
            serde_json::json!({"status": {
                "sync": {"status": "Synced", "revision": "abc123", "comparedTo": {"source": source}},
                "health": if broken {
                    serde_json::json!({"status": "Degraded", "message": "Deployment hello exceeded its progress deadline"})
                } else {
                    serde_json::json!({"status": "Healthy"})
                }
            }})
        };
        kc(&[
            "patch",
            resource,
            name,
            "-n",
            ns,
            "--subresource=status",
            "--type=merge",
            "-p",
            &status.to_string(),
        ]);
        seen.insert(file.to_owned(), content);
    }
}

/// #13: with a kube context, a deploy waits until the cluster's controller reconciled the
/// committed release (Flux HelmRelease Ready, Argo CD Synced/Healthy, read from the
/// objects on the Kubernetes API emulator), fails clearly when the controller reports a
/// failure or time runs out; `status` shows both sides and `status --wait` waits.
#[test]
fn gitops_status_and_wait_read_the_controllers_status() {
    let Some(kenv) = crate::support::kube_env("gitops_status_and_wait_read_the_controllers_status")
    else {
        return;
    };
    if kenv.real.is_some() {
        eprintln!("skipped: writes Flux/Argo CD CRDs; runs on the emulator only");
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let kubeconfig = state.path().join("kubeconfig");
    let Some(_cluster) = crate::support::Cluster::start(&kenv, &kubeconfig, "emu-gitops", false)
    else {
        return;
    };
    let tool_env: Vec<(String, String)> = vec![
        ("KUBECONFIG".into(), kubeconfig.display().to_string()),
        (
            "KUBECACHEDIR".into(),
            state.path().join("kube-cache").display().to_string(),
        ),
    ];
    let envs = format!(
        "[env.flux]\ndelivery = \"gitops\"\nrepo = \"{{repo}}\"\npath = \"apps/hello/flux\"\nformat = \"flux-helmrelease\"\nnamespace = \"hello\"\ncontext = \"emu-gitops\"\nkubeconfig = \"{kc}\"\nkubectl = \"{kubectl}\"\ntimeout = \"20s\"\n\
         [env.argo]\ndelivery = \"gitops\"\nrepo = \"{{repo}}\"\npath = \"apps/hello/argo\"\nformat = \"argocd-application\"\nnamespace = \"hello\"\ncontext = \"emu-gitops\"\nkubeconfig = \"{kc}\"\nkubectl = \"{kubectl}\"\ntimeout = \"20s\"\n\
         [env.kust]\ndelivery = \"gitops\"\nrepo = \"{{repo}}\"\npath = \"apps/hello/kust\"\nformat = \"manifests\"\nnamespace = \"hello\"\ncontext = \"emu-gitops\"\nkubeconfig = \"{kc}\"\nkubectl = \"{kubectl}\"\nhelm = \"{helm}\"\nkustomization = \"flux-system/apps\"\ntimeout = \"20s\"\n\
         [env.slow]\ndelivery = \"gitops\"\nrepo = \"{{repo}}\"\npath = \"apps/hello/slow\"\nformat = \"flux-helmrelease\"\nnamespace = \"slow\"\ncontext = \"emu-gitops\"\nkubeconfig = \"{kc}\"\nkubectl = \"{kubectl}\"\ntimeout = \"3s\"\n",
        kc = kubeconfig.display(),
        kubectl = kenv.kubectl.display(),
        helm = kenv.helm.display()
    );
    let f = Fixture::new(&envs);
    let crds = state.path().join("crds.yaml");
    std::fs::write(&crds, CRDS).unwrap();
    for args in [
        vec!["apply", "-f", crds.to_str().unwrap()],
        vec!["create", "namespace", "hello"],
        vec!["create", "namespace", "argocd"],
        vec!["create", "namespace", "flux-system"],
    ] {
        let o = std::process::Command::new(&kenv.kubectl)
            .args(&args)
            .envs(tool_env.iter().cloned())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // The test controller runs until the test ends.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let controller = {
        let stop = stop.clone();
        let bare = f.bare.clone();
        let kubectl = kenv.kubectl.clone();
        let env = tool_env.clone();
        let dir = state.path().to_owned();
        std::thread::spawn(move || {
            let mut seen = std::collections::BTreeMap::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                reconcile_once(&bare, &kubectl, &env, &dir, &mut seen);
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
        })
    };
    let lbc = || f.lbc().env("KUBECACHEDIR", state.path().join("kube-cache"));

    lbc()
        .args(["deploy", "flux", "--image", &image(1)])
        .run()
        .success()
        .stderr_has("Wait for the cluster of `flux` to reconcile")
        .stderr_has("cluster: HelmRelease ready, revision 0.1.0");
    lbc()
        .args(["status", "flux", "--wait"])
        .run()
        .success()
        .stdout_has("committed: revision 1")
        .stdout_has("cluster: HelmRelease ready, revision 0.1.0: Helm upgrade succeeded");
    let s = lbc()
        .args(["status", "flux", "--output", "json"])
        .run()
        .success();
    assert_eq!(s.json()["cluster"]["ready"], true);
    assert_eq!(
        s.json()["cluster"]["image"],
        format!("sha256:{}", "1".repeat(64))
    );

    // The controller fails the upgrade: the deploy says so (the commit stays).
    let before = f.commits();
    lbc()
        .args(["deploy", "flux", "--image", &image(11)])
        .run()
        .code_is(1)
        .stderr_has("the cluster of `flux` failed to apply")
        .stderr_has("Helm upgrade failed: image pull back-off")
        .stderr_has("lbc rollback flux");
    assert_eq!(f.commits(), before + 1);
    lbc()
        .args(["status", "flux", "--wait"])
        .run()
        .code_is(1)
        .stderr_has("failed to apply");

    lbc()
        .args(["deploy", "argo", "--image", &image(2)])
        .run()
        .success()
        .stderr_has("cluster: Application ready, revision abc123, sync Synced, health Healthy");
    lbc()
        .args(["deploy", "argo", "--image", &image(11)])
        .run()
        .code_is(1)
        .stderr_has("health Degraded: Deployment hello exceeded its progress deadline");

    // format manifests, followed through the Flux Kustomization that applies the path.
    let kust = state.path().join("kustomization.yaml");
    std::fs::write(&kust, KUSTOMIZATION).unwrap();
    let o = std::process::Command::new(&kenv.kubectl)
        .args(["apply", "-f", kust.to_str().unwrap()])
        .envs(tool_env.iter().cloned())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    lbc()
        .args(["deploy", "kust", "--image", &image(6)])
        .run()
        .success()
        .stderr_has("cluster: Kustomization ready, revision main@sha1:");
    let tip = f.env_git(&["rev-parse", "main"]);
    lbc()
        .args(["status", "kust", "--wait"])
        .run()
        .success()
        .stdout_has(&format!("Applied revision: main@sha1:{tip}"));
    lbc()
        .args(["deploy", "kust", "--image", &image(11)])
        .run()
        .code_is(1)
        .stderr_has("image rejected by policy");

    // Nobody reconciles `slow`: the wait ends at its timeout.
    lbc()
        .args(["deploy", "slow", "--image", &image(3)])
        .run()
        .code_is(1)
        .stderr_has("did not reconcile")
        .stderr_has("within 3s: the object is not on the cluster");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    controller.join().unwrap();
}

/// lighttpd serving git's own http-backend (CGI) with basic auth on 127.0.0.1, stopped
/// by its PID when dropped; `None` (skipped) without lighttpd outside the test env.
struct HttpGit {
    child: std::process::Child,
    port: u16,
}

impl HttpGit {
    fn start(root: &Path, user: &str, password: &str) -> Option<HttpGit> {
        let lighttpd = ["/usr/sbin/lighttpd", "/usr/bin/lighttpd"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file());
        let backend = PathBuf::from("/usr/lib/git-core/git-http-backend");
        let (Some(lighttpd), true) = (lighttpd, backend.is_file()) else {
            if std::env::var_os("CI").is_some() || std::env::var_os("LBC_TEST_ENV").is_some() {
                panic!("lighttpd and git-http-backend are expected in the test environment; run `bash scripts/test-env.sh`");
            }
            eprintln!("skipped: needs lighttpd (Debian package, installed by scripts/test-env.sh)");
            return None;
        };
        let port = crate::support::free_port();
        std::fs::write(root.join("users"), format!("{user}:{password}\n")).unwrap();
        let conf = root.join("lighttpd.conf");
        std::fs::write(
            &conf,
            format!(
                r#"server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{root}/error.log"
server.modules = ("mod_auth", "mod_authn_file", "mod_alias", "mod_setenv", "mod_cgi")
alias.url = ("/git" => "{backend}")
$HTTP["url"] =~ "^/git" {{
  cgi.assign = ("" => "")
  setenv.add-environment = ("GIT_PROJECT_ROOT" => "{root}/repos", "GIT_HTTP_EXPORT_ALL" => "1")
}}
auth.backend = "plain"
auth.backend.plain.userfile = "{root}/users"
auth.require = ("/git" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))
"#,
                root = root.display(),
                backend = backend.display()
            ),
        )
        .unwrap();
        let child = std::process::Command::new(lighttpd)
            .args(["-D", "-f"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = HttpGit { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "lighttpd did not listen on 127.0.0.1:{port}; see {}/error.log",
            root.display()
        );
    }
}

impl Drop for HttpGit {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

/// #13: the environment repository over HTTP with basic auth (lighttpd + git's
/// http-backend on 127.0.0.1): the token from `token_env` gets the push through, never
/// appears in the output nor in the plan; a wrong token is refused (exit 4), nothing
/// pushed.
#[test]
fn gitops_over_http_with_a_token() {
    let f = Fixture::new("");
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("repos")).unwrap();
    git_in(
        root.path(),
        &[
            "clone",
            "-q",
            "--bare",
            f.bare.to_str().unwrap(),
            "repos/env.git",
        ],
    );
    let token = "tok-5e9a1c77d2";
    let Some(server) = HttpGit::start(root.path(), "ci-bot", token) else {
        return;
    };
    let url = format!("http://127.0.0.1:{}/git/env.git", server.port);
    f.project.write(
        "lbc.toml",
        &format!(
            "{}[env.staging]\ndelivery = \"gitops\"\nrepo = \"{url}\"\npath = \"apps/hello/staging\"\nformat = \"flux-helmrelease\"\ntoken_env = \"LBC_TEST_ENV_TOKEN\"\ntoken_user = \"ci-bot\"\n",
            f.project.read("lbc.toml")
        ),
    );
    let bare = root.path().join("repos/env.git");
    let count = || -> usize {
        git_in(&bare, &["rev-list", "--count", "main"])
            .parse()
            .unwrap()
    };
    let before = count();
    f.lbc()
        .env("LBC_TEST_ENV_TOKEN", "wrong-token")
        .args(["deploy", "staging", "--image", &image(1)])
        .run()
        .code_is(4)
        .stderr_has("refused the credentials")
        .nowhere("wrong-token");
    f.lbc()
        .env("LBC_TEST_ENV_TOKEN", token)
        .args([
            "deploy",
            "staging",
            "--image",
            &image(1),
            "--dry-run",
            "--output",
            "json",
        ])
        .run()
        .success()
        .nowhere(token);
    assert_eq!(count(), before);
    f.lbc()
        .env("LBC_TEST_ENV_TOKEN", token)
        .args([
            "deploy",
            "staging",
            "--image",
            &image(1),
            "--output",
            "json",
        ])
        .run()
        .success()
        .nowhere(token);
    assert_eq!(count(), before + 1);
    let hr = git_in(&bare, &["show", "main:apps/hello/staging/helmrelease.yaml"]);
    assert!(hr.contains(&"1".repeat(64)), "{hr}");
    // The token is in no file lbc keeps either (the clone's config).
    let cfg = std::fs::read_to_string(
        std::fs::read_dir(f.cache.join("lbc/gitops"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.is_dir())
            .unwrap()
            .join(".git/config"),
    )
    .unwrap();
    assert!(!cfg.contains(token), "{cfg}");
}

/// #13: the dry-run plan of a gitops deploy, as a person reads it (temporary paths
/// replaced): the notes, the git argv, the diff.
#[test]
fn gitops_dry_run_plan_snapshot() {
    let f = Fixture::new(TWO_ENVS);
    let out = f
        .lbc()
        .args(["deploy", "staging", "--image", &image(1), "--dry-run"])
        .run()
        .success()
        .stdout();
    let cache = f.cache.display().to_string();
    let repo = f.bare.display().to_string();
    let clone = std::fs::read_dir(f.cache.join("lbc/gitops"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let text = out
        .replace(&clone.display().to_string(), "[CACHE]/lbc/gitops/[HASH]")
        .replace(&cache, "[CACHE]")
        .replace(&repo, "[REPO]")
        .replace(&f.project.head(), "[SOURCE-COMMIT]");
    insta::assert_snapshot!(text);
}

/// #13: promoting an Argo CD Application takes the chart at the source commit of the
/// release it copies, not the project's newer HEAD.
#[test]
fn gitops_promote_keeps_the_source_commit_of_the_release() {
    let f = Fixture::new(
        "[env.qa]\ndelivery = \"gitops\"\nrepo = \"{repo}\"\npath = \"apps/hello/qa\"\nformat = \"argocd-application\"\n[env.prod]\ndelivery = \"gitops\"\nrepo = \"{repo}\"\npath = \"apps/hello/prod\"\nformat = \"argocd-application\"\n",
    );
    let released_from = f.project.head();
    f.lbc()
        .args(["deploy", "qa", "--image", &image(5)])
        .run()
        .success();
    f.project.write(
        "deploy/chart/values.yaml",
        "image:\n  repository: x\n  tag: z\ningress:\n  host: h\n",
    );
    f.project.commit("a newer chart");
    assert_ne!(f.project.head(), released_from);
    f.lbc().args(["promote", "qa", "prod"]).run().success();
    let app = f.file("apps/hello/prod/application.yaml");
    assert!(
        app.contains(&format!("targetRevision: {released_from}")),
        "{app}"
    );
    assert!(app.contains(&"5".repeat(64)), "{app}");
    let msg = f.env_git(&["log", "-1", "--format=%B", "main"]);
    assert!(
        msg.contains(&format!("Lbc-Source-Commit: {released_from}")),
        "{msg}"
    );
}
