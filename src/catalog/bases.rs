//! The catalogue applied to a Dockerfile: every `FROM` image (all stages, `ARG`
//! defaults and build arguments expanded; stage names and `scratch` left alone)
//! resolved through the catalogue, the policy applied, and — when an image changes — a
//! rewritten copy of the Dockerfile outside the repository for `docker build --file`.
//! The repository's own file is never modified.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::{Catalog, Policy, Resolution, Status};
use crate::dockerfile::{Base, Dockerfile};
use crate::error::Error;

/// One place an image is used, and what the catalogue makes of it.
#[derive(Debug, Clone, Serialize)]
pub struct ImageUse {
    /// `dockerfile`, `task`, `values`, `service`.
    pub kind: String,
    /// The file, relative to the project root.
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The line as written (`FROM node:20 AS build`) or what uses it (`task format`).
    pub context: String,
    #[serde(flatten)]
    pub resolution: Resolution,
    /// The instruction index of a `FROM` (for rewriting).
    #[serde(skip)]
    pub index: Option<usize>,
}

impl ImageUse {
    pub fn location(&self) -> String {
        match self.line {
            Some(l) => format!("{}:{l}", self.file),
            None => self.file.clone(),
        }
    }
}

/// The images of a Dockerfile's `FROM` lines. `rel` names the file in messages.
pub fn dockerfile_uses(
    catalog: &Catalog,
    text: &str,
    rel: &str,
    build_args: &[(String, String)],
) -> (Dockerfile, Vec<ImageUse>) {
    let df = Dockerfile::parse(text);
    let mut uses = Vec::new();
    for f in df.from_images(build_args) {
        let resolution = match &f.base {
            Base::Stage(_) | Base::Scratch => continue,
            Base::Image(v) => catalog.resolve_ref(v),
            Base::Unknown(vars) => Resolution {
                requested: f.written.clone(),
                image: f.written.clone(),
                status: Status::Unknown,
                entry: None,
                locked: None,
                would_allow: None,
                reason: Some(format!(
                    "{} {} no value here: give {} a default in the Dockerfile or a value under [image.args] in lbc.toml",
                    vars.join(", "),
                    if vars.len() == 1 { "has" } else { "have" },
                    if vars.len() == 1 { "it" } else { "them" },
                )),
            },
        };
        uses.push(ImageUse {
            kind: "dockerfile".into(),
            file: rel.to_owned(),
            line: Some(f.line),
            context: f.instruction.clone(),
            resolution,
            index: Some(f.index),
        });
    }
    (df, uses)
}

/// The refusal of `enforce`, naming each image, file and line and the entry that
/// would allow it; `None` when the policy lets the uses through.
pub fn refusal(catalog: &Catalog, uses: &[ImageUse]) -> Option<Error> {
    if catalog.policy != Policy::Enforce {
        return None;
    }
    let bad: Vec<&ImageUse> = uses.iter().filter(|u| !u.resolution.status.ok()).collect();
    if bad.is_empty() {
        return None;
    }
    let mut message = format!(
        "the image catalogue ({}, policy enforce) refuses {} image{}:",
        catalog.source.display(),
        bad.len(),
        if bad.len() == 1 { "" } else { "s" }
    );
    for u in &bad {
        message.push_str(&format!("\n  {}: {}", u.location(), describe(u)));
        if let Some(w) = &u.resolution.would_allow {
            message.push_str(&format!("\n    allowed by this entry: {w}"));
        }
    }
    Some(Error::Refused {
        message,
        hint: format!(
            "use an approved image (`lbc catalog` lists them), or ask for the entry above in {}; `lbc catalog check` lists every image of the repository",
            catalog.where_to_edit()
        ),
    })
}

/// One line about an image that is not approved.
pub fn describe(u: &ImageUse) -> String {
    let r = &u.resolution;
    match r.status {
        Status::Unknown => format!(
            "`{}` in `{}`: lbc cannot tell which image it is ({})",
            r.requested,
            u.context,
            r.reason.as_deref().unwrap_or("")
        ),
        Status::Invalid => format!(
            "`{}` is not a valid image reference ({})",
            r.requested,
            r.reason.as_deref().unwrap_or("")
        ),
        _ => format!(
            "{} (`{}`) is not approved by the catalogue",
            r.requested, u.context
        ),
    }
}

