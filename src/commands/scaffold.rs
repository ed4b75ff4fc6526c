//! The files `lbc init --adopt` writes besides lbc.toml (issue #11): the Dockerfile and
//! .dockerignore of the stack's family (`templates/_dockerfiles/FAMILY`), the shared Helm
//! chart with its per-environment values and the CI pipelines (`templates/_shared`),
//! rendered exactly as `lbc init` renders them, with the detection report as answers.
//!
//! Only files the repository does not have are written. The others are `kept`: listed
//! in the provenance (`.lbc/template.toml`), so that `lbc upgrade` three-way-merges the
//! adopted files to newer versions of the family template and never touches the
//! repository's own. A value detection could not decide (the start command, the port)
//! leaves the Dockerfile `undetermined`, with the flag that decides it.

use std::path::Path;

use serde::Serialize;

use crate::commands::adopt::DockerfileInfo;
use crate::detect::Report;
use crate::error::Error;
use crate::template::answers::{self, Inputs};
use crate::template::provenance::{self, Provenance};
use crate::template::render::{OutContent, OutFile};
use crate::template::{builtin, generate, Template};

/// The chart adoption writes, when the repository has none.
pub const CHART: &str = "deploy/chart";

/// What adoption knows, for the family template.
pub struct Want<'a> {
    pub root: &'a Path,
    pub stack: &'a str,
    pub report: Option<&'a Report>,
    /// The repository's own Dockerfile, if it has one (then none is written).
    pub dockerfile: Option<&'a DockerfileInfo>,
    /// The repository's own chart, if it has one (then none is written).
    pub chart: Option<&'a str>,
    /// `--name`, `--set registry=...`: the answers lbc init also takes.
    pub common: Vec<(String, String)>,
    pub health: String,
    /// `--set start=...`: the user chose the start command (no second-guessing it).
    pub start_set: bool,
}

/// One file of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct FilePlan {
    pub path: String,
    /// `create`, `overwrite` (lbc.toml with --force), `keep` (the repository's own
    /// file stays) or `undetermined` (a value is missing: see `needs`).
    pub action: &'static str,
    pub bytes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs: Option<String>,
}

/// The family template rendered for this repository.
#[derive(Debug, Clone)]
pub struct Scaffold {
    /// `adopt-FAMILY VERSION`.
    pub template: String,
    /// The files to write (provenance included), in path order.
    pub files: Vec<OutFile>,
    pub plan: Vec<FilePlan>,
    /// The values detection did not decide, each with its flag; the Dockerfile is not
    /// written while one is missing.
    pub missing: Vec<String>,
    /// The chart lbc.toml deploys: the written one when the repository had none.
    pub chart: Option<String>,
    /// The Dockerfile adoption writes (its stages and base images, for lbc.toml).
    pub dockerfile: Option<DockerfileInfo>,
    pub port: Option<u16>,
    /// What the user should know about the files written (a Python the catalogue's image
    /// may not have, ...).
    pub notes: Vec<String>,
}

/// The catalogue's builder and runtime images of a family.
fn bases(stack: &str) -> (&'static str, &'static str) {
    match stack {
        "python" => ("python", "python-runtime"),
        "node" => ("node", "node-runtime"),
        "go" => ("go-builder", "go-runtime"),
        "rust" => ("rust-builder", "rust-runtime"),
        "java" => ("java-builder", "java-runtime"),
        _ => ("debian", "debian"),
    }
}

fn s(v: &str) -> String {
    v.to_owned()
}

