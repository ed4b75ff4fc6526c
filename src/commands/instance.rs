//! `lbc instance add|list|remove` (issue #12): the instances declared in the
//! repository (`instances/NAME.toml`).

use std::collections::BTreeMap;

use crate::cli::{InstanceAction, InstanceAddArgs, InstanceRemoveArgs, TargetArgs};
use crate::commands::Ctx;
use crate::config::EnvKind;
use crate::error::Error;
use crate::execute::{self, Guard, Summary};
use crate::instances::{self, batch::Env, Instances, Spec, DIR};
use crate::plan::{Plan, Step};
use crate::ui;
use crate::validate;

pub fn run(ctx: &mut Ctx, action: &InstanceAction) -> Result<(), Error> {
    match action {
        InstanceAction::Add(a) => add(ctx, a),
        InstanceAction::List => list(ctx),
        InstanceAction::Remove(a) => remove(ctx, a),
    }
}

fn add(ctx: &mut Ctx, args: &InstanceAddArgs) -> Result<(), Error> {
    if let Err(why) = instances::check_name(&args.name) {
        return Err(Error::usage(
            format!(
                "`{}` is not a valid instance name: {why}",
                validate::excerpt(&args.name)
            ),
            Some("an instance name is a DNS label like `acme`".into()),
        ));
    }
    let existing = instances::load(&ctx.project)?;
    let path = existing.dir.join(format!("{}.toml", args.name));
    if path.exists() {
        return Err(Error::usage(
            format!(
                "instance `{}` exists already: {}",
                args.name,
                path.display()
            ),
            Some("edit the file, or `lbc instance remove` it first".into()),
        ));
    }
    let mut set = BTreeMap::new();
    for kv in &args.set {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(Error::usage(
                format!("--set `{}` is not KEY=VALUE", validate::excerpt(kv)),
                Some("write --set replicaCount=2".into()),
            ));
        };
        set.insert(k.to_owned(), v.to_owned());
    }
    let spec = Spec {
        environments: args.env.clone(),
        namespace: args.namespace.clone(),
        host: args.host.clone(),
        backup_schedule: args.backup_schedule.clone(),
        port: args.port,
        set,
        vars: BTreeMap::new(),
    };
    let text = instances::new_file(&spec);
    // Validated exactly as it will be loaded, together with the others.
    let inst = instances::parse_one(&ctx.project, &path, text.clone())?;
    let mut all = existing.clone();
    all.list.push(inst.clone());
    instances::check_all(&ctx.project, &all)?;
    let env_hosts = hosts(ctx, &inst);
    if ctx.settings.dry_run {
        if ctx.settings.json {
            ui::print_json(&serde_json::json!({"dry_run": true, "file": path, "content": text}));
        } else {
            ui::data(&format!("would write {}:\n{text}", path.display()));
        }
        return Ok(());
    }
    fs_err::create_dir_all(&existing.dir).map_err(|e| crate::fsutil::io_err(&existing.dir, e))?;
    // Written under a temporary name and linked into place: never over a file that
    // appeared meanwhile, never half-written.
    let tmp = tempfile::NamedTempFile::new_in(&existing.dir)
        .map_err(|e| crate::fsutil::io_err(&existing.dir, e))?;
    fs_err::write(tmp.path(), &text).map_err(|e| crate::fsutil::io_err(tmp.path(), e))?;
    tmp.persist_noclobber(&path)
        .map_err(|e| crate::fsutil::io_err(&path, e.error))?;
    ui::success(&format!(
        "instance {} declared in {}: commit it, then `lbc deploy ENV --instance {}`",
        inst.name,
        path.display(),
        inst.name
    ));
    if ctx.settings.json {
        ui::print_json(&serde_json::json!({
            "verb": "instance add",
            "ok": true,
            "instance": inst.name,
            "file": path,
            "namespace": inst.namespace(ctx.project.project()),
            "hosts": env_hosts,
        }));
    } else {
        ui::data(&path.display().to_string());
    }
    Ok(())
}

