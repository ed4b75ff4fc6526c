//! kubectl: typed argument lists over a resolved cluster, and its JSON parsed into
//! typed structs. The kubeconfig, context and namespace are added here and only here;
//! every flag is written `--flag=value`, and a value that names an object and starts
//! with `-` comes after `--` (several kubectl commands refuse arguments after `--`, and
//! Kubernetes names never start with `-`), so no value can become an option.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::plan::{Exec, Stdin};

/// Where kubectl and helm act: the resolved connection of a Kubernetes environment.
#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    pub context: String,
    pub namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<PathBuf>,
}

/// A kubectl binary, working in a directory, with its kubeconfig and (once resolved)
/// its cluster.
#[derive(Debug, Clone)]
pub struct Kubectl {
    pub bin: String,
    cwd: PathBuf,
    kubeconfig: Option<PathBuf>,
    cluster: Option<Cluster>,
}

impl Kubectl {
    /// kubectl for kubeconfig queries (no context or namespace yet).
    pub fn new(bin: &str, cwd: &Path, kubeconfig: Option<&Path>) -> Self {
        Kubectl {
            bin: bin.to_owned(),
            cwd: cwd.to_owned(),
            kubeconfig: kubeconfig.map(Path::to_owned),
            cluster: None,
        }
    }
    /// kubectl acting in a cluster's context and namespace.
    pub fn on(bin: &str, cwd: &Path, cluster: &Cluster) -> Self {
        Kubectl {
            bin: bin.to_owned(),
            cwd: cwd.to_owned(),
            kubeconfig: cluster.kubeconfig.clone(),
            cluster: Some(cluster.clone()),
        }
    }

    /// `kubectl SUBCOMMAND... FLAGS... [--context --namespace --kubeconfig] [--] ARGS...`
    fn cmd(&self, sub: &[&str], flags: &[String], args: &[String]) -> Exec {
        let mut all = flags.to_vec();
        if let Some(c) = &self.cluster {
            all.push(format!("--context={}", c.context));
            all.push(format!("--namespace={}", c.namespace));
        }
        if let Some(k) = &self.kubeconfig {
            all.push(format!("--kubeconfig={}", k.display()));
        }
        let argv = super::argv(&self.bin, sub, all, args, super::Dash::WhenNeeded);
        Exec::new(argv, &self.cwd).progress()
    }

