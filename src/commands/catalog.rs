//! `lbc catalog` (list), `lbc catalog check` (every image the repository uses against
//! the catalogue) and `lbc catalog lock` (the catalogue's tags resolved to digests from
//! the registry, written to the lock file beside the catalogue).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::catalog::bases::{self, ImageUse};
use crate::catalog::lock::Lock;
use crate::catalog::{Catalog, Policy, Source, Status};
use crate::cli::{CatalogAction, CatalogArgs};
use crate::commands::build;
use crate::config::Loaded;
use crate::error::Error;
use crate::image::ImageRef;
use crate::plan::{EnvVar, Plan, Step};
use crate::runner::Runner;
use crate::settings::Settings;
use crate::tools::docker;
use crate::ui;

pub fn run(settings: &Settings, runner: &mut Runner, args: &CatalogArgs) -> Result<(), Error> {
    match &args.action {
        None => list(settings),
        Some(CatalogAction::Check { strict }) => check(settings, *strict),
        Some(CatalogAction::Lock) => lock(settings, runner),
    }
}

fn policy_name(p: Policy) -> &'static str {
    match p {
        Policy::None => "none",
        Policy::Warn => "warn",
        Policy::Enforce => "enforce",
    }
}

/// `lbc catalog`: the logical names (as before), then the rules, `allow`, the policy
/// and the locked digests.
pub fn list(settings: &Settings) -> Result<(), Error> {
    let cat = settings.catalog()?;
    if settings.json {
        ui::print_json(&serde_json::json!({
            "file": cat.file,
            "source": cat.source,
            "policy": policy_name(cat.policy),
            "images": cat.entries.values().collect::<Vec<_>>(),
            "map": cat.rules.iter().map(|r| serde_json::json!({"from": r.from.written, "to": r.to.written})).collect::<Vec<_>>(),
            "allow": cat.allow.iter().map(|a| a.written.clone()).collect::<Vec<_>>(),
            "locked": cat.lock.digests,
            "lock_file": cat.lock_path,
        }));
        return Ok(());
    }
    let width = cat.entries.keys().map(String::len).max().unwrap_or(0);
    let mut out = String::new();
    for e in cat.entries.values() {
        let locked = ImageRef::parse(&e.image)
            .ok()
            .and_then(|r| cat.lock.get(&r).map(str::to_owned));
        out.push_str(&format!(
            "{:width$}  {}{}  ({})\n",
            e.name,
            e.image,
            locked.map(|d| format!("@{d}")).unwrap_or_default(),
            e.source
        ));
    }
    if !cat.rules.is_empty() {
        out.push_str("\n[map]\n");
        let w = cat
            .rules
            .iter()
            .map(|r| r.from.written.len())
            .max()
            .unwrap_or(0)
            + 2;
        for r in &cat.rules {
            out.push_str(&format!(
                "{:w$}  -> {}\n",
                format!("\"{}\"", r.from.written),
                r.to.written
            ));
        }
    }
    if !cat.allow.is_empty() {
        out.push_str("\nallow\n");
        for a in &cat.allow {
            out.push_str(&format!("{}\n", a.written));
        }
    }
    if cat.source != Source::Defaults {
        out.push_str(&format!(
            "\npolicy: {} ({}); {} locked digest{}{}\n",
            policy_name(cat.policy),
            cat.source.display(),
            cat.lock.digests.len(),
            if cat.lock.digests.len() == 1 { "" } else { "s" },
            cat.lock_path
                .as_ref()
                .map(|p| format!(" in {}", p.display()))
                .unwrap_or_default()
        ));
    }
    ui::data(&out);
    Ok(())
}

/// Every image the project uses: its Dockerfile (with its build arguments), the other
/// Dockerfiles of the repository, task images and the chart's values.
pub fn project_uses(
    settings: &Settings,
    project: &Loaded,
    cat: &Catalog,
) -> Result<Vec<ImageUse>, Error> {
    repository_uses(settings, &project.root, Some(project), cat)
}

