//! Kubernetes deploys (issue #4) with the real helm v4 and kubectl against the API
//! emulator (tests/support/kube-emulator), which plays the controller: workloads whose
//! image tag says `broken` never become ready. With `LBC_TEST_KUBECONFIG` (and
//! `LBC_TEST_KUBE_CONTEXT`, optionally `LBC_TEST_KUBE_CONTEXT_B`,
//! `LBC_TEST_IMAGE_REPOSITORY`) the same scenarios run against a real cluster.

use std::path::PathBuf;
use std::process::Command;

use crate::support::{kube_env, unique, Cluster, KubeEnv, Lbc, Project};

struct Kube {
    env: KubeEnv,
    project: Project,
    state: tempfile::TempDir,
    clusters: Vec<Cluster>,
    ns: String,
}

impl Kube {
    /// A project with a `helm create` chart and environments `staging` and
    /// `production` (protected, promote_from staging), in one cluster.
    fn new(test: &str) -> Option<Kube> {
        Self::with(test, "", false)
    }

    fn with(test: &str, extra_toml: &str, two_clusters: bool) -> Option<Kube> {
        let env = kube_env(test)?;
        let state = tempfile::tempdir().unwrap();
        let kubeconfig = Self::kubeconfig_path(&env, &state);
        let mut clusters = vec![Cluster::start(&env, &kubeconfig, "emu-a", false)?];
        if two_clusters {
            clusters.push(Cluster::start(&env, &kubeconfig, "emu-b", true)?);
        }
        let ns = unique("ns");
        let ctx_a = clusters[0].context.clone();
        let ctx_b = clusters
            .get(1)
            .map(|c| c.context.clone())
            .unwrap_or_else(|| ctx_a.clone());
        let project = Project::with(&[(
            "lbc.toml",
            &format!(
                r#"[project]
name = "hello"
[image]
repository = "{repo}"
[env.staging]
context = "{ctx_a}"
namespace = "{ns}-staging"
timeout = "40s"
[env.production]
context = "{ctx_b}"
namespace = "{ns}-prod"
timeout = "40s"
protected = true
promote_from = "staging"
{extra_toml}"#,
                repo = env.repository
            ),
        )]);
        let k = Kube {
            env,
            project,
            state,
            clusters,
            ns,
        };
        let out = Command::new(&k.env.helm)
            .args(["create", "chart"])
            .current_dir({
                std::fs::create_dir_all(k.project.path().join("deploy")).unwrap();
                k.project.path().join("deploy")
            })
            .envs(k.tool_env())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "helm create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        k.project.git_init();
        Some(k)
    }

    fn kubeconfig_path(env: &KubeEnv, state: &tempfile::TempDir) -> PathBuf {
        match &env.real {
            Some((k, _, _)) => k.clone(),
            None => state.path().join("kubeconfig"),
        }
    }

