//! Kubernetes environments deployed with a Helm chart: `helm upgrade --install` that
//! waits for the rollout and rolls back on failure, a deploy hash on the release that
//! makes a repeated deploy a no-op, the release's metadata (and helm v3's labels on its
//! storage Secret), history, rollback, uninstall.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::commands::Ctx;
use crate::error::Error;
use crate::execute::{self, Summary};
use crate::image::ImageRef;
use crate::plan::{Plan, Step};
use crate::runner::Runner;
use crate::services::kube::{self as kube_services, KubeService};
use crate::targets::kube::Kube;
use crate::targets::{DeployRequest, Running, Target};
use crate::tools::{self, git::hex, helm};
use crate::ui;

/// The release label that makes a repeated deploy a no-op.
const HASH_LABEL: &str = "lbc-deploy-hash";

/// A Kubernetes environment whose source is a Helm chart.
pub struct HelmTarget(pub Kube);

/// The deployed release: status, revision and labels (helm v4's, or v3's Secret's).
#[derive(Debug, Clone)]
pub struct ReleaseMeta {
    pub status: String,
    pub revision: u64,
    pub labels: BTreeMap<String, String>,
}

impl HelmTarget {
    fn chart(&self) -> &std::path::Path {
        self.0.source.dir()
    }

    fn values_files(&self) -> Vec<PathBuf> {
        self.0
            .env
            .values
            .iter()
            .map(|v| self.0.root.join(v))
            .collect()
    }

    /// The values lbc sets (see [`lbc_values`]).
    fn values(&self, ctx: &Ctx, image: Option<&ImageRef>, services: &[KubeService]) -> String {
        lbc_values(
            &self.0.env.set,
            image,
            kube_services::chart_values(&ctx.project, services).as_ref(),
        )
    }

    /// `helm get metadata`: the deployed release, or `None`.
    pub fn metadata(&self, runner: &Runner) -> Result<Option<ReleaseMeta>, Error> {
        let t = &self.0;
        let out = runner.query(&t.helm().metadata(&t.release))?;
        if !out.ok() {
            if out.stderr.contains("not found") {
                return Ok(None);
            }
            // A context missing from the kubeconfig is the usual cause: say so by name.
            t.check_context(runner)?;
            return Err(t.unreachable(&out.stderr));
        }
        let Ok(meta) = serde_json::from_str::<helm::Metadata>(&out.stdout) else {
            return Ok(None);
        };
        let labels = match meta.labels {
            Some(l) => l,
            // helm v3 does not show a release's labels; they are on its storage Secret.
            None => self.secret_labels(runner, meta.revision)?,
        };
        Ok(Some(ReleaseMeta {
            status: meta.status,
            revision: meta.revision,
            labels,
        }))
    }

    /// The labels of a release revision's storage Secret (helm's default driver).
    fn secret_labels(
        &self,
        runner: &Runner,
        revision: u64,
    ) -> Result<BTreeMap<String, String>, Error> {
        let t = &self.0;
        if crate::runner::find(&t.kubectl_bin).is_err() {
            return Ok(BTreeMap::new());
        }
        let selector = format!("owner=helm,name={},version={revision}", t.release);
        let out = runner.query(&t.kubectl().secrets_json(&selector))?;
        Ok(
            tools::kubectl::parse_items::<tools::kubectl::SecretObject>(&out.stdout)
                .into_iter()
                .next()
                .map(|s| s.metadata.labels)
                .unwrap_or_default(),
        )
    }

    /// The helm major version, asked once per deploy.
    fn major(&self, runner: &Runner) -> Result<u32, Error> {
        let out = runner.query(&helm::Helm::new(&self.0.helm_bin, &self.0.root).version())?;
        Ok(helm::major_version(&out.stdout).unwrap_or(3))
    }

