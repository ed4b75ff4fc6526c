//! Per-customer instances (issue #12) with the real helm and kubectl against the API
//! emulator (two contexts): twenty-one instances deployed `--jobs` at a time, one broken
//! override rolled back alone, no-ops found in one query, `--fail-fast`, the guard once
//! for the batch, promotion of all by digest, status of all, remove keeping the data.

use std::path::PathBuf;
use std::process::Command;

use crate::support::{kube_env, unique, Cluster, KubeEnv, Lbc, Project};

struct Fleet {
    env: KubeEnv,
    project: Project,
    state: tempfile::TempDir,
    _clusters: Vec<Cluster>,
    ctx_b: String,
}

/// A chart whose pods get a sidecar when `sidecarImage` is set: an instance's override
/// that names a broken image breaks that instance's rollout only.
const SIDECAR: &str = "      containers:\n        {{- with .Values.sidecarImage }}\n        - name: sidecar\n          image: {{ . | quote }}\n        {{- end }}\n";

impl Fleet {
    fn new(test: &str, two_clusters: bool) -> Option<Fleet> {
        let env = kube_env(test)?;
        let state = tempfile::tempdir().unwrap();
        let kubeconfig = Self::kubeconfig_path(&env, &state);
        let mut clusters = vec![Cluster::start(&env, &kubeconfig, "emu-a", false)?];
        if two_clusters {
            clusters.push(Cluster::start(&env, &kubeconfig, "emu-b", true)?);
        }
        let ctx_a = clusters[0].context.clone();
        let ctx_b = clusters
            .get(1)
            .map(|c| c.context.clone())
            .unwrap_or_else(|| ctx_a.clone());
        let ns = unique("ns");
        // The instances' namespaces are hello-NAME: unique per test run through the
        // project's name.
        let name = unique("h");
        let project = Project::with(&[(
            "lbc.toml",
            &format!(
                r#"[project]
name = "{name}"
[image]
repository = "{repo}"
[env.staging]
context = "{ctx_a}"
namespace = "{ns}-staging"
timeout = "40s"
domain = "staging.example.com"
[env.production]
context = "{ctx_b}"
namespace = "{ns}-prod"
timeout = "40s"
protected = true
promote_from = "staging"
domain = "apps.example.com"
"#,
                repo = env.repository
            ),
        )]);
        let f = Fleet {
            env,
            project,
            state,
            _clusters: clusters,
            ctx_b,
        };
        let deploy = f.project.path().join("deploy");
        std::fs::create_dir_all(&deploy).unwrap();
        let out = Command::new(&f.env.helm)
            .args(["create", "chart"])
            .current_dir(&deploy)
            .envs(f.tool_env())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tpl = deploy.join("chart/templates/deployment.yaml");
        let text = std::fs::read_to_string(&tpl).unwrap();
        assert!(text.contains("      containers:\n"));
        std::fs::write(&tpl, text.replacen("      containers:\n", SIDECAR, 1)).unwrap();
        f.project.git_init();
        Some(f)
    }

    fn name(&self) -> String {
        let toml = self.project.read("lbc.toml");
        toml.lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .unwrap()
            .trim_end_matches('"')
            .to_owned()
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
            ("HELM_CACHE_HOME".into(), s.join("hc").display().to_string()),
            (
                "HELM_CONFIG_HOME".into(),
                s.join("hf").display().to_string(),
            ),
            ("HELM_DATA_HOME".into(), s.join("hd").display().to_string()),
            ("KUBECACHEDIR".into(), s.join("kc").display().to_string()),
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

    fn kubectl(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.env.kubectl)
            .args(args)
            .envs(self.tool_env())
            .output()
            .unwrap()
    }

    fn image(&self, tag: &str) -> String {
        format!("{}:{tag}", self.env.repository)
    }

    /// `lbc deploy ENV ARGS... --output json`, whatever its exit code.
    fn deploy(&self, env: &str, args: &[&str]) -> (i32, serde_json::Value, String) {
        let run = self
            .lbc()
            .args(["deploy", env, "--output", "json"])
            .args(args)
            .run();
        let code = run.code();
        let stderr = run.stderr();
        (code, run.json(), stderr)
    }
}

