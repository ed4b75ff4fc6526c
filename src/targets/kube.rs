//! What the two Kubernetes kinds (Helm and kubectl) share: the cluster's resolution
//! (context and namespace precedence, shared with `lbc doctor`), the release's
//! workloads and their diagnosis, the guards of a deploy.
//!
//! Context and namespace are always passed explicitly. Precedence: `--context` /
//! `--namespace`, then the environment in lbc.toml, then the kubeconfig's current
//! context and its namespace (or `default`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::cli::TargetArgs;
use crate::commands::{chosen_image, Chosen, Ctx};
use crate::config::Environment;
use crate::error::Error;
use crate::execute::Guard;
use crate::image::ImageRef;
use crate::plan::{Plan, Step};
use crate::runner::Runner;
use crate::services::kube::{self as kube_services, KubeService};
use crate::tools::{self, helm::Helm, kubectl::Cluster, kubectl::Kubectl};
use crate::ui;

/// How long a Kubernetes deploy may take before it is rolled back.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// What is deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "lowercase")]
pub enum Source {
    Chart(PathBuf),
    Manifests(PathBuf),
    Kustomize(PathBuf),
}

impl Source {
    pub fn dir(&self) -> &Path {
        match self {
            Source::Chart(p) | Source::Manifests(p) | Source::Kustomize(p) => p,
        }
    }
}

/// A Kubernetes environment, resolved.
#[derive(Debug, Clone)]
pub struct Kube {
    pub env_name: String,
    pub cluster: Cluster,
    pub helm_bin: String,
    pub kubectl_bin: String,
    pub release: String,
    pub source: Source,
    pub env: Environment,
    pub timeout: Duration,
    pub root: PathBuf,
}

/// The context of an environment: the flag, lbc.toml, else the kubeconfig's current
/// context (`None` when there is none). `lbc doctor` and the verbs share it.
pub fn context_of(
    runner: &Runner,
    kubectl: &Kubectl,
    flag: Option<&str>,
    env: &Environment,
) -> Result<Option<String>, Error> {
    if let Some(c) = flag.map(str::to_owned).or_else(|| env.context.clone()) {
        return Ok(Some(c));
    }
    let c = query_text(runner, kubectl, &kubectl.current_context())?;
    Ok((!c.is_empty()).then_some(c))
}

/// The namespace: the flag, lbc.toml, the kubeconfig's for the context, else `default`.
pub fn namespace_of(
    runner: &Runner,
    kubectl: &Kubectl,
    flag: Option<&str>,
    env: &Environment,
    context: &str,
) -> Result<String, Error> {
    if let Some(n) = flag.map(str::to_owned).or_else(|| env.namespace.clone()) {
        return Ok(n);
    }
    let n = query_text(runner, kubectl, &kubectl.context_namespace(context))?;
    Ok(if n.is_empty() { "default".into() } else { n })
}

fn query_text(
    runner: &Runner,
    kubectl: &Kubectl,
    exec: &crate::plan::Exec,
) -> Result<String, Error> {
    crate::runner::find(&kubectl.bin)?;
    let out = runner.query(exec)?;
    Ok(if out.ok() {
        out.stdout.trim().to_owned()
    } else {
        String::new()
    })
}

/// The kubeconfig's contexts, or `None` when kubectl cannot say.
pub fn known_contexts(runner: &Runner, kubectl: &Kubectl) -> Result<Option<Vec<String>>, Error> {
    let out = runner.query(&kubectl.context_names())?;
    Ok(out.ok().then(|| {
        out.stdout
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    }))
}