    /// A hash of everything a deploy applies: chart, values files, settings, image.
    /// Equal hashes on the deployed release make the deploy a no-op.
    fn deploy_hash(
        &self,
        image: &ImageRef,
        extra: &[String],
        values: &str,
    ) -> Result<String, Error> {
        let t = &self.0;
        let mut h = Sha256::new();
        let dir = t.source.dir();
        for f in crate::fsutil::files_under(dir)? {
            h.update(f.as_bytes());
            h.update([0]);
            h.update(crate::fsutil::read(&dir.join(&f))?);
            h.update([0]);
        }
        for p in self.values_files() {
            h.update(crate::fsutil::read(&p)?);
            h.update([0]);
        }
        for (k, v) in &t.env.set {
            h.update(format!("set {k}={v}\0"));
        }
        h.update(format!(
            "image {}\0release {}\0ns {}\0",
            image.reference(),
            t.release,
            t.cluster.namespace
        ));
        for e in extra {
            h.update(e.as_bytes());
            h.update([0]);
        }
        // The values lbc computes (the services' connection, the migration's command).
        h.update(values.as_bytes());
        Ok(hex(&h.finalize())[..40].to_owned())
    }

    /// The release's migration Job (the chart's hook, issue #10) when it failed.
    fn failed_migration(&self, runner: &Runner) -> Option<String> {
        let t = &self.0;
        if crate::runner::find(&t.kubectl_bin).is_err() {
            return None;
        }
        let selector = format!("{},app.kubernetes.io/component=migration", t.selector());
        let out = runner
            .query(&t.kubectl().get_selected_json("jobs", &selector))
            .ok()?;
        let v: serde_json::Value = serde_json::from_str(&out.stdout).ok()?;
        v["items"].as_array()?.iter().find_map(|job| {
            let failed = job["status"]["conditions"]
                .as_array()?
                .iter()
                .any(|c| c["type"] == "Failed" && c["status"] == "True");
            failed.then(|| job["metadata"]["name"].as_str().map(str::to_owned))?
        })
    }

    /// Turn a failed `helm upgrade` into a report: which resource failed and why, and
    /// which revision is running now.
    fn rollout_failed(&self, runner: &Runner, e: Error) -> Error {
        if matches!(e, Error::Interrupted | Error::Refused { .. }) {
            return e;
        }
        let t = &self.0;
        let mut report = t.diagnose(runner, &[]);
        let migration = self.failed_migration(runner);
        if let Some(job) = &migration {
            let line = format!(
                "the migration Job {job} failed (`kubectl logs job/{job}` shows why): the running version keeps serving"
            );
            report = if report.is_empty() {
                line
            } else {
                format!("{line}\n  {report}")
            };
        }
        let back = match self.metadata(runner).ok().flatten() {
            Some(m) => format!(
                "release {} is back at revision {} ({})",
                t.release, m.revision, m.status
            ),
            None => format!(
                "release {} was removed: it had no earlier revision",
                t.release
            ),
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
            hint: Some(format!(
                "{back}; fix the cause and deploy again (`lbc history {}` lists the revisions)",
                t.env_name
            )),
        }
    }
}

impl Target for HelmTarget {
    fn chaos(&self, ctx: &mut Ctx, req: crate::commands::chaos::ChaosRequest) -> Result<(), Error> {
        crate::targets::kube_chaos::run(&self.0, ctx, req)
    }

