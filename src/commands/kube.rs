//! Kubernetes environments: `deploy` with Helm (or kubectl for plain manifests and
//! kustomize) that returns only when the rollout is done or rolled back, `render`,
//! `status`, `history`, `rollback`, `destroy`, `logs`, `promote`, and the guard of
//! protected environments.
//!
//! Context and namespace are always passed explicitly. Precedence: `--context` /
//! `--namespace`, then the environment in lbc.toml, then the kubeconfig's current
//! context and its namespace (or `default`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cli::{DeployArgs, PromoteArgs, TargetArgs};
use crate::commands::{chosen_image, guard_protected, print_plan, print_result, Chosen, Ctx};
use crate::config::{parse_duration, EnvKind, Environment};
use crate::error::Error;
use crate::plan::{Exec, Plan, Stdin, Step};
use crate::state::{self, Builds};
use crate::tools::{self, git::hex, helm, kubectl};
use crate::ui;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// The release label that makes a repeated deploy a no-op.
const HASH_LABEL: &str = "lbc-deploy-hash";

/// What is deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "lowercase")]
pub enum Source {
    Chart(PathBuf),
    Manifests(PathBuf),
    Kustomize(PathBuf),
}

/// A Kubernetes environment, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub env_name: String,
    pub context: String,
    pub namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<PathBuf>,
    pub helm: String,
    pub kubectl: String,
    pub release: String,
    pub source: Source,
    #[serde(skip)]
    pub env: Environment,
    #[serde(skip)]
    pub timeout: Duration,
}

impl Target {
    fn helm_flags(&self) -> Vec<String> {
        let mut v = vec![
            "--kube-context".to_owned(),
            self.context.clone(),
            "--namespace".into(),
            self.namespace.clone(),
        ];
        if let Some(k) = &self.kubeconfig {
            v.push("--kubeconfig".into());
            v.push(k.display().to_string());
        }
        v
    }
    fn kubectl_flags(&self) -> Vec<String> {
        let mut v = vec![
            "--context".to_owned(),
            self.context.clone(),
            "--namespace".into(),
            self.namespace.clone(),
        ];
        if let Some(k) = &self.kubeconfig {
            v.push("--kubeconfig".into());
            v.push(k.display().to_string());
        }
        v
    }
    fn helm(&self, root: &Path, args: &[&str]) -> Exec {
        let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        all.extend(self.helm_flags());
        helm::exec(&self.helm, all, root)
    }
    fn kubectl(&self, root: &Path, args: &[&str]) -> Exec {
        let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        all.extend(self.kubectl_flags());
        kubectl::exec(&self.kubectl, all, root)
    }
    fn selector(&self) -> String {
        format!("app.kubernetes.io/instance={}", self.release)
    }
    fn timeout_arg(&self) -> String {
        format!("{}s", self.timeout.as_secs().max(1))
    }
    fn announce(&self) {
        ui::info(&format!(
            "environment {}: context {}, namespace {}{}",
            self.env_name,
            self.context,
            self.namespace,
            self.kubeconfig
                .as_ref()
                .map(|k| format!(", kubeconfig {}", k.display()))
                .unwrap_or_default()
        ));
    }
}

/// Resolve an environment into a target: context, namespace, tools, what to deploy.
pub fn resolve(ctx: &Ctx, env_name: &str, flags: &TargetArgs) -> Result<Target, Error> {
    let env = ctx.project.environment(env_name)?.clone();
    if env.kind != EnvKind::Kubernetes {
        return Err(Error::usage(
            format!("environment `{env_name}` is a docker environment"),
            Some(format!("this verb works on kubernetes environments; for `{env_name}` use deploy, status, logs or destroy")),
        ));
    }
    let root = ctx.root().to_owned();
    let helm_bin = env.helm.clone().unwrap_or_else(|| "helm".into());
    let kubectl_bin = env.kubectl.clone().unwrap_or_else(|| "kubectl".into());
    let kubeconfig = env.kubeconfig.as_ref().map(|k| root.join(k));
    if let Some(k) = &kubeconfig {
        if !k.is_file() {
            return Err(ctx.project.error_at(
                &["env", env_name, "kubeconfig"],
                &format!("kubeconfig {} does not exist", k.display()),
                Some("fix the path (relative to the project root) or remove `kubeconfig`".into()),
            ));
        }
    }
    let deploy = ctx.project.config.deploy.clone().unwrap_or_default();
    let source = if let Some(c) = &deploy.chart {
        Source::Chart(root.join(c))
    } else if let Some(m) = &deploy.manifests {
        Source::Manifests(root.join(m))
    } else if let Some(k) = &deploy.kustomize {
        Source::Kustomize(root.join(k.replace("{env}", env_name)))
    } else if root.join("deploy/chart/Chart.yaml").is_file() {
        Source::Chart(root.join("deploy/chart"))
    } else {
        return Err(Error::usage(
            format!("nothing to deploy to `{env_name}`: no [deploy] section and no deploy/chart/Chart.yaml"),
            Some("add `[deploy] chart = \"PATH\"` (a Helm chart), `manifests = \"DIR\"` or `kustomize = \"DIR\"` to lbc.toml".into()),
        ));
    };
    match &source {
        Source::Chart(p) if !p.join("Chart.yaml").is_file() => {
            return Err(ctx.project.error_at(
                &["deploy", "chart"],
                &format!("{} is not a Helm chart (no Chart.yaml)", p.display()),
                Some("point `chart` at a directory holding Chart.yaml".into()),
            ))
        }
        Source::Manifests(p) | Source::Kustomize(p) if !p.is_dir() => {
            return Err(Error::usage(
                format!("{} is not a directory", p.display()),
                Some("fix `manifests` / `kustomize` under [deploy] in lbc.toml".into()),
            ))
        }
        _ => {}
    }
    let kube_tool = match source {
        Source::Chart(_) => &helm_bin,
        _ => &kubectl_bin,
    };
    tools::find(kube_tool)?;
    let query_kubeconfig = |args: &[&str]| -> Result<String, Error> {
        tools::find(&kubectl_bin)?;
        let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        if let Some(k) = &kubeconfig {
            all.push("--kubeconfig".into());
            all.push(k.display().to_string());
        }
        let out = ctx.runner.query(&kubectl::exec(&kubectl_bin, all, &root))?;
        Ok(if out.ok() {
            out.stdout.trim().to_owned()
        } else {
            String::new()
        })
    };
    let context = match flags.context.clone().or_else(|| env.context.clone()) {
        Some(c) => c,
        None => {
            let c = query_kubeconfig(&["config", "current-context"])?;
            if c.is_empty() {
                return Err(Error::usage(
                    format!("no kube context for `{env_name}`: none in lbc.toml and no current context in the kubeconfig"),
                    Some(format!("set `context = \"NAME\"` under [env.{env_name}], or pass --context")),
                ));
            }
            c
        }
    };
    let namespace = match flags.namespace.clone().or_else(|| env.namespace.clone()) {
        Some(n) => n,
        None => {
            let jsonpath =
                format!("jsonpath={{.contexts[?(@.name==\"{context}\")].context.namespace}}");
            let n = query_kubeconfig(&["config", "view", "-o", &jsonpath])?;
            if n.is_empty() {
                "default".into()
            } else {
                n
            }
        }
    };
    let timeout = env
        .timeout
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| Error::usage(e, None))?
        .unwrap_or(DEFAULT_TIMEOUT);
    Ok(Target {
        env_name: env_name.to_owned(),
        context,
        namespace,
        kubeconfig,
        helm: helm_bin,
        kubectl: kubectl_bin,
        release: deploy
            .release
            .unwrap_or_else(|| ctx.project.project().to_owned()),
        source,
        env,
        timeout,
    })
}

