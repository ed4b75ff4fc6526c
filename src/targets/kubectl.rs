//! Kubernetes environments deployed with kubectl: plain manifests or a kustomization.
//! The project's image is put into the manifests by a YAML-aware edit, `kubectl apply`
//! records what it applied (`.lbc/state/kube-ENV.json`), and the plan waits for each
//! workload's rollout with a `kubectl rollout undo` for each that runs only when a wait
//! fails, so `--dry-run` shows all of it.

use serde::{Deserialize, Serialize};

use crate::commands::Ctx;
use crate::error::Error;
use crate::execute::{self, Summary};
use crate::image::ImageRef;
use crate::plan::{Plan, Step};
use crate::state;
use crate::targets::kube::{self, image_of, is_workload, project_repository, Kube, Source};
use crate::targets::{DeployRequest, Running, Target};
use crate::tools;
use crate::ui;

/// A Kubernetes environment whose source is manifests or a kustomization.
pub struct KubectlTarget(pub Kube);

/// What the kubectl path applied, for status, history, rollback and destroy.
#[derive(Debug, Default, Serialize, Deserialize)]
struct KubeRecord {
    /// Objects applied (`deployment.apps/hello`, ...).
    objects: Vec<String>,
    image: String,
}

/// The name of the capture of `kubectl apply -o name`.
const APPLIED: &str = "applied";

impl KubectlTarget {
    fn record_file(&self) -> String {
        format!("kube-{}.json", self.0.env_name)
    }

    fn recorded_objects(&self) -> Result<Vec<String>, Error> {
        Ok(
            state::load_json::<KubeRecord>(&self.0.root, &self.record_file())?
                .map(|r| r.objects)
                .unwrap_or_default(),
        )
    }

