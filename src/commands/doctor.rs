//! `lbc doctor`: is this machine ready for this project? Each check says what it found
//! and, when something is wrong, how to fix it.

use serde::Serialize;

use crate::config::EnvKind;
use crate::error::Error;
use crate::runner::Runner;
use crate::settings::Settings;
use crate::targets::kube;
use crate::tools::kubectl::{self, Kubectl};
use crate::tools::{self, docker, helm};
use crate::ui;

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// A problem that blocks the project (not only an optional tool).
    pub required: bool,
}

fn check(name: &str, ok: bool, detail: String, fix: Option<String>, required: bool) -> Check {
    Check {
        name: name.to_owned(),
        ok,
        detail,
        fix: if ok { None } else { fix },
        required,
    }
}

pub fn run(settings: &Settings, runner: &Runner) -> Result<(), Error> {
    let project = settings.load_project().ok();
    let project = project.as_ref();
    let cwd = settings.cwd.clone();
    let mut checks = Vec::new();
    let k8s_envs: Vec<(&String, &crate::config::Environment)> = project
        .map(|p| {
            p.config
                .env
                .iter()
                .filter(|(_, e)| e.kind == EnvKind::Kubernetes)
                .collect()
        })
        .unwrap_or_default();

    // docker
    match crate::runner::find("docker") {
        Err(e) => checks.push(check(
            "docker",
            false,
            e.to_string(),
            e.hint().map(str::to_owned),
            true,
        )),
        Ok(path) => {
            let client = runner
                .query(&docker::client_version(&cwd))
                .map(|o| o.stdout.trim().to_owned())
                .unwrap_or_default();
            checks.push(check(
                "docker",
                true,
                format!("client {client} at {}", path.display()),
                None,
                true,
            ));
            match docker::daemon_version(runner, &cwd) {
                Ok(v) => checks.push(check(
                    "docker daemon",
                    true,
                    format!("engine {v} answers"),
                    None,
                    true,
                )),
                Err(e) => checks.push(check(
                    "docker daemon",
                    false,
                    e.to_string(),
                    e.hint().map(str::to_owned),
                    true,
                )),
            }
        }
    }
    // git
    match crate::runner::find("git") {
        Ok(p) => {
            let v = runner
                .query(&tools::git::version(&cwd))
                .map(|o| o.stdout.trim().to_owned())
                .unwrap_or_default();
            checks.push(check(
                "git",
                true,
                format!("{v} at {}", p.display()),
                None,
                false,
            ));
        }
        Err(e) => checks.push(check(
            "git",
            false,
            e.to_string(),
            e.hint().map(str::to_owned),
            false,
        )),
    }
    let in_repo = tools::git::inspect(&cwd).is_some();
    checks.push(check(
        "git repository",
        in_repo,
        if in_repo {
            "the project is in a git repository with commits".into()
        } else {
            "not a git repository, or no commit yet: image tags fall back to the inputs hash".into()
        },
        Some(
            "`git init && git add -A && git commit -m init` so images are tagged by commit".into(),
        ),
        false,
    ));

    // helm and kubectl: required only when a kubernetes environment exists.
    let need_k8s = !k8s_envs.is_empty();
    let helm_bins: Vec<String> = unique(k8s_envs.iter().map(|(_, e)| e.helm_bin()), "helm");
    for bin in helm_bins {
        match crate::runner::find(&bin) {
            Ok(p) => {
                let v = runner
                    .query(&helm::Helm::new(&bin, &cwd).version())
                    .map(|o| o.stdout.trim().to_owned())
                    .unwrap_or_default();
                let major = helm::major_version(&v);
                let ok = matches!(major, Some(3) | Some(4));
                checks.push(check(
                    &bin,
                    ok,
                    format!("{v} at {}", p.display()),
                    Some("lbc supports helm v3 and v4".into()),
                    need_k8s,
                ));
            }
            Err(e) => checks.push(check(
                &bin,
                false,
                e.to_string(),
                e.hint().map(str::to_owned),
                need_k8s,
            )),
        }
    }
    let kubectl_bins: Vec<String> =
        unique(k8s_envs.iter().map(|(_, e)| e.kubectl_bin()), "kubectl");
    for bin in &kubectl_bins {
        match crate::runner::find(bin) {
            Ok(p) => {
                let v = runner
                    .query(&Kubectl::new(bin, &cwd, None).client_version())
                    .ok()
                    .and_then(|o| kubectl::client_version(&o.stdout))
                    .unwrap_or_else(|| "unknown version".into());
                checks.push(check(
                    bin,
                    true,
                    format!("{v} at {}", p.display()),
                    None,
                    need_k8s,
                ));
            }
            Err(e) => checks.push(check(
                bin,
                false,
                e.to_string(),
                e.hint().map(str::to_owned),
                need_k8s,
            )),
        }
    }
    // contexts of the configured environments
    for (name, env) in &k8s_envs {
        let bin = env.kubectl_bin();
        // A gitops environment needs a context only to read what its cluster reconciled.
        if crate::runner::find(&bin).is_err() || (env.is_gitops() && env.context.is_none()) {
            continue;
        }
        let kubeconfig = env.kubeconfig.as_ref().map(|k| match project {
            Some(p) => p.root.join(k),
            None => k.into(),
        });
        let kubectl = Kubectl::new(&bin, &cwd, kubeconfig.as_deref());
        // The same precedence as the verbs: lbc.toml, else the kubeconfig's current context.
        let Some(ctx_name) = kube::context_of(runner, &kubectl, None, env)? else {
            checks.push(check(&format!("env {name}"), false, "no `context` set and no current context in the kubeconfig".into(), Some(format!("set `context = \"NAME\"` under [env.{name}], or `kubectl config use-context NAME`")), true));
            continue;
        };
        let found =
            kube::known_contexts(runner, &kubectl)?.is_some_and(|known| known.contains(&ctx_name));
        let source = if env.context.is_some() {
            ""
        } else {
            " (the kubeconfig's current context)"
        };
        checks.push(check(
            &format!("env {name}"),
            found,
            if found { format!("context `{ctx_name}`{source} is in the kubeconfig") } else { format!("context `{ctx_name}` is not in the kubeconfig") },
            Some(format!("add it (`kubectl config set-context {ctx_name} ...`), set `kubeconfig = \"PATH\"` under [env.{name}], or fix `context`")),
            true,
        ));
    }
    // gitops: the token variables (the repository itself is reached by `lbc deploy`)
    for (name, env) in &k8s_envs {
        if let (true, Some(var)) = (env.is_gitops(), &env.token_env) {
            let set = crate::settings::env_var(var).is_some();
            checks.push(check(
                &format!("env {name} ${var}"),
                set,
                if set {
                    "set (value not shown)".into()
                } else {
                    "not set: deploys to this gitops environment will refuse".into()
                },
                Some(format!(
                    "export {var}=... (a token with write access to the environment repository)"
                )),
                false,
            ));
        }
    }
    // the image catalogue (#16): a broken one stops every build
    match settings.catalog() {
        Ok(cat) => checks.push(check(
            "image catalogue",
            true,
            format!(
                "{} (policy {}, {} locked digest{})",
                cat.source.display(),
                serde_json::to_value(cat.policy)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                cat.lock.digests.len(),
                if cat.lock.digests.len() == 1 { "" } else { "s" }
            ),
            None,
            true,
        )),
        Err(e) => checks.push(check(
            "image catalogue",
            false,
            e.to_string(),
            e.hint().map(str::to_owned),
            true,
        )),
    }
    // The organisation's network inside build containers (issue #11).
    let daemon_ok = checks.iter().any(|c| c.name == "docker daemon" && c.ok);
    network_checks(settings, runner, daemon_ok, &mut checks);

    // registry credentials
    if let Some(reg) = project.and_then(|p| p.config.registry.as_ref()) {
        for var in [&reg.username_env, &reg.password_env] {
            let set = crate::settings::env_var(var).is_some();
            checks.push(check(
                &format!("${var}"),
                set,
                if set {
                    "set (value not shown)".into()
                } else {
                    "not set: `lbc build --push` will refuse".into()
                },
                Some(format!(
                    "export {var}=... (in CI: a masked secret variable)"
                )),
                false,
            ));
        }
    }

    let failed_required = checks.iter().any(|c| !c.ok && c.required);
    if settings.json {
        ui::print_json(&serde_json::json!({ "ok": !failed_required, "checks": checks }));
    } else {
        let mut out = String::new();
        for c in &checks {
            let mark = if c.ok {
                console::style("ok     ").green()
            } else if c.required {
                console::style("PROBLEM").red()
            } else {
                console::style("warning").yellow()
            };
            out.push_str(&format!("{mark}  {:16} {}\n", c.name, c.detail));
            if let Some(f) = &c.fix {
                out.push_str(&format!("         {:16} fix: {f}\n", ""));
            }
        }
        ui::data(&out);
    }
    if failed_required {
        return Err(Error::failed(
            "some required checks failed (see above)",
            None,
        ));
    }
    Ok(())
}