fn by_instance(doc: &serde_json::Value) -> std::collections::BTreeMap<String, serde_json::Value> {
    doc["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["instance"].as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

/// #12: 21 instances in two contexts: deployed 8 at a time; one broken override is
/// rolled back alone (on its previous revision) while the others get the new one; a
/// repeated deploy is a no-op for all but the failed one; the production guard asks
/// once for the whole batch and lists it; promotion puts the same digest everywhere;
/// status shows every instance; remove keeps the data unless --purge.
#[test]
fn twenty_instances_deploy_rollback_alone_promote_status_remove() {
    let Some(f) = Fleet::new(
        "twenty_instances_deploy_rollback_alone_promote_status_remove",
        true,
    ) else {
        return;
    };
    let project = f.name();
    let names: Vec<String> = (0..21).map(|i| format!("c{i:02}")).collect();
    for n in &names {
        f.lbc().args(["instance", "add", n]).run().success();
    }
    f.lbc()
        .args(["instance", "add", "c05"])
        .run()
        .code_is(2)
        .stderr_has("exists already");
    let list = f
        .lbc()
        .args(["instance", "list", "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(list["instances"].as_array().unwrap().len(), 21);
    assert_eq!(
        list["instances"][3]["hosts"]["production"],
        "c03.apps.example.com"
    );
    f.project.commit("instances");

    // First rollout: all 21, 8 at a time.
    let (code, doc, stderr) = f.deploy(
        "staging",
        &["--all-instances", "--image", &f.image("1.0"), "--jobs", "8"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        doc["instances"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["result"] == "deployed" && r["revision"] == 1 && r["ready"] == "1/1"),
        "{doc}"
    );
    assert_eq!(
        by_instance(&doc)["c00"]["url"],
        "https://c00.staging.example.com"
    );
    assert_eq!(
        by_instance(&doc)["c00"]["namespace"],
        format!("{project}-c00")
    );

    // c07's override breaks its rollout: it alone goes back to revision 1's state.
    f.project.write(
        "instances/c07.toml",
        "[set]\nsidecarImage = \"busybox:broken\"\n",
    );
    f.project.commit("break c07");
    let (code, doc, stderr) = f.deploy(
        "staging",
        &["--all-instances", "--image", &f.image("2.0"), "--jobs", "8"],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("1 of 21 instances failed to deploy to `staging`: c07"),
        "{stderr}"
    );
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["failed"], serde_json::json!(["c07"]));
    let rows = by_instance(&doc);
    let c07 = &rows["c07"];
    assert_eq!(c07["on"], "previous", "{c07}");
    assert_eq!(c07["image"], f.image("1.0"));
    assert!(
        c07["result"]
            .as_str()
            .unwrap()
            .starts_with("failed, rolled back to revision"),
        "{c07}"
    );
    for n in names.iter().filter(|n| *n != "c07") {
        assert_eq!(rows[n]["on"], "new", "{n}: {}", rows[n]);
        assert_eq!(rows[n]["image"], f.image("2.0"));
        assert_eq!(rows[n]["revision"], 2);
    }

    // Again: the 20 are no-ops (found in one query), only c07 runs helm.
    let (code, doc, _) = f.deploy("staging", &["--all-instances", "--image", &f.image("2.0")]);
    assert_eq!(code, 1);
    assert_eq!(
        doc["steps"].as_array().unwrap().len(),
        1,
        "{}",
        doc["steps"]
    );
    assert_eq!(
        doc["instances"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["result"] == "unchanged")
            .count(),
        20
    );

    // Fixed: c07 follows; the whole environment then runs one image, by digest.
    f.project.write("instances/c07.toml", "");
    f.project.commit("fix c07");
    let pinned = format!("{}@sha256:{}", f.image("2.0"), "a".repeat(64));
    let (code, doc, stderr) = f.deploy(
        "staging",
        &["--all-instances", "--image", &pinned, "--jobs", "8"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        doc["instances"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["image"] == pinned.as_str()),
        "{doc}"
    );

    // Status of all.
    let st = f
        .lbc()
        .args(["status", "staging", "--output", "json"])
        .run()
        .success()
        .json();
    let rows = st["instances"].as_array().unwrap();
    assert_eq!(rows.len(), 21);
    assert!(
        rows.iter().all(|r| r["state"] == "deployed"
            && r["image"] == pinned.as_str()
            && r["ready"] == "1/1"),
        "{st}"
    );
    let human = f.lbc().args(["status", "staging"]).run().success().stdout();
    assert!(
        human.contains("21 instances:") && human.contains("https://c20.staging.example.com"),
        "{human}"
    );

    // The guard: one refusal for the batch, naming every instance; nothing changed.
    let refused = f
        .lbc()
        .args(["promote", "staging", "production", "--all-instances"])
        .run()
        .code_is(5);
    let err = refused.stderr();
    assert!(
        err.contains("refusing to deploy 21 instances (c00, c01,"),
        "{err}"
    );
    assert!(err.contains("c20) without confirmation"), "{err}");
    assert_eq!(err.matches("is protected").count(), 1, "{err}");
    let st = f
        .lbc()
        .args(["status", "production", "--output", "json"])
        .run()
        .success()
        .json();
    assert!(
        st["instances"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["state"] == "absent"),
        "{st}"
    );

    // Promotion of all: the same digest everywhere, in the other context.
    let run = f
        .lbc()
        .args([
            "promote",
            "staging",
            "production",
            "--all-instances",
            "--yes",
            "--jobs",
            "8",
            "--output",
            "json",
        ])
        .run()
        .success();
    let doc = run.json();
    assert!(
        doc["instances"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["image"] == pinned.as_str() && r["on"] == "new"),
        "{doc}"
    );
    let st = f
        .lbc()
        .args(["status", "production", "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(st["context"], f.ctx_b);
    assert!(
        st["instances"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["image"] == pinned.as_str() && r["promoted_from"] == "staging"),
        "{st}"
    );

    // Remove keeps the data: the namespace and its claims stay; --purge deletes them.
    let ns3 = format!("{project}-c03");
    let pvc = format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n  namespace: {ns3}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n"
    );
    let pvc_file = f.state.path().join("pvc.yaml");
    std::fs::write(&pvc_file, pvc).unwrap();
    let out = f.kubectl(&[
        "--context",
        &f.ctx_b,
        "apply",
        "-f",
        pvc_file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    f.lbc()
        .args(["instance", "remove", "c03"])
        .run()
        .code_is(5)
        .stderr_has("refusing to remove instance c03");
    f.lbc()
        .args(["instance", "remove", "c03", "--yes"])
        .run()
        .success();
    assert!(!f.project.path().join("instances/c03.toml").exists());
    let out = f.kubectl(&[
        "--context",
        &f.ctx_b,
        "get",
        "pvc",
        "data",
        "-n",
        &ns3,
        "-o",
        "name",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("data"),
        "the data stays"
    );
    let st = f
        .lbc()
        .args(["status", "production", "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(st["instances"].as_array().unwrap().len(), 20);
    let ns4 = format!("{project}-c04");
    f.lbc()
        .args(["instance", "remove", "c04", "--purge", "--yes"])
        .run()
        .success();
    let out = f.kubectl(&[
        "--context",
        &f.ctx_b,
        "get",
        "namespace",
        &ns4,
        "--ignore-not-found",
        "-o",
        "name",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).trim().is_empty(),
        "--purge deletes the namespace"
    );
}

/// #12: `--fail-fast` starts no further instance after a failure; the summary says
/// which were not started, and they keep what they ran.
#[test]
fn fail_fast_starts_no_further_instance() {
    let Some(f) = Fleet::new("fail_fast_starts_no_further_instance", false) else {
        return;
    };
    for n in ["a1", "b2", "c3", "d4"] {
        f.lbc()
            .args(["instance", "add", n, "--env", "staging"])
            .run()
            .success();
    }
    f.project.write(
        "instances/a1.toml",
        "environments = [\"staging\"]\n[set]\nsidecarImage = \"busybox:broken\"\n",
    );
    f.project.commit("instances");
    let (code, doc, stderr) = f.deploy(
        "staging",
        &[
            "--all-instances",
            "--image",
            &f.image("1.0"),
            "--jobs",
            "1",
            "--fail-fast",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(doc["failed"], serde_json::json!(["a1"]));
    assert_eq!(doc["not_started"], serde_json::json!(["b2", "c3", "d4"]));
    assert!(
        stderr.contains("3 not started (--fail-fast): b2, c3, d4"),
        "{stderr}"
    );
    assert_eq!(by_instance(&doc)["a1"]["result"], "failed, not installed");
    // Without --fail-fast all are tried.
    let (code, doc, _) = f.deploy(
        "staging",
        &["--all-instances", "--image", &f.image("1.0"), "--jobs", "2"],
    );
    assert_eq!(code, 1);
    assert_eq!(doc["not_started"], serde_json::json!([]));
    assert_eq!(
        doc["instances"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["result"] == "deployed")
            .count(),
        3
    );
    // One instance alone.
    let (code, doc, _) = f.deploy("staging", &["--instance", "b2", "--image", &f.image("2.0")]);
    assert_eq!(code, 0);
    assert_eq!(doc["instances"].as_array().unwrap().len(), 1);
    assert_eq!(doc["instances"][0]["image"], f.image("2.0"));
    // Removed from one environment: it stays declared for the others, comments kept.
    f.lbc().args(["instance", "add", "e5"]).run().success();
    f.lbc()
        .args(["instance", "remove", "e5", "--env", "staging"])
        .run()
        .success();
    let text = f.project.read("instances/e5.toml");
    assert!(
        text.contains("environments = [\"production\"]") && text.starts_with("# An instance"),
        "{text}"
    );
    f.lbc()
        .args([
            "deploy",
            "staging",
            "--instance",
            "e5",
            "--image",
            &f.image("1.0"),
        ])
        .run()
        .code_is(2)
        .stderr_has("instance `e5` does not run in `staging`");
}

/// #12: bad input is exit 2 before anything reaches a cluster: an unknown instance
/// lists the known ones; a bad file names its line; a namespace that is an
/// environment's own is refused; `--all-instances` on a docker environment.
#[test]
fn bad_instances_are_exit_2() {
    let p = Project::with(&[
        (
            "lbc.toml",
            "[project]\nname = \"hello\"\n[image]\nrepository = \"r.example/hello\"\n[env.local]\nkind = \"docker\"\nport = 18080\n[env.prod]\ncontext = \"c\"\nnamespace = \"hello-prod\"\n",
        ),
        ("instances/acme.toml", "environments = [\"prod\"]\n"),
        ("instances/beta.toml", "port = 18090\n"),
    ]);
    p.lbc()
        .args([
            "deploy",
            "prod",
            "--instance",
            "nope",
            "--image",
            "r.example/hello:1",
        ])
        .run()
        .code_is(2)
        .stderr_has("unknown instance `nope`")
        .stderr_has("known instances: acme, beta");
    p.lbc()
        .args(["deploy", "local", "--all-instances"])
        .run()
        .code_is(2)
        .stderr_has("--all-instances applies to kubernetes environments");
    p.lbc()
        .args(["instance", "add", "Bad_Name"])
        .run()
        .code_is(2)
        .stderr_has("not a valid instance name");
    p.lbc()
        .args(["instance", "add", "prod", "--namespace", "hello-prod"])
        .run()
        .code_is(2)
        .stderr_has("the namespace of environment `prod`");
    assert!(
        !p.path().join("instances/prod.toml").exists(),
        "nothing half-written"
    );
    p.write(
        "instances/beta.toml",
        "port = 18090\nbackup_schedule = \"every hour\"\n",
    );
    p.lbc()
        .args(["instance", "list"])
        .run()
        .code_is(2)
        .stderr_has("beta.toml:2:")
        .stderr_has("five fields");
}

/// #12: `lbc deploy local --instance acme` runs one customer's configuration on this
/// machine next to the project's own: its own container, port and Redis with its own
/// volume and credentials; `lbc backup/restore --instance` act on its data only;
/// `lbc instance remove --purge` removes its container and volume.
#[test]
fn a_local_instance_has_its_own_container_port_and_data() {
    use crate::support::{docker, docker_env, docker_ok, free_port, Cleanup};
    let Some(env) = docker_env("k8s_instances::a_local_instance") else {
        return;
    };
    let name = unique("inst");
    let state = tempfile::tempdir().unwrap();
    let backups = tempfile::tempdir().unwrap();
    let (p1, p2) = (free_port(), free_port());
    let p = Project::with(&[
        (
            "Dockerfile",
            "FROM lbc-test/debian:bookworm\nCMD [\"sleep\", \"infinity\"]\n",
        ),
        (
            "lbc.toml",
            &format!(
                "[project]\nname = \"{name}\"\n[image]\nrepository = \"lbc-tests/{name}\"\n[services.cache]\ntype = \"redis\"\n[env.local]\nkind = \"docker\"\nport = {p1}\n"
            ),
        ),
        ("instances/acme.toml", &format!("port = {p2}\n")),
    ]);
    p.git_init();
    let mut cleanup = Cleanup::new();
    for c in [
        format!("lbc-{name}-local"),
        format!("lbc-{name}-local_cache"),
        format!("lbc-{name}-acme-local"),
        format!("lbc-{name}-acme-local_cache"),
    ] {
        cleanup.containers.push(c);
    }
    cleanup.images.push(format!("lbc-tests/{name}"));
    let lbc = || {
        p.lbc()
            .env("LBC_CATALOG", &env.catalog)
            .env("XDG_STATE_HOME", state.path())
    };
    lbc().args(["build"]).run().success();
    lbc().args(["deploy", "local"]).run().success();
    lbc()
        .args(["deploy", "local", "--instance", "acme"])
        .run()
        .success()
        .stdout_has(&format!("http://127.0.0.1:{p2}"));
    let ports = docker_ok(&["port", &format!("lbc-{name}-acme-local")]);
    assert!(ports.contains(&format!(":{p2}")), "{ports}");
    let creds = state
        .path()
        .join(format!("lbc/{name}-acme/local/credentials.toml"));
    let doc: toml::Value = toml::from_str(&std::fs::read_to_string(&creds).unwrap()).unwrap();
    let pw = doc["cache"]["password"].as_str().unwrap().to_owned();
    let redis = |container: &str, args: &[&str]| {
        let mut a = vec![
            "exec".to_owned(),
            "-e".into(),
            format!("REDISCLI_AUTH={pw}"),
            container.to_owned(),
            "redis-cli".into(),
        ];
        a.extend(args.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        docker_ok(&a)
    };
    let acme_cache = format!("lbc-{name}-acme-local_cache");
    redis(&acme_cache, &["set", "customer", "acme"]);
    let dir = backups.path().to_str().unwrap();
    lbc()
        .args(["backup", "local", "--instance", "acme", "--backup-dir", dir])
        .run()
        .success();
    let listed = lbc()
        .args([
            "backups",
            "local",
            "--instance",
            "acme",
            "--backup-dir",
            dir,
            "--output",
            "json",
        ])
        .run()
        .success()
        .json();
    let file = listed["backups"][0]["file"].as_str().unwrap().to_owned();
    assert!(file.contains(&format!("{name}-acme")), "{file}");
    // The project's own environment has no backup of its own.
    let own = lbc()
        .args(["backups", "local", "--backup-dir", dir, "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(
        own["backups"].as_array().map(Vec::len).unwrap_or(0),
        0,
        "{own}"
    );
    redis(&acme_cache, &["del", "customer"]);
    lbc()
        .args([
            "restore",
            "local",
            "--instance",
            "acme",
            "--from",
            &file,
            "--backup-dir",
            dir,
            "--overwrite",
        ])
        .run()
        .success();
    assert_eq!(redis(&acme_cache, &["get", "customer"]), "acme");
    // The project's own Redis never saw the key.
    let own_doc: toml::Value = toml::from_str(
        &std::fs::read_to_string(
            state
                .path()
                .join(format!("lbc/{name}/local/credentials.toml")),
        )
        .unwrap(),
    )
    .unwrap();
    let own_pw = own_doc["cache"]["password"].as_str().unwrap();
    let out = docker(&[
        "exec",
        "-e",
        &format!("REDISCLI_AUTH={own_pw}"),
        &format!("lbc-{name}-local_cache"),
        "redis-cli",
        "get",
        "customer",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "");
    // Removed with --purge: its container and volume go, the project's stay.
    let vols = docker_ok(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("name={name}-acme"),
    ]);
    assert_ne!(vols, "", "the instance has a volume of its own");
    lbc()
        .args(["instance", "remove", "acme", "--purge"])
        .run()
        .success();
    let left = docker_ok(&[
        "ps",
        "-aq",
        "--filter",
        &format!("name=lbc-{name}-acme-local"),
    ]);
    assert_eq!(left, "", "the instance's containers are removed");
    let vols = docker_ok(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("name={name}-acme"),
    ]);
    assert_eq!(vols, "", "--purge removes its volumes");
    assert!(!p.path().join("instances/acme.toml").exists());
    lbc()
        .args(["destroy", "local", "--volumes"])
        .run()
        .success();
}

/// #12: on a terminal, the production guard asks once for the whole batch, listing its
/// instances; typing the environment's name deploys them all.
#[test]
fn the_guard_asks_once_for_the_batch_on_a_terminal() {
    let Some(f) = Fleet::new("the_guard_asks_once_for_the_batch_on_a_terminal", false) else {
        return;
    };
    let Ok(python) = which::which("python3") else {
        assert!(
            !crate::init_support::expected(),
            "python3 is needed to drive a terminal"
        );
        return;
    };
    for n in ["a1", "b2", "c3"] {
        f.lbc().args(["instance", "add", n]).run().success();
    }
    f.project.commit("instances");
    let (code, _, stderr) = f.deploy("staging", &["--all-instances", "--image", &f.image("1.0")]);
    assert_eq!(code, 0, "{stderr}");
    let args = ["promote", "staging", "production", "--all-instances"].join("\x1f");
    let script = [
        "Type its name to deploy 3 instances (a1, b2, c3)",
        "production",
    ]
    .join("\x1f");
    let out = Command::new(&python)
        .args([
            "-c",
            crate::init_template::PTY_DRIVER,
            crate::support::LBC,
            &args,
            &script,
        ])
        .current_dir(f.project.path())
        .envs(f.tool_env())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{screen}");
    assert!(screen.contains("instances: a1, b2, c3"), "{screen}");
    assert_eq!(screen.matches("<seen>").count(), 1, "{screen}");
    // dialoguer redraws the answered prompt once; a second question would add more.
    assert!(
        screen.matches("Type its name").count() <= 1,
        "asked once: {screen}"
    );
    let st = f
        .lbc()
        .args(["status", "production", "--output", "json"])
        .run()
        .success()
        .json();
    assert!(
        st["instances"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["state"] == "deployed" && r["image"] == f.image("1.0").as_str()),
        "{st}"
    );
}

/// #12 with #10: each instance gets its own backing services in its own namespace (the
/// Secret with its own generated password, the StatefulSet), before its release; a
/// repeated deploy keeps the password and is a no-op.
#[test]
fn each_instance_has_its_own_services() {
    let Some(f) = Fleet::new("each_instance_has_its_own_services", false) else {
        return;
    };
    let toml = f.project.read("lbc.toml");
    f.project.write(
        "lbc.toml",
        &format!("{toml}\n[services.cache]\ntype = \"redis\"\n"),
    );
    for n in ["a1", "b2"] {
        f.lbc()
            .args(["instance", "add", n, "--env", "staging"])
            .run()
            .success();
    }
    f.project.commit("instances with a cache");
    let (code, _, stderr) = f.deploy(
        "staging",
        &["--all-instances", "--image", &f.image("1.0"), "--jobs", "2"],
    );
    assert_eq!(code, 0, "{stderr}");
    let name = f.name();
    let password = |inst: &str| {
        let out = f.kubectl(&[
            "get",
            "secret",
            &format!("{name}-cache"),
            "--namespace",
            &format!("{name}-{inst}"),
            "--output",
            "jsonpath={.data.password}",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let (a, b) = (password("a1"), password("b2"));
    assert!(!a.is_empty() && !b.is_empty());
    assert_ne!(a, b, "each instance has its own generated password");
    for inst in ["a1", "b2"] {
        let out = f.kubectl(&[
            "get",
            &format!("statefulset/{name}-cache"),
            "--namespace",
            &format!("{name}-{inst}"),
        ]);
        assert!(out.status.success(), "statefulset in {inst}");
    }
    let (code, doc, stderr) = f.deploy("staging", &["--all-instances", "--image", &f.image("1.0")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        doc["instances"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["result"] == "unchanged"),
        "{doc}"
    );
    assert_eq!(password("a1"), a, "the password is kept");
    // A backup of one instance: in its namespace, named after it.
    let backups = tempfile::tempdir().unwrap();
    let plan = f
        .lbc()
        .args([
            "backup",
            "staging",
            "--instance",
            "a1",
            "--dry-run",
            "--backup-dir",
        ])
        .args([backups.path()])
        .run()
        .success()
        .stdout();
    assert!(plan.contains(&format!("--namespace={name}-a1")), "{plan}");
    assert!(
        plan.contains(&format!("{name}-a1_staging_cache_")),
        "{plan}"
    );
    assert!(!plan.contains(&format!("--namespace={name}-b2")), "{plan}");
}