    fn recorded_workloads(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .recorded_objects()?
            .into_iter()
            .filter(|o| is_workload(o))
            .collect())
    }

    /// The manifests, with the project's image substituted (as written without one).
    fn manifests(&self, ctx: &Ctx, image: Option<&ImageRef>) -> Result<String, Error> {
        let t = &self.0;
        let text = match &t.source {
            Source::Manifests(dir) => {
                let mut files = crate::fsutil::files_under(dir)?;
                files.retain(|f| f.ends_with(".yaml") || f.ends_with(".yml"));
                let mut docs = String::new();
                for f in files {
                    let body = crate::fsutil::read_to_string(&dir.join(&f))?;
                    docs.push_str("---\n");
                    docs.push_str(body.trim_start_matches("---\n"));
                    if !docs.ends_with('\n') {
                        docs.push('\n');
                    }
                }
                docs
            }
            Source::Kustomize(dir) => {
                let out = ctx.runner.query(
                    &tools::kubectl::Kubectl::new(&t.kubectl_bin, &t.root, None).kustomize(dir),
                )?;
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
        let Some(image) = image else {
            return Ok(text);
        };
        let repo = match project_repository(ctx) {
            r if r.is_empty() => image.repository().to_owned(),
            r => r,
        };
        Ok(crate::manifests::substitute_image(
            &text,
            &repo,
            image.reference(),
        ))
    }
}

impl Target for KubectlTarget {
    fn chaos(&self, ctx: &mut Ctx, req: crate::commands::chaos::ChaosRequest) -> Result<(), Error> {
        crate::targets::kube_chaos::run(&self.0, ctx, req)
    }

    fn deploy(&self, ctx: &mut Ctx, req: DeployRequest) -> Result<(), Error> {
        let t = &self.0;
        let image = &req.image;
        let mut plan = t.start_deploy(ctx, &req)?;
        let text = self.manifests(ctx, Some(image))?;
        let workloads = crate::manifests::workloads(&text);
        let k = t.kubectl();
        // Like helm's --create-namespace.
        let ns = ctx.runner.query(&k.get_namespace(&t.cluster.namespace))?;
        if !ns.ok() {
            return Err(t.unreachable(&ns.stderr));
        }
        if ns.stdout.trim().is_empty() {
            plan.push(Step::exec(
                format!("Create namespace {}", t.cluster.namespace),
                k.create_namespace(&t.cluster.namespace),
            ));
        }
        plan.push(
            Step::exec(
                format!("Apply the manifests to {}", t.cluster.namespace),
                k.apply(text),
            )
            .capture_as(APPLIED),
        );
        let first_wait = plan.next_number();
        for obj in &workloads {
            plan.push(Step::exec(
                format!("Wait for the rollout of {obj}"),
                k.rollout_status(obj, t.timeout_secs()),
            ));
        }
        for obj in &workloads {
            plan.push(
                Step::exec(format!("Roll {obj} back"), k.rollout_undo(obj, None))
                    .on_failure_from(first_wait),
            );
        }
        let guard = t.guard("deploy", Some(image), req.yes);
        let Some(ran) = execute::execute_keeping(ctx.settings, ctx.runner, &plan, guard.as_ref())?
        else {
            return Ok(());
        };
        let applied = ran.outcome.captures.contains_key(APPLIED);
        if applied {
            state::save_json(
                &t.root,
                &self.record_file(),
                &KubeRecord {
                    objects: ran.outcome.lines(APPLIED),
                    image: image.reference().to_owned(),
                },
            )?;
        }
        if let Err(e) = ran.result {
            if !applied || matches!(e, Error::Interrupted) {
                return Err(e);
            }
            let report = t.diagnose(ctx.runner, &ran.outcome.lines(APPLIED));
            return Err(Error::Failed {
                message: format!(
                    "the rollout in `{}` failed ({e}){}",
                    t.env_name,
                    if report.is_empty() {
                        String::new()
                    } else {
                        format!(":\n  {report}")
                    }
                ),
                hint: Some("the previous ReplicaSet is rolled back (`kubectl rollout undo`); fix the image or manifests and deploy again".into()),
            });
        }
        execute::finish(
            ctx.settings,
            ctx.runner,
            &plan.verb,
            Summary {
                success: Some(format!(
                    "{} runs {} in {}",
                    t.release,
                    image.reference(),
                    t.env_name
                )),
                data: None,
                json: t.result_json(image, 0, false),
            },
        );
        Ok(())
    }

    fn render(&self, ctx: &mut Ctx, image: Option<&str>) -> Result<(), Error> {
        let img = self.0.image_to_render(ctx, image)?;
        let text = self.manifests(ctx, img.as_ref())?;
        ui::data(&text);
        Ok(())
    }

    fn status(&self, ctx: &mut Ctx) -> Result<(), Error> {
        let ws = self.0.workloads(ctx.runner, &self.recorded_objects()?)?;
        self.0.print_status(ctx, None, &ws, &[]);
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
        if volumes {
            return Err(kube::docker_only("--volumes"));
        }
        let t = &self.0;
        let mut plan = t.plan("destroy");
        let objects = self.recorded_objects()?;
        if objects.is_empty() {
            plan.note("nothing to destroy: lbc has not applied anything here".to_owned());
        } else {
            plan.push(Step::exec(
                "Delete the applied objects",
                t.kubectl().delete(&objects),
            ));
        }
        let removed = !plan.steps.is_empty();
        let guard = t.guard("destroy", None, yes).filter(|_| removed);
        if execute::execute(ctx.settings, ctx.runner, &plan, guard.as_ref())?.is_none() {
            return Ok(());
        }
        if removed {
            state::save_json(&t.root, &self.record_file(), &KubeRecord::default())?;
        }
        execute::finish(
            ctx.settings,
            ctx.runner,
            &plan.verb,
            Summary {
                json: serde_json::json!({"environment": t.env_name, "removed": removed}),
                ..Summary::default()
            },
        );
        Ok(())
    }

    fn history(&self, ctx: &mut Ctx) -> Result<(), Error> {
        let t = &self.0;
        let mut plan = Plan::new(format!("history {}", t.env_name));
        for obj in self.recorded_workloads()? {
            plan.push(Step::exec(
                format!("History of {obj}"),
                t.kubectl().rollout_history(&obj).data(),
            ));
        }
        execute::execute(ctx.settings, ctx.runner, &plan, None).map(|_| ())
    }

    fn rollback(&self, ctx: &mut Ctx, revision: Option<u32>, yes: bool) -> Result<(), Error> {
        let t = &self.0;
        let mut plan = t.plan("rollback");
        for obj in self.recorded_workloads()? {
            plan.push(Step::exec(
                format!("Roll {obj} back"),
                t.kubectl().rollout_undo(&obj, revision),
            ));
        }
        let guard = t.guard("roll back", None, yes);
        execute::execute_and_finish(ctx.settings, ctx.runner, &plan, guard.as_ref(), |_, _| {
            Summary {
                success: Some(format!("{} rolled back", t.release)),
                data: None,
                json: serde_json::json!({"environment": t.env_name, "revision": null}),
            }
        })
    }

    fn running(&self, ctx: &Ctx) -> Result<Option<Running>, Error> {
        let ws = self.0.workloads(ctx.runner, &self.recorded_objects()?)?;
        Ok(image_of(ctx, &ws).map(|image| Running { image, revision: 0 }))
    }
}