/// Check that the context exists in the kubeconfig, so that a typo is an error that
/// names it rather than a connection failure.
fn check_context(ctx: &Ctx, t: &Target) -> Result<(), Error> {
    if tools::find(&t.kubectl).is_err() {
        return Ok(());
    }
    let mut args = vec![
        "config".to_owned(),
        "get-contexts".into(),
        "-o".into(),
        "name".into(),
    ];
    if let Some(k) = &t.kubeconfig {
        args.push("--kubeconfig".into());
        args.push(k.display().to_string());
    }
    let out = ctx
        .runner
        .query(&kubectl::exec(&t.kubectl, args, ctx.root()))?;
    if out.ok() && !out.stdout.lines().any(|l| l.trim() == t.context) {
        return Err(Error::usage(
            format!("kube context `{}` of environment `{}` is not in the kubeconfig", t.context, t.env_name),
            Some(format!(
                "known contexts: {}; fix `context` under [env.{}], set `kubeconfig`, or pass --context",
                out.stdout.split_whitespace().collect::<Vec<_>>().join(", "),
                t.env_name
            )),
        ));
    }
    Ok(())
}

/// An image reference split for charts: repository, tag (possibly `tag@digest`), digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRef {
    pub reference: String,
    pub repository: String,
    pub tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(reference: &str) -> ImageRef {
        let (name, digest) = match reference.split_once('@') {
            Some((n, d)) => (n, Some(d.to_owned())),
            None => (reference, None),
        };
        let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (repository, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (&name[..last_slash + i], &name[last_slash + i + 1..]),
            None => (name, ""),
        };
        let tag = match (&digest, tag) {
            (Some(d), "") => format!("@{d}"),
            (Some(d), t) => format!("{t}@{d}"),
            (None, t) => t.to_owned(),
        };
        ImageRef {
            reference: reference.to_owned(),
            repository: repository.to_owned(),
            tag,
            digest,
        }
    }
    /// Same image: same digest when both have one, else the same reference.
    pub fn same_as(&self, other: &ImageRef) -> bool {
        match (&self.digest, &other.digest) {
            (Some(a), Some(b)) => a == b,
            _ => self.reference == other.reference,
        }
    }
}

/// The image to deploy: by digest when the build was pushed.
fn image_to_deploy(ctx: &Ctx, image: Option<&str>, tag: Option<&str>) -> Result<ImageRef, Error> {
    let rec = match chosen_image(ctx, image, tag, "run `lbc build --push` first")? {
        Chosen::Reference(r) => return Ok(ImageRef::parse(&r)),
        Chosen::Build(b) => b,
    };
    if rec.digest.is_none() {
        ui::warn(&format!(
            "{} was built but not pushed: a cluster can only pull it if it can reach this machine's images (`lbc build --push` records its digest)",
            rec.image
        ));
    }
    Ok(ImageRef::parse(&match &rec.digest {
        Some(d) => format!("{}:{}@{d}", rec.repository, rec.tag),
        None => rec.image.clone(),
    }))
}

/// The helm arguments shared by upgrade and template.
fn helm_values_args(ctx: &Ctx, t: &Target, image: &ImageRef) -> Vec<String> {
    let mut args = Vec::new();
    for v in &t.env.values {
        args.push("--values".into());
        args.push(ctx.root().join(v).display().to_string());
    }
    for (k, v) in &t.env.set {
        args.push("--set-string".into());
        args.push(format!("{k}={}", crate::tools::helm::set_string_value(v)));
    }
    args.push("--set-string".into());
    args.push(format!("image.repository={}", image.repository));
    args.push("--set-string".into());
    args.push(format!("image.tag={}", image.tag));
    if let Some(d) = &image.digest {
        args.push("--set-string".into());
        args.push(format!("image.digest={d}"));
    }
    args
}

/// A hash of everything a deploy applies: chart or manifests, values files, settings,
/// image. Equal hashes on the deployed release make the deploy a no-op.
fn deploy_hash(ctx: &Ctx, t: &Target, image: &ImageRef, extra: &[String]) -> Result<String, Error> {
    let mut h = Sha256::new();
    let dir = match &t.source {
        Source::Chart(p) | Source::Manifests(p) | Source::Kustomize(p) => p,
    };
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)?;
    files.sort();
    for f in &files {
        h.update(f.as_bytes());
        h.update([0]);
        h.update(fs_err::read(dir.join(f)).map_err(|e| io_err(&dir.join(f), e))?);
        h.update([0]);
    }
    for v in &t.env.values {
        let p = ctx.root().join(v);
        h.update(fs_err::read(&p).map_err(|e| io_err(&p, e))?);
        h.update([0]);
    }
    for (k, v) in &t.env.set {
        h.update(format!("set {k}={v}\0"));
    }
    h.update(format!(
        "image {}\0release {}\0ns {}\0",
        image.reference, t.release, t.namespace
    ));
    for e in extra {
        h.update(e.as_bytes());
        h.update([0]);
    }
    Ok(hex(&h.finalize())[..40].to_owned())
}