/// The start command and the family's answers, or what is missing.
fn family_answers(
    want: &Want,
    report: &Report,
    missing: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> (Vec<(String, String)>, Option<Vec<String>>) {
    let root = want.root;
    let mut a: Vec<(String, String)> = Vec::new();
    let start = report.start.command.clone();
    let last_word = |argv: &[String], prefix: &str| {
        argv.iter()
            .find_map(|w| w.strip_prefix(prefix))
            .map(str::to_owned)
    };
    let start = match want.stack {
        "python" => {
            let pm = report.package_manager.as_ref();
            let manager = match pm.map(|p| p.name.as_str()) {
                Some("uv") => "uv",
                Some("poetry") => "poetry",
                Some("pipenv") => "pipenv",
                _ => match pm.and_then(|p| {
                    p.install
                        .iter()
                        .position(|w| w == "-r")
                        .and_then(|i| p.install.get(i + 1))
                }) {
                    Some(req) => {
                        a.push((s("requirements"), req.clone()));
                        let (dir, uncopied) = requirements_includes(root, req);
                        if let Some(dir) = dir {
                            a.push((s("requirements_dir"), dir));
                        }
                        if !uncopied.is_empty() {
                            notes.push(format!(
                                "{req} includes {}, which the Dockerfile does not copy before `pip install`: add a COPY for them",
                                uncopied.join(", ")
                            ));
                        }
                        "pip"
                    }
                    None => "pip-project",
                },
            };
            a.push((s("manager"), s(manager)));
            if let Some(n) = python_version_note(root) {
                notes.push(n);
            }
            // A monorepo's root (a uv workspace, a backend beside a frontend): the
            // application is the sub-project whose module the start command names, and
            // it has its own manifest; the root's Dockerfile would be a wrong guess.
            let sub = start.as_ref().filter(|_| !want.start_set).and_then(|argv| {
                argv.iter().find_map(|w| {
                    let (module, _) = w.split_once(':')?;
                    let (top, _) = module.split_once('.')?;
                    ["pyproject.toml", "requirements.txt", "setup.py", "Pipfile"]
                        .iter()
                        .any(|m| root.join(top).join(m).is_file())
                        .then(|| top.to_owned())
                })
            });
            if let Some(sub) = sub {
                missing.push(format!(
                    "the application's root: the start module is in the sub-project {sub}/, which has its own manifest (adopt it there: `lbc init --adopt {sub}`)"
                ));
            }
            if manager == "pip" {
                if let Some(dev) = [
                    "requirements-dev.txt",
                    "requirements/dev.txt",
                    "requirements-test.txt",
                    "requirements/test.txt",
                    "dev-requirements.txt",
                    "test-requirements.txt",
                ]
                .into_iter()
                .find(|f| root.join(f).is_file())
                {
                    a.push((s("requirements_dev"), s(dev)));
                }
            }
            start
        }
        "node" => {
            let pm = report.package_manager.as_ref();
            let manager = match pm.map(|p| p.name.as_str()) {
                Some("pnpm") => "pnpm",
                Some("yarn") if root.join(".yarnrc.yml").is_file() => "yarn-berry",
                Some("yarn") => "yarn",
                _ => "npm",
            };
            a.push((s("manager"), s(manager)));
            let lockfile = pm.and_then(|p| p.lockfile.clone()).unwrap_or_default();
            a.push((s("lockfile"), lockfile));
            a.push((s("build"), report.build.is_some().to_string()));
            start
        }
        "go" => {
            let build = report.build.as_ref().map(|b| b.command.clone());
            match (start, build) {
                (Some(start), Some(build)) => {
                    let bin = last_word(&start, "bin/").unwrap_or_else(|| s("server"));
                    let package = build.last().cloned().unwrap_or_else(|| s("."));
                    a.push((s("binary"), bin.clone()));
                    a.push((s("package"), package));
                    a.push((s("go_sum"), root.join("go.sum").is_file().to_string()));
                    // A module that needs cgo (mattn/go-sqlite3) does not build without it.
                    let cgo = fs_err::read_to_string(root.join("go.mod"))
                        .is_ok_and(|m| m.contains("github.com/mattn/go-sqlite3"));
                    a.push((s("cgo"), cgo.to_string()));
                    let mut argv = vec![format!("/usr/local/bin/{bin}")];
                    argv.extend(start.into_iter().skip(1));
                    Some(argv)
                }
                (start, _) => start,
            }
        }
        "rust" => match start {
            Some(start) => match last_word(&start, "target/release/") {
                Some(bin) => {
                    a.push((s("binary"), bin.clone()));
                    a.push((s("manifests"), rust_manifests(root).join(" ")));
                    a.push((s("locked"), root.join("Cargo.lock").is_file().to_string()));
                    let mut argv = vec![format!("/usr/local/bin/{bin}")];
                    argv.extend(start.into_iter().skip(1));
                    Some(argv)
                }
                None => Some(start),
            },
            None => None,
        },
        "java" => {
            let gradle = ["build.gradle", "build.gradle.kts"]
                .iter()
                .any(|f| root.join(f).is_file());
            let tool = match (
                gradle,
                root.join("gradlew").is_file(),
                root.join("mvnw").is_file(),
            ) {
                (true, true, _) => "gradlew",
                (true, false, _) => "gradle",
                (false, _, true) => "mvnw",
                (false, _, false) => "mvn",
            };
            a.push((s("tool"), s(tool)));
            a.push((
                s("jar"),
                s(if gradle {
                    "build/libs/*.jar"
                } else {
                    "target/*.jar"
                }),
            ));
            start.map(|_| vec![s("java"), s("-jar"), s("/app/app.jar")])
        }
        "php" => {
            let (extra, unknown) = php_extensions(root);
            if !extra.is_empty() {
                a.push((
                    s("extensions"),
                    format!("{PHP_EXTENSIONS} {}", extra.join(" ")),
                ));
            }
            for ext in unknown {
                notes.push(format!(
                    "composer.json requires ext-{ext}: Debian has no php8.2-{ext} package lbc knows; install it in the Dockerfile"
                ));
            }
            start
        }
        _ => start,
    };
    if start.is_none() {
        missing.push(format!(
            "the start command ({})",
            report
                .start
                .flag
                .clone()
                .unwrap_or_else(|| s("--set start=COMMAND"))
        ));
    }
    (a, start)
}

/// The directories of a Rust project that hold a Cargo.toml (the root and members).
/// The files a requirements file includes (`-r FILE`, `-c FILE`, transitively, each
/// relative to the file that names it), as the Dockerfile must copy them before
/// `pip install`: the one directory that holds them (wagtail/bakerydemo's
/// `requirements.txt` is `-r requirements/production.txt`, which is `-r base.txt`), and
/// the ones that directory does not cover.
fn requirements_includes(root: &Path, req: &str) -> (Option<String>, Vec<String>) {
    let re = regex::Regex::new(r"^\s*(?:-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+)?(\S+)")
        .expect("valid regex");
    let mut seen: Vec<String> = vec![req.to_owned()];
    let mut todo = vec![req.to_owned()];
    let mut found: Vec<String> = Vec::new();
    while let Some(file) = todo.pop() {
        if seen.len() > 32 {
            break;
        }
        let path = root.join(&file);
        // Never through a link (it could lead out of the repository).
        if !fs_err::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let Ok(text) = fs_err::read_to_string(&path) else {
            continue;
        };
        let base = Path::new(&file).parent().unwrap_or(Path::new(""));
        for l in text.lines() {
            let Some(c) = re.captures(l) else { continue };
            let inc = base.join(&c[1]);
            // Normalised; an include outside the repository or by URL is not ours to copy.
            let mut parts: Vec<String> = Vec::new();
            let mut outside = c[1].contains("://") || inc.is_absolute();
            for comp in inc.components() {
                match comp {
                    std::path::Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
                    std::path::Component::CurDir => {}
                    std::path::Component::ParentDir if parts.pop().is_some() => {}
                    _ => outside = true,
                }
            }
            if outside || parts.is_empty() {
                continue;
            }
            let rel = parts.join("/");
            if !seen.contains(&rel) {
                seen.push(rel.clone());
                found.push(rel.clone());
                todo.push(rel);
            }
        }
    }
    let dir_of = |f: &str| f.rsplit_once('/').map(|(d, _)| d.to_owned());
    let mut dirs: Vec<String> = found.iter().filter_map(|f| dir_of(f)).collect();
    dirs.sort();
    dirs.dedup();
    // The shallowest directory holds the others when they are beneath it.
    let dir = dirs.first().cloned().filter(|d| {
        dirs.iter()
            .all(|o| o == d || o.starts_with(&format!("{d}/")))
            && d.split('/').all(|c| {
                !c.is_empty()
                    && c.chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            })
    });
    let uncopied = found
        .into_iter()
        .filter(|f| {
            f != req
                && !dir
                    .as_ref()
                    .is_some_and(|d| f.starts_with(&format!("{d}/")))
        })
        .collect();
    (dir, uncopied)
}

fn rust_manifests(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if root.join("Cargo.toml").is_file() {
        out.push(s("."));
    }
    let mut level = vec![root.to_path_buf()];
    for _ in 0..2 {
        let mut next = Vec::new();
        for dir in &level {
            let Ok(entries) = fs_err::read_dir(dir) else {
                continue;
            };
            let mut subs: Vec<std::path::PathBuf> = entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().is_some_and(|n| {
                        let n = n.to_string_lossy();
                        !n.starts_with('.') && n != "target"
                    })
                })
                .collect();
            subs.sort();
            for sub in subs {
                if sub.join("Cargo.toml").is_file() {
                    if let Ok(rel) = sub.strip_prefix(root) {
                        out.push(rel.to_string_lossy().into_owned());
                    }
                }
                next.push(sub);
            }
        }
        level = next;
    }
    out
}

