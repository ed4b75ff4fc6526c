//! What the instances of an environment run (`lbc status ENV`): two queries for the
//! whole environment (the release Secrets and the workloads, across namespaces), one
//! row per instance.

use crate::cli::TargetArgs;
use crate::commands::Ctx;
use crate::error::Error;
use crate::instances::batch::{ready, Env};
use crate::targets::kube;
use crate::ui;

/// Columns of text, left-aligned, two spaces apart.
pub fn columns<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == N {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// The status of every instance of `env_name`, when it has any and is a Kubernetes
/// environment with a chart: `Ok(None)` otherwise (the environment's own status is
/// shown as before).
pub fn status_rows(
    ctx: &Ctx,
    env_name: &str,
    flags: &TargetArgs,
) -> Result<Option<(Vec<serde_json::Value>, serde_json::Value)>, Error> {
    let instances = crate::instances::load(&ctx.project)?;
    let list = instances.for_env(env_name);
    if list.is_empty() {
        return Ok(None);
    }
    let Ok(e) = Env::resolve(ctx, env_name, flags) else {
        return Ok(None);
    };
    let deployed = e.deployed(ctx.runner)?;
    let workloads = e.workloads(ctx.runner)?;
    let rows = list
        .iter()
        .map(|inst| {
            let ns = inst.namespace(&e.project);
            let d = deployed.get(&ns);
            let ws = workloads.get(&ns).map(Vec::as_slice).unwrap_or(&[]);
            serde_json::json!({
                "instance": inst.name,
                "namespace": ns,
                "state": if d.is_some() { "deployed" } else if ws.is_empty() { "absent" } else { "not deployed" },
                "revision": d.map(|d| d.revision),
                "image": kube::image_of(ctx, ws).map(|i| i.reference().to_owned()),
                "ready": ready(ws),
                "url": inst.url(&e.kube.env),
                "promoted_from": d.and_then(|d| d.labels.get("lbc-promoted-from").cloned()),
                "backup_schedule": inst.spec.backup_schedule,
            })
        })
        .collect();
    let own = &e.kube.cluster.namespace;
    let d = deployed.get(own);
    let ws = workloads.get(own).map(Vec::as_slice).unwrap_or(&[]);
    let base = serde_json::json!({
        "environment": env_name,
        "context": e.kube.cluster.context,
        "namespace": own,
        "release": e.kube.release,
        "state": if d.is_some() { "deployed" } else { "absent" },
        "revision": d.map(|d| d.revision),
        "image": kube::image_of(ctx, ws).map(|i| i.reference().to_owned()),
        "workloads": ws,
    });
    Ok(Some((rows, base)))
}

/// `lbc status ENV` of an environment with instances: its own release (as before),
/// then one row per instance; with `--output json`, one document with both.
pub fn status(ctx: &mut Ctx, env_name: &str, flags: &TargetArgs) -> Result<bool, Error> {
    let Some((rows, mut base)) = status_rows(ctx, env_name, flags)? else {
        return Ok(false);
    };
    if ctx.settings.json {
        base["instances"] = serde_json::json!(rows);
        ui::print_json(&base);
        return Ok(true);
    }
    let target = crate::targets::resolve(ctx, env_name, flags)?;
    target.status(ctx)?;
    let s = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "-".to_owned(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                s(&r["instance"]),
                s(&r["namespace"]),
                s(&r["state"]),
                s(&r["revision"]),
                s(&r["image"]),
                s(&r["ready"]),
                s(&r["url"]),
            ]
        })
        .collect();
    ui::data(&format!(
        "\n{} instance{}:\n{}",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        columns(
            &[
                "INSTANCE",
                "NAMESPACE",
                "STATE",
                "REVISION",
                "IMAGE",
                "READY",
                "URL"
            ],
            &cells
        )
    ));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let t = columns(
            &["A", "BB"],
            &[["xyz".into(), "1".into()], ["q".into(), "22".into()]],
        );
        assert_eq!(t, "A    BB\nxyz  1\nq    22\n");
    }
}
