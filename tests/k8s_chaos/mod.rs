//! `lbc chaos` on Kubernetes (issue #14) with the real helm and kubectl against the API
//! emulator, whose controller makes the Deployment's pods and replaces a deleted one:
//! the pods chosen are the release's ready pods, and the PodDisruptionBudget is never
//! exceeded (with `minAvailable` equal to the replicas no pod is ever deleted).

use std::io::{Read, Write};
use std::process::Command;

use crate::support::{kube_env, unique, Cluster, KubeEnv, Project};

const PDB: &str = r#"apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "chart.fullname" . }}
  labels:
    {{- include "chart.labels" . | nindent 4 }}
spec:
  minAvailable: {{ .Values.pdbMinAvailable }}
  selector:
    matchLabels:
      {{- include "chart.selectorLabels" . | nindent 6 }}
"#;

struct Setup {
    env: KubeEnv,
    project: Project,
    state: tempfile::TempDir,
    _cluster: Cluster,
    ns: String,
}

impl Setup {
    fn new(test: &str, min_available: u32) -> Option<Setup> {
        let env = kube_env(test)?;
        if env.real.is_some() {
            // The scenario needs a controller that replaces pods within seconds, and
            // deletes pods: run it against the emulator only.
            eprintln!("skipped {test}: emulator only");
            return None;
        }
        let state = tempfile::tempdir().unwrap();
        let kubeconfig = state.path().join("kubeconfig");
        let cluster = Cluster::start(&env, &kubeconfig, "emu-chaos", false)?;
        let ns = unique("chaos");
        let project = Project::with(&[(
            "lbc.toml",
            &format!(
                r#"[project]
name = "hello"
[image]
repository = "{repo}"
[env.staging]
context = "emu-chaos"
namespace = "{ns}"
timeout = "40s"
[env.staging.set]
replicaCount = "3"
pdbMinAvailable = "{min_available}"
[env.production]
context = "emu-chaos"
namespace = "{ns}"
protected = true
"#,
                repo = env.repository
            ),
        )]);
        let s = Setup {
            env,
            project,
            state,
            _cluster: cluster,
            ns,
        };
        std::fs::create_dir_all(s.project.path().join("deploy")).unwrap();
        let out = Command::new(&s.env.helm)
            .args(["create", "chart"])
            .current_dir(s.project.path().join("deploy"))
            .envs(s.tool_env())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        s.project.write("deploy/chart/templates/pdb.yaml", PDB);
        s.project.git_init();
        Some(s)
    }

    fn tool_env(&self) -> Vec<(String, String)> {
        let s = self.state.path();
        vec![
            (
                "KUBECONFIG".into(),
                s.join("kubeconfig").display().to_string(),
            ),
            ("HELM_CACHE_HOME".into(), s.join("hc").display().to_string()),
            (
                "HELM_CONFIG_HOME".into(),
                s.join("hf").display().to_string(),
            ),
            ("HELM_DATA_HOME".into(), s.join("hd").display().to_string()),
            ("KUBECACHEDIR".into(), s.join("kc").display().to_string()),
            (
                "PATH".into(),
                format!(
                    "{}:{}:{}",
                    self.env.helm.parent().unwrap().display(),
                    self.env.kubectl.parent().unwrap().display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            ),
        ]
    }

    fn lbc(&self) -> crate::support::Lbc {
        let mut l = self.project.lbc();
        for (k, v) in self.tool_env() {
            l = l.env(&k, v);
        }
        l
    }

    /// The names of the release's pods.
    fn pods(&self) -> Vec<String> {
        let out = Command::new(&self.env.kubectl)
            .args([
                "get",
                "pods",
                "--namespace",
                &self.ns,
                "--selector=app.kubernetes.io/instance=hello",
                "--output=jsonpath={.items[*].metadata.name}",
            ])
            .envs(self.tool_env())
            .output()
            .unwrap();
        let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    }
}

/// An HTTP server on 127.0.0.1 that answers 200 to everything (what the probe reaches:
/// the emulator runs no containers), stopped with the test process.
fn always_up() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/healthz", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            // The whole request first: closing with unread bytes would reset the
            // connection before the client reads the answer.
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    url
}