    pub fn current_context(&self) -> Exec {
        self.cmd(&["config", "current-context"], &[], &[])
    }
    /// The namespace the kubeconfig gives `context`.
    pub fn context_namespace(&self, context: &str) -> Exec {
        // The context name is quoted inside the JSONPath string, never an option.
        let path = format!(
            "--output=jsonpath={{.contexts[?(@.name==\"{}\")].context.namespace}}",
            context.replace('\\', "\\\\").replace('"', "\\\"")
        );
        self.cmd(&["config", "view"], &[path], &[])
    }
    pub fn context_names(&self) -> Exec {
        self.cmd(&["config", "get-contexts"], &["--output=name".into()], &[])
    }
    pub fn client_version(&self) -> Exec {
        self.cmd(
            &["version"],
            &["--client".into(), "--output=json".into()],
            &[],
        )
    }
    /// `kubectl get OBJECTS -o json`.
    pub fn get_json(&self, objects: &[String]) -> Exec {
        self.cmd(&["get"], &["--output=json".into()], objects)
    }
    /// `kubectl get KINDS --selector SEL -o json`.
    pub fn get_selected_json(&self, kinds: &str, selector: &str) -> Exec {
        self.cmd(
            &["get", kinds],
            &[format!("--selector={selector}"), "--output=json".into()],
            &[],
        )
    }
    /// `kubectl get KINDS --selector SEL --all-namespaces -o json`: one query for every
    /// namespace (the instances of an environment, issue #12).
    pub fn get_selected_all_namespaces_json(&self, kinds: &str, selector: &str) -> Exec {
        self.cmd(
            &["get", kinds],
            &[
                format!("--selector={selector}"),
                "--all-namespaces".into(),
                "--output=json".into(),
            ],
            &[],
        )
    }
    pub fn events_json(&self) -> Exec {
        self.cmd(&["get", "events"], &["--output=json".into()], &[])
    }
    pub fn get_namespace(&self, namespace: &str) -> Exec {
        self.cmd(
            &["get", "namespace"],
            &["--ignore-not-found".into(), "--output=name".into()],
            &[namespace.to_owned()],
        )
    }
    pub fn create_namespace(&self, namespace: &str) -> Exec {
        self.cmd(&["create", "namespace"], &[], &[namespace.to_owned()])
    }
    /// `kubectl apply -f -` of manifests given on stdin; prints the applied objects.
    pub fn apply(&self, manifests: String) -> Exec {
        self.cmd(
            &["apply"],
            &["--filename=-".into(), "--output=name".into()],
            &[],
        )
        .stdin(Stdin::Data(manifests))
    }
    /// `kubectl get OBJECTS --ignore-not-found -o name`: the names of those that exist.
    pub fn existing(&self, objects: &[String]) -> Exec {
        self.cmd(
            &["get"],
            &["--ignore-not-found".into(), "--output=name".into()],
            objects,
        )
    }
    /// `kubectl create -f -` of a manifest holding a secret (a Secret's data): given on
    /// stdin, never shown; `create` fails rather than replace an existing object.
    pub fn create_secret_manifest(&self, manifest: String) -> Exec {
        self.cmd(
            &["create"],
            &["--filename=-".into(), "--output=name".into()],
            &[],
        )
        .stdin(Stdin::Secret(manifest))
    }
    /// `kubectl exec POD --container=C -- ARGV...` (never a shell string built from
    /// values: ARGV is the command's own argv).
    pub fn exec_in(&self, pod: &str, container: &str, argv: &[String]) -> Exec {
        let mut e = self.cmd(
            &["exec"],
            &[format!("--container={container}")],
            &[pod.to_owned()],
        );
        e.argv.push("--".into());
        e.argv.extend(argv.iter().cloned());
        e.stdin = Stdin::Null;
        e
    }
    /// `kubectl exec --stdin POD --container=C -- ARGV...` reading a local file on stdin:
    /// how a backup reaches a pod without `tar` in its image or the file's name in a
    /// command (issue #10).
    pub fn exec_from_file(&self, pod: &str, container: &str, argv: &[String], file: &Path) -> Exec {
        let mut e = self.cmd(
            &["exec"],
            &["--stdin".into(), format!("--container={container}")],
            &[pod.to_owned()],
        );
        e.argv.push("--".into());
        e.argv.extend(argv.iter().cloned());
        e.stdin = Stdin::File(file.to_owned());
        e
    }
    /// `kubectl wait --for=FOR --timeout=Ns OBJECT` (`create`, `condition=Ready`...).
    pub fn wait_for(&self, condition: &str, object: &str, timeout_secs: u64) -> Exec {
        self.cmd(
            &["wait"],
            &[
                format!("--for={condition}"),
                format!("--timeout={}s", timeout_secs.max(1)),
            ],
            &[object.to_owned()],
        )
    }
    /// `kubectl cp --container=C FROM TO` (a pod's path is `POD:/path`; the container
    /// needs `tar`).
    pub fn cp(&self, container: &str, from: &str, to: &str) -> Exec {
        self.cmd(
            &["cp"],
            &[format!("--container={container}")],
            &[from.to_owned(), to.to_owned()],
        )
    }
    pub fn rollout_status(&self, object: &str, timeout_secs: u64) -> Exec {
        self.cmd(
            &["rollout", "status"],
            &[format!("--timeout={}s", timeout_secs.max(1))],
            &[object.to_owned()],
        )
    }
    pub fn rollout_undo(&self, object: &str, revision: Option<u32>) -> Exec {
        let flags: Vec<String> = revision
            .map(|r| format!("--to-revision={r}"))
            .into_iter()
            .collect();
        self.cmd(&["rollout", "undo"], &flags, &[object.to_owned()])
    }
    pub fn rollout_history(&self, object: &str) -> Exec {
        self.cmd(&["rollout", "history"], &[], &[object.to_owned()])
    }
    pub fn delete(&self, objects: &[String]) -> Exec {
        self.cmd(
            &["delete"],
            &["--ignore-not-found".into(), "--wait".into()],
            objects,
        )
    }
    /// `kubectl delete pod --wait=false NAME`: what `lbc chaos` does to one pod of a
    /// release (issue #14); not waiting for its graceful end, as a node failure would not.
    pub fn delete_pod(&self, name: &str) -> Exec {
        self.cmd(
            &["delete", "pod"],
            &["--wait=false".into()],
            &[name.to_owned()],
        )
    }
    /// `kubectl get poddisruptionbudgets -o json` of the namespace.
    pub fn pdbs_json(&self) -> Exec {
        self.cmd(
            &["get", "poddisruptionbudgets"],
            &["--output=json".into()],
            &[],
        )
    }
    pub fn logs(&self, selector: &str, tail: u32, follow: bool) -> Exec {
        let mut flags = vec![
            format!("--selector={selector}"),
            "--all-containers".into(),
            "--prefix".into(),
            format!("--tail={tail}"),
        ];
        if follow {
            flags.push("--follow".into());
        }
        self.cmd(&["logs"], &flags, &[])
    }
    /// `kubectl get secrets --selector SEL -o json`.
    pub fn secrets_json(&self, selector: &str) -> Exec {
        self.get_selected_json("secrets", selector)
    }
    pub fn kustomize(&self, dir: &Path) -> Exec {
        self.cmd(&["kustomize"], &[], &[dir.display().to_string()])
    }
}

/// `kubectl version --client -o json` -> `v1.35.0`.
pub fn client_version(json: &str) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Version {
        client_version: Client,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Client {
        git_version: String,
    }
    serde_json::from_str::<Version>(json)
        .ok()
        .map(|v| v.client_version.git_version)
}