    fn deploy(&self, ctx: &mut Ctx, req: DeployRequest) -> Result<(), Error> {
        let t = &self.0;
        let image = &req.image;
        let mut plan = t.start_deploy(ctx, &req)?;
        let mut labels = Vec::new();
        if let Some(p) = &req.promotion {
            labels.push(format!("lbc-promoted-from={}", p.from));
            labels.push(format!("lbc-source-revision={}", p.revision));
        }
        let services = t.services(ctx)?;
        let values = self.values(ctx, Some(image), &services);
        // What lbc applies itself counts too (a service's image from the catalogue).
        let applied = kube_services::to_yaml_stream(&t.applied_manifests(ctx, &services)?);
        let hash = self.deploy_hash(image, &labels, &format!("{values}\0{applied}"))?;
        // No-op: the release already runs this chart, these values and this image.
        if let Some(meta) = self.metadata(ctx.runner)? {
            if meta.status == "deployed" && meta.labels.get(HASH_LABEL) == Some(&hash) {
                plan.note(format!(
                    "release {} (revision {}) already runs this chart, these values and this image: nothing to do",
                    t.release, meta.revision
                ));
                return execute::execute_and_finish(
                    ctx.settings,
                    ctx.runner,
                    &plan,
                    None,
                    |_, _| Summary {
                        success: None,
                        data: Some(format!(
                            "{} {} revision {}",
                            t.env_name,
                            image.reference(),
                            meta.revision
                        )),
                        json: t.result_json(image, meta.revision, true),
                    },
                );
            }
        }
        let major = self.major(ctx.runner)?;
        labels.insert(0, format!("{HASH_LABEL}={hash}"));
        // The services first, ready before the release and its migration hook (#10).
        t.plan_services(ctx, &services, &mut plan)?;
        let values_files = self.values_files();
        let release = helm::Release {
            name: &t.release,
            chart: self.chart(),
            values_files: &values_files,
            values,
        };
        plan.push(Step::exec(
            format!(
                "Install or upgrade release {} and wait for the rollout (rolled back on failure)",
                t.release
            ),
            t.helm()
                .upgrade_install(&release, t.timeout_secs(), major, &labels),
        ));
        let guard = t.guard("deploy", Some(image), req.yes);
        execute::execute_and_finish(
            ctx.settings,
            ctx.runner,
            &plan,
            guard.as_ref(),
            |runner, _| {
                let revision = self
                    .metadata(runner)
                    .ok()
                    .flatten()
                    .map(|m| m.revision)
                    .unwrap_or(0);
                Summary {
                    success: Some(format!(
                        "{} revision {revision} runs {} in {}",
                        t.release,
                        image.reference(),
                        t.env_name
                    )),
                    data: Some(format!(
                        "{} {} revision {revision}",
                        t.env_name,
                        image.reference()
                    )),
                    json: t.result_json(image, revision, false),
                }
            },
        )
        .map_err(|e| self.rollout_failed(ctx.runner, e))
    }

    fn render(&self, ctx: &mut Ctx, image: Option<&str>) -> Result<(), Error> {
        let t = &self.0;
        let img = t.image_to_render(ctx, image)?;
        let services = t.services(ctx)?;
        let values_files = self.values_files();
        let chart = self.chart();
        let release = helm::Release {
            name: &t.release,
            chart,
            values_files: &values_files,
            values: self.values(ctx, img.as_ref(), &services),
        };
        // What lbc applies itself before the release (the Secrets are created at the
        // first deploy with a generated password, and never shown).
        let docs = t.applied_manifests(ctx, &services)?;
        if !docs.is_empty() && !ctx.settings.dry_run {
            ui::data(&format!(
                "# Applied by lbc before the release (backing services, issue #10)\n{}",
                kube_services::to_yaml_stream(&docs)
            ));
        }
        let mut plan = Plan::new(format!("render {}", t.env_name));
        plan.push(
            Step::exec(
                format!("Render {} for {}", chart.display(), t.env_name),
                t.helm().template(&release),
            )
            .hint(format!(
                "the chart does not render; `helm lint {}` shows why",
                chart.display()
            )),
        );
        execute::execute(ctx.settings, ctx.runner, &plan, None).map(|_| ())
    }

    fn status(&self, ctx: &mut Ctx) -> Result<(), Error> {
        let meta = self.metadata(ctx.runner)?;
        let ws = self.0.workloads(ctx.runner, &[])?;
        let services = self.0.service_workloads(ctx)?;
        self.0.print_status(ctx, meta.as_ref(), &ws, &services);
        Ok(())
    }