/// Render the family template of `want.stack` for this repository (no writes). `None`
/// when lbc has no family template for the stack (a static site).
pub fn plan(want: &Want) -> Result<Option<Scaffold>, Error> {
    let Some(template_name) = builtin::adopt_template(want.stack) else {
        return Ok(None);
    };
    let template = Template::builtin(&template_name)?;
    let mut missing = Vec::new();
    let mut notes = Vec::new();
    let mut set = want.common.clone();
    set.push((s("health"), want.health.clone()));
    let mut start = None;
    let mut port = want.dockerfile.and_then(|d| d.expose);
    if let Some(r) = want.report {
        port = r.port.value.or(port);
        let (family, st) = family_answers(want, r, &mut missing, &mut notes);
        set.extend(family);
        start = st;
    } else {
        missing.push(format!(
            "the start command and the port: lbc found no {} application to read them from (`--set start=COMMAND --set port=PORT`)",
            want.stack
        ));
    }
    if want.report.is_some() && port.is_none() {
        let flag = want
            .report
            .and_then(|r| r.port.flag.clone())
            .unwrap_or_else(|| s("--set port=PORT"));
        missing.push(format!("the port ({flag})"));
    }
    if let Some(p) = port {
        set.push((s("port"), p.to_string()));
    }
    let start_json = start
        .as_ref()
        .map(|argv| serde_json::to_string(argv).expect("strings serialize"))
        // Recorded only: a repository with its own Dockerfile does not render it.
        .unwrap_or_else(|| s("[]"));
    set.push((s("start"), start_json));
    let dir_name = want
        .root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let answers = answers::resolve(
        &template,
        &Inputs {
            set: &set,
            interactive: false,
            dir_name: dir_name.clone(),
        },
    )?;
    let generated = generate::generate(&template, &dir_name, &answers)?;
    let write_dockerfile = want.dockerfile.is_none();
    if !write_dockerfile {
        // The repository's own Dockerfile starts the service: nothing is missing.
        missing.clear();
    }
    let needs = (!missing.is_empty()).then(|| missing.join("; "));
    let mut files = Vec::new();
    let mut plan = Vec::new();
    let mut kept = Vec::new();
    for f in generated.files {
        if f.path == provenance::PATH {
            continue;
        }
        let bytes = f.content.len();
        let ours_chart = want.chart.is_some() && f.path.starts_with(&format!("{CHART}/"));
        let exists = std::fs::symlink_metadata(want.root.join(&f.path)).is_ok();
        let docker = f.path == "Dockerfile" || f.path == ".dockerignore";
        if exists || ours_chart || (f.path == ".dockerignore" && !write_dockerfile) {
            // The repository's own (or its own chart elsewhere): never written, never upgraded.
            kept.push(f.path.clone());
            if exists {
                plan.push(FilePlan {
                    path: f.path,
                    action: "keep",
                    bytes: 0,
                    needs: None,
                });
            }
        } else if docker && needs.is_some() {
            plan.push(FilePlan {
                path: f.path,
                action: "undetermined",
                bytes: 0,
                needs: needs.clone(),
            });
        } else {
            plan.push(FilePlan {
                path: f.path.clone(),
                action: "create",
                bytes,
                needs: None,
            });
            files.push(f);
        }
    }
    let mut prov = Provenance::new(&template, &answers);
    prov.kept = kept;
    let chart = match want.chart {
        Some(c) => Some(c.to_owned()),
        None => files
            .iter()
            .any(|f| f.path == format!("{CHART}/Chart.yaml"))
            .then(|| s(CHART)),
    };
    let dockerfile = files
        .iter()
        .find(|f| f.path == "Dockerfile")
        .and_then(|f| match &f.content {
            OutContent::File { bytes, .. } => Some(crate::commands::adopt::parse_dockerfile(
                "Dockerfile",
                &String::from_utf8_lossy(bytes),
            )),
            OutContent::Link { .. } => None,
        })
        .map(|mut d| {
            let (builder, runtime) = bases(want.stack);
            d.bases = vec![
                (s("BUILDER_IMAGE"), s(builder)),
                (s("RUNTIME_IMAGE"), s(runtime)),
            ];
            d
        });
    let provenance_exists = want.root.join(provenance::PATH).exists();
    if provenance_exists {
        plan.push(FilePlan {
            path: s(provenance::PATH),
            action: "keep",
            bytes: 0,
            needs: None,
        });
    } else if !files.is_empty() {
        let text = prov.to_text().into_bytes();
        plan.push(FilePlan {
            path: s(provenance::PATH),
            action: "create",
            bytes: text.len(),
            needs: None,
        });
        files.push(OutFile {
            path: s(provenance::PATH),
            content: OutContent::File {
                bytes: text,
                executable: false,
            },
            source: String::new(),
        });
    }
    plan.sort_by(|a, b| a.path.cmp(&b.path));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Some(Scaffold {
        template: format!("{} {}", template_name, template.manifest.template.version),
        files,
        plan,
        missing,
        chart,
        dockerfile,
        port,
        notes,
    }))
}

