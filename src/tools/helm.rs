//! helm: typed argument lists over a resolved cluster, and its JSON parsed into typed
//! structs. The kubeconfig, context and namespace are added here and only here; flags
//! are written `--flag=value`, the release and chart come after `--`, and values lbc
//! computes (the image, `set`) reach helm as a values document on stdin (`--values=-`),
//! never as `--set-string` text that helm would split on commas.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::plan::{Exec, Stdin};
use crate::tools::kubectl::Cluster;

/// A helm binary working in a directory on a cluster.
#[derive(Debug, Clone)]
pub struct Helm {
    pub bin: String,
    cwd: PathBuf,
    cluster: Option<Cluster>,
}

/// What `helm upgrade --install` and `helm template` apply: the chart, the user's values
/// files in order, then the values lbc computed (which win, as `--set` would).
#[derive(Debug, Clone)]
pub struct Release<'a> {
    pub name: &'a str,
    pub chart: &'a Path,
    pub values_files: &'a [PathBuf],
    /// A YAML (here JSON) document of values; empty for none.
    pub values: String,
}

impl Helm {
    pub fn new(bin: &str, cwd: &Path) -> Self {
        Helm {
            bin: bin.to_owned(),
            cwd: cwd.to_owned(),
            cluster: None,
        }
    }
    pub fn on(bin: &str, cwd: &Path, cluster: &Cluster) -> Self {
        Helm {
            bin: bin.to_owned(),
            cwd: cwd.to_owned(),
            cluster: Some(cluster.clone()),
        }
    }

    /// `helm SUB... FLAGS... [--kube-context --namespace --kubeconfig] -- ARGS...`
    fn cmd(&self, sub: &[&str], flags: &[String], args: &[String]) -> Exec {
        let mut all = flags.to_vec();
        if let Some(c) = &self.cluster {
            all.push(format!("--kube-context={}", c.context));
            all.push(format!("--namespace={}", c.namespace));
            if let Some(k) = &c.kubeconfig {
                all.push(format!("--kubeconfig={}", k.display()));
            }
        }
        let argv = super::argv(&self.bin, sub, all, args, super::Dash::Always);
        Exec::new(argv, &self.cwd).progress()
    }

    pub fn version(&self) -> Exec {
        self.cmd(&["version"], &["--short".into()], &[])
    }

    fn values_flags(r: &Release) -> Vec<String> {
        let mut flags: Vec<String> = r
            .values_files
            .iter()
            .map(|f| format!("--values={}", f.display()))
            .collect();
        if !r.values.is_empty() {
            flags.push("--values=-".into());
        }
        flags
    }
    fn with_values(exec: Exec, r: &Release) -> Exec {
        if r.values.is_empty() {
            exec
        } else {
            exec.stdin(Stdin::Data(r.values.clone()))
        }
    }

    /// `helm upgrade --install`, waiting for the rollout and rolling back on failure.
    pub fn upgrade_install(
        &self,
        r: &Release,
        timeout_secs: u64,
        major: u32,
        labels: &[String],
    ) -> Exec {
        let mut flags = vec!["--install".to_owned(), "--create-namespace".into()];
        flags.extend(Self::values_flags(r));
        flags.push("--wait".into());
        flags.push(timeout(timeout_secs));
        flags.push(if major >= 4 {
            "--rollback-on-failure".into()
        } else {
            "--atomic".into()
        });
        if !labels.is_empty() {
            flags.push(format!("--labels={}", labels.join(",")));
        }
        let exec = self.cmd(
            &["upgrade"],
            &flags,
            &[r.name.to_owned(), r.chart.display().to_string()],
        );
        Self::with_values(exec, r)
    }
    /// `helm template`: the manifests, on stdout.
    pub fn template(&self, r: &Release) -> Exec {
        let exec = self.cmd(
            &["template"],
            &Self::values_flags(r),
            &[r.name.to_owned(), r.chart.display().to_string()],
        );
        Self::with_values(exec, r).data()
    }
    pub fn metadata(&self, release: &str) -> Exec {
        self.cmd(
            &["get", "metadata"],
            &["--output=json".into()],
            &[release.to_owned()],
        )
    }
    pub fn history(&self, release: &str) -> Exec {
        self.cmd(
            &["history"],
            &["--output=json".into()],
            &[release.to_owned()],
        )
    }
    pub fn rollback(&self, release: &str, revision: Option<u32>, timeout_secs: u64) -> Exec {
        let mut args = vec![release.to_owned()];
        args.extend(revision.map(|r| r.to_string()));
        self.cmd(
            &["rollback"],
            &["--wait".into(), timeout(timeout_secs)],
            &args,
        )
    }
    pub fn uninstall(&self, release: &str, timeout_secs: u64) -> Exec {
        self.cmd(
            &["uninstall"],
            &["--wait".into(), timeout(timeout_secs)],
            &[release.to_owned()],
        )
    }
}