/// The images of the repository at `root`; with its `lbc.toml`, also the build
/// arguments of its Dockerfile and its task images.
pub fn repository_uses(
    settings: &Settings,
    root: &Path,
    project: Option<&Loaded>,
    cat: &Catalog,
) -> Result<Vec<ImageUse>, Error> {
    let mut uses = Vec::new();
    let mut main_dockerfile = None;
    if let Some(image) = project.and_then(|p| p.config.image.as_ref()) {
        let path = root.join(&image.dockerfile);
        if path.is_file() {
            let args = build::build_args(image, settings)?;
            let text = crate::fsutil::read_to_string(&path)?;
            uses.extend(bases::dockerfile_uses(cat, &text, &image.dockerfile, &args).1);
            main_dockerfile = path.canonicalize().ok();
        }
    }
    let mut found = Vec::new();
    find_dockerfiles(root, "", 0, &mut found);
    found.sort();
    for rel in found {
        let path = root.join(&rel);
        if path.canonicalize().ok() == main_dockerfile {
            continue;
        }
        let text = crate::fsutil::read_to_string(&path)?;
        uses.extend(bases::dockerfile_uses(cat, &text, &rel, &[]).1);
    }
    if let Some(project) = project {
        let toml_name = project
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "lbc.toml".into());
        for (name, task) in &project.config.tasks {
            if let Some(img) = &task.image {
                let resolution = cat.resolve_name(img)?;
                uses.push(ImageUse {
                    kind: "task".into(),
                    file: toml_name.clone(),
                    line: task_image_line(&project.raw, name),
                    context: format!("task {name}: image = \"{img}\""),
                    resolution,
                    index: None,
                });
            }
        }
        // The backing services' images (issue #10) are run by lbc too.
        for (name, svc) in &project.config.services {
            uses.push(ImageUse {
                kind: "service".into(),
                file: toml_name.clone(),
                line: table_line(&project.raw, "services", name),
                context: format!("service {name}: type = \"{}\"", svc.kind.catalog_name()),
                resolution: crate::services::local::resolution_of(cat, svc)?,
                index: None,
            });
        }
    }
    let own = project
        .and_then(|p| p.config.image.as_ref())
        .map(|i| i.repository.clone());
    let chart = project
        .and_then(|p| p.config.deploy.as_ref())
        .and_then(|d| d.chart.clone())
        .unwrap_or_else(|| "deploy/chart".into());
    for (rel, text) in chart_values(root, &chart) {
        for (reference, line) in values_images(&text) {
            let r = ImageRef::parse(&reference).ok();
            let is_own = match (&own, &r) {
                (Some(o), Some(r)) => ImageRef::parse(o).is_ok_and(|o| o.name() == r.name()),
                _ => false,
            };
            if is_own {
                continue;
            }
            uses.push(ImageUse {
                kind: "values".into(),
                file: rel.clone(),
                line,
                context: format!("image {reference}"),
                resolution: cat.resolve_ref(&reference),
                index: None,
            });
        }
    }
    Ok(uses)
}

/// Dockerfiles of the repository (`Dockerfile`, `Dockerfile.*`, `*.Dockerfile`,
/// `Containerfile`), outside hidden and dependency directories.
fn find_dockerfiles(root: &Path, rel: &str, depth: usize, out: &mut Vec<String>) {
    if depth > 6 {
        return;
    }
    let dir = if rel.is_empty() {
        root.to_owned()
    } else {
        root.join(rel)
    };
    let Ok(entries) = fs_err::read_dir(&dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if name.starts_with('.')
                || matches!(
                    name.as_str(),
                    "node_modules" | "target" | "vendor" | "venv" | "dist" | "build"
                )
            {
                continue;
            }
            find_dockerfiles(root, &child, depth + 1, out);
        } else if ft.is_file() {
            let lower = name.to_ascii_lowercase();
            let is_df = lower == "dockerfile"
                || lower == "containerfile"
                || (lower.starts_with("dockerfile.") && !lower.ends_with(".dockerignore"))
                || lower.ends_with(".dockerfile");
            if is_df {
                out.push(child);
            }
        }
    }
}

/// The line of `[TABLE.NAME]` in lbc.toml.
fn table_line(raw: &str, table: &str, name: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(raw).ok()?;
    let span = doc.get(table)?.get(name)?.span()?;
    Some(raw[..span.start].matches('\n').count() + 1)
}

/// The line of `image = ...` in `[tasks.NAME]` (or of the task itself).
fn task_image_line(raw: &str, task: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(raw).ok()?;
    let t = doc.get("tasks")?.get(task)?;
    let span = t.get("image").and_then(|i| i.span()).or_else(|| t.span())?;
    Some(raw[..span.start].matches('\n').count() + 1)
}