/// The CA bundle lbc hands containers, the proxies, and whether a build container
/// reaches the package registries through them: the catalogue's `python` image runs a
/// fetch of each `[network] probe` URL (default: PyPI, npm, crates.io) with the bundle
/// mounted, as builds and tasks get it.
fn network_checks(settings: &Settings, runner: &Runner, daemon_ok: bool, checks: &mut Vec<Check>) {
    let bundle = match settings.ca_bundle() {
        Ok(b) => b,
        Err(e) => {
            checks.push(check(
                "CA certificates",
                false,
                e.to_string(),
                e.hint().map(str::to_owned),
                true,
            ));
            return;
        }
    };
    checks.push(check(
        "CA certificates",
        true,
        match bundle {
            Some(b) => format!(
                "{} ({}, {} certificate{}): trusted by build stages and task containers",
                b.path.display(),
                b.source,
                b.certificates,
                if b.certificates == 1 { "" } else { "s" }
            ),
            None => "none: containers use their own trust store (LBC_CA_CERTIFICATES or the catalogue's [network] ca_certificates sets one)".into(),
        },
        None,
        false,
    ));
    let proxies = crate::trust::proxies();
    if !proxies.is_empty() {
        checks.push(check(
            "proxy",
            true,
            format!(
                "{} handed to builds and task containers",
                proxies.join(", ")
            ),
            None,
            false,
        ));
    }
    if !daemon_ok {
        return;
    }
    let Ok(catalog) = settings.catalog() else {
        return;
    };
    let urls: Vec<String> = if catalog.network.probe.is_empty() {
        crate::trust::DEFAULT_PROBES
            .iter()
            .map(|u| (*u).to_owned())
            .collect()
    } else {
        catalog.network.probe.clone()
    };
    let image = match catalog.resolve("python") {
        Ok(i) => i,
        Err(_) => return,
    };
    let exec = crate::trust::probe_exec(&settings.cwd, &image, bundle, &urls);
    let (ok, detail) = match runner.query(&exec) {
        Ok(o) if o.code == Some(0) => (true, o.stdout.trim().replace('\n', "; ")),
        Ok(o) => {
            let out = o.stdout.trim();
            let why = if out.is_empty() {
                // No line from the probe: the container did not run (image missing).
                format!(
                    "the probe did not run: {} (the catalogue's `python` image runs it: `lbc catalog` shows it)",
                    o.stderr.trim().lines().next().unwrap_or("")
                )
            } else {
                out.replace('\n', "; ")
            };
            (false, why)
        }
        Err(e) => (false, e.to_string().replace('\n', "; ")),
    };
    checks.push(check(
        "registries",
        ok,
        format!("from a build container ({image}): {detail}"),
        Some(
            "builds that download dependencies will fail: point LBC_CA_CERTIFICATES (or the catalogue's [network] ca_certificates) at the bundle of your organisation's CA, and export HTTPS_PROXY/NO_PROXY if a proxy is required"
                .into(),
        ),
        false,
    ));
}

fn unique(it: impl Iterator<Item = String>, default: &str) -> Vec<String> {
    let mut v: Vec<String> = it.collect();
    if v.is_empty() {
        v.push(default.to_owned());
    }
    v.sort();
    v.dedup();
    v
}