/// The Python the catalogue's default `python` image has.
const CATALOGUE_PYTHON: (u32, u32) = (3, 12);

/// A note when pyproject.toml's `requires-python` asks for a newer Python than the
/// catalogue's default image has: the build would fail, or run on the wrong Python.
fn python_version_note(root: &Path) -> Option<String> {
    let text = fs_err::read_to_string(root.join("pyproject.toml")).ok()?;
    let doc: toml::Value = toml::from_str(&text).ok()?;
    let spec = doc.get("project")?.get("requires-python")?.as_str()?;
    let re = regex::Regex::new(r">=?\s*(\d+)\.(\d+)").expect("valid regex");
    let c = re.captures(spec)?;
    let want: (u32, u32) = (c[1].parse().ok()?, c[2].parse().ok()?);
    (want > CATALOGUE_PYTHON).then(|| {
        format!(
            "pyproject.toml requires Python {spec}: the catalogue's default `python` image has {}.{}; map `python` and `python-runtime` to an image with Python {}.{} (`lbc catalog`)",
            CATALOGUE_PYTHON.0, CATALOGUE_PYTHON.1, want.0, want.1
        )
    })
}

/// The Debian packages of the php family's Dockerfile without any `ext-*` requirement
/// (the default of `extensions` in templates/_dockerfiles/php/template.toml).
const PHP_EXTENSIONS: &str = "php8.2-cli php8.2-xml php8.2-mbstring php8.2-curl php8.2-zip php8.2-sqlite3 php8.2-pgsql php8.2-mysql php8.2-intl";