/// The warnings of `warn` for uses that are not approved.
pub fn warnings(catalog: &Catalog, uses: &[ImageUse]) -> Vec<String> {
    if catalog.policy != Policy::Warn {
        return Vec::new();
    }
    uses.iter()
        .filter(|u| !u.resolution.status.ok())
        .map(|u| {
            let mut s = format!("{}: {}", u.location(), describe(u));
            if let Some(w) = &u.resolution.would_allow {
                s.push_str(&format!(" (an entry that would allow it: {w})"));
            }
            s
        })
        .collect()
}

/// A Dockerfile ready for `docker build`: the path to give `--file` and what the
/// catalogue did to each `FROM`.
#[derive(Debug, Clone, Serialize)]
pub struct Prepared {
    /// The repository's Dockerfile when nothing changes, else the rewritten copy.
    pub dockerfile: String,
    /// The rewritten copy lives outside the repository (removed after the run).
    pub rewritten: bool,
    pub bases: Vec<ImageUse>,
    /// The bases replaced by a derived image that trusts the CA bundle (issue #11),
    /// in the order of the Dockerfile: (the catalogue's image, the derived tag).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub derived: Vec<(String, String)>,
    /// `RUN`s of the shipped image's stages that download with a package manager, while
    /// those stages do not trust the CA bundle: (line, instruction).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub untrusted_downloads: Vec<(usize, String)>,
}

/// Words of a `RUN` that downloads packages.
const DOWNLOADERS: &[&str] = &[
    "pip",
    "pip3",
    "pipenv",
    "poetry",
    "uv",
    "npm",
    "yarn",
    "pnpm",
    "npx",
    "cargo",
    "composer",
    "gradle",
    "./gradlew",
    "mvn",
    "./mvnw",
    "bundle",
    "gem",
    "go",
    "curl",
    "wget",
];

/// The `RUN`s of the stages in `keep` that run a package manager or a download.
fn downloads_in(df: &Dockerfile, keep: &std::collections::BTreeSet<usize>) -> Vec<(usize, String)> {
    let froms: Vec<usize> = df.froms().iter().map(|f| f.index).collect();
    let mut out = Vec::new();
    for (n, &start) in froms.iter().enumerate() {
        if !keep.contains(&start) {
            continue;
        }
        let end = froms.get(n + 1).copied().unwrap_or(df.instructions.len());
        for ins in &df.instructions[start + 1..end] {
            if ins.keyword != "RUN" {
                continue;
            }
            let downloads = ins
                .text
                .split(|c: char| {
                    c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')' | '"' | '\'')
                })
                .any(|w| {
                    DOWNLOADERS.contains(&w.rsplit('/').next().unwrap_or(w))
                        || DOWNLOADERS.contains(&w)
                });
            if downloads {
                let text: String = ins.text.trim().chars().take(80).collect();
                out.push((ins.line, text));
            }
        }
    }
    out
}

/// Which `FROM`s get the derived image that trusts the CA bundle.
#[derive(Debug, Clone, Copy)]
pub enum Trust<'a> {
    /// Every stage but those the built target is made of (`target`: `--target`, else
    /// the last stage): the image that ships does not carry the bundle.
    Build {
        bundle: &'a crate::trust::Bundle,
        target: Option<&'a str>,
    },
    /// Every stage (the final image too, or an image for tasks).
    All { bundle: &'a crate::trust::Bundle },
}

impl Prepared {
    /// One line per `FROM`: the Dockerfile line and what it resolves to.
    pub fn notes(&self, catalog: &Catalog) -> Vec<String> {
        if catalog.policy == Policy::None && !self.rewritten {
            return Vec::new();
        }
        self.bases
            .iter()
            .map(|u| {
                let r = &u.resolution;
                let what = match r.status {
                    Status::Mapped => format!(
                        "-> {} ({}{})",
                        r.image,
                        r.entry.as_deref().unwrap_or(""),
                        if r.locked.is_some() { ", locked" } else { "" }
                    ),
                    Status::Approved if r.changed() => format!(
                        "-> {} ({}, locked)",
                        r.image,
                        r.entry.as_deref().unwrap_or("")
                    ),
                    Status::Approved => format!("approved ({})", r.entry.as_deref().unwrap_or("")),
                    _ => format!("NOT APPROVED: {}", describe(u)),
                };
                format!("{}: {}  {what}", u.location(), u.context)
            })
            .collect()
    }

    /// What the inputs hash must include: each resolved base (a moved digest rebuilds).
    pub fn inputs(&self) -> Vec<String> {
        self.bases
            .iter()
            .filter(|u| u.resolution.changed())
            .map(|u| format!("base {} {}", u.location(), u.resolution.image))
            .chain(
                self.derived
                    .iter()
                    .map(|(base, tag)| format!("trust {base} {tag}")),
            )
            .collect()
    }
}

