//! The Helm chart every stack generates (issue #3), checked with the real helm:
//! `helm lint --strict` and `helm template` for every environment's values file, and what
//! the rendered manifests must hold (probes, security context, spread, HA outside
//! qualification, the ingress host per environment with cert-manager TLS, scrape
//! annotations, the image `lbc deploy` sets).

use std::path::Path;
use std::process::Command;

use crate::init_support::{helm, init, STACKS};
use crate::support::Project;

const ENVS: &[&str] = &["qualification", "staging", "production"];

fn run(helm: &Path, args: &[&str], dir: &Path) -> String {
    let out = Command::new(helm)
        .args(args)
        .current_dir(dir)
        .env("HELM_CACHE_HOME", dir.join(".helm/cache"))
        .env("HELM_CONFIG_HOME", dir.join(".helm/config"))
        .env("HELM_DATA_HOME", dir.join(".helm/data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The documents of a rendered manifest stream, by kind.
fn by_kind(rendered: &str) -> std::collections::BTreeMap<String, serde_json::Value> {
    let docs = yaml_rust2::YamlLoader::load_from_str(rendered)
        .unwrap_or_else(|e| panic!("helm rendered invalid YAML ({e}):\n{rendered}"));
    docs.iter()
        .map(to_json)
        .filter(|v| v["kind"].is_string())
        .map(|v| (v["kind"].as_str().unwrap().to_owned(), v))
        .collect()
}

fn to_json(y: &yaml_rust2::Yaml) -> serde_json::Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(r) => r
            .parse::<f64>()
            .map(serde_json::Value::from)
            .unwrap_or_default(),
        Yaml::Integer(i) => serde_json::Value::from(*i),
        Yaml::String(s) => serde_json::Value::from(s.clone()),
        Yaml::Boolean(b) => serde_json::Value::from(*b),
        Yaml::Array(a) => serde_json::Value::Array(a.iter().map(to_json).collect()),
        Yaml::Hash(h) => serde_json::Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        other => format!("{other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        _ => serde_json::Value::Null,
    }
}

#[test]
fn helm_lint_strict_and_template_pass_for_every_stack_and_environment() {
    let Some(helm) = helm("helm_lint_strict_and_template_pass_for_every_stack_and_environment")
    else {
        return;
    };
    for stack in STACKS {
        let p = Project::empty();
        let dir = init(&p, "chart-svc", stack, &["--set", "domain=apps.acme.test"]);
        run(&helm, &["lint", "--strict", "deploy/chart"], &dir);
        for env in ENVS {
            let values = format!("deploy/chart/values-{env}.yaml");
            let lint = run(
                &helm,
                &["lint", "--strict", "deploy/chart", "--values", &values],
                &dir,
            );
            assert!(lint.contains("0 chart(s) failed"), "{stack}/{env}: {lint}");
            let rendered = run(
                &helm,
                &[
                    "template",
                    "chart-svc",
                    "deploy/chart",
                    "--namespace",
                    &format!("chart-svc-{env}"),
                    "--values",
                    &values,
                    "--set-string",
                    "image.repository=registry.acme.test/chart-svc",
                    "--set-string",
                    "image.tag=0123456789ab",
                ],
                &dir,
            );
            check_rendered(stack, env, &rendered);
        }
        // `lbc deploy` may also pin the digest.
        let pinned = run(
            &helm,
            &[
                "template",
                "chart-svc",
                "deploy/chart",
                "--set-string",
                "image.repository=r.test/x",
                "--set-string",
                "image.tag=t",
                "--set-string",
                "image.digest=sha256:abc",
            ],
            &dir,
        );
        assert!(pinned.contains("image: \"r.test/x@sha256:abc\""), "{stack}");
        // issue #10: the values lbc gives for backing services and the migration.
        std::fs::write(
            dir.join("services-values.yaml"),
            "services:\n  env:\n    - name: LBC_SERVICE_DB_PASSWORD\n      valueFrom: {secretKeyRef: {name: chart-svc-db, key: password}}\n    - name: DATABASE_URL\n      value: postgresql://u:$(LBC_SERVICE_DB_PASSWORD)@chart-svc-db:5432/d\nmigrate:\n  command: [sh, -c, ./migrate --up]\n",
        )
        .unwrap();
        let lint = run(
            &helm,
            &[
                "lint",
                "--strict",
                "deploy/chart",
                "--values",
                "services-values.yaml",
            ],
            &dir,
        );
        assert!(lint.contains("0 chart(s) failed"), "{stack}: {lint}");
        let rendered = run(
            &helm,
            &[
                "template",
                "chart-svc",
                "deploy/chart",
                "--values",
                "services-values.yaml",
            ],
            &dir,
        );
        let docs = by_kind(&rendered);
        let job = &docs["Job"];
        assert_eq!(
            job["metadata"]["annotations"]["helm.sh/hook"], "pre-install,pre-upgrade",
            "{stack}"
        );
        let c = &job["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["args"][2], "./migrate --up", "{stack}");
        assert_eq!(c["env"][1]["name"], "DATABASE_URL", "{stack}");
        let app = &docs["Deployment"]["spec"]["template"]["spec"]["containers"][0];
        assert!(
            app["env"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["name"] == "DATABASE_URL"),
            "{stack}"
        );
        // Without a migration, no Job.
        assert!(!by_kind(&run(
            &helm,
            &["template", "chart-svc", "deploy/chart"],
            &dir
        ))
        .contains_key("Job"));
    }
}

fn check_rendered(stack: &str, env: &str, rendered: &str) {
    let docs = by_kind(rendered);
    let ctx = format!("{stack}/{env}");
    for kind in ["Deployment", "Service", "Ingress", "ServiceAccount"] {
        assert!(docs.contains_key(kind), "{ctx}: no {kind} in\n{rendered}");
    }
    let ha = env != "qualification";
    assert_eq!(
        docs.contains_key("HorizontalPodAutoscaler"),
        ha,
        "{ctx}: HPA"
    );
    assert_eq!(docs.contains_key("PodDisruptionBudget"), ha, "{ctx}: PDB");
    assert!(
        !docs.contains_key("ServiceMonitor"),
        "{ctx}: ServiceMonitor is opt-in"
    );
    if ha {
        let min = docs["HorizontalPodAutoscaler"]["spec"]["minReplicas"]
            .as_i64()
            .unwrap();
        assert!(min >= 2, "{ctx}: minReplicas {min}");
    } else {
        assert_eq!(
            docs["Deployment"]["spec"]["replicas"].as_i64(),
            Some(1),
            "{ctx}"
        );
    }
    let pod = &docs["Deployment"]["spec"]["template"];
    let c = &pod["spec"]["containers"][0];
    assert_eq!(
        c["image"], "registry.acme.test/chart-svc:0123456789ab",
        "{ctx}"
    );
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/healthz", "{ctx}");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz", "{ctx}");
    assert!(
        c["resources"]["requests"]["cpu"].is_string(),
        "{ctx}: resources"
    );
    assert_eq!(
        c["securityContext"]["allowPrivilegeEscalation"], false,
        "{ctx}"
    );
    assert_eq!(
        c["securityContext"]["readOnlyRootFilesystem"], true,
        "{ctx}"
    );
    assert_eq!(
        pod["spec"]["securityContext"]["runAsNonRoot"], true,
        "{ctx}"
    );
    assert_eq!(
        pod["spec"]["securityContext"]["runAsUser"].as_i64(),
        Some(65532)
    );
    let spread = pod["spec"]["topologySpreadConstraints"].as_array().unwrap();
    assert_eq!(spread.len(), 2, "{ctx}");
    let scrape = &pod["metadata"]["annotations"]["prometheus.io/scrape"];
    assert_eq!(
        scrape.as_str() == Some("true"),
        stack != "static",
        "{ctx}: scrape"
    );
    let ingress = &docs["Ingress"];
    let host = ingress["spec"]["rules"][0]["host"].as_str().unwrap();
    let want = if env == "production" {
        "chart-svc.apps.acme.test".to_owned()
    } else {
        format!("chart-svc.{env}.apps.acme.test")
    };
    assert_eq!(host, want, "{ctx}");
    assert_eq!(
        ingress["spec"]["tls"][0]["hosts"][0],
        want.as_str(),
        "{ctx}"
    );
    assert!(
        ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"].is_string(),
        "{ctx}: cert-manager"
    );
}