    fn logs(
        &self,
        ctx: &mut Ctx,
        follow: bool,
        tail: u32,
        service: Option<&str>,
    ) -> Result<(), Error> {
        self.0.logs(ctx, follow, tail, service)
    }

    fn destroy(&self, ctx: &mut Ctx, yes: bool, volumes: bool) -> Result<(), Error> {
        let t = &self.0;
        let services = t.services(ctx)?;
        let provisioned: Vec<&KubeService> = services
            .iter()
            .filter(|s| s.provisioned.is_some())
            .collect();
        if volumes && provisioned.is_empty() {
            return Err(Error::usage(
                format!(
                    "--volumes removes the data of the services lbc provisions, and `{}` has none",
                    t.env_name
                ),
                Some(format!(
                    "run `lbc destroy {}` without --volumes",
                    t.env_name
                )),
            ));
        }
        let mut plan = t.plan("destroy");
        if self.metadata(ctx.runner)?.is_none() {
            plan.note(format!(
                "nothing to destroy: release {} is not installed",
                t.release
            ));
        } else {
            plan.push(Step::exec(
                format!("Uninstall release {}", t.release),
                t.helm().uninstall(&t.release, t.timeout_secs()),
            ));
        }
        // The services lbc applied (#10): their data (volume and Secret, which hold one
        // another's password) only with --volumes, and said so otherwise.
        if !provisioned.is_empty() {
            let l = &ctx.project;
            let mut objects = Vec::new();
            let mut kept = Vec::new();
            for ks in &provisioned {
                objects.push(format!("statefulset/{}", ks.object));
                objects.push(format!("service/{}", ks.object));
                objects.push(format!("cronjob/{}-backup", ks.object));
                let data = [
                    format!("persistentvolumeclaim/{}", kube_services::volume_name(ks)),
                    format!("secret/{}", ks.secret),
                ];
                if volumes {
                    objects.extend(data);
                } else {
                    kept.extend(data);
                }
            }
            let backups = format!(
                "persistentvolumeclaim/{}",
                kube_services::backup_volume(&t.release)
            );
            let to_bucket = l.config.env[&t.env_name]
                .backup
                .as_ref()
                .is_some_and(|b| b.s3_secret.is_some());
            if kube_services::schedule_of(l, &t.env_name).is_some() && !to_bucket {
                if volumes {
                    objects.push(backups);
                } else {
                    kept.push(backups);
                }
            }
            let out = ctx.runner.query(&t.kubectl().existing(&objects))?;
            if !out.ok() {
                return Err(t.unreachable(&out.stderr));
            }
            let present: Vec<String> = out.stdout.lines().map(|l| l.trim().to_owned()).collect();
            if !present.is_empty() {
                plan.push(Step::exec(
                    format!(
                        "Remove the backing services of {}{}",
                        t.env_name,
                        if volumes { " and their data" } else { "" }
                    ),
                    t.kubectl().delete(&objects),
                ));
            }
            if !kept.is_empty() {
                plan.note(format!(
                    "kept (the services' data; `--volumes` removes them): {}",
                    kept.join(", ")
                ));
            }
        }
        let removed = !plan.steps.is_empty();
        let guard = t.guard("destroy", None, yes).filter(|_| removed);
        execute::execute_and_finish(ctx.settings, ctx.runner, &plan, guard.as_ref(), |_, _| {
            Summary {
                json: serde_json::json!({"environment": t.env_name, "removed": removed}),
                ..Summary::default()
            }
        })
    }