/// The instruction indexes of the `FROM`s the built image is made of: the target stage
/// (`--target`, else the last) and the stages it is built `FROM`, transitively.
fn final_stages(df: &Dockerfile, target: Option<&str>) -> std::collections::BTreeSet<usize> {
    let froms = df.from_images(&[]);
    let mut out = std::collections::BTreeSet::new();
    let mut pos = match target {
        Some(t) => froms.iter().rposition(|f| {
            f.stage
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(t))
        }),
        None => froms.len().checked_sub(1),
    };
    while let Some(i) = pos {
        let f = &froms[i];
        if !out.insert(f.index) {
            break;
        }
        pos = match &f.base {
            Base::Stage(name) => froms[..i].iter().rposition(|g| {
                g.stage
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(name))
            }),
            _ => None,
        };
    }
    out
}

/// Resolve the project's Dockerfile through the catalogue; refuse under `enforce`;
/// write the rewritten copy when an image changes (`materialize`: else a placeholder
/// path is shown, for `--dry-run`).
pub fn prepare(
    catalog: &Catalog,
    root: &Path,
    dockerfile_rel: &str,
    build_args: &[(String, String)],
    materialize: bool,
    trust: Option<Trust>,
) -> Result<Prepared, Error> {
    let path = root.join(dockerfile_rel);
    let text = crate::fsutil::read_to_string(&path)?;
    let (df, bases) = dockerfile_uses(catalog, &text, dockerfile_rel, build_args);
    if let Some(e) = refusal(catalog, &bases) {
        return Err(e);
    }
    let mut replacements: BTreeMap<usize, String> = bases
        .iter()
        .filter(|u| u.resolution.changed())
        .filter_map(|u| Some((u.index?, u.resolution.image.clone())))
        .collect();
    let mut derived: Vec<(String, String)> = Vec::new();
    let mut untrusted_downloads = Vec::new();
    if let Some(trust) = trust {
        let (bundle, keep) = match trust {
            Trust::Build { bundle, target } => (bundle, final_stages(&df, target)),
            Trust::All { bundle } => (bundle, Default::default()),
        };
        untrusted_downloads = downloads_in(&df, &keep);
        for u in &bases {
            let Some(index) = u.index.filter(|i| !keep.contains(i)) else {
                continue;
            };
            if u.resolution.status == Status::Invalid || u.resolution.status == Status::Unknown {
                continue;
            }
            let base = u.resolution.image.clone();
            let tag = crate::trust::derived_tag(&base, bundle);
            replacements.insert(index, tag.clone());
            if !derived.iter().any(|(b, _)| *b == base) {
                derived.push((base, tag));
            }
        }
    }
    if replacements.is_empty() {
        return Ok(Prepared {
            dockerfile: dockerfile_rel.to_owned(),
            rewritten: false,
            bases,
            derived,
            untrusted_downloads,
        });
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Dockerfile".into());
    let (dir, held) = crate::fsutil::private_temp_dir("dockerfile", materialize)?;
    let dockerfile = dir.join(&file_name);
    if let Some(held) = held {
        write_copy(&path, &dockerfile, &df.rewrite(&replacements))?;
        super::keep_temp_dir(held);
    }
    Ok(Prepared {
        dockerfile: dockerfile.display().to_string(),
        rewritten: true,
        bases,
        derived,
        untrusted_downloads,
    })
}

/// The built image's labels as one `LABEL` instruction, quoted for a Dockerfile whose
/// escape character is `escape`; `None` when a key or value holds a control character
/// (those stay `--label` options).
pub fn label_instruction(labels: &[(&str, String)], escape: char) -> Option<String> {
    let quote = |s: &str| -> Option<String> {
        if s.chars().any(char::is_control) {
            return None;
        }
        let mut q = String::with_capacity(s.len() + 2);
        q.push('"');
        for c in s.chars() {
            if c == '"' || c == '$' || c == escape {
                q.push(escape);
            }
            q.push(c);
        }
        q.push('"');
        Some(q)
    };
    let mut out = String::from("LABEL");
    for (k, v) in labels {
        out.push(' ');
        out.push_str(&quote(k)?);
        out.push('=');
        out.push_str(&quote(v)?);
    }
    Some(out)
}

/// Put the image's labels into the rewritten copy of the Dockerfile as one `LABEL` at
/// the end of the built stage, instead of `--label` options: Docker's classic builder
/// runs a step (a container, a commit) for each `--label`, one for the whole
/// instruction here — a second or so of every rebuild on a loaded machine (issue #14,
/// `lbc watch`). The instruction when the labels are in the copy (or would be, under
/// `--dry-run`); `None` leaves them to the caller's `--label` options (no copy, or a
/// value that a Dockerfile cannot hold).
pub fn fold_labels(
    prepared: &Prepared,
    root: &Path,
    dockerfile_rel: &str,
    target: Option<&str>,
    labels: &[(&str, String)],
    materialize: bool,
) -> Result<Option<String>, Error> {
    if !prepared.rewritten || labels.is_empty() {
        return Ok(None);
    }
    let source = if materialize {
        Path::new(&prepared.dockerfile).to_path_buf()
    } else {
        root.join(dockerfile_rel)
    };
    let df = Dockerfile::parse(&crate::fsutil::read_to_string(&source)?);
    let Some(label) = label_instruction(labels, df.escape) else {
        return Ok(None);
    };
    let Some(text) = df.with_instruction_in_stage(target, &label) else {
        return Ok(None);
    };
    if materialize {
        // The copy is lbc's own file, in its private temporary directory.
        std::fs::write(&source, text).map_err(|e| crate::fsutil::io_err(&source, e))?;
    }
    Ok(Some(label))
}

/// Write the rewritten Dockerfile to `dest` (in a private temporary directory), with
/// the Dockerfile's own `NAME.dockerignore` beside it when the repository has one:
/// BuildKit looks for that file next to the Dockerfile it is given, and falls back to
/// the context's `.dockerignore` otherwise, so the build sees the same files.
fn write_copy(original: &Path, dest: &Path, text: &str) -> Result<(), Error> {
    write_private(dest, text.as_bytes())?;
    let ignore_name = format!(
        "{}.dockerignore",
        dest.file_name().unwrap_or_default().to_string_lossy()
    );
    let ignore = original.with_file_name(&ignore_name);
    if ignore.is_file() {
        write_private(
            &dest.with_file_name(&ignore_name),
            &crate::fsutil::read(&ignore)?,
        )?;
    }
    Ok(())
}

/// A new owner-only file (0600) holding `bytes`.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    crate::fsutil::write_new(path, bytes, 0o600)
}