fn chaos(s: &Setup, url: &str) -> serde_json::Value {
    let out = s
        .lbc()
        .args([
            "chaos",
            "staging",
            "--url",
            url,
            "--duration",
            "5s",
            "--kill-every",
            "1s",
            "--output",
            "json",
        ])
        .run();
    let j = out.json();
    assert_eq!(out.code(), 0, "{j}\n{}", out.stderr());
    j
}

/// #14: with `minAvailable: 2` of 3 pods, each kill deletes one ready pod of the release
/// (the emulator's ReplicaSet replaces it, and the kill counts as recovered); `--url` is
/// required; a protected environment refuses without `--yes` and deletes nothing.
#[test]
fn chaos_deletes_pods_of_the_release_within_the_budget() {
    let Some(s) = Setup::new("chaos_deletes_pods_of_the_release_within_the_budget", 2) else {
        return;
    };
    s.lbc()
        .args([
            "deploy",
            "staging",
            "--image",
            &format!("{}:1.0", s.env.repository),
        ])
        .run()
        .success();
    let before = s.pods();
    assert_eq!(before.len(), 3, "{before:?}");
    s.lbc()
        .args(["deploy", "staging", "--replicas", "2"])
        .run()
        .code_is(2)
        .stderr_has("--replicas applies to docker environments");
    s.lbc()
        .args(["chaos", "staging"])
        .run()
        .code_is(2)
        .stderr_has("needs --url");
    let url = always_up();
    s.lbc()
        .args(["chaos", "production", "--url", &url, "--duration", "2s"])
        .run()
        .code_is(5);
    assert_eq!(s.pods(), before, "the guard deleted nothing");
    let dry = s
        .lbc()
        .args(["chaos", "staging", "--url", &url, "--dry-run"])
        .run()
        .success();
    dry.stdout_has("kubectl delete pod --wait=false")
        .stdout_has("poddisruptionbudgets");
    assert_eq!(s.pods(), before, "a dry run deletes nothing");

    let report = chaos(&s, &url);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["failures"], 0, "{report}");
    let kills = report["kills"].as_array().unwrap();
    assert!(kills.len() >= 3, "{report}");
    for k in kills {
        let pod = k["replica"].as_str().unwrap();
        assert!(
            pod.starts_with("hello-chart-"),
            "a pod of the release: {report}"
        );
        assert!(k["recovered_ms"].as_u64().is_some(), "replaced: {report}");
    }
    assert!(
        !s.pods()
            .contains(&kills[0]["replica"].as_str().unwrap().to_owned()),
        "the first victim is gone"
    );
    assert_eq!(s.pods().len(), 3, "the ReplicaSet replaced every pod");
}

/// #14: with `minAvailable` equal to the replicas the budget allows no disruption: every
/// kill is skipped, saying so, and no pod is deleted.
#[test]
fn chaos_never_exceeds_the_disruption_budget() {
    let Some(s) = Setup::new("chaos_never_exceeds_the_disruption_budget", 3) else {
        return;
    };
    s.lbc()
        .args([
            "deploy",
            "staging",
            "--image",
            &format!("{}:1.0", s.env.repository),
        ])
        .run()
        .success();
    let before = s.pods();
    assert_eq!(before.len(), 3, "{before:?}");
    let report = chaos(&s, &always_up());
    assert_eq!(report["kills"].as_array().unwrap().len(), 0, "{report}");
    let skipped = report["skipped"].as_array().unwrap();
    assert!(skipped.len() >= 3, "{report}");
    assert!(
        skipped[0]
            .as_str()
            .unwrap()
            .contains("PodDisruptionBudget hello-chart allows no disruption"),
        "{report}"
    );
    assert_eq!(s.pods(), before, "no pod deleted");
}