    fn history(&self, ctx: &mut Ctx) -> Result<(), Error> {
        let t = &self.0;
        let exec = t.helm().history(&t.release);
        if ctx.settings.dry_run {
            let mut plan = Plan::new(format!("history {}", t.env_name));
            plan.push(Step::exec("Read the release history", exec));
            execute::print_plan(ctx.settings, &plan);
            return Ok(());
        }
        let out = ctx.runner.query(&exec)?;
        if !out.ok() {
            if out.stderr.contains("not found") {
                return Err(Error::failed(
                    format!("release {} is not deployed in `{}`", t.release, t.env_name),
                    Some(format!("deploy it: `lbc deploy {}`", t.env_name)),
                ));
            }
            return Err(t.unreachable(&out.stderr));
        }
        if ctx.settings.json {
            let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
            ui::print_json(
                &serde_json::json!({"environment": t.env_name, "release": t.release, "history": v}),
            );
            return Ok(());
        }
        let revisions: Vec<helm::Revision> = serde_json::from_str(&out.stdout).unwrap_or_default();
        let mut text =
            String::from("REVISION  STATUS        UPDATED                    DESCRIPTION\n");
        for r in revisions {
            text.push_str(&format!(
                "{:<9} {:<13} {:<26} {}\n",
                r.revision,
                r.status,
                r.updated.chars().take(25).collect::<String>(),
                r.description
            ));
        }
        ui::data(&text);
        Ok(())
    }

    fn rollback(&self, ctx: &mut Ctx, revision: Option<u32>, yes: bool) -> Result<(), Error> {
        let t = &self.0;
        let mut plan = t.plan("rollback");
        plan.push(Step::exec(
            match revision {
                Some(r) => format!("Roll {} back to revision {r}", t.release),
                None => format!("Roll {} back to the previous revision", t.release),
            },
            t.helm().rollback(&t.release, revision, t.timeout_secs()),
        ));
        let guard = t.guard("roll back", None, yes);
        execute::execute_and_finish(
            ctx.settings,
            ctx.runner,
            &plan,
            guard.as_ref(),
            |runner, _| {
                let now = self.metadata(runner).ok().flatten();
                Summary {
                    success: Some(format!(
                        "{} rolled back{}",
                        t.release,
                        now.as_ref()
                            .map(|m| format!(": revision {} is {}", m.revision, m.status))
                            .unwrap_or_default()
                    )),
                    data: None,
                    json: serde_json::json!({"environment": t.env_name, "revision": now.map(|m| m.revision)}),
                }
            },
        )
    }

    fn running(&self, ctx: &Ctx) -> Result<Option<Running>, Error> {
        let ws = self.0.workloads(ctx.runner, &[])?;
        let Some(image) = crate::targets::kube::image_of(ctx, &ws) else {
            return Ok(None);
        };
        let revision = self.metadata(ctx.runner)?.map(|m| m.revision).unwrap_or(0);
        Ok(Some(Running { image, revision }))
    }
}

/// The values lbc gives the chart, as one document: `set` of lbc.toml, then the image
/// (which wins). Helm gets it on stdin; a gitops release commits it.
pub fn lbc_values(
    set: &std::collections::BTreeMap<String, String>,
    image: Option<&ImageRef>,
    services: Option<&serde_json::Value>,
) -> String {
    let mut pairs: Vec<(String, String)> =
        set.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some(image) = image {
        pairs.push(("image.repository".into(), image.repository().to_owned()));
        pairs.push(("image.tag".into(), image.chart_tag()));
        if let Some(d) = &image.digest {
            pairs.push(("image.digest".into(), d.clone()));
        }
    }
    let doc = helm::values_document(&pairs);
    let Some(services) = services else {
        return doc;
    };
    // The services' values (`services.env`, `migrate.command`) are lists, which `set`
    // cannot express: merged into the document, over what `set` gave those keys.
    let mut root: serde_json::Value = if doc.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_str(&doc).expect("lbc's own JSON")
    };
    if let (Some(r), Some(extra)) = (root.as_object_mut(), services.as_object()) {
        for (k, v) in extra {
            r.insert(k.clone(), v.clone());
        }
    }
    let mut s = serde_json::to_string_pretty(&root).expect("json");
    s.push('\n');
    s
}