/// The image of a task (`image = "..."`) through the catalogue: refused under
/// `enforce`, listed under `warn`.
pub fn task_image(catalog: &Catalog, task: &str, image: &str) -> Result<String, Error> {
    checked(
        catalog,
        ImageUse {
            kind: "task".into(),
            file: "lbc.toml".into(),
            line: None,
            context: format!("task {task}: image = \"{image}\""),
            resolution: catalog.resolve_name(image)?,
            index: None,
        },
    )
}

/// One image lbc runs itself (a task's, a backing service's) through the policy: the
/// image to use, refused under `enforce` when not approved, warned about under `warn`.
pub fn checked(catalog: &Catalog, u: ImageUse) -> Result<String, Error> {
    let uses = [u];
    if let Some(e) = refusal(catalog, &uses) {
        return Err(e);
    }
    for w in warnings(catalog, &uses) {
        crate::ui::warn(&w);
    }
    let [u] = uses;
    Ok(u.resolution.image)
}

/// Logins for the registries the resolved bases come from, when the catalogue names
/// their credentials (`[registries."HOST"]`): `docker login --password-stdin` into a
/// private temporary `DOCKER_CONFIG` (removed after the run) that the build then uses,
/// as `lbc build --push` does. `None` when no base needs one.
pub fn registry_logins(
    catalog: &Catalog,
    bases: &[ImageUse],
    cwd: &Path,
    materialize: bool,
) -> Result<Option<(Vec<crate::plan::Step>, crate::plan::EnvVar)>, Error> {
    use crate::plan::{EnvVar, Step};
    let mut hosts: Vec<String> = Vec::new();
    for u in bases {
        if let Ok(r) = crate::image::ImageRef::parse(&u.resolution.image) {
            if catalog.registries.contains_key(&r.registry) && !hosts.contains(&r.registry) {
                hosts.push(r.registry);
            }
        }
    }
    if hosts.is_empty() {
        return Ok(None);
    }
    let (dir, held) = crate::fsutil::private_temp_dir("docker-config", materialize)?;
    if let Some(d) = held {
        super::keep_temp_dir(d);
    }
    let env = EnvVar::plain("DOCKER_CONFIG", dir.display().to_string());
    let mut steps = Vec::new();
    for host in hosts {
        let c = &catalog.registries[&host];
        let get = crate::settings::env_var;
        let (Some(user), Some(password)) = (get(&c.username_env), get(&c.password_env)) else {
            return Err(Error::usage(
                format!(
                    "{} or {} is not set; the catalogue ({}) names them as holding the credentials for {host}, where the base images come from",
                    c.username_env,
                    c.password_env,
                    catalog.source.display()
                ),
                Some(format!(
                    "export {}=... {}=... (in CI, from masked secret variables)",
                    c.username_env, c.password_env
                )),
            ));
        };
        crate::ui::register_secret(&password);
        steps.push(Step::exec(
            format!("Log in to {host} (base images) as {user}"),
            crate::tools::docker::login(cwd, &host, &user, &password, &dir),
        ));
    }
    Ok(Some((steps, env)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #14: one LABEL for every label; quotes, `$` and the escape character are
    /// escaped (a value is never expanded by Docker); a control character keeps the
    /// `--label` options.
    #[test]
    fn labels_become_one_quoted_instruction() {
        let labels = [
            ("org.opencontainers.image.title", "svc".to_owned()),
            (
                "org.opencontainers.image.source",
                "/home/a \"b\" $HOME\\x".to_owned(),
            ),
        ];
        assert_eq!(
            label_instruction(&labels, '\\').unwrap(),
            r#"LABEL "org.opencontainers.image.title"="svc" "org.opencontainers.image.source"="/home/a \"b\" \$HOME\\x""#
        );
        assert_eq!(
            label_instruction(&labels, '`').unwrap(),
            r#"LABEL "org.opencontainers.image.title"="svc" "org.opencontainers.image.source"="/home/a `"b`" `$HOME\x""#
        );
        assert!(label_instruction(&[("k", "a\nb".to_owned())], '\\').is_none());
    }

    #[test]
    fn lbc_written_dockerfiles_get_their_bases_as_build_arguments() {
        // #16: backward compatibility: [image.bases] names go through [map] and the lock
        // before the FROM is read, so the Dockerfile needs no rewrite.
        let cat = Catalog::parse(
            Path::new("catalog.toml"),
            "policy = \"enforce\"\n[map]\n\"python:*\" = \"mirror.corp/python:*\"\n",
        )
        .unwrap();
        let arg = cat.resolve("python").unwrap();
        assert_eq!(arg, "mirror.corp/python:3.12-slim-bookworm");
        let text = "ARG BUILDER_IMAGE=python:3.12-slim-bookworm\nFROM ${BUILDER_IMAGE} AS test\n";
        let (_, uses) = dockerfile_uses(&cat, text, "Dockerfile", &[("BUILDER_IMAGE".into(), arg)]);
        assert_eq!(uses[0].resolution.status, Status::Approved);
        assert!(!uses[0].resolution.changed());
        assert!(refusal(&cat, &uses).is_none());
        // A plain `docker build` of the same file (the ARG default) is mapped instead.
        let (_, uses) = dockerfile_uses(&cat, text, "Dockerfile", &[]);
        assert_eq!(
            uses[0].resolution.image,
            "mirror.corp/python:3.12-slim-bookworm"
        );
    }

    #[test]
    fn dockerfile_through_the_catalogue() {
        // #16: stages and scratch left alone, ARG-based FROMs resolved, enforce refuses
        // with file:line and the entry that would allow the image.
        let cat = Catalog::parse(
            Path::new("catalog.toml"),
            "policy = \"enforce\"\n[map]\n\"python:*\" = \"127.0.0.1:5055/mirror/python:*\"\n",
        )
        .unwrap();
        let text = "ARG PY=3.11-slim\nFROM python:${PY} AS build\nFROM build AS test\nFROM node:20 AS web\nFROM scratch\n";
        let (_, uses) = dockerfile_uses(&cat, text, "Dockerfile", &[]);
        assert_eq!(uses.len(), 2);
        assert_eq!(
            uses[0].resolution.image,
            "127.0.0.1:5055/mirror/python:3.11-slim"
        );
        assert_eq!(uses[1].resolution.status, Status::Unapproved);
        let e = refusal(&cat, &uses).unwrap();
        assert_eq!(e.exit_code(), 5);
        let msg = e.to_string();
        assert!(msg.contains("Dockerfile:4: node:20"), "{msg}");
        assert!(
            msg.contains("\"node:20\" = \"127.0.0.1:5055/mirror/node:20\""),
            "{msg}"
        );
        let mut warn = cat.clone();
        warn.policy = Policy::Warn;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.Dockerfile"), text).unwrap();
        std::fs::write(dir.path().join("app.Dockerfile.dockerignore"), "secrets\n").unwrap();
        let prepared = prepare(&warn, dir.path(), "app.Dockerfile", &[], true, None).unwrap();
        assert!(prepared.rewritten);
        let copy = Path::new(&prepared.dockerfile);
        assert!(!copy.starts_with(dir.path()), "outside the repository");
        assert_eq!(copy.file_name().unwrap(), "app.Dockerfile");
        let copied = std::fs::read_to_string(copy).unwrap();
        assert!(copied.contains("FROM 127.0.0.1:5055/mirror/python:3.11-slim AS build"));
        assert_eq!(copied.lines().count(), text.lines().count());
        assert_eq!(
            std::fs::read_to_string(copy.with_file_name("app.Dockerfile.dockerignore")).unwrap(),
            "secrets\n",
            "the Dockerfile's own ignore file goes beside the copy"
        );
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(copy), 0o600);
            assert_eq!(mode(copy.parent().unwrap()), 0o700);
        }
        assert_eq!(
            std::fs::read_to_string(dir.path().join("app.Dockerfile")).unwrap(),
            text
        );
        super::super::release_temp_files();
        assert!(!copy.exists(), "removed at the end of the run");
        warn.policy = Policy::Warn;
        assert!(refusal(&warn, &uses).is_none());
        assert_eq!(warnings(&warn, &uses).len(), 1);
    }

    /// Issue #11: the stages of the shipped image keep their base; every other stage
    /// (a stage built FROM another, several stages with one base) gets the derived one.
    #[test]
    fn a_download_in_the_shipped_image_is_named() {
        let text = "FROM python:3.12\nRUN chown 1 /x\nRUN /usr/local/bin/pip install -r r.txt\nRUN echo hi && npm ci\n";
        let df = Dockerfile::parse(text);
        let keep = final_stages(&df, None);
        let lines: Vec<usize> = downloads_in(&df, &keep).iter().map(|d| d.0).collect();
        assert_eq!(lines, vec![3, 4]);
    }

    #[test]
    fn the_final_image_and_its_ancestry_keep_their_base() {
        let text = "ARG B=python:3.12\nFROM ${B} AS deps\nRUN x\nFROM node:22 AS assets\nFROM ${B} AS base\nFROM base AS runtime\nCOPY --from=deps / /\nFROM base AS test\n";
        let df = Dockerfile::parse(text);
        let lines = |set: std::collections::BTreeSet<usize>| -> Vec<usize> {
            set.iter().map(|i| df.instructions[*i].line).collect()
        };
        // Default target: the last stage (`test`), built FROM `base`.
        assert_eq!(lines(final_stages(&df, None)), vec![5, 8]);
        assert_eq!(lines(final_stages(&df, Some("runtime"))), vec![5, 6]);
        let bundle = crate::trust::Bundle {
            path: "/ca.pem".into(),
            source: "host".into(),
            sha256: "ab".into(),
            certificates: 1,
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), text).unwrap();
        let cat = Catalog::builtin();
        let p = prepare(
            &cat,
            dir.path(),
            "Dockerfile",
            &[],
            true,
            Some(Trust::Build {
                bundle: &bundle,
                target: Some("runtime"),
            }),
        )
        .unwrap();
        let derived: Vec<&str> = p.derived.iter().map(|(b, _)| b.as_str()).collect();
        assert_eq!(derived, vec!["python:3.12", "node:22"]);
        let copy = std::fs::read_to_string(&p.dockerfile).unwrap();
        let froms: Vec<&str> = copy.lines().filter(|l| l.starts_with("FROM")).collect();
        assert!(froms[0].starts_with("FROM lbc-trust/python:"), "{froms:?}");
        assert!(froms[1].starts_with("FROM lbc-trust/node:"), "{froms:?}");
        assert_eq!(froms[2], "FROM ${B} AS base");
        assert!(p
            .inputs()
            .iter()
            .any(|i| i.starts_with("trust python:3.12 lbc-trust/")));
        // Everything for an image of tasks.
        let all = prepare(
            &cat,
            dir.path(),
            "Dockerfile",
            &[],
            false,
            Some(Trust::All { bundle: &bundle }),
        )
        .unwrap();
        assert_eq!(all.derived.len(), 2);
    }
}