/// Extensions php8.2-cli has (compiled in or from php8.2-common and php8.2-opcache).
const PHP_BUILT_IN: &[&str] = &[
    "calendar",
    "core",
    "ctype",
    "date",
    "exif",
    "ffi",
    "fileinfo",
    "filter",
    "ftp",
    "gettext",
    "hash",
    "iconv",
    "json",
    "libxml",
    "openssl",
    "pcntl",
    "pcre",
    "pdo",
    "phar",
    "posix",
    "random",
    "readline",
    "reflection",
    "session",
    "shmop",
    "sockets",
    "sodium",
    "spl",
    "standard",
    "sysvmsg",
    "sysvsem",
    "sysvshm",
    "tokenizer",
    "zend-opcache",
    "opcache",
    "zlib",
];

/// Debian's package of an extension: its own name, or the package that ships it.
const PHP_PACKAGES: &[(&str, &str)] = &[
    ("dom", "xml"),
    ("simplexml", "xml"),
    ("xmlreader", "xml"),
    ("xmlwriter", "xml"),
    ("pdo_pgsql", "pgsql"),
    ("pdo_mysql", "mysql"),
    ("mysqli", "mysql"),
    ("mysqlnd", "mysql"),
    ("pdo_sqlite", "sqlite3"),
    ("pdo_odbc", "odbc"),
    ("pdo_dblib", "sybase"),
];

/// Extensions with a `php8.2-NAME` package in Debian bookworm (main and PECL's).
const PHP_DEBIAN: &[&str] = &[
    "amqp",
    "apcu",
    "ast",
    "bcmath",
    "bz2",
    "curl",
    "dba",
    "ds",
    "enchant",
    "gd",
    "gmp",
    "igbinary",
    "imagick",
    "imap",
    "intl",
    "ldap",
    "mailparse",
    "mbstring",
    "memcache",
    "memcached",
    "mongodb",
    "msgpack",
    "mysql",
    "odbc",
    "pgsql",
    "redis",
    "snmp",
    "soap",
    "sqlite3",
    "ssh2",
    "sybase",
    "tidy",
    "uuid",
    "xml",
    "xsl",
    "yaml",
    "zip",
    "zmq",
];