/// The chart's values files: `values*.yaml` of the chart directory.
fn chart_values(root: &Path, chart: &str) -> Vec<(String, String)> {
    let dir = root.join(chart);
    let Ok(entries) = fs_err::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name.starts_with("values") && (name.ends_with(".yaml") || name.ends_with(".yml")))
                .then(|| {
                    let text = fs_err::read_to_string(e.path()).ok()?;
                    Some((format!("{}/{name}", chart.trim_end_matches('/')), text))
                })
                .flatten()
        })
        .collect();
    out.sort();
    out
}

/// Image references in a values file: `image: REF`, or `image:` with `repository`
/// (and `registry`, `tag`, `digest`), at any depth. With the line where each is.
fn values_images(text: &str) -> Vec<(String, Option<usize>)> {
    use yaml_rust2::{Yaml, YamlLoader};
    let Ok(docs) = YamlLoader::load_from_str(text) else {
        return Vec::new();
    };
    fn s(y: &Yaml) -> Option<String> {
        match y {
            Yaml::String(s) if !s.is_empty() => Some(s.clone()),
            Yaml::Integer(i) => Some(i.to_string()),
            Yaml::Real(r) => Some(r.clone()),
            _ => None,
        }
    }
    fn walk(y: &Yaml, out: &mut Vec<(String, String)>) {
        match y {
            Yaml::Hash(h) => {
                for (k, v) in h {
                    if k.as_str() == Some("image") {
                        match v {
                            Yaml::String(r) if !r.contains("{{") => {
                                out.push((r.clone(), r.clone()));
                            }
                            Yaml::Hash(m) => {
                                let get = |k: &str| m.get(&Yaml::String(k.into())).and_then(s);
                                if let Some(repo) = get("repository") {
                                    let name = match get("registry") {
                                        Some(reg) => format!("{reg}/{repo}"),
                                        None => repo.clone(),
                                    };
                                    let r = crate::image::join(
                                        name,
                                        get("tag").as_deref(),
                                        get("digest").as_deref(),
                                    );
                                    out.push((r, repo));
                                }
                            }
                            _ => {}
                        }
                    }
                    walk(v, out);
                }
            }
            Yaml::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for d in &docs {
        walk(d, &mut found);
    }
    found
        .into_iter()
        .map(|(reference, needle)| {
            let line = text
                .lines()
                .position(|l| l.contains(needle.as_str()))
                .map(|i| i + 1);
            (reference, line)
        })
        .collect()
}

/// `lbc catalog check`.
pub fn check(settings: &Settings, strict: bool) -> Result<(), Error> {
    // A repository without lbc.toml can be checked too: its Dockerfiles and chart.
    let project = match crate::config::discover(&settings.cwd) {
        Ok(_) => Some(settings.load_project()?),
        Err(_) => None,
    };
    let root = project
        .as_ref()
        .map(|p| p.root.clone())
        .unwrap_or_else(|| settings.cwd.clone());
    let cat = settings.catalog()?;
    let uses = repository_uses(settings, &root, project.as_ref(), cat)?;
    let bad: Vec<&ImageUse> = uses.iter().filter(|u| !u.resolution.status.ok()).collect();
    let fails = !bad.is_empty()
        && (cat.policy == Policy::Enforce || (strict && cat.policy != Policy::None));
    if settings.json {
        ui::print_json(&serde_json::json!({
            "ok": !fails,
            "catalog": {
                "source": cat.source,
                "policy": policy_name(cat.policy),
                "lock_file": cat.lock_path,
            },
            "images": uses,
            "approved": uses.len() - bad.len(),
            "not_approved": bad.len(),
        }));
    } else {
        let mut out = format!(
            "catalogue: {} (policy {})\n",
            cat.source.display(),
            policy_name(cat.policy)
        );
        if uses.is_empty() {
            out.push_str("the repository uses no image\n");
        }
        for u in &uses {
            let r = &u.resolution;
            let status = match r.status {
                Status::Mapped => format!(
                    "mapped    -> {}  {}",
                    r.image,
                    r.entry.as_deref().unwrap_or("")
                ),
                Status::Approved if r.changed() => format!(
                    "approved  -> {}  {}",
                    r.image,
                    r.entry.as_deref().unwrap_or("")
                ),
                Status::Approved => format!("approved  {}", r.entry.as_deref().unwrap_or("")),
                Status::Unapproved => format!(
                    "NOT APPROVED{}",
                    r.would_allow
                        .as_deref()
                        .map(|w| format!("  (allowed by: {w})"))
                        .unwrap_or_default()
                ),
                Status::Invalid => format!("INVALID  {}", r.reason.as_deref().unwrap_or("")),
                Status::Unknown => format!("UNKNOWN  {}", r.reason.as_deref().unwrap_or("")),
            };
            // The image after build arguments, when the line does not show it.
            let expanded = if u.context.contains(&r.requested) {
                String::new()
            } else {
                format!("  ({})", r.requested)
            };
            out.push_str(&format!(
                "{}: {}{expanded}\n    {status}\n",
                u.location(),
                u.context,
            ));
        }
        out.push_str(&format!(
            "{} image{}, {} not approved\n",
            uses.len(),
            if uses.len() == 1 { "" } else { "s" },
            bad.len()
        ));
        ui::data(&out);
    }
    if fails {
        return Err(Error::NotApproved { count: bad.len() });
    }
    Ok(())
}

/// The references `lock` resolves: the catalogue's own targets without wildcards, and
/// — inside a project — the images the project resolves to through patterns.
fn lock_targets(
    settings: &Settings,
    cat: &Catalog,
    project: Option<&Loaded>,
) -> Result<Vec<ImageRef>, Error> {
    let mut refs: Vec<ImageRef> = Vec::new();
    let mut push = |s: &str| {
        if let Ok(r) = ImageRef::parse(s) {
            if r.digest.is_none() && !refs.iter().any(|x| x.canonical() == r.canonical()) {
                refs.push(r);
            }
        }
    };
    for e in cat.entries.values().filter(|e| e.source != "default") {
        push(&e.image);
    }
    for r in cat.rules.iter().filter(|r| r.to.wildcards() == 0) {
        push(&r.to.written);
    }
    if let Some(p) = project {
        for u in project_uses(settings, p, cat)? {
            if u.resolution.status.ok() {
                let image = match &u.resolution.locked {
                    Some(d) => u
                        .resolution
                        .image
                        .strip_suffix(&format!("@{d}"))
                        .unwrap_or(&u.resolution.image)
                        .to_owned(),
                    None => u.resolution.image.clone(),
                };
                push(&image);
            }
        }
    }
    Ok(refs)
}

/// `lbc catalog lock`.
pub fn lock(settings: &Settings, runner: &mut Runner) -> Result<(), Error> {
    let cat = settings.catalog()?;
    let (Some(file), Some(lock_path)) = (cat.file.clone(), cat.lock_path.clone()) else {
        return Err(match &cat.source {
            Source::Git { .. } => Error::usage(
                format!("the catalogue comes from {}: its lock file is committed in that repository", cat.source.display()),
                Some("in a checkout of the platform repository, run `LBC_CATALOG=catalog.toml lbc catalog lock`, then commit catalog.lock and tag".into()),
            ),
            _ => Error::usage(
                "no catalogue file to lock: lbc uses its built-in defaults",
                Some("point LBC_CATALOG at the catalogue file (or write ~/.config/lbc/catalog.toml)".into()),
            ),
        });
    };
    let project = settings.load_project().ok();
    let targets = lock_targets(settings, cat, project.as_ref())?;
    let cwd = file
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."));

    // Credentials per registry: the catalogue's [registries."HOST"], else the
    // project's [registry] when it names that host. Logins go to a temporary
    // DOCKER_CONFIG, as for `lbc build --push`.
    let mut creds: BTreeMap<String, (String, String)> = BTreeMap::new();
    for r in &targets {
        if creds.contains_key(&r.registry) {
            continue;
        }
        let names = cat
            .registries
            .get(&r.registry)
            .map(|c| {
                (
                    c.username_env.clone(),
                    c.password_env.clone(),
                    "the catalogue's [registries]",
                )
            })
            .or_else(|| {
                let p = project.as_ref()?;
                let reg = p.config.registry.as_ref()?;
                let server = reg.server.clone().or_else(|| {
                    p.config
                        .image
                        .as_ref()
                        .map(|i| ImageRef::registry_of(&i.repository))
                })?;
                (server == r.registry).then(|| {
                    (
                        reg.username_env.clone(),
                        reg.password_env.clone(),
                        "[registry] of lbc.toml",
                    )
                })
            });
        if let Some((user_env, pw_env, from)) = names {
            match (
                crate::settings::env_var(&user_env),
                crate::settings::env_var(&pw_env),
            ) {
                (Some(u), Some(p)) => {
                    ui::register_secret(&p);
                    creds.insert(r.registry.clone(), (u, p));
                }
                _ => {
                    let e = Error::usage(
                        format!("{user_env} or {pw_env} is not set; {from} names them as holding the credentials for {}", r.registry),
                        Some(format!("export {user_env}=... {pw_env}=... before `lbc catalog lock`")),
                    );
                    if settings.dry_run {
                        ui::warn(&e.to_string());
                    } else {
                        return Err(e);
                    }
                }
            }
        }
    }
    let (cfg_path, docker_config) =
        crate::fsutil::private_temp_dir("docker-config", !creds.is_empty() && !settings.dry_run)?;
    let cfg_env = || EnvVar::plain("DOCKER_CONFIG", cfg_path.display().to_string());
    let mut plan = Plan::new("catalog lock");
    plan.note(format!("lock file: {}", lock_path.display()));
    for (host, (user, password)) in &creds {
        plan.push(Step::exec(
            format!("Log in to {host} as {user}"),
            docker::login(&cwd, host, user, password, &cfg_path),
        ));
    }
    for r in &targets {
        let mut e = docker::pull(&cwd, &r.familiar());
        if creds.contains_key(&r.registry) {
            e = e.env(cfg_env());
        }
        plan.push(Step::exec(
            format!("Resolve {} to its digest", r.familiar()),
            e,
        ));
    }
    if targets.is_empty() {
        plan.note("the catalogue names no tag to lock (patterns are locked for the images a project uses: run it inside the project)");
    }
    if crate::execute::execute(settings, runner, &plan, None)
        .map_err(|e| match e {
        Error::ChildFailed { what, code, .. } => Error::ChildFailed {
            what,
            code,
            hint: Some("docker's output above says why: check the reference in the catalogue, that the registry answers, and its credentials ([registries.\"HOST\"] in the catalogue); nothing was written".into()),
        },
        e => e,
    })?
        .is_none()
    {
        return Ok(());
    }
    let mut lock = cat.lock.clone();
    let mut changes = Vec::new();
    for r in &targets {
        let info = docker::image_inspect(runner, &cwd, &r.familiar())?;
        let digest = info
            .and_then(|i| {
                i.digest_in(&r.familiar_name())
                    .or_else(|| i.digest_in(&r.name()))
            })
            .ok_or_else(|| {
                Error::failed(
                    format!("{} has no registry digest after the pull", r.familiar()),
                    Some("lock only images that live in a registry".into()),
                )
            })?;
        let key = lock
            .digests
            .keys()
            .find(|k| ImageRef::parse(k).is_ok_and(|x| x.canonical() == r.canonical()))
            .cloned()
            .unwrap_or_else(|| r.familiar());
        let previous = lock.digests.insert(key.clone(), digest.clone());
        changes.push(serde_json::json!({
            "reference": key,
            "digest": digest,
            "previous": previous,
        }));
    }
    drop(docker_config);
    let lock = Lock {
        digests: lock.digests,
    };
    lock.write(&lock_path)?;
    for c in &changes {
        let moved = match (c["previous"].as_str(), c["digest"].as_str()) {
            (Some(p), Some(d)) if p != d => format!(" (was {p})"),
            (Some(_), _) => " (unchanged)".into(),
            _ => String::new(),
        };
        ui::success(&format!(
            "{} -> {}{moved}",
            c["reference"].as_str().unwrap_or(""),
            c["digest"].as_str().unwrap_or("")
        ));
    }
    crate::execute::finish(
        settings,
        runner,
        "catalog lock",
        crate::execute::Summary {
            success: None,
            data: Some(format!("{}", lock_path.display())),
            json: serde_json::json!({ "lock_file": lock_path, "digests": changes }),
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_in_values() {
        // #16: the chart's values name images as strings or repository/tag maps.
        let text = "image:\n  repository: registry.example.com/team/hello\n  tag: \"\"\nredis:\n  image:\n    registry: docker.io\n    repository: bitnami/redis\n    tag: 7.2\nsidecar:\n  image: busybox:1.36\n";
        let found = values_images(text);
        assert_eq!(
            found,
            [
                ("registry.example.com/team/hello".to_owned(), Some(2)),
                ("docker.io/bitnami/redis:7.2".to_owned(), Some(7)),
                ("busybox:1.36".to_owned(), Some(10)),
            ]
        );
    }

    #[test]
    fn task_lines() {
        let raw = "[project]\nname = \"x\"\n[tasks.format]\nrun = \"x\"\nimage = \"python\"\n";
        assert_eq!(task_image_line(raw, "format"), Some(5));
    }
}