    fn tool_env(&self) -> Vec<(String, String)> {
        let s = self.state.path();
        let bin_dirs = format!(
            "{}:{}:{}",
            self.env.helm.parent().unwrap().display(),
            self.env.kubectl.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        vec![
            (
                "KUBECONFIG".into(),
                Self::kubeconfig_path(&self.env, &self.state)
                    .display()
                    .to_string(),
            ),
            (
                "HELM_CACHE_HOME".into(),
                s.join("helm-cache").display().to_string(),
            ),
            (
                "HELM_CONFIG_HOME".into(),
                s.join("helm-config").display().to_string(),
            ),
            (
                "HELM_DATA_HOME".into(),
                s.join("helm-data").display().to_string(),
            ),
            (
                "KUBECACHEDIR".into(),
                s.join("kube-cache").display().to_string(),
            ),
            ("PATH".into(), bin_dirs),
        ]
    }

    fn lbc(&self) -> Lbc {
        let mut l = self.project.lbc();
        for (k, v) in self.tool_env() {
            l = l.env(&k, v);
        }
        l
    }

    fn image(&self, tag: &str) -> String {
        format!("{}:{tag}", self.env.repository)
    }

    fn helm(&self, args: &[&str]) -> String {
        let out = Command::new(&self.env.helm)
            .args(args)
            .envs(self.tool_env())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn status(&self, env: &str) -> serde_json::Value {
        self.lbc()
            .args(["status", env, "--output", "json"])
            .run()
            .success()
            .json()
    }
}

#[test]
fn deploy_upgrade_noop_status_history_rollback_destroy() {
    let Some(k) = Kube::new("deploy_upgrade_noop_status_history_rollback_destroy") else {
        return;
    };
    let first = k
        .lbc()
        .args([
            "deploy",
            "staging",
            "--image",
            &k.image("1.0"),
            "--output",
            "json",
        ])
        .run()
        .success();
    let j = first.json();
    assert_eq!(j["revision"], 1);
    assert_eq!(j["namespace"], format!("{}-staging", k.ns));
    first.stderr_has(&format!(
        "environment staging: context emu-a, namespace {}-staging",
        k.ns
    ));
    let argv: Vec<String> = j["steps"][0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    // helm v4 says --rollback-on-failure, v3 --atomic.
    let helm4 = String::from_utf8_lossy(
        &Command::new(&k.env.helm)
            .args(["version", "--short"])
            .output()
            .unwrap()
            .stdout,
    )
    .starts_with("v4");
    let rollback_flag = if helm4 {
        "--rollback-on-failure"
    } else {
        "--atomic"
    };
    for flag in [
        "--kube-context",
        "--namespace",
        "--create-namespace",
        "--wait",
        rollback_flag,
    ] {
        assert!(
            argv.iter()
                .any(|a| a == flag || a.starts_with(&format!("{flag}="))),
            "{flag} missing from {argv:?}"
        );
    }
    let s = k.status("staging");
    assert_eq!(s["state"], "deployed");
    assert_eq!(s["image"], k.image("1.0"));
    assert_eq!(s["workloads"][0]["ready"], 1);

    // Logs of the release's pods (the emulator's pods answer with one fixed line).
    let logs = k
        .lbc()
        .args(["logs", "staging", "--tail", "5"])
        .run()
        .success();
    assert!(
        !logs.stdout().trim().is_empty(),
        "no log lines:\n{}",
        logs.stderr()
    );

    // Upgrade with a new image.
    k.lbc()
        .args(["deploy", "staging", "--image", &k.image("2.0")])
        .run()
        .success();
    assert_eq!(k.status("staging")["revision"], 2);

    // The same again: no helm upgrade at all.
    let noop = k
        .lbc()
        .args([
            "deploy",
            "staging",
            "--image",
            &k.image("2.0"),
            "--output",
            "json",
        ])
        .run()
        .success();
    let j = noop.json();
    assert_eq!(j["up_to_date"], true);
    assert_eq!(j["steps"].as_array().unwrap().len(), 0);
    noop.stderr_has("already runs this chart, these values and this image");
    assert_eq!(k.status("staging")["revision"], 2);

    // A values change is not a no-op.
    let chart_values = k
        .project
        .read("deploy/chart/values.yaml")
        .replace("replicaCount: 1", "replicaCount: 2");
    k.project.write("deploy/chart/values.yaml", &chart_values);
    k.lbc()
        .args(["deploy", "staging", "--image", &k.image("2.0")])
        .run()
        .success();
    assert_eq!(k.status("staging")["revision"], 3);

    let hist = k
        .lbc()
        .args(["history", "staging", "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(hist["history"].as_array().unwrap().len(), 3);

    k.lbc().args(["rollback", "staging", "1"]).run().success();
    let s = k.status("staging");
    assert_eq!(s["revision"], 4);
    assert_eq!(s["image"], k.image("1.0"));

    k.lbc().args(["destroy", "staging"]).run().success();
    assert_eq!(k.status("staging")["state"], "absent");
    k.lbc()
        .args(["destroy", "staging"])
        .run()
        .success()
        .stderr_has("nothing to destroy");
}

#[test]
fn a_failing_rollout_is_rolled_back_with_a_clear_message() {
    let Some(k) = Kube::new("a_failing_rollout_is_rolled_back_with_a_clear_message") else {
        return;
    };
    k.lbc()
        .args(["deploy", "staging", "--image", &k.image("1.0")])
        .run()
        .success();
    let out = k
        .lbc()
        .args(["deploy", "staging", "--image", &k.image("broken")])
        .run()
        .code_is(1)
        .stderr_has("error: deploy to `staging` failed")
        .stderr_has("hint: release hello is back at revision 3 (deployed)");
    // The failed resource is named: the workload, or its pods' warning events.
    assert!(
        out.stderr().contains("deployment/hello-chart")
            || out.stderr().contains("Deployment/")
            || out.stderr().contains("pod/hello-chart-"),
        "names the resource:\n{}",
        out.stderr()
    );
    let s = k.status("staging");
    assert_eq!(s["image"], k.image("1.0"));
    assert_eq!(s["state"], "deployed");
    let hist = k
        .lbc()
        .args(["history", "staging", "--output", "json"])
        .run()
        .success()
        .json();
    let statuses: Vec<&str> = hist["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["superseded", "failed", "deployed"]);
}

#[test]
fn promote_deploys_the_same_digest_and_records_the_source() {
    let Some(k) = Kube::new("promote_deploys_the_same_digest_and_records_the_source") else {
        return;
    };
    let digest = format!("sha256:{}", "ab".repeat(32));
    let image = format!("{}@{digest}", k.image("1.0"));
    k.lbc()
        .args(["deploy", "staging", "--image", &image])
        .run()
        .success();
    k.lbc()
        .args(["promote", "staging", "production", "--yes"])
        .run()
        .success();
    let s = k.status("production");
    assert_eq!(s["image"], image);
    assert_eq!(s["promoted_from"], "staging");
    assert_eq!(s["promoted_revision"], 1);
}

#[test]
fn the_production_guard_refuses_and_changes_nothing() {
    let Some(k) = Kube::new("the_production_guard_refuses_and_changes_nothing") else {
        return;
    };
    k.lbc()
        .args(["deploy", "staging", "--image", &k.image("1.0")])
        .run()
        .success();
    // Off a terminal, without --yes.
    k.lbc()
        .args(["deploy", "production", "--image", &k.image("1.0")])
        .run()
        .code_is(5)
        .stderr_has("environment `production` is protected");
    // An image that does not run in staging.
    k.lbc()
        .args(["deploy", "production", "--image", &k.image("2.0"), "--yes"])
        .run()
        .code_is(5)
        .stderr_has("only takes images that run in `staging`");
    // A dirty tree.
    k.project.write("NOTES", "uncommitted\n");
    k.lbc()
        .args(["deploy", "production", "--image", &k.image("1.0"), "--yes"])
        .run()
        .code_is(5)
        .stderr_has("uncommitted changes")
        .stderr_has("--allow-dirty");
    assert_eq!(
        k.status("production")["state"],
        "absent",
        "no refusal changed the cluster"
    );
    k.lbc()
        .args([
            "deploy",
            "production",
            "--image",
            &k.image("1.0"),
            "--yes",
            "--allow-dirty",
        ])
        .run()
        .success();
    assert_eq!(k.status("production")["state"], "deployed");
    // --force lets another image through.
    k.lbc()
        .args([
            "deploy",
            "production",
            "--image",
            &k.image("2.0"),
            "--yes",
            "--allow-dirty",
            "--force",
        ])
        .run()
        .success();
}

#[test]
fn two_environments_in_two_contexts() {
    let Some(k) = Kube::with("two_environments_in_two_contexts", "", true) else {
        return;
    };
    if k.clusters.len() < 2 {
        return;
    }
    k.lbc()
        .args(["deploy", "staging", "--image", &k.image("1.0")])
        .run()
        .success();
    k.lbc()
        .args(["promote", "staging", "production", "--yes"])
        .run()
        .success();
    let a = k.helm(&[
        "list",
        "--all-namespaces",
        "--kube-context",
        &k.clusters[0].context,
        "-o",
        "json",
    ]);
    let b = k.helm(&[
        "list",
        "--all-namespaces",
        "--kube-context",
        &k.clusters[1].context,
        "-o",
        "json",
    ]);
    assert!(
        a.contains(&format!("{}-staging", k.ns)) && !a.contains(&format!("{}-prod", k.ns)),
        "{a}"
    );
    assert!(
        b.contains(&format!("{}-prod", k.ns)) && !b.contains(&format!("{}-staging", k.ns)),
        "{b}"
    );
    // The flag wins over lbc.toml.
    let plan = k
        .lbc()
        .args([
            "deploy",
            "staging",
            "--image",
            &k.image("1.0"),
            "--context",
            "emu-b",
            "--namespace",
            "other",
            "--dry-run",
            "--output",
            "json",
        ])
        .run()
        .success()
        .json();
    let argv = plan["plan"]["steps"][0]["argv"].to_string();
    assert!(
        argv.contains("\"--kube-context=emu-b\"") && argv.contains("\"--namespace=other\""),
        "{argv}"
    );
    // #8/#9: the image reaches helm in a values document on stdin, shown by the plan.
    assert!(
        argv.contains("\"--values=-\"") && !argv.contains("--set-string"),
        "{argv}"
    );
    let values: serde_json::Value =
        serde_json::from_str(plan["plan"]["steps"][0]["stdin"]["data"].as_str().unwrap()).unwrap();
    assert_eq!(values["image"]["tag"], "1.0", "{values}");
}

#[test]
fn kubectl_path_applies_waits_and_undoes_a_failed_rollout() {
    let extra = "[deploy]\nmanifests = \"deploy/k8s\"\n";
    let Some(k) = Kube::with(
        "kubectl_path_applies_waits_and_undoes_a_failed_rollout",
        extra,
        false,
    ) else {
        return;
    };
    k.project.write(
        "deploy/k8s/app.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: hello\n  labels:\n    app.kubernetes.io/instance: hello\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: hello\n  template:\n    metadata:\n      labels:\n        app: hello\n    spec:\n      containers:\n      - name: app\n        image: {}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: hello\nspec:\n  selector:\n    app: hello\n  ports:\n  - port: 80\n",
            k.image("placeholder")
        ),
    );
    k.project.commit("manifests");
    let render = k
        .lbc()
        .args(["render", "staging", "--image", &k.image("1.0")])
        .run()
        .success();
    render.stdout_has(&format!("image: {}", k.image("1.0")));
    // #8: the plan shows the rollout waits and the undo that runs only when one fails.
    let plan = k
        .lbc()
        .args([
            "deploy",
            "staging",
            "--image",
            &k.image("1.0"),
            "--dry-run",
            "--output",
            "json",
        ])
        .run()
        .success()
        .json();
    let steps = plan["plan"]["steps"].as_array().unwrap().clone();
    let argv = |s: &serde_json::Value| s["argv"].to_string();
    let wait = steps
        .iter()
        .position(|s| {
            argv(s).contains("\"rollout\",\"status\"") && argv(s).contains("deployment.apps/hello")
        })
        .expect("a rollout wait in the plan");
    let undo = steps
        .iter()
        .find(|s| argv(s).contains("\"rollout\",\"undo\""))
        .expect("a rollout undo in the plan");
    assert_eq!(undo["on_failure_from_step"], wait + 1, "{undo}");
    assert!(steps[..wait]
        .iter()
        .all(|s| s.get("on_failure_from_step").is_none()));
    k.lbc()
        .args(["deploy", "staging", "--image", &k.image("1.0"), "--dry-run"])
        .run()
        .success()
        .stdout_has(&format!(
            "Roll deployment.apps/hello back [only if step {} or a later one fails]",
            wait + 1
        ));
    k.lbc()
        .args(["deploy", "staging", "--image", &k.image("1.0")])
        .run()
        .success();
    let s = k.status("staging");
    assert_eq!(s["image"], k.image("1.0"));
    assert_eq!(s["workloads"][0]["ready"], 1);
    k.lbc()
        .args(["deploy", "staging", "--image", &k.image("broken")])
        .run()
        .code_is(1)
        .stderr_has("the rollout in `staging` failed")
        .stderr_has("rolled back");
    k.lbc().args(["destroy", "staging"]).run().success();
    assert_eq!(k.status("staging")["state"], "absent");
}

#[test]
fn kustomize_path_deploys() {
    let extra = "[deploy]\nkustomize = \"deploy/overlays/{env}\"\n";
    let Some(k) = Kube::with("kustomize_path_deploys", extra, false) else {
        return;
    };
    k.project.write(
        "deploy/base/app.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: hello\nspec:\n  selector:\n    matchLabels:\n      app: hello\n  template:\n    metadata:\n      labels:\n        app: hello\n    spec:\n      containers:\n      - name: app\n        image: {}\n",
            k.image("placeholder")
        ),
    );
    k.project
        .write("deploy/base/kustomization.yaml", "resources:\n- app.yaml\n");
    k.project.write(
        "deploy/overlays/staging/kustomization.yaml",
        "resources:\n- ../../base\ncommonLabels:\n  env: staging\n",
    );
    k.project.commit("kustomize");
    k.lbc()
        .args(["deploy", "staging", "--image", &k.image("1.0")])
        .run()
        .success();
    let s = k.status("staging");
    assert_eq!(s["image"], k.image("1.0"));
}

#[test]
fn bad_inputs_are_clear_and_change_nothing() {
    let Some(k) = Kube::new("bad_inputs_are_clear_and_change_nothing") else {
        return;
    };
    k.lbc()
        .args(["deploy", "qualification"])
        .run()
        .code_is(2)
        .stderr_has("unknown environment `qualification`")
        .stderr_has("known environments: production, staging");
    k.lbc()
        .args([
            "deploy",
            "staging",
            "--image",
            &k.image("1.0"),
            "--context",
            "nowhere",
        ])
        .run()
        .code_is(2)
        .stderr_has("kube context `nowhere` of environment `staging` is not in the kubeconfig");
    k.lbc()
        .args(["deploy", "staging"])
        .run()
        .code_is(2)
        .stderr_has("no image has been built");
    k.lbc()
        .env("PATH", "/nonexistent")
        .args(["deploy", "staging", "--image", &k.image("1.0")])
        .run()
        .code_is(4)
        .stderr_has("`helm` was not found");
    // A chart that does not render.
    k.project.write(
        "deploy/chart/templates/broken.yaml",
        "{{ .Values.nope.deeper }}\n",
    );
    k.project.commit("break the chart");
    k.lbc()
        .args(["deploy", "staging", "--image", &k.image("1.0")])
        .run()
        .code_is(1);
    k.lbc()
        .args(["render", "staging", "--image", &k.image("1.0")])
        .run()
        .code_is(1)
        .stderr_has("helm lint");
    assert_eq!(k.status("staging")["state"], "absent");
}

#[test]
fn doctor_checks_the_contexts_of_the_environments() {
    let Some(k) = Kube::new("doctor_checks_the_contexts_of_the_environments") else {
        return;
    };
    let ok = k
        .lbc()
        .args(["doctor", "--output", "json"])
        .run()
        .success()
        .json();
    let names: Vec<&str> = ok["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"env staging") && names.contains(&"helm"),
        "{names:?}"
    );
    let toml = k.project.read("lbc.toml").replacen(
        &format!("context = \"{}\"", k.clusters[0].context),
        "context = \"missing-ctx\"",
        1,
    );
    k.project.write("lbc.toml", &toml);
    k.lbc()
        .args(["doctor"])
        .run()
        .code_is(1)
        .stdout_has("context `missing-ctx` is not in the kubeconfig")
        .stdout_has("fix:");
}

/// #8: `lbc doctor` and `lbc deploy` share one context precedence: an environment
/// without `context` uses the kubeconfig's current context in both, and both say so
/// when there is none.
#[test]
fn doctor_and_deploy_agree_on_an_environment_without_context() {
    let Some(k) = Kube::new("doctor_and_deploy_agree_on_an_environment_without_context") else {
        return;
    };
    let toml = k.project.read("lbc.toml").replacen(
        &format!("context = \"{}\"\n", k.clusters[0].context),
        "",
        1,
    );
    k.project.write("lbc.toml", &toml);
    if k.env.real.is_some() {
        // The kubeconfig of a real cluster is the user's: do not edit it.
        return;
    }
    // The emulators' kubeconfig (JSON): set or remove its current context.
    let kubeconfig = Kube::kubeconfig_path(&k.env, &k.state);
    let set_current = |context: Option<&str>| {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&kubeconfig).unwrap()).unwrap();
        match context {
            Some(c) => v["current-context"] = c.into(),
            None => {
                v.as_object_mut().unwrap().remove("current-context");
            }
        }
        std::fs::write(&kubeconfig, v.to_string()).unwrap();
    };
    set_current(Some(&k.clusters[0].context));
    let doctor = k
        .lbc()
        .args(["doctor", "--output", "json"])
        .run()
        .success()
        .json();
    let staging = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "env staging")
        .unwrap()
        .clone();
    assert_eq!(staging["ok"], true, "{staging}");
    assert!(
        staging["detail"]
            .as_str()
            .unwrap()
            .contains("current context"),
        "{staging}"
    );
    let plan = k
        .lbc()
        .args([
            "deploy",
            "staging",
            "--image",
            &k.image("1.0"),
            "--dry-run",
            "--output",
            "json",
        ])
        .run()
        .success()
        .json();
    let argv = plan["plan"]["steps"][0]["argv"].to_string();
    assert!(
        argv.contains(&format!("--kube-context={}", k.clusters[0].context)),
        "{argv}"
    );
    set_current(None);
    k.lbc()
        .args(["doctor"])
        .run()
        .code_is(1)
        .stdout_has("no `context` set and no current context in the kubeconfig");
    k.lbc()
        .args(["deploy", "staging", "--image", &k.image("1.0"), "--dry-run"])
        .run()
        .code_is(2)
        .stderr_has("no kube context for `staging`");
}

#[test]
fn a_kubeconfig_per_environment_and_an_unreachable_cluster() {
    let Some(k) = Kube::new("a_kubeconfig_per_environment_and_an_unreachable_cluster") else {
        return;
    };
    if k.env.real.is_some() {
        return;
    }
    // The environment names its kubeconfig; KUBECONFIG points nowhere useful.
    let kc = k.state.path().join("kubeconfig");
    let dead = k.state.path().join("dead-kubeconfig");
    std::fs::write(
        &dead,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: dead\n  cluster:\n    server: http://127.0.0.1:1\ncontexts:\n- name: dead\n  context:\n    cluster: dead\n    user: dead\nusers:\n- name: dead\n  user: {}\ncurrent-context: dead\n",
    )
    .unwrap();
    let toml = k.project.read("lbc.toml").replacen(
        "[env.staging]\n",
        &format!("[env.staging]\nkubeconfig = \"{}\"\n", kc.display()),
        1,
    );
    k.project.write(
        "lbc.toml",
        &format!(
            "{toml}\n[env.gone]\ncontext = \"dead\"\nnamespace = \"x\"\nkubeconfig = \"{}\"\n",
            dead.display()
        ),
    );
    k.project.commit("kubeconfigs");
    k.lbc()
        .env("KUBECONFIG", &dead)
        .args(["deploy", "staging", "--image", &k.image("1.0")])
        .run()
        .success();
    k.lbc()
        .args(["deploy", "gone", "--image", &k.image("1.0")])
        .run()
        .code_is(4)
        .stderr_has("the cluster of environment `gone` (context dead) did not answer");
}

/// The guard on a terminal: it shows where lbc is about to act and asks to type the
/// environment's name; anything else refuses (exit 5) and changes nothing.
#[test]
fn the_guard_asks_on_a_terminal() {
    let Some(k) = Kube::new("the_guard_asks_on_a_terminal") else {
        return;
    };
    let Ok(python) = which::which("python3") else {
        assert!(
            !crate::init_support::expected(),
            "python3 is needed to drive a terminal"
        );
        return;
    };
    k.lbc()
        .args(["deploy", "staging", "--image", &k.image("1.0")])
        .run()
        .success();
    let drive = |answer: &str| {
        let args = ["deploy", "production", "--image", &k.image("1.0")].join("\x1f");
        let script = ["Type its name to deploy", answer].join("\x1f");
        let out = Command::new(&python)
            .args([
                "-c",
                crate::init_template::PTY_DRIVER,
                crate::support::LBC,
                &args,
                &script,
            ])
            .current_dir(k.project.path())
            .envs(k.tool_env())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, screen) = drive("prod");
    assert_eq!(code, Some(5), "{screen}");
    assert!(
        screen.contains(&format!("namespace: {}-prod", k.ns))
            && screen.contains("confirmation did not match"),
        "{screen}"
    );
    assert_eq!(k.status("production")["state"], "absent");
    let (code, screen) = drive("production");
    assert_eq!(code, Some(0), "{screen}");
    assert_eq!(k.status("production")["state"], "deployed");
}