/// The packages composer.json's `ext-*` requirements add to the family's default list,
/// and the extensions lbc knows no package of.
fn php_extensions(root: &Path) -> (Vec<String>, Vec<String>) {
    let json: serde_json::Value = fs_err::read_to_string(root.join("composer.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let (mut extra, mut unknown) = (Vec::new(), Vec::new());
    let required = json.get("require").and_then(|r| r.as_object());
    for ext in required.into_iter().flat_map(|r| r.keys()).filter_map(|k| {
        k.to_ascii_lowercase()
            .strip_prefix("ext-")
            .map(str::to_owned)
    }) {
        if PHP_BUILT_IN.contains(&ext.as_str()) {
            continue;
        }
        let name = PHP_PACKAGES
            .iter()
            .find(|(e, _)| *e == ext)
            .map_or(ext.as_str(), |(_, p)| p);
        if !PHP_DEBIAN.contains(&name) {
            unknown.push(ext.clone());
            continue;
        }
        let package = format!("php8.2-{name}");
        if !PHP_EXTENSIONS.split(' ').any(|p| p == package) && !extra.contains(&package) {
            extra.push(package);
        }
    }
    extra.sort();
    unknown.sort();
    (extra, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// wagtail/bakerydemo's layout: requirements.txt -> requirements/production.txt ->
    /// base.txt (relative to the including file); a root-level constraint and a link
    /// out of the directory are reported, a URL and a parent path are not ours (#11).
    #[test]
    fn requirements_includes_give_the_directory_to_copy() {
        let d = tempfile::tempdir().unwrap();
        let w = |p: &str, t: &str| {
            let p = d.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        };
        w("requirements.txt", "-r requirements/production.txt\n");
        w(
            "requirements/production.txt",
            "-r base.txt\n--constraint=../constraints.txt\nuwsgi\n",
        );
        w(
            "requirements/base.txt",
            "-r https://example.com/r.txt\n-r ../../x.txt\nDjango\n",
        );
        w("constraints.txt", "Django<6\n");
        let (dir, uncopied) = requirements_includes(d.path(), "requirements.txt");
        assert_eq!(dir.as_deref(), Some("requirements"));
        assert_eq!(uncopied, ["constraints.txt"]);
        // A flat file includes nothing.
        w("flat.txt", "Flask==3.1.0\n");
        assert_eq!(requirements_includes(d.path(), "flat.txt"), (None, vec![]));
    }

    #[test]
    fn php_extensions_add_debians_packages_to_the_default_list() {
        let template = include_str!("../../templates/_dockerfiles/php/template.toml");
        assert!(
            template.contains(&format!("default = \"{PHP_EXTENSIONS}\"")),
            "PHP_EXTENSIONS is the template's default"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("composer.json"),
            r#"{"require": {"php": "^8.2", "ext-pdo_pgsql": "*", "ext-json": "*", "ext-GD": "*", "ext-redis": "*", "ext-bcmath": "*", "ext-frobnicate": "*"}, "require-dev": {"ext-xdebug": "*"}}"#,
        )
        .unwrap();
        let (extra, unknown) = php_extensions(dir.path());
        assert_eq!(extra, ["php8.2-bcmath", "php8.2-gd", "php8.2-redis"]);
        assert_eq!(unknown, ["frobnicate"]);
    }

    #[test]
    fn a_python_newer_than_the_catalogues_is_noted() {
        let dir = tempfile::tempdir().unwrap();
        let write = |spec: &str| {
            std::fs::write(
                dir.path().join("pyproject.toml"),
                format!("[project]\nname = \"x\"\nrequires-python = \"{spec}\"\n"),
            )
            .unwrap()
        };
        write(">=3.14,<4.0");
        let note = python_version_note(dir.path()).unwrap();
        assert!(note.contains("with Python 3.14"), "{note}");
        for fine in [">=3.10", ">=3.12", "~=3.11"] {
            write(fine);
            assert_eq!(python_version_note(dir.path()), None, "{fine}");
        }
    }
}