fn io_err(p: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: p.to_owned(),
        source: std::io::Error::new(e.kind(), e.to_string()),
    }
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), Error> {
    for entry in fs_err::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let path = entry.path();
        if path.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            out.push(
                path.strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
struct Metadata {
    #[serde(default)]
    status: String,
    #[serde(default)]
    revision: u64,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// `helm get metadata`: the deployed release's status, revision and labels.
fn release_metadata(ctx: &Ctx, t: &Target) -> Result<Option<Metadata>, Error> {
    let out = ctx.runner.query(&t.helm(
        ctx.root(),
        &["get", "metadata", &t.release, "--output", "json"],
    ))?;
    if !out.ok() {
        if out.stderr.contains("not found") {
            return Ok(None);
        }
        // A context missing from the kubeconfig is the usual cause: say so by name.
        check_context(ctx, t)?;
        return Err(unreachable_cluster(t, &out.stderr));
    }
    let Ok(mut meta) = serde_json::from_str::<Metadata>(&out.stdout) else {
        return Ok(None);
    };
    if !out.stdout.contains("\"labels\"") {
        // helm v3 does not show a release's labels; they are on its storage Secret.
        meta.labels = release_secret_labels(ctx, t, meta.revision)?;
    }
    Ok(Some(meta))
}

/// The labels of a release revision's storage Secret (helm's default driver).
fn release_secret_labels(
    ctx: &Ctx,
    t: &Target,
    revision: u64,
) -> Result<BTreeMap<String, String>, Error> {
    if tools::find(&t.kubectl).is_err() {
        return Ok(BTreeMap::new());
    }
    let selector = format!("owner=helm,name={},version={revision}", t.release);
    let out = ctx.runner.query(&t.kubectl(
        ctx.root(),
        &[
            "get",
            "secrets",
            "--selector",
            &selector,
            "--output",
            "json",
        ],
    ))?;
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    Ok(v.pointer("/items/0/metadata/labels")
        .and_then(|l| serde_json::from_value(l.clone()).ok())
        .unwrap_or_default())
}

fn unreachable_cluster(t: &Target, stderr: &str) -> Error {
    let first = stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no answer")
        .trim();
    Error::Unreachable {
        message: format!(
            "the cluster of environment `{}` (context {}) did not answer: {first}",
            t.env_name, t.context
        ),
        hint: "check the context's server and credentials (`kubectl --context CONTEXT cluster-info`); `lbc doctor` checks the setup".into(),
    }
}

/// The helm major version, asked once per run.
fn helm_major(ctx: &Ctx, t: &Target) -> Result<u32, Error> {
    let out = ctx
        .runner
        .query(&helm::exec(&t.helm, ["version", "--short"], ctx.root()))?;
    Ok(helm::major_version(&out.stdout).unwrap_or(3))
}

/// The image that runs in an environment: the container of the release's workloads
/// whose repository is the project's (else the first container).
pub fn running_image(ctx: &Ctx, t: &Target) -> Result<Option<ImageRef>, Error> {
    Ok(image_of(ctx, &workloads(ctx, t)?))
}

/// The project's image among the workloads' containers (else the first container's).
fn image_of(ctx: &Ctx, workloads: &[Workload]) -> Option<ImageRef> {
    let repo = ctx
        .project
        .config
        .image
        .as_ref()
        .map(|i| i.repository.clone());
    let mut first = None;
    for w in workloads {
        for img in &w.images {
            let r = ImageRef::parse(img);
            if Some(&r.repository) == repo.as_ref() {
                return Some(r);
            }
            first.get_or_insert(r);
        }
    }
    first
}

/// A Deployment or StatefulSet of the release, as `kubectl get -o json` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    pub kind: String,
    pub name: String,
    pub desired: u64,
    pub ready: u64,
    pub images: Vec<String>,
    /// Conditions that are not as they should be, as `Type=Status (Reason): message`.
    pub problems: Vec<String>,
}

fn workloads(ctx: &Ctx, t: &Target) -> Result<Vec<Workload>, Error> {
    if tools::find(&t.kubectl).is_err() {
        return Ok(vec![]);
    }
    let names = recorded_objects(ctx, t)?;
    let args: Vec<String> = match (&t.source, names.is_empty()) {
        (Source::Chart(_), _) | (_, true) => vec![
            "get".into(),
            "deployments,statefulsets".into(),
            "--selector".into(),
            t.selector(),
            "--output".into(),
            "json".into(),
        ],
        (_, false) => {
            let mut a = vec!["get".to_owned()];
            a.extend(names.iter().filter(|n| is_workload(n)).cloned());
            a.extend(["--output".into(), "json".into()]);
            if a.len() == 3 {
                return Ok(vec![]);
            }
            a
        }
    };
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ctx.runner.query(&t.kubectl(ctx.root(), &refs))?;
    if !out.ok() {
        return Err(unreachable_cluster(t, &out.stderr));
    }
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    let items = v
        .get("items")
        .and_then(|i| i.as_array())
        .cloned()
        .unwrap_or_else(|| vec![v.clone()]);
    Ok(items.iter().filter_map(workload_from_json).collect())
}

fn is_workload(name: &str) -> bool {
    name.starts_with("deployment") || name.starts_with("statefulset")
}

fn workload_from_json(item: &serde_json::Value) -> Option<Workload> {
    let kind = item.get("kind")?.as_str()?.to_owned();
    let name = item.pointer("/metadata/name")?.as_str()?.to_owned();
    let desired = item
        .pointer("/spec/replicas")
        .and_then(|v| v.as_u64())
        .unwrap_or(1);
    let ready = item
        .pointer("/status/readyReplicas")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    let images = item
        .pointer("/spec/template/spec/containers")
        .and_then(|c| c.as_array())
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("image")?.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let problems = item
        .pointer("/status/conditions")
        .and_then(|c| c.as_array())
        .map(|cs| {
            cs.iter()
                .filter(|c| c.get("status").and_then(|s| s.as_str()) != Some("True"))
                .map(|c| {
                    format!(
                        "{}={} ({}): {}",
                        c.get("type").and_then(|s| s.as_str()).unwrap_or("?"),
                        c.get("status").and_then(|s| s.as_str()).unwrap_or("?"),
                        c.get("reason").and_then(|s| s.as_str()).unwrap_or(""),
                        c.get("message").and_then(|s| s.as_str()).unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Workload {
        kind: kind.to_lowercase(),
        name,
        desired,
        ready,
        images,
        problems,
    })
}

/// What went wrong in a failed rollout: unhealthy workloads and recent warning events.
fn diagnose(ctx: &Ctx, t: &Target) -> String {
    let mut lines = Vec::new();
    if let Ok(ws) = workloads(ctx, t) {
        for w in ws
            .iter()
            .filter(|w| w.ready < w.desired || !w.problems.is_empty())
        {
            lines.push(format!(
                "{}/{}: {}/{} ready, image {}{}",
                w.kind,
                w.name,
                w.ready,
                w.desired,
                w.images.join(", "),
                if w.problems.is_empty() {
                    String::new()
                } else {
                    format!("; {}", w.problems.join("; "))
                }
            ));
        }
    }
    if let Ok(out) = ctx
        .runner
        .query(&t.kubectl(ctx.root(), &["get", "events", "--output", "json"]))
    {
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        let mut events: Vec<(String, String)> = v
            .get("items")
            .and_then(|i| i.as_array())
            .map(|items| {
                items
                    .iter()
                    .filter(|e| e.get("type").and_then(|s| s.as_str()) == Some("Warning"))
                    .filter(|e| {
                        e.pointer("/involvedObject/name")
                            .and_then(|s| s.as_str())
                            .is_some_and(|n| n.starts_with(&t.release))
                    })
                    .map(|e| {
                        let when = e
                            .get("lastTimestamp")
                            .or_else(|| e.get("eventTime"))
                            .and_then(|s| s.as_str())
                            .unwrap_or("")
                            .to_owned();
                        let text = format!(
                            "event {}/{}: {} {}",
                            e.pointer("/involvedObject/kind")
                                .and_then(|s| s.as_str())
                                .unwrap_or("?")
                                .to_lowercase(),
                            e.pointer("/involvedObject/name")
                                .and_then(|s| s.as_str())
                                .unwrap_or("?"),
                            e.get("reason").and_then(|s| s.as_str()).unwrap_or(""),
                            e.get("message").and_then(|s| s.as_str()).unwrap_or("")
                        );
                        (when, text)
                    })
                    .collect()
            })
            .unwrap_or_default();
        events.sort();
        lines.extend(events.into_iter().rev().take(5).map(|(_, t)| t));
    }
    lines.join("\n  ")
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct KubeRecord {
    /// Objects applied by the kubectl path (`deployment.apps/hello`, ...).
    objects: Vec<String>,
    image: String,
}

fn record_file(t: &Target) -> String {
    format!("kube-{}.json", t.env_name)
}

fn recorded_objects(ctx: &Ctx, t: &Target) -> Result<Vec<String>, Error> {
    Ok(state::load_json::<KubeRecord>(ctx.root(), &record_file(t))?
        .map(|r| r.objects)
        .unwrap_or_default())
}

/// Manifests for the kubectl path, with the project's image substituted.
fn manifests(ctx: &Ctx, t: &Target, image: &ImageRef) -> Result<String, Error> {
    let text = match &t.source {
        Source::Manifests(dir) => {
            let mut files = Vec::new();
            collect_files(dir, dir, &mut files)?;
            files.retain(|f| f.ends_with(".yaml") || f.ends_with(".yml"));
            files.sort();
            let mut docs = String::new();
            for f in files {
                let p = dir.join(&f);
                let body = fs_err::read_to_string(&p).map_err(|e| io_err(&p, e))?;
                docs.push_str("---\n");
                docs.push_str(body.trim_start_matches("---\n"));
                if !docs.ends_with('\n') {
                    docs.push('\n');
                }
            }
            docs
        }
        Source::Kustomize(dir) => {
            let out = ctx.runner.query(&kubectl::exec(
                &t.kubectl,
                ["kustomize".to_owned(), dir.display().to_string()],
                ctx.root(),
            ))?;
            if !out.ok() {
                return Err(Error::failed(
                    format!(
                        "`kubectl kustomize {}` failed: {}",
                        dir.display(),
                        out.stderr.trim()
                    ),
                    Some(
                        "fix the kustomization; `kubectl kustomize DIR` shows the same error"
                            .into(),
                    ),
                ));
            }
            out.stdout
        }
        Source::Chart(_) => unreachable!("charts are rendered by helm"),
    };
    let repo = ctx
        .project
        .config
        .image
        .as_ref()
        .map(|i| i.repository.clone())
        .unwrap_or_else(|| image.repository.clone());
    Ok(substitute_image(&text, &repo, &image.reference))
}

/// Replace `image: REPO[:tag][@digest]` lines by `image: NEW`.
pub fn substitute_image(text: &str, repository: &str, new: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let body = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        if let Some(value) = body.strip_prefix("image:") {
            let v = value.trim().trim_matches(|c| c == '"' || c == '\'');
            if ImageRef::parse(v).repository == repository {
                let indent = &line[..line.len() - trimmed.len()];
                let dash = if trimmed.starts_with("- ") { "- " } else { "" };
                out.push_str(&format!("{indent}{dash}image: {new}\n"));
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

// ---------------------------------------------------------------------------------
// verbs

pub fn render(
    ctx: &mut Ctx,
    env_name: &str,
    image: Option<&str>,
    flags: &TargetArgs,
) -> Result<(), Error> {
    let t = resolve(ctx, env_name, flags)?;
    let img = match image {
        Some(i) => ImageRef::parse(i),
        None => image_to_deploy(ctx, None, None).unwrap_or_else(|_| {
            let repo = ctx
                .project
                .config
                .image
                .as_ref()
                .map(|i| i.repository.clone())
                .unwrap_or_default();
            ImageRef::parse(&format!("{repo}:unbuilt"))
        }),
    };
    match &t.source {
        Source::Chart(chart) => {
            let mut args = vec![
                "template".to_owned(),
                t.release.clone(),
                chart.display().to_string(),
            ];
            args.extend(helm_values_args(ctx, &t, &img));
            args.extend(t.helm_flags());
            let exec = helm::exec(&t.helm, args, ctx.root()).data();
            let mut plan = Plan::new(format!("render {env_name}"));
            plan.push(Step::exec(
                format!("Render {} for {env_name}", chart.display()),
                exec,
            ));
            if ctx.settings.dry_run {
                print_plan(ctx.settings, &plan);
                return Ok(());
            }
            ctx.runner.run_plan(&plan).map_err(|e| match e {
                Error::ChildFailed { what, code, .. } => Error::ChildFailed {
                    what,
                    code,
                    hint: Some(format!(
                        "the chart does not render; `helm lint {}` shows why",
                        chart.display()
                    )),
                },
                e => e,
            })
        }
        _ => {
            let text = manifests(ctx, &t, &img)?;
            ui::data(&text);
            Ok(())
        }
    }
}

pub fn deploy(ctx: &mut Ctx, args: &DeployArgs) -> Result<(), Error> {
    let t = resolve(ctx, &args.env, &args.target)?;
    let image = image_to_deploy(ctx, args.image.as_deref(), args.tag.as_deref())?;
    deploy_image(
        ctx,
        &t,
        image,
        Guard {
            yes: args.yes,
            allow_dirty: args.allow_dirty,
            force: args.force,
        },
        None,
    )
}

struct Guard {
    yes: bool,
    allow_dirty: bool,
    force: bool,
}

/// Where a promoted image came from, recorded on the release.
struct Promotion {
    from: String,
    revision: u64,
}

fn deploy_image(
    ctx: &mut Ctx,
    t: &Target,
    image: ImageRef,
    guard: Guard,
    promotion: Option<Promotion>,
) -> Result<(), Error> {
    t.announce();
    let root = ctx.root().to_owned();
    let mut plan = Plan::new(format!("deploy {}", t.env_name));
    plan.note(format!("image {}", image.reference));

    // Guards first: a refusal changes nothing.
    if let Some(from) = &t.env.promote_from {
        let from_target = resolve(ctx, from, &TargetArgs::default())?;
        let running = running_image(ctx, &from_target)?;
        match running {
            Some(r) if r.same_as(&image) => {
                plan.note(format!("{} runs in `{from}` too", image.reference))
            }
            other if !guard.force => {
                return Err(Error::Refused {
                    message: format!(
                        "`{}` only takes images that run in `{from}`, and {} {}",
                        t.env_name,
                        image.reference,
                        match other {
                            Some(r) => format!("is not the image running there ({})", r.reference),
                            None => "cannot be found there (nothing runs in it)".to_owned(),
                        }
                    ),
                    hint: format!(
                        "promote what runs there: `lbc promote {from} {}`; or pass --force",
                        t.env_name
                    ),
                })
            }
            _ => plan.note(format!(
                "--force: {} does not run in `{from}`",
                image.reference
            )),
        }
    }
    if t.env.protected && !guard.allow_dirty && tools::git::is_dirty(&root) {
        return Err(Error::Refused {
            message: format!(
                "`{}` is protected and the git tree has uncommitted changes",
                t.env_name
            ),
            hint: "commit or stash them first, or pass --allow-dirty".into(),
        });
    }

    let mut labels = Vec::new();
    if let Some(p) = &promotion {
        labels.push(format!("lbc-promoted-from={}", p.from));
        labels.push(format!("lbc-source-revision={}", p.revision));
    }
    let hash = deploy_hash(ctx, t, &image, &labels)?;

    match &t.source {
        Source::Chart(chart) => {
            // No-op: the release already runs this chart, these values and this image.
            if let Some(meta) = release_metadata(ctx, t)? {
                if meta.status == "deployed" && meta.labels.get(HASH_LABEL) == Some(&hash) {
                    plan.note(format!(
                        "release {} (revision {}) already runs this chart, these values and this image: nothing to do",
                        t.release, meta.revision
                    ));
                    return finish_noop(ctx, t, &plan, &image, meta.revision);
                }
            }
            confirm(ctx, t, "deploy", Some(&image), guard.yes)?;
            let major = helm_major(ctx, t)?;
            let mut argv = vec![
                "upgrade".to_owned(),
                "--install".into(),
                t.release.clone(),
                chart.display().to_string(),
                "--create-namespace".into(),
            ];
            argv.extend(helm_values_args(ctx, t, &image));
            argv.extend(["--wait".into(), "--timeout".into(), t.timeout_arg()]);
            argv.push(if major >= 4 {
                "--rollback-on-failure".into()
            } else {
                "--atomic".into()
            });
            labels.insert(0, format!("{HASH_LABEL}={hash}"));
            argv.extend(["--labels".into(), labels.join(",")]);
            argv.extend(t.helm_flags());
            plan.push(Step::exec(
                format!("Install or upgrade release {} and wait for the rollout (rolled back on failure)", t.release),
                helm::exec(&t.helm, argv, &root),
            ));
            if ctx.settings.dry_run {
                print_plan(ctx.settings, &plan);
                return Ok(());
            }
            for n in &plan.notes {
                ui::info(n);
            }
            if let Err(e) = ctx.runner.run_plan(&plan) {
                return Err(rollout_failed(ctx, t, e, true));
            }
            let revision = release_metadata(ctx, t)?.map(|m| m.revision).unwrap_or(0);
            ui::success(&format!(
                "{} revision {revision} runs {} in {}",
                t.release, image.reference, t.env_name
            ));
            print_result(
                ctx.settings,
                ctx.runner,
                &plan.verb,
                result_json(t, &image, revision, false),
            );
            if !ctx.settings.json {
                ui::data(&format!(
                    "{} {} revision {revision}",
                    t.env_name, image.reference
                ));
            }
            Ok(())
        }
        Source::Manifests(_) | Source::Kustomize(_) => {
            let text = manifests(ctx, t, &image)?;
            confirm(ctx, t, "deploy", Some(&image), guard.yes)?;
            // Like helm's --create-namespace.
            let ns_query = t.kubectl(
                &root,
                &[
                    "get",
                    "namespace",
                    &t.namespace,
                    "--ignore-not-found",
                    "--output",
                    "name",
                ],
            );
            let ns_exists = ctx.runner.query(&ns_query)?;
            if !ns_exists.ok() {
                return Err(unreachable_cluster(t, &ns_exists.stderr));
            }
            if ns_exists.stdout.trim().is_empty() {
                plan.push(Step::exec(
                    format!("Create namespace {}", t.namespace),
                    t.kubectl(&root, &["create", "namespace", &t.namespace]),
                ));
            }
            let apply = t
                .kubectl(&root, &["apply", "--filename", "-", "--output", "name"])
                .stdin(Stdin::Data(text))
                .capture();
            plan.push(Step::exec(
                format!("Apply the manifests to {}", t.namespace),
                apply,
            ));
            if ctx.settings.dry_run {
                print_plan(ctx.settings, &plan);
                return Ok(());
            }
            for n in &plan.notes {
                ui::info(n);
            }
            let result = ctx.runner.run_plan(&plan);
            let applied: Vec<String> = ctx
                .runner
                .results
                .last()
                .filter(|r| {
                    r.argv
                        .as_ref()
                        .is_some_and(|a| a.iter().any(|x| x == "apply"))
                })
                .map(|r| {
                    r.stdout
                        .lines()
                        .map(|l| l.trim().to_owned())
                        .filter(|l| !l.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            result?;
            state::save_json(
                &root,
                &record_file(t),
                &KubeRecord {
                    objects: applied.clone(),
                    image: image.reference.clone(),
                },
            )?;
            let mut wait = Plan::new(plan.verb.clone());
            for obj in applied.iter().filter(|o| is_workload(o)) {
                wait.push(Step::exec(
                    format!("Wait for the rollout of {obj}"),
                    t.kubectl(
                        &root,
                        &["rollout", "status", obj, "--timeout", &t.timeout_arg()],
                    ),
                ));
            }
            if let Err(e) = ctx.runner.run_plan(&wait) {
                let report = diagnose(ctx, t);
                for obj in applied.iter().filter(|o| is_workload(o)) {
                    let _ = ctx.runner.run_step(&Step::exec(
                        format!("Roll {obj} back"),
                        t.kubectl(&root, &["rollout", "undo", obj]),
                    ));
                }
                return Err(Error::Failed {
                    message: format!("the rollout in `{}` failed ({e}){}", t.env_name, if report.is_empty() { String::new() } else { format!(":\n  {report}") }),
                    hint: Some("the previous ReplicaSet is rolled back (`kubectl rollout undo`); fix the image or manifests and deploy again".into()),
                });
            }
            ui::success(&format!(
                "{} runs {} in {}",
                t.release, image.reference, t.env_name
            ));
            print_result(
                ctx.settings,
                ctx.runner,
                &plan.verb,
                result_json(t, &image, 0, false),
            );
            Ok(())
        }
    }
}

/// The guard of a protected environment, just before anything changes: the user sees
/// where lbc acts (and which image) and confirms.
fn confirm(
    ctx: &Ctx,
    t: &Target,
    what: &str,
    image: Option<&ImageRef>,
    yes: bool,
) -> Result<(), Error> {
    if !t.env.protected || ctx.settings.dry_run {
        return Ok(());
    }
    let mut details = vec![
        ("context", t.context.clone()),
        ("namespace", t.namespace.clone()),
    ];
    if let Some(i) = image {
        details.push(("image", i.reference.clone()));
    }
    guard_protected(&t.env_name, what, &details, yes)
}

fn result_json(t: &Target, image: &ImageRef, revision: u64, up_to_date: bool) -> serde_json::Value {
    serde_json::json!({
        "environment": t.env_name,
        "context": t.context,
        "namespace": t.namespace,
        "release": t.release,
        "image": image.reference,
        "revision": revision,
        "up_to_date": up_to_date,
    })
}

fn finish_noop(
    ctx: &mut Ctx,
    t: &Target,
    plan: &Plan,
    image: &ImageRef,
    revision: u64,
) -> Result<(), Error> {
    if ctx.settings.dry_run {
        print_plan(ctx.settings, plan);
        return Ok(());
    }
    for n in &plan.notes {
        ui::info(n);
    }
    print_result(
        ctx.settings,
        ctx.runner,
        &plan.verb,
        result_json(t, image, revision, true),
    );
    if !ctx.settings.json {
        ui::data(&format!(
            "{} {} revision {revision}",
            t.env_name, image.reference
        ));
    }
    Ok(())
}

/// Turn a failed `helm upgrade` into a report: which resource failed and why, and
/// which revision is running now.
fn rollout_failed(ctx: &Ctx, t: &Target, e: Error, rolled_back: bool) -> Error {
    if matches!(e, Error::Interrupted) {
        return e;
    }
    let report = diagnose(ctx, t);
    let now = release_metadata(ctx, t).ok().flatten();
    let back = match (&now, rolled_back) {
        (Some(m), true) => format!(
            "release {} is back at revision {} ({})",
            t.release, m.revision, m.status
        ),
        (None, true) => format!(
            "release {} was removed: it had no earlier revision",
            t.release
        ),
        _ => String::new(),
    };
    Error::Failed {
        message: format!(
            "deploy to `{}` failed: {e}{}",
            t.env_name,
            if report.is_empty() {
                String::new()
            } else {
                format!("\n  {report}")
            }
        ),
        hint: Some(if back.is_empty() {
            "see `lbc status ENV` and `lbc logs ENV`".into()
        } else {
            format!(
                "{back}; fix the cause and deploy again (`lbc history {}` lists the revisions)",
                t.env_name
            )
        }),
    }
}

pub fn promote(ctx: &mut Ctx, args: &PromoteArgs) -> Result<(), Error> {
    let from = resolve(ctx, &args.from, &TargetArgs::default())?;
    let to = resolve(ctx, &args.to, &TargetArgs::default())?;
    let running = running_image(ctx, &from)?.ok_or_else(|| {
        Error::usage(
            format!("nothing runs in `{}` to promote", args.from),
            Some(format!("deploy it first: `lbc deploy {}`", args.from)),
        )
    })?;
    // Pin the digest: a tag can move, a digest cannot.
    let image = if running.digest.is_some() {
        running
    } else {
        let tag = running.tag.clone();
        match Builds::load(ctx.root())?
            .by_tag(&tag)
            .and_then(|b| b.digest.clone())
        {
            Some(d) => ImageRef::parse(&format!("{}:{tag}@{d}", running.repository)),
            None => {
                ui::warn(&format!(
                    "{} carries no digest and lbc has no record of one: promoting it by tag",
                    running.reference
                ));
                running
            }
        }
    };
    let revision = match &from.source {
        Source::Chart(_) => release_metadata(ctx, &from)?
            .map(|m| m.revision)
            .unwrap_or(0),
        _ => 0,
    };
    ui::info(&format!(
        "promoting {} from `{}` to `{}`",
        image.reference, args.from, args.to
    ));
    deploy_image(
        ctx,
        &to,
        image,
        Guard {
            yes: args.yes,
            allow_dirty: args.allow_dirty,
            force: false,
        },
        Some(Promotion {
            from: args.from.clone(),
            revision,
        }),
    )
}

pub fn status(ctx: &mut Ctx, env_name: &str, flags: &TargetArgs) -> Result<(), Error> {
    let t = resolve(ctx, env_name, flags)?;
    let meta = match &t.source {
        Source::Chart(_) => release_metadata(ctx, &t)?,
        _ => None,
    };
    let ws = workloads(ctx, &t)?;
    let image = image_of(ctx, &ws);
    let doc = serde_json::json!({
        "environment": t.env_name,
        "context": t.context,
        "namespace": t.namespace,
        "release": t.release,
        "state": meta.as_ref().map(|m| m.status.clone()).unwrap_or_else(|| if ws.is_empty() { "absent".into() } else { "applied".into() }),
        "revision": meta.as_ref().map(|m| m.revision),
        "promoted_from": meta.as_ref().and_then(|m| m.labels.get("lbc-promoted-from").cloned()),
        "promoted_revision": meta.as_ref().and_then(|m| m.labels.get("lbc-source-revision").and_then(|r| r.parse::<u64>().ok())),
        "image": image.as_ref().map(|i| i.reference.clone()),
        "workloads": ws,
    });
    if ctx.settings.json {
        ui::print_json(&doc);
        return Ok(());
    }
    let mut out = format!(
        "{env_name}: release {} {}{}\n  context: {}\n  namespace: {}\n  image: {}\n",
        t.release,
        doc["state"].as_str().unwrap_or(""),
        meta.as_ref()
            .map(|m| format!(", revision {}", m.revision))
            .unwrap_or_default(),
        t.context,
        t.namespace,
        image.as_ref().map(|i| i.reference.as_str()).unwrap_or("-"),
    );
    if let Some(m) = &meta {
        if let Some(f) = m.labels.get("lbc-promoted-from") {
            out.push_str(&format!(
                "  promoted from: {f} (revision {})\n",
                m.labels
                    .get("lbc-source-revision")
                    .map(String::as_str)
                    .unwrap_or("?")
            ));
        }
    }
    for w in &ws {
        out.push_str(&format!(
            "  {}/{}: {}/{} ready\n",
            w.kind, w.name, w.ready, w.desired
        ));
    }
    ui::data(&out);
    Ok(())
}

pub fn history(ctx: &mut Ctx, env_name: &str, flags: &TargetArgs) -> Result<(), Error> {
    let t = resolve(ctx, env_name, flags)?;
    let Source::Chart(_) = &t.source else {
        let mut plan = Plan::new(format!("history {env_name}"));
        for obj in recorded_objects(ctx, &t)?.iter().filter(|o| is_workload(o)) {
            plan.push(Step::exec(
                format!("History of {obj}"),
                t.kubectl(ctx.root(), &["rollout", "history", obj]).data(),
            ));
        }
        if ctx.settings.dry_run {
            print_plan(ctx.settings, &plan);
            return Ok(());
        }
        return ctx.runner.run_plan(&plan);
    };
    let exec = t.helm(ctx.root(), &["history", &t.release, "--output", "json"]);
    if ctx.settings.dry_run {
        let mut plan = Plan::new(format!("history {env_name}"));
        plan.push(Step::exec("Read the release history", exec));
        print_plan(ctx.settings, &plan);
        return Ok(());
    }
    let out = ctx.runner.query(&exec)?;
    if !out.ok() {
        if out.stderr.contains("not found") {
            return Err(Error::failed(
                format!("release {} is not deployed in `{env_name}`", t.release),
                Some(format!("deploy it: `lbc deploy {env_name}`")),
            ));
        }
        return Err(unreachable_cluster(&t, &out.stderr));
    }
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    if ctx.settings.json {
        ui::print_json(
            &serde_json::json!({"environment": env_name, "release": t.release, "history": v}),
        );
        return Ok(());
    }
    let mut text = String::from("REVISION  STATUS        UPDATED                    DESCRIPTION\n");
    for r in v.as_array().cloned().unwrap_or_default() {
        text.push_str(&format!(
            "{:<9} {:<13} {:<26} {}\n",
            r.get("revision").and_then(|x| x.as_u64()).unwrap_or(0),
            r.get("status").and_then(|x| x.as_str()).unwrap_or(""),
            r.get("updated")
                .and_then(|x| x.as_str())
                .unwrap_or("")
                .chars()
                .take(25)
                .collect::<String>(),
            r.get("description").and_then(|x| x.as_str()).unwrap_or("")
        ));
    }
    ui::data(&text);
    Ok(())
}

pub fn rollback(
    ctx: &mut Ctx,
    env_name: &str,
    revision: Option<u32>,
    yes: bool,
    flags: &TargetArgs,
) -> Result<(), Error> {
    let t = resolve(ctx, env_name, flags)?;
    t.announce();
    let root = ctx.root().to_owned();
    let mut plan = Plan::new(format!("rollback {env_name}"));
    match &t.source {
        Source::Chart(_) => {
            let mut args = vec!["rollback".to_owned(), t.release.clone()];
            if let Some(r) = revision {
                args.push(r.to_string());
            }
            args.extend(["--wait".into(), "--timeout".into(), t.timeout_arg()]);
            args.extend(t.helm_flags());
            plan.push(Step::exec(
                match revision {
                    Some(r) => format!("Roll {} back to revision {r}", t.release),
                    None => format!("Roll {} back to the previous revision", t.release),
                },
                helm::exec(&t.helm, args, &root),
            ));
        }
        _ => {
            for obj in recorded_objects(ctx, &t)?.iter().filter(|o| is_workload(o)) {
                let mut args = vec!["rollout".to_owned(), "undo".into(), obj.clone()];
                if let Some(r) = revision {
                    args.push(format!("--to-revision={r}"));
                }
                args.extend(t.kubectl_flags());
                plan.push(Step::exec(
                    format!("Roll {obj} back"),
                    kubectl::exec(&t.kubectl, args, &root),
                ));
            }
        }
    }
    if ctx.settings.dry_run {
        print_plan(ctx.settings, &plan);
        return Ok(());
    }
    confirm(ctx, &t, "roll back", None, yes)?;
    ctx.runner.run_plan(&plan)?;
    let now = release_metadata(ctx, &t).ok().flatten();
    ui::success(&format!(
        "{} rolled back{}",
        t.release,
        now.as_ref()
            .map(|m| format!(": revision {} is {}", m.revision, m.status))
            .unwrap_or_default()
    ));
    print_result(
        ctx.settings,
        ctx.runner,
        &plan.verb,
        serde_json::json!({"environment": env_name, "revision": now.map(|m| m.revision)}),
    );
    Ok(())
}

pub fn destroy(ctx: &mut Ctx, env_name: &str, yes: bool, flags: &TargetArgs) -> Result<(), Error> {
    let t = resolve(ctx, env_name, flags)?;
    t.announce();
    let root = ctx.root().to_owned();
    let mut plan = Plan::new(format!("destroy {env_name}"));
    match &t.source {
        Source::Chart(_) => {
            if release_metadata(ctx, &t)?.is_none() {
                plan.note(format!(
                    "nothing to destroy: release {} is not installed",
                    t.release
                ));
            } else {
                let mut args = vec![
                    "uninstall".to_owned(),
                    t.release.clone(),
                    "--wait".into(),
                    "--timeout".into(),
                    t.timeout_arg(),
                ];
                args.extend(t.helm_flags());
                plan.push(Step::exec(
                    format!("Uninstall release {}", t.release),
                    helm::exec(&t.helm, args, &root),
                ));
            }
        }
        _ => {
            let objects = recorded_objects(ctx, &t)?;
            if objects.is_empty() {
                plan.note("nothing to destroy: lbc has not applied anything here".to_owned());
            } else {
                let mut args = vec![
                    "delete".to_owned(),
                    "--ignore-not-found".into(),
                    "--wait".into(),
                ];
                args.extend(objects);
                args.extend(t.kubectl_flags());
                plan.push(Step::exec(
                    "Delete the applied objects",
                    kubectl::exec(&t.kubectl, args, &root),
                ));
            }
        }
    }
    if ctx.settings.dry_run {
        print_plan(ctx.settings, &plan);
        return Ok(());
    }
    for n in &plan.notes {
        ui::info(n);
    }
    if !plan.steps.is_empty() {
        confirm(ctx, &t, "destroy", None, yes)?;
    }
    ctx.runner.run_plan(&plan)?;
    if !matches!(t.source, Source::Chart(_)) && !plan.steps.is_empty() {
        state::save_json(&root, &record_file(&t), &KubeRecord::default())?;
    }
    print_result(
        ctx.settings,
        ctx.runner,
        &plan.verb,
        serde_json::json!({"environment": env_name, "removed": !plan.steps.is_empty()}),
    );
    Ok(())
}

pub fn logs(
    ctx: &mut Ctx,
    env_name: &str,
    follow: bool,
    tail: u32,
    flags: &TargetArgs,
) -> Result<(), Error> {
    let t = resolve(ctx, env_name, flags)?;
    tools::find(&t.kubectl)?;
    let tail = tail.to_string();
    let mut args = vec!["logs", "--selector"];
    let sel = t.selector();
    args.push(&sel);
    args.extend(["--all-containers", "--prefix", "--tail", &tail]);
    if follow {
        args.push("--follow");
    }
    let mut plan = Plan::new(format!("logs {env_name}"));
    plan.push(Step::exec(
        format!("Show the logs of {}", t.release),
        t.kubectl(ctx.root(), &args).data(),
    ));
    if ctx.settings.dry_run {
        print_plan(ctx.settings, &plan);
        return Ok(());
    }
    ctx.runner.run_plan(&plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_for_charts() {
        let r = ImageRef::parse("127.0.0.1:5055/team/hello:abc123");
        assert_eq!(
            (r.repository.as_str(), r.tag.as_str(), r.digest),
            ("127.0.0.1:5055/team/hello", "abc123", None)
        );
        let r = ImageRef::parse("r.io/x:1.0@sha256:ff");
        assert_eq!(
            (r.repository.as_str(), r.tag.as_str(), r.digest.as_deref()),
            ("r.io/x", "1.0@sha256:ff", Some("sha256:ff"))
        );
        let r = ImageRef::parse("localhost:5000/x");
        assert_eq!(
            (r.repository.as_str(), r.tag.as_str()),
            ("localhost:5000/x", "")
        );
        assert!(ImageRef::parse("a/x:1@sha256:aa").same_as(&ImageRef::parse("a/x:2@sha256:aa")));
    }

    #[test]
    fn substitutes_only_the_project_image() {
        let text = "spec:\n  containers:\n  - name: app\n    image: r.io/team/hello:old\n  - name: side\n    image: \"busybox:1\"\n";
        let out = substitute_image(text, "r.io/team/hello", "r.io/team/hello:new@sha256:ab");
        assert!(out.contains("    image: r.io/team/hello:new@sha256:ab\n"));
        assert!(out.contains("image: \"busybox:1\""));
    }
}