/// The host of an instance in each Kubernetes environment it runs in.
fn hosts(ctx: &Ctx, inst: &instances::Instance) -> BTreeMap<String, String> {
    ctx.project
        .config
        .env
        .iter()
        .filter(|(n, e)| e.kind == EnvKind::Kubernetes && inst.in_env(n))
        .filter_map(|(n, e)| inst.host(e).map(|h| (n.clone(), h)))
        .collect()
}

fn list(ctx: &mut Ctx) -> Result<(), Error> {
    let all = instances::load(&ctx.project)?;
    let project = ctx.project.project().to_owned();
    let rows: Vec<serde_json::Value> = all
        .list
        .iter()
        .map(|i| {
            serde_json::json!({
                "instance": i.name,
                "file": i.path,
                "environments": if i.spec.environments.is_empty() {
                    ctx.project.config.env.keys().cloned().collect()
                } else {
                    i.spec.environments.clone()
                },
                "namespace": i.namespace(&project),
                "hosts": hosts(ctx, i),
                "backup_schedule": i.spec.backup_schedule,
                "set": i.spec.set,
            })
        })
        .collect();
    if ctx.settings.json {
        ui::print_json(&serde_json::json!({"instances": rows}));
        return Ok(());
    }
    if rows.is_empty() {
        ui::info(&format!(
            "no instance is declared: `lbc instance add NAME` writes {DIR}/NAME.toml"
        ));
        return Ok(());
    }
    let s = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "-".to_owned(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str())
            .collect::<Vec<_>>()
            .join(","),
        serde_json::Value::Object(o) => {
            let v: Vec<&str> = o.values().filter_map(|x| x.as_str()).collect();
            if v.is_empty() {
                "-".into()
            } else {
                v.join(",")
            }
        }
        other => other.to_string(),
    };
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                s(&r["instance"]),
                s(&r["environments"]),
                s(&r["namespace"]),
                s(&r["hosts"]),
                s(&r["backup_schedule"]),
            ]
        })
        .collect();
    ui::data(&instances::report::columns(
        &[
            "INSTANCE",
            "ENVIRONMENTS",
            "NAMESPACE",
            "HOSTS",
            "BACKUP SCHEDULE",
        ],
        &cells,
    ));
    Ok(())
}