fn timeout(secs: u64) -> String {
    format!("--timeout={}s", secs.max(1))
}

/// The values lbc sets, as one nested document: `a.b=v` becomes `{"a":{"b":"v"}}`
/// (values stay strings, as with `--set-string`; `\.` is a literal dot in a key).
pub fn values_document(pairs: &[(String, String)]) -> String {
    let mut root = serde_json::Map::new();
    for (key, value) in pairs {
        let parts = split_key(key);
        let mut node = &mut root;
        for (i, part) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                node.insert(part.clone(), serde_json::Value::String(value.clone()));
            } else {
                let next = node
                    .entry(part.clone())
                    .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
                if !next.is_object() {
                    *next = serde_json::Value::Object(serde_json::Map::new());
                }
                node = next.as_object_mut().expect("an object");
            }
        }
    }
    if root.is_empty() {
        return String::new();
    }
    let mut s = serde_json::to_string_pretty(&serde_json::Value::Object(root)).expect("json");
    s.push('\n');
    s
}

fn split_key(key: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    parts.last_mut().expect("one part").push(n);
                }
            }
            '.' => parts.push(String::new()),
            c => parts.last_mut().expect("one part").push(c),
        }
    }
    parts
}

/// `helm version --short` prints `v4.1.4+g...`; returns the major version.
pub fn major_version(short: &str) -> Option<u32> {
    let v = short.trim().strip_prefix('v')?;
    let v = v.split('+').next()?;
    semver::Version::parse(v)
        .map(|v| v.major as u32)
        .ok()
        .or_else(|| v.split('.').next()?.parse().ok())
}

/// `helm get metadata -o json`.
#[derive(Debug, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub revision: u64,
    /// Only helm v4 shows them; helm v3's are on the release's storage Secret.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// One revision of `helm history -o json`.
#[derive(Debug, Deserialize, serde::Serialize)]
pub struct Revision {
    #[serde(default)]
    pub revision: u64,
    #[serde(default)]
    pub updated: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub chart: String,
    #[serde(default)]
    pub app_version: String,
    #[serde(default)]
    pub description: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_major() {
        assert_eq!(major_version("v4.1.4+g05fa379\n"), Some(4));
        assert_eq!(major_version("v3.14.0+gabc"), Some(3));
        assert_eq!(major_version("garbage"), None);
    }

    /// #8/#9: values lbc sets go in a document on stdin: a comma in a value stays in
    /// the value (`--set-string` would split it), dots nest, `\.` does not.
    #[test]
    fn values_nest_and_keep_commas() {
        let doc = values_document(&[
            ("image.tag".into(), "1.0".into()),
            ("image.repository".into(), "r.io/x".into()),
            ("env.LIST".into(), "a,b=c".into()),
            ("annotations.a\\.b/c".into(), "v".into()),
        ]);
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["image"]["tag"], "1.0");
        assert_eq!(v["env"]["LIST"], "a,b=c");
        assert_eq!(v["annotations"]["a.b/c"], "v");
        assert_eq!(values_document(&[]), "");
    }

    #[test]
    fn release_and_chart_come_after_the_end_of_options() {
        let c = Cluster {
            context: "c".into(),
            namespace: "n".into(),
            kubeconfig: None,
        };
        let h = Helm::on("helm", Path::new("/"), &c);
        let r = Release {
            name: "hello",
            chart: Path::new("/p/chart"),
            values_files: &[PathBuf::from("/p/v.yaml")],
            values: "{}\n".into(),
        };
        let e = h.upgrade_install(&r, 300, 4, &["a=b".into()]);
        assert_eq!(
            e.argv,
            [
                "helm",
                "upgrade",
                "--install",
                "--create-namespace",
                "--values=/p/v.yaml",
                "--values=-",
                "--wait",
                "--timeout=300s",
                "--rollback-on-failure",
                "--labels=a=b",
                "--kube-context=c",
                "--namespace=n",
                "--",
                "hello",
                "/p/chart"
            ]
        );
        assert!(matches!(e.stdin, Stdin::Data(_)));
    }
}