impl Kube {
    /// Resolve an environment: context, namespace, tools, what to deploy.
    pub fn resolve(
        ctx: &Ctx,
        env_name: &str,
        env: Environment,
        flags: &TargetArgs,
    ) -> Result<Kube, Error> {
        let root = ctx.root().to_owned();
        let helm_bin = env.helm_bin();
        let kubectl_bin = env.kubectl_bin();
        let kubeconfig = env.kubeconfig.as_ref().map(|k| root.join(k));
        if let Some(k) = &kubeconfig {
            if !k.is_file() {
                return Err(ctx.project.error_at(
                    &["env", env_name, "kubeconfig"],
                    &format!("kubeconfig {} does not exist", k.display()),
                    Some(
                        "fix the path (relative to the project root) or remove `kubeconfig`".into(),
                    ),
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
        crate::runner::find(match source {
            Source::Chart(_) => &helm_bin,
            _ => &kubectl_bin,
        })?;
        let config_kubectl = Kubectl::new(&kubectl_bin, &root, kubeconfig.as_deref());
        let context = context_of(
            ctx.runner,
            &config_kubectl,
            flags.context.as_deref(),
            &env,
        )?
        .ok_or_else(|| {
            Error::usage(
                format!("no kube context for `{env_name}`: none in lbc.toml and no current context in the kubeconfig"),
                Some(format!("set `context = \"NAME\"` under [env.{env_name}], or pass --context")),
            )
        })?;
        let namespace = namespace_of(
            ctx.runner,
            &config_kubectl,
            flags.namespace.as_deref(),
            &env,
            &context,
        )?;
        let timeout = env.timeout_or(DEFAULT_TIMEOUT);
        Ok(Kube {
            env_name: env_name.to_owned(),
            cluster: Cluster {
                context,
                namespace,
                kubeconfig,
            },
            helm_bin,
            kubectl_bin,
            release: deploy
                .release
                .unwrap_or_else(|| ctx.project.project().to_owned()),
            source,
            env,
            timeout,
            root,
        })
    }

    pub fn helm(&self) -> Helm {
        Helm::on(&self.helm_bin, &self.root, &self.cluster)
    }
    pub fn kubectl(&self) -> Kubectl {
        Kubectl::on(&self.kubectl_bin, &self.root, &self.cluster)
    }
    pub fn timeout_secs(&self) -> u64 {
        self.timeout.as_secs().max(1)
    }
    pub fn selector(&self) -> String {
        format!("app.kubernetes.io/instance={}", self.release)
    }
    /// The plan of `verb` on this environment, after saying where it acts.
    pub fn plan(&self, verb: &str) -> Plan {
        ui::info(&format!(
            "environment {}: context {}, namespace {}{}",
            self.env_name,
            self.cluster.context,
            self.cluster.namespace,
            self.cluster
                .kubeconfig
                .as_ref()
                .map(|k| format!(", kubeconfig {}", k.display()))
                .unwrap_or_default()
        ));
        Plan::new(format!("{verb} {}", self.env_name))
    }

    /// The guard of a protected environment: where lbc acts (and which image).
    pub fn guard(&self, what: &str, image: Option<&ImageRef>, yes: bool) -> Option<Guard> {
        let mut details = vec![
            ("context", self.cluster.context.clone()),
            ("namespace", self.cluster.namespace.clone()),
        ];
        if let Some(i) = image {
            details.push(("image", i.reference().to_owned()));
        }
        Guard::when_protected(self.env.protected, &self.env_name, what, details, yes)
    }

    /// Check that the context exists in the kubeconfig, so that a typo is an error that
    /// names it rather than a connection failure.
    pub fn check_context(&self, runner: &Runner) -> Result<(), Error> {
        if crate::runner::find(&self.kubectl_bin).is_err() {
            return Ok(());
        }
        let config = Kubectl::new(
            &self.kubectl_bin,
            &self.root,
            self.cluster.kubeconfig.as_deref(),
        );
        if let Some(known) = known_contexts(runner, &config)? {
            if !known.contains(&self.cluster.context) {
                return Err(Error::usage(
                    format!(
                        "kube context `{}` of environment `{}` is not in the kubeconfig",
                        self.cluster.context, self.env_name
                    ),
                    Some(format!(
                        "known contexts: {}; fix `context` under [env.{}], set `kubeconfig`, or pass --context",
                        known.join(", "),
                        self.env_name
                    )),
                ));
            }
        }
        Ok(())
    }

    pub fn unreachable(&self, stderr: &str) -> Error {
        let first = stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no answer")
            .trim();
        Error::Unreachable {
            message: format!(
                "the cluster of environment `{}` (context {}) did not answer: {first}",
                self.env_name, self.cluster.context
            ),
            hint: "check the context's server and credentials (`kubectl --context CONTEXT cluster-info`); `lbc doctor` checks the setup".into(),
        }
    }

    /// The image `render` shows: `--image`, else the last build, else `REPO:unbuilt`;
    /// none without `[image]` (the manifests or the chart's values stay as written).
    pub fn image_to_render(
        &self,
        ctx: &Ctx,
        image: Option<&str>,
    ) -> Result<Option<ImageRef>, Error> {
        if let Some(i) = image {
            return Ok(Some(ImageRef::parse(i)?));
        }
        if let Ok(i) = image_to_deploy(ctx, None, None) {
            return Ok(Some(i));
        }
        match &ctx.project.config.image {
            Some(img) => Ok(Some(ImageRef::parse(&format!(
                "{}:unbuilt",
                img.repository
            ))?)),
            None => Ok(None),
        }
    }

    /// The start of a deploy's plan: where it goes, which image, and the guards that
    /// refuse before anything changes.
    pub fn start_deploy(
        &self,
        ctx: &Ctx,
        req: &crate::targets::DeployRequest,
    ) -> Result<Plan, Error> {
        // Backing services reach the app through the chart's values (issue #10).
        if !matches!(self.source, Source::Chart(_)) {
            crate::services::warn_kubernetes(&ctx.project, &self.env_name);
        }
        let mut plan = self.plan("deploy");
        plan.note(format!("image {}", req.image.reference()));
        self.check_deploy(ctx, req, &mut plan)?;
        Ok(plan)
    }

    /// The backing services of this environment (issue #10), provisioned ones with their
    /// image from the catalogue.
    pub fn services(&self, ctx: &Ctx) -> Result<Vec<KubeService>, Error> {
        let l = &ctx.project;
        if l.config.services.is_empty() {
            return Ok(Vec::new());
        }
        let catalog = ctx.settings.catalog()?;
        kube_services::resolve(l, &self.env_name, &self.release, |name, s| {
            crate::services::local::image_of(catalog, name, s)
        })
    }

    /// What lbc applies itself before the release (issue #10): the services and the
    /// scheduled backup, which uploads to the bucket with the catalogue's `rclone` image
    /// when `[env.NAME.backup] s3_secret` is set.
    pub fn applied_manifests(
        &self,
        ctx: &Ctx,
        services: &[KubeService],
    ) -> Result<Vec<serde_json::Value>, Error> {
        let l = &ctx.project;
        let s3 = if services.iter().any(|s| s.provisioned.is_some()) {
            kube_services::cron_s3(l, &self.env_name, || {
                let catalog = ctx.settings.catalog()?;
                crate::catalog::bases::checked(
                    catalog,
                    crate::catalog::bases::ImageUse {
                        kind: "service".into(),
                        file: "lbc.toml".into(),
                        line: None,
                        context: format!("[env.{}.backup] s3_secret: the uploader", self.env_name),
                        resolution: catalog.resolve_name("rclone")?,
                        index: None,
                    },
                )
            })?
        } else {
            None
        };
        Ok(kube_services::manifests(
            l,
            &self.env_name,
            &self.release,
            services,
            s3.as_ref(),
        ))
    }

    /// The steps that provision the services before the release (issue #10): the
    /// namespace if missing, each missing Secret of a provisioned service (created once,
    /// with a generated password, never replaced), the Services, StatefulSets and the
    /// scheduled backup, then a wait for each StatefulSet. An external service's Secret
    /// must exist (exit 2 naming it otherwise). Nothing of the app is touched by them.
    pub fn plan_services(
        &self,
        ctx: &Ctx,
        services: &[KubeService],
        plan: &mut Plan,
    ) -> Result<(), Error> {
        if services.is_empty() {
            return Ok(());
        }
        let l = &ctx.project;
        let k = self.kubectl();
        let keeps = "nothing of the app was changed: the running version still serves";
        let ns = ctx
            .runner
            .query(&k.get_namespace(&self.cluster.namespace))?;
        if !ns.ok() {
            return Err(self.unreachable(&ns.stderr));
        }
        let ns_exists = !ns.stdout.trim().is_empty();
        if !ns_exists {
            plan.push(Step::exec(
                format!("Create namespace {}", self.cluster.namespace),
                k.create_namespace(&self.cluster.namespace),
            ));
        }
        // The bucket's credentials of the scheduled backup must exist too.
        let s3_secret = l.config.env[&self.env_name]
            .backup
            .as_ref()
            .and_then(|b| b.s3_secret.clone())
            .filter(|_| kube_services::schedule_of(l, &self.env_name).is_some())
            .filter(|_| services.iter().any(|s| s.provisioned.is_some()));
        let mut secrets: Vec<String> = services
            .iter()
            .map(|s| format!("secret/{}", s.secret))
            .collect();
        secrets.extend(s3_secret.iter().map(|s| format!("secret/{s}")));
        let existing: Vec<String> = if ns_exists {
            let out = ctx.runner.query(&k.existing(&secrets))?;
            if !out.ok() {
                return Err(self.unreachable(&out.stderr));
            }
            out.stdout.lines().map(|l| l.trim().to_owned()).collect()
        } else {
            Vec::new()
        };
        let exists = |name: &str| existing.iter().any(|e| e == &format!("secret/{name}"));
        if let Some(sec) = s3_secret.filter(|s| !exists(s)) {
            return Err(l.error_at(
                &["env", &self.env_name, "backup", "s3_secret"],
                &format!(
                    "Secret `{sec}` (the bucket's credentials of the scheduled backup) does not exist in namespace {} (context {})",
                    self.cluster.namespace, self.cluster.context
                ),
                Some(format!(
                    "create it with the keys access-key-id and secret-access-key, e.g. `kubectl --namespace={} create secret generic {sec} --from-literal=access-key-id=... --from-literal=secret-access-key=...`",
                    self.cluster.namespace
                )),
            ));
        }
        for ks in services {
            match &ks.provisioned {
                None if !exists(&ks.secret) => {
                    return Err(l.error_at(
                        &["env", &self.env_name, "services", &ks.name, "secret"],
                        &format!(
                            "Secret `{}` of service `{}` does not exist in namespace {} (context {})",
                            ks.secret, ks.name, self.cluster.namespace, self.cluster.context
                        ),
                        Some(format!(
                            "ask the platform team to create it with the keys {} (those the app's variables use), or remove `secret` to have lbc provision the service",
                            kube_services::SECRET_KEYS.join(", ")
                        )),
                    ));
                }
                None => plan.note(format!(
                    "service {}: external, from Secret {}",
                    ks.name, ks.secret
                )),
                Some(_) if exists(&ks.secret) => {}
                Some(_) => {
                    let secrets = crate::services::credentials::generate(ks.service.kind)?;
                    let doc = kube_services::secret_manifest(l, &self.env_name, ks, &secrets);
                    plan.push(
                        Step::exec(
                            format!(
                                "Create Secret {} with the generated password of service {} (once; lbc never replaces it)",
                                ks.secret, ks.name
                            ),
                            k.create_secret_manifest(kube_services::to_yaml_stream(&[doc])),
                        )
                        .hint(keeps),
                    );
                }
            }
        }
        let docs = self.applied_manifests(ctx, services)?;
        if !docs.is_empty() {
            plan.push(
                Step::exec(
                    format!(
                        "Apply the backing services of {} (StatefulSets, Services{})",
                        self.env_name,
                        if kube_services::schedule_of(l, &self.env_name).is_some() {
                            ", scheduled backup"
                        } else {
                            ""
                        }
                    ),
                    k.apply(kube_services::to_yaml_stream(&docs)),
                )
                .hint(keeps),
            );
        }
        for ks in services.iter().filter(|s| s.provisioned.is_some()) {
            plan.push(
                Step::exec(
                    format!("Wait until service {} is ready", ks.name),
                    k.rollout_status(&format!("statefulset/{}", ks.object), self.timeout_secs()),
                )
                .hint(format!(
                    "service {} did not become ready; `kubectl describe statefulset/{}` and `kubectl logs statefulset/{}` show why; {keeps}",
                    ks.name, ks.object, ks.object
                )),
            );
        }
        Ok(())
    }

    /// A service's name from its StatefulSet's (`RELEASE-NAME`).
    fn service_of(&self, w: &Workload) -> String {
        w.name
            .strip_prefix(&format!("{}-", self.release))
            .unwrap_or(&w.name)
            .to_owned()
    }

    /// The StatefulSets of the environment's provisioned services (`lbc status`).
    pub fn service_workloads(&self, ctx: &Ctx) -> Result<Vec<Workload>, Error> {
        if ctx.project.config.services.is_empty() || crate::runner::find(&self.kubectl_bin).is_err()
        {
            return Ok(Vec::new());
        }
        let exec = self.kubectl().get_selected_json(
            "statefulsets",
            &kube_services::env_selector(&ctx.project, &self.env_name),
        );
        let out = ctx.runner.query(&exec)?;
        if !out.ok() {
            return Err(self.unreachable(&out.stderr));
        }
        Ok(
            tools::kubectl::parse_items::<tools::kubectl::WorkloadObject>(&out.stdout)
                .into_iter()
                .map(Workload::from)
                .collect(),
        )
    }

    /// The guards of a deploy, before anything changes (see [`crate::targets::check_deploy`]).
    fn check_deploy(
        &self,
        ctx: &Ctx,
        req: &crate::targets::DeployRequest,
        plan: &mut Plan,
    ) -> Result<(), Error> {
        crate::targets::check_deploy(ctx, &self.env_name, &self.env, &self.root, req, plan)
    }

    /// The release's Deployments and StatefulSets: by the recorded objects of the
    /// kubectl path, else by the release's instance label.
    pub fn workloads(&self, runner: &Runner, recorded: &[String]) -> Result<Vec<Workload>, Error> {
        if crate::runner::find(&self.kubectl_bin).is_err() {
            return Ok(vec![]);
        }
        let k = self.kubectl();
        let exec = if recorded.is_empty() {
            k.get_selected_json("deployments,statefulsets", &self.selector())
        } else {
            let names: Vec<String> = recorded
                .iter()
                .filter(|n| is_workload(n))
                .cloned()
                .collect();
            if names.is_empty() {
                return Ok(vec![]);
            }
            k.get_json(&names)
        };
        let out = runner.query(&exec)?;
        if !out.ok() {
            return Err(self.unreachable(&out.stderr));
        }
        Ok(
            tools::kubectl::parse_items::<tools::kubectl::WorkloadObject>(&out.stdout)
                .into_iter()
                .map(Workload::from)
                .collect(),
        )
    }

    /// What went wrong in a failed rollout: unhealthy workloads and recent warning events.
    pub fn diagnose(&self, runner: &Runner, recorded: &[String]) -> String {
        let mut lines = Vec::new();
        if let Ok(ws) = self.workloads(runner, recorded) {
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
        if let Ok(out) = runner.query(&self.kubectl().events_json()) {
            let mut events: Vec<(String, String)> = tools::kubectl::parse_items::<
                tools::kubectl::Event,
            >(&out.stdout)
            .into_iter()
            .filter(|e| e.kind == "Warning" && e.involved_object.name.starts_with(&self.release))
            .map(|e| {
                let when = e.last_timestamp.or(e.event_time).unwrap_or_default();
                let text = format!(
                    "event {}/{}: {} {}",
                    e.involved_object.kind.to_lowercase(),
                    e.involved_object.name,
                    e.reason,
                    e.message
                );
                (when, text)
            })
            .collect();
            events.sort();
            lines.extend(events.into_iter().rev().take(5).map(|(_, t)| t));
        }
        lines.join("\n  ")
    }

    /// The status document and text of a Kubernetes environment.
    pub fn print_status(
        &self,
        ctx: &Ctx,
        meta: Option<&crate::targets::helm::ReleaseMeta>,
        ws: &[Workload],
        services: &[Workload],
    ) {
        let image = image_of(ctx, ws);
        let state = meta.map(|m| m.status.clone()).unwrap_or_else(|| {
            if ws.is_empty() {
                "absent".into()
            } else {
                "applied".into()
            }
        });
        if ctx.settings.json {
            ui::print_json(&serde_json::json!({
                "environment": self.env_name,
                "context": self.cluster.context,
                "namespace": self.cluster.namespace,
                "release": self.release,
                "state": state,
                "revision": meta.map(|m| m.revision),
                "promoted_from": meta.and_then(|m| m.labels.get("lbc-promoted-from").cloned()),
                "promoted_revision": meta.and_then(|m| m.labels.get("lbc-source-revision").and_then(|r| r.parse::<u64>().ok())),
                "image": image.as_ref().map(|i| i.reference().to_owned()),
                "workloads": ws,
                "services": services.iter().map(|w| serde_json::json!({
                    "service": self.service_of(w),
                    "statefulset": w.name,
                    "ready": w.ready,
                    "desired": w.desired,
                    "image": w.images.first(),
                })).collect::<Vec<_>>(),
            }));
            return;
        }
        let mut out = format!(
            "{}: release {} {state}{}\n  context: {}\n  namespace: {}\n  image: {}\n",
            self.env_name,
            self.release,
            meta.map(|m| format!(", revision {}", m.revision))
                .unwrap_or_default(),
            self.cluster.context,
            self.cluster.namespace,
            image.as_ref().map(|i| i.reference()).unwrap_or("-"),
        );
        if let Some(m) = meta {
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
        for w in ws {
            out.push_str(&format!(
                "  {}/{}: {}/{} ready\n",
                w.kind, w.name, w.ready, w.desired
            ));
        }
        for w in services {
            out.push_str(&format!(
                "  service {}: statefulset/{} {}/{} ready, image {}\n",
                self.service_of(w),
                w.name,
                w.ready,
                w.desired,
                w.images.first().map(String::as_str).unwrap_or("-")
            ));
        }
        ui::data(&out);
    }

    /// `logs`: the logs of the release's pods, by its instance label.
    pub fn logs(
        &self,
        ctx: &mut Ctx,
        follow: bool,
        tail: u32,
        service: Option<&str>,
    ) -> Result<(), Error> {
        crate::runner::find(&self.kubectl_bin)?;
        let mut plan = Plan::new(format!("logs {}", self.env_name));
        match service {
            None => plan.push(Step::exec(
                format!("Show the logs of {}", self.release),
                self.kubectl().logs(&self.selector(), tail, follow).data(),
            )),
            Some(name) => {
                // A service lbc provisions here (issue #10): its pod, by its labels.
                let services = if matches!(self.source, Source::Chart(_)) {
                    self.services(ctx)?
                } else {
                    Vec::new()
                };
                let Some(ks) = services.iter().find(|s| s.name == name) else {
                    return Err(Error::usage(
                        format!("`{name}` is not a service lbc runs in `{}`", self.env_name),
                        Some(if services.is_empty() {
                            "declare it under [services] (environments deployed with a Helm chart get them)".into()
                        } else {
                            format!(
                                "its services: {}",
                                services
                                    .iter()
                                    .map(|s| s.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }),
                    ));
                };
                if ks.provisioned.is_none() {
                    return Err(Error::usage(
                        format!(
                            "service `{name}` of `{}` is external (Secret {}): its logs are the platform's",
                            self.env_name, ks.secret
                        ),
                        None,
                    ));
                }
                let selector = format!(
                    "{},lbc.service={name}",
                    kube_services::env_selector(&ctx.project, &self.env_name)
                );
                plan.push(Step::exec(
                    format!("Show the logs of service {name}"),
                    self.kubectl().logs(&selector, tail, follow).data(),
                ));
            }
        }
        crate::execute::execute(ctx.settings, ctx.runner, &plan, None).map(|_| ())
    }

    /// The result document of a deploy.
    pub fn result_json(
        &self,
        image: &ImageRef,
        revision: u64,
        up_to_date: bool,
    ) -> serde_json::Value {
        serde_json::json!({
            "environment": self.env_name,
            "context": self.cluster.context,
            "namespace": self.cluster.namespace,
            "release": self.release,
            "image": image.reference(),
            "revision": revision,
            "up_to_date": up_to_date,
        })
    }
}

/// The image to deploy: by digest when the build was pushed.
pub fn image_to_deploy(
    ctx: &Ctx,
    image: Option<&str>,
    tag: Option<&str>,
) -> Result<ImageRef, Error> {
    let rec = match chosen_image(ctx, image, tag, "run `lbc build --push` first")? {
        Chosen::Reference(r) => return Ok(ImageRef::parse(&r)?),
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
    })?)
}

/// The repository of the project's image (empty without `[image]`).
pub fn project_repository(ctx: &Ctx) -> String {
    ctx.project
        .config
        .image
        .as_ref()
        .map(|i| i.repository.clone())
        .unwrap_or_default()
}

/// The project's image among the workloads' containers (else the first container's).
pub fn image_of(ctx: &Ctx, workloads: &[Workload]) -> Option<ImageRef> {
    let repo = ctx
        .project
        .config
        .image
        .as_ref()
        .map(|i| i.repository.as_str());
    let mut first = None;
    for w in workloads {
        for img in &w.images {
            let Ok(r) = ImageRef::parse(img) else {
                continue;
            };
            if repo.is_some_and(|repo| r.is_in(repo)) {
                return Some(r);
            }
            first.get_or_insert(r);
        }
    }
    first
}

/// `deployment.apps/x` and `statefulset.apps/x` (as `kubectl apply -o name` prints them).
pub fn is_workload(name: &str) -> bool {
    name.starts_with("deployment") || name.starts_with("statefulset")
}

/// A Deployment or StatefulSet of the release, as lbc reports it.
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

impl From<tools::kubectl::WorkloadObject> for Workload {
    fn from(o: tools::kubectl::WorkloadObject) -> Self {
        Workload {
            kind: o.kind.to_lowercase(),
            name: o.metadata.name,
            desired: o.spec.replicas.unwrap_or(1),
            ready: o.status.ready_replicas,
            images: o
                .spec
                .template
                .spec
                .containers
                .into_iter()
                .filter_map(|c| c.image)
                .collect(),
            problems: o
                .status
                .conditions
                .into_iter()
                .filter(|c| c.status != "True")
                .map(|c| {
                    format!(
                        "{}={} ({}): {}",
                        if c.kind.is_empty() { "?" } else { &c.kind },
                        if c.status.is_empty() { "?" } else { &c.status },
                        c.reason,
                        c.message
                    )
                })
                .collect(),
        }
    }
}

/// The error of a verb that only Kubernetes environments have.
/// A flag about backing services on a Kubernetes environment (issue #10).
pub fn docker_only(flag: &str) -> Error {
    Error::usage(
        format!("{flag} applies to docker environments and to Kubernetes environments deployed with a Helm chart (backing services on Kubernetes reach the app through the chart's values)"),
        None,
    )
}

pub fn not_kubernetes(env_name: &str) -> Error {
    Error::usage(
        format!("environment `{env_name}` is a docker environment"),
        Some(format!("this verb works on kubernetes environments; for `{env_name}` use deploy, status, logs or destroy")),
    )
}