/// `lbc instance remove NAME`: its release goes from every environment it runs in (or
/// `--env`); its namespace, with its volumes' claims and Secrets, stays unless
/// `--purge`. Protected environments ask once, listing what goes. Then its file is
/// removed from the repository.
fn remove(ctx: &mut Ctx, args: &InstanceRemoveArgs) -> Result<(), Error> {
    let all: Instances = instances::load(&ctx.project)?;
    let inst = all.get(&args.name)?.clone();
    let envs: Vec<String> = match &args.env {
        Some(e) => {
            ctx.project.environment(e)?;
            vec![e.clone()]
        }
        None => ctx
            .project
            .config
            .env
            .keys()
            .filter(|n| inst.in_env(n))
            .cloned()
            .collect(),
    };
    let mut plan = Plan::new(format!("instance remove {}", inst.name));
    let mut guards: Vec<Guard> = Vec::new();
    let mut locks = Vec::new();
    let mut docker_envs = Vec::new();
    for env_name in &envs {
        let env = ctx.project.environment(env_name)?.clone();
        if env.kind == EnvKind::Docker {
            docker_envs.push(env_name.clone());
            continue;
        }
        let Ok(e) = Env::resolve(ctx, env_name, &TargetArgs::default()) else {
            plan.note(format!(
                "{env_name}: not a Kubernetes environment with a chart, skipped"
            ));
            continue;
        };
        locks.push(ctx.settings.lock(
            &ctx.project.root,
            &format!("env-{env_name}"),
            &format!("instance remove {env_name}"),
        )?);
        let ns = inst.namespace(&e.project);
        let k = e.in_namespace(&ns);
        let installed = e.deployed(ctx.runner)?.contains_key(&ns);
        if installed {
            plan.push(Step::exec(
                format!(
                    "{env_name}: uninstall release {} of instance {} (namespace {ns})",
                    k.release, inst.name
                ),
                k.helm().uninstall(&k.release, k.timeout_secs()),
            ));
        } else {
            plan.note(format!(
                "{env_name}: release {} is not installed in namespace {ns}",
                k.release
            ));
        }
        if args.purge {
            plan.push(Step::exec(
                format!("{env_name}: delete namespace {ns} with its data (--purge)"),
                e.kube.kubectl().delete(&[format!("namespace/{ns}")]),
            ));
        } else {
            plan.note(format!(
                "{env_name}: namespace {ns} stays, with its volumes' claims and Secrets (the instance's data); --purge deletes it"
            ));
        }
        guards.extend(Guard::when_protected(
            env.protected,
            env_name,
            &format!(
                "remove instance {}{}",
                inst.name,
                if args.purge {
                    " and delete its data"
                } else {
                    ""
                }
            ),
            vec![
                ("context", e.kube.cluster.context.clone()),
                ("namespace", ns.clone()),
                ("instances", inst.name.clone()),
            ],
            args.yes,
        ));
    }
    // With --env, the instance stays declared for its other environments.
    let remaining: Option<Vec<String>> = args.env.as_ref().and_then(|gone| {
        let left: Vec<String> = ctx
            .project
            .config
            .env
            .keys()
            .filter(|n| *n != gone && inst.in_env(n))
            .cloned()
            .collect();
        (!left.is_empty()).then_some(left)
    });
    match &remaining {
        None => plan.note(format!(
            "then {} is deleted from the repository",
            inst.path.display()
        )),
        Some(left) => plan.note(format!(
            "then `environments` of {} becomes [{}]",
            inst.path.display(),
            left.join(", ")
        )),
    }
    if ctx.settings.dry_run {
        execute::print_plan(ctx.settings, &plan);
        return Ok(());
    }
    for g in &guards {
        execute::guard_protected(g)?;
    }
    // The docker environments: the instance's container goes, its volumes stay unless --purge.
    for env_name in &docker_envs {
        instances::with_instance(ctx, env_name, Some(&inst.name), |ictx| {
            let target = crate::targets::resolve(ictx, env_name, &TargetArgs::default())?;
            target.destroy(ictx, args.yes, args.purge)
        })?;
    }
    execute::execute(ctx.settings, ctx.runner, &plan, None)?;
    match &remaining {
        None => {
            fs_err::remove_file(&inst.path).map_err(|e| crate::fsutil::io_err(&inst.path, e))?
        }
        Some(left) => write_environments(&inst.path, left)?,
    }
    drop(locks);
    execute::finish(
        ctx.settings,
        ctx.runner,
        &plan.verb,
        Summary {
            success: Some(format!(
                "instance {} removed{}{}; commit the change of {}",
                inst.name,
                args.env
                    .as_ref()
                    .map(|e| format!(" from {e}"))
                    .unwrap_or_default(),
                if args.purge {
                    " with its data"
                } else {
                    " (its data stays)"
                },
                inst.path.display()
            )),
            data: None,
            json: serde_json::json!({
                "instance": inst.name,
                "environments": envs,
                "purged": args.purge,
            }),
        },
    );
    Ok(())
}

/// Set `environments` of an instance file, keeping its comments and other keys.
fn write_environments(path: &std::path::Path, envs: &[String]) -> Result<(), Error> {
    let raw = crate::fsutil::read_to_string(path)?;
    let mut doc: toml_edit::DocumentMut = raw.parse().map_err(|e: toml_edit::TomlError| {
        Error::failed(format!("{}: {e}", path.display()), None)
    })?;
    let mut arr = toml_edit::Array::new();
    for e in envs {
        arr.push(e.as_str());
    }
    let new = !doc.contains_key("environments");
    doc["environments"] = toml_edit::value(arr);
    // A file of comments only keeps them above the new key.
    if new && doc.as_table().len() == 1 {
        let comments = doc.trailing().as_str().unwrap_or_default().to_owned();
        doc.set_trailing("");
        if let Some(mut k) = doc.as_table_mut().key_mut("environments") {
            k.leaf_decor_mut().set_prefix(comments);
        }
    }
    crate::state::write_atomic(path, doc.to_string().as_bytes())
}