/// A list (`kubectl get -o json` of several objects) or one object.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ListOrOne<T> {
    List { items: Vec<T> },
    One(T),
}

impl<T> ListOrOne<T> {
    pub fn into_items(self) -> Vec<T> {
        match self {
            ListOrOne::List { items } => items,
            ListOrOne::One(t) => vec![t],
        }
    }
}

/// Parse `kubectl get -o json` into typed objects; unreadable output is no object.
pub fn parse_items<T: serde::de::DeserializeOwned>(json: &str) -> Vec<T> {
    serde_json::from_str::<ListOrOne<T>>(json)
        .map(ListOrOne::into_items)
        .unwrap_or_default()
}

#[derive(Debug, Default, Deserialize)]
pub struct ObjectMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A Deployment or StatefulSet, as far as lbc reads it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadObject {
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: WorkloadSpec,
    #[serde(default)]
    pub status: WorkloadStatus,
}

#[derive(Debug, Default, Deserialize)]
pub struct WorkloadSpec {
    pub replicas: Option<u64>,
    #[serde(default)]
    pub template: PodTemplate,
}

#[derive(Debug, Default, Deserialize)]
pub struct PodTemplate {
    #[serde(default)]
    pub spec: PodSpec,
}

#[derive(Debug, Default, Deserialize)]
pub struct PodSpec {
    #[serde(default)]
    pub containers: Vec<Container>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Container {
    #[serde(default)]
    pub image: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadStatus {
    #[serde(default)]
    pub ready_replicas: u64,
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Condition {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
}

/// A Kubernetes Event, as far as lbc reads it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub involved_object: InvolvedObject,
    #[serde(default)]
    pub last_timestamp: Option<String>,
    #[serde(default)]
    pub event_time: Option<String>,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct InvolvedObject {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
}

/// A Secret's metadata (helm's release storage carries its labels).
#[derive(Debug, Deserialize)]
pub struct SecretObject {
    #[serde(default)]
    pub metadata: ObjectMeta,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_client_version() {
        let json = r#"{"clientVersion":{"major":"1","minor":"35","gitVersion":"v1.35.0"}}"#;
        assert_eq!(super::client_version(json).as_deref(), Some("v1.35.0"));
    }

    /// #8: the cluster's flags are added in one place, as `--flag=value`, and a name
    /// that looks like an option comes after `--`.
    #[test]
    fn cluster_flags_once_and_values_after_the_end_of_options() {
        let c = Cluster {
            context: "ctx".into(),
            namespace: "ns".into(),
            kubeconfig: Some("/k/config".into()),
        };
        let k = Kubectl::on("kubectl", Path::new("/"), &c);
        assert_eq!(
            k.rollout_status("--evil", 300).argv,
            [
                "kubectl",
                "rollout",
                "status",
                "--timeout=300s",
                "--context=ctx",
                "--namespace=ns",
                "--kubeconfig=/k/config",
                "--",
                "--evil"
            ]
        );
        assert_eq!(
            k.rollout_undo("deployment.apps/x", None).argv[3..],
            [
                "--context=ctx",
                "--namespace=ns",
                "--kubeconfig=/k/config",
                "deployment.apps/x"
            ]
        );
    }

    /// #10: a file reaches a pod on kubectl's stdin (`--stdin`), never through a
    /// command line; the waits name the object after the options.
    #[test]
    fn exec_from_a_file_and_waits() {
        let c = Cluster {
            context: "ctx".into(),
            namespace: "ns".into(),
            kubeconfig: None,
        };
        let k = Kubectl::on("kubectl", Path::new("/"), &c);
        let e = k.exec_from_file("p-0", "redis", &["cat".into()], Path::new("/b/x.rdb"));
        assert_eq!(
            e.argv,
            [
                "kubectl",
                "exec",
                "--stdin",
                "--container=redis",
                "--context=ctx",
                "--namespace=ns",
                "p-0",
                "--",
                "cat"
            ]
        );
        assert!(matches!(&e.stdin, Stdin::File(p) if p == Path::new("/b/x.rdb")));
        assert_eq!(
            k.wait_for("condition=Ready", "pod/p-0", 30).argv,
            [
                "kubectl",
                "wait",
                "--for=condition=Ready",
                "--timeout=30s",
                "--context=ctx",
                "--namespace=ns",
                "pod/p-0"
            ]
        );
    }

    #[test]
    fn workloads_parse_from_a_list_or_one_object() {
        let one = r#"{"kind":"Deployment","metadata":{"name":"a"},"spec":{"replicas":2,"template":{"spec":{"containers":[{"image":"x:1"}]}}},"status":{"readyReplicas":1,"conditions":[{"type":"Available","status":"False","reason":"R","message":"m"}]}}"#;
        let items: Vec<WorkloadObject> = parse_items(one);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].spec.replicas, Some(2));
        assert_eq!(items[0].status.conditions[0].kind, "Available");
        let list = format!(r#"{{"kind":"List","items":[{one},{one}]}}"#);
        assert_eq!(parse_items::<WorkloadObject>(&list).len(), 2);
    }
}
