//! `lbc fleet status` and `lbc fleet upgrade` (issue #15), on a fleet of real git
//! repositories behind bare remotes reached over file:// URLs: generated from three
//! versions of a git template and two versions of the built-in python stack, with local
//! edits of every kind, a few repositories that are not lbc projects, one left with
//! conflicts by an earlier `lbc upgrade`, one adopted with an old lbc.toml schema, and an
//! unreachable remote.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::support::{git_in, Lbc, Project};

fn git(dir: &Path, args: &[&str]) -> String {
    git_in(dir, args)
}

fn w(dir: &Path, rel: &str, bytes: &[u8]) {
    let f = dir.join(rel);
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(f, bytes).unwrap();
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// lbc with a git identity for the commits it makes, and no user configuration.
fn lbc(dir: &Path) -> Lbc {
    Lbc::new()
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "platform bot")
        .env("GIT_AUTHOR_EMAIL", "bot@lbc.invalid")
        .env("GIT_COMMITTER_NAME", "platform bot")
        .env("GIT_COMMITTER_EMAIL", "bot@lbc.invalid")
}

const LOGO_V1: &[u8] = b"\0\x01\x02 v1";
const LOGO_V2: &[u8] = b"\0\x01\x02 v2";
const LOGO_LOCAL: &[u8] = b"\0\x01\x02 local";

/// The platform team's git template, tagged v1.0.0, v1.1.0 and v1.2.0.
fn git_template(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    let manifest = |v: &str| {
        format!("[template]\nname = \"acme\"\nversion = \"{v}\"\n\n[variables.name]\ndefault = \"svc\"\n")
    };
    w(dir, "template.toml", manifest("1.0.0").as_bytes());
    w(dir, "lbc.toml.jinja", b"schema = 1\n\n[project]\nname = \"{{ name }}\"\n\n[env.staging]\ncontext = \"nonprod\"\nnamespace = \"{{ name }}-staging\"\n");
    w(dir, "notes.md", b"one\ntwo\nthree\nfour\nfive\nsix\n");
    w(
        dir,
        "config/app.yaml",
        b"port: 8080\nlog: info\nreplicas: 1\n",
    );
    w(
        dir,
        "docs/old-name.md",
        b"# Guide\n\nstep 1\nstep 2\nstep 3\nstep 4\n",
    );
    w(dir, "legacy.sh", b"#!/bin/sh\necho legacy\n");
    w(dir, "logo.bin", LOGO_V1);
    w(
        dir,
        "CONTRIBUTING.md",
        b"# Contributing\n\nopen a merge request\n",
    );
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "v1.0.0"]);
    git(dir, &["tag", "v1.0.0"]);
    // v1.1.0: edits, a rename found by content, a removal, a binary change, an addition.
    w(dir, "template.toml", manifest("1.1.0").as_bytes());
    w(
        dir,
        "notes.md",
        b"one\ntwo\nthree\nfour\nfive\nSIX (template)\n",
    );
    w(
        dir,
        "config/app.yaml",
        b"port: 8080\nlog: warn\nreplicas: 1\n",
    );
    git(dir, &["mv", "docs/old-name.md", "docs/guide.md"]);
    w(
        dir,
        "docs/guide.md",
        b"# Guide\n\nstep 1\nstep 2\nstep 3\nstep 4\nstep 5\n",
    );
    git(dir, &["rm", "-q", "legacy.sh"]);
    w(dir, "logo.bin", LOGO_V2);
    w(dir, "added.md", b"new in 1.1.0\n");
    w(
        dir,
        "CONTRIBUTING.md",
        b"# Contributing\n\nopen a merge request with a changelog entry\n",
    );
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "v1.1.0"]);
    git(dir, &["tag", "v1.1.0"]);
    // v1.2.0: the new lbc.toml schema, a CI file.
    w(dir, "template.toml", manifest("1.2.0").as_bytes());
    w(dir, "lbc.toml.jinja", b"schema = 2\n\n[project]\nname = \"{{ name }}\"\n\n[env.staging]\nkind = \"kubernetes\"\ncontext = \"nonprod\"\nnamespace = \"{{ name }}-staging\"\n");
    w(dir, "ci.yml", b"stages: [test]\n");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "v1.2.0"]);
    git(dir, &["tag", "v1.2.0"]);
    // Neither a release nor newer: never taken for the newest version.
    git(dir, &["tag", "v2.0.0-rc.1"]);
    git(dir, &["tag", "experimental"]);
}

/// A local edit, and the drift it makes against the recorded version's rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edit {
    /// notes.md, a line the template does not change (merged).
    Notes,
    /// config/app.yaml, the line the template changes (a conflict).
    Overlap,
    /// logo.bin, changed on both sides (a binary conflict).
    Binary,
    /// docs/old-name.md, edited; the template renames it.
    RenamedAndChanged,
    /// CONTRIBUTING.md deleted; the template changes it (stays deleted).
    Delete,
    /// legacy.sh edited; the template removes it (kept).
    RemovedChanged,
    /// A file of the repository's own: not drift.
    OwnFile,
    /// lbc.toml, a comment at the end.
    TomlComment,
    // The python stack:
    /// README.md, a section appended (merged).
    PyReadme,
    /// Dockerfile, the HEALTHCHECK line the stack changes (a conflict).
    PyDockerfile,
    /// requirements.txt deleted.
    PyDelete,
    /// tests/test_app.py edited; the stack renames it.
    PyRenamed,
    /// healthcheck.py edited; the stack removes it.
    PyRemovedChanged,
}

impl Edit {
    fn apply(self, repo: &Path) {
        let append = |rel: &str, text: &str| {
            let old = read(repo, rel);
            w(repo, rel, format!("{old}{text}").as_bytes());
        };
        match self {
            Edit::Notes => {
                let t = read(repo, "notes.md").replacen("one\n", "one (local)\n", 1);
                w(repo, "notes.md", t.as_bytes());
            }
            Edit::Overlap => w(
                repo,
                "config/app.yaml",
                b"port: 8080\nlog: debug\nreplicas: 1\n",
            ),
            Edit::Binary => w(repo, "logo.bin", LOGO_LOCAL),
            Edit::RenamedAndChanged => w(
                repo,
                "docs/old-name.md",
                b"# Guide (ours)\n\nstep 1\nstep 2\nstep 3\nstep 4\n",
            ),
            Edit::Delete => std::fs::remove_file(repo.join("CONTRIBUTING.md")).unwrap(),
            Edit::RemovedChanged => append("legacy.sh", "echo local\n"),
            Edit::OwnFile => w(repo, "src/main.py", b"print('ours')\n"),
            Edit::TomlComment => append("lbc.toml", "\n# owned by team-a\n"),
            Edit::PyReadme => append("README.md", "\n## Our notes\n\nOn call: team-a.\n"),
            Edit::PyDockerfile => {
                let d = read(repo, "Dockerfile").replace("--interval=10s", "--interval=30s");
                w(repo, "Dockerfile", d.as_bytes());
            }
            Edit::PyDelete => std::fs::remove_file(repo.join("requirements.txt")).unwrap(),
            Edit::PyRenamed => append("tests/test_app.py", "\n# local: more tests soon\n"),
            Edit::PyRemovedChanged => append("healthcheck.py", "# local tweak\n"),
        }
    }

    /// (path, change) in the drift report, if any.
    fn drift(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Edit::Notes => ("notes.md", "modified"),
            Edit::Overlap => ("config/app.yaml", "modified"),
            Edit::Binary => ("logo.bin", "modified"),
            Edit::RenamedAndChanged => ("docs/old-name.md", "modified"),
            Edit::Delete => ("CONTRIBUTING.md", "deleted"),
            Edit::RemovedChanged => ("legacy.sh", "modified"),
            Edit::OwnFile => return None,
            Edit::TomlComment => ("lbc.toml", "modified"),
            Edit::PyReadme => ("README.md", "modified"),
            Edit::PyDockerfile => ("Dockerfile", "modified"),
            Edit::PyDelete => ("requirements.txt", "deleted"),
            Edit::PyRenamed => ("tests/test_app.py", "modified"),
            Edit::PyRemovedChanged => ("healthcheck.py", "modified"),
        })
    }

    /// The conflicted path an upgrade to the newest version leaves, if any.
    fn conflict(self) -> Option<&'static str> {
        match self {
            Edit::Overlap => Some("config/app.yaml"),
            Edit::Binary => Some("logo.bin"),
            Edit::PyDockerfile => Some("Dockerfile"),
            // 1.2.0 (#11) rewrote the renamed test module (pytest): the local edit of the
            // old name overlaps.
            Edit::PyRenamed => Some("tests/test_service.py"),
            _ => None,
        }
    }
}

/// One repository of the fleet, as the test made it.
struct Made {
    name: String,
    /// What fleet.toml lists: a file:// URL, or a local path.
    entry: String,
    /// The bare remote (None for local repositories).
    remote: Option<PathBuf>,
    /// Template, recorded version and edits (None: not an lbc project).
    lbc: Option<(&'static str, &'static str, Vec<Edit>)>,
}

fn generate(root: &Path, name: &str, init: &[&str], edits: &[Edit]) -> PathBuf {
    let mut args = vec!["init", name, "--yes"];
    args.extend_from_slice(init);
    lbc(root).args(&args).run().success();
    let dir = root.join(name);
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "generated"]);
    for e in edits {
        e.apply(&dir);
    }
    if !edits.is_empty() {
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-q", "-m", "local edits"]);
    }
    dir
}

/// A bare remote for a working repository, reached by a file:// URL.
fn publish(root: &Path, dir: &Path, name: &str) -> (PathBuf, String) {
    let bare = root.join("remotes").join(format!("{name}.git"));
    std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            &dir.display().to_string(),
            &bare.display().to_string(),
        ],
    );
    let url = format!("file://{}", bare.display());
    (bare, url)
}

struct Fleet {
    _tmp: Project,
    root: PathBuf,
    tpl: PathBuf,
    made: Vec<Made>,
}

fn build_fleet() -> Fleet {
    let tmp = Project::empty();
    let root = tmp.path().to_owned();
    let tpl = root.join("template");
    git_template(&tpl);
    let tpl_s = tpl.display().to_string();
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    use Edit::*;
    let acme: Vec<(&str, Vec<Edit>)> = vec![
        ("v1.0.0", vec![]),
        ("v1.0.0", vec![Notes]),
        ("v1.0.0", vec![Overlap]),
        ("v1.0.0", vec![Binary]),
        ("v1.0.0", vec![RenamedAndChanged]),
        ("v1.0.0", vec![Delete]),
        ("v1.0.0", vec![RemovedChanged]),
        ("v1.0.0", vec![OwnFile]),
        ("v1.0.0", vec![TomlComment]),
        ("v1.0.0", vec![Notes, Delete, OwnFile]),
        ("v1.0.0", vec![Overlap, Binary]),
        (
            "v1.0.0",
            vec![Notes, RenamedAndChanged, TomlComment, RemovedChanged],
        ),
        ("v1.1.0", vec![]),
        ("v1.1.0", vec![Notes]),
        ("v1.1.0", vec![Delete, OwnFile]),
        ("v1.1.0", vec![TomlComment]),
        ("v1.2.0", vec![]),
        ("v1.2.0", vec![Notes]),
        ("v1.2.0", vec![OwnFile]),
    ];
    let python: Vec<(&str, Vec<Edit>)> = vec![
        ("1.0.0", vec![]),
        ("1.0.0", vec![PyReadme]),
        ("1.0.0", vec![PyDockerfile]),
        ("1.0.0", vec![PyDelete]),
        ("1.0.0", vec![PyRenamed]),
        ("1.0.0", vec![PyRemovedChanged, PyReadme]),
        ("1.1.0", vec![]),
        ("1.1.0", vec![PyReadme]),
    ];
    let mut made = Vec::new();
    for (i, (v, edits)) in acme.into_iter().enumerate() {
        let name = format!("acme-{i:02}");
        let dir = generate(
            &work,
            &name,
            &["--template", &tpl_s, "--template-version", v],
            &edits,
        );
        let (bare, url) = publish(&root, &dir, &name);
        made.push(Made {
            name,
            entry: url,
            remote: Some(bare),
            lbc: Some(("acme", v.trim_start_matches('v'), edits)),
        });
    }
    for (i, (v, edits)) in python.into_iter().enumerate() {
        let name = format!("py-{i:02}");
        let dir = generate(
            &work,
            &name,
            &[
                "--stack",
                "python",
                "--template-version",
                v,
                "--set",
                "ci=none",
            ],
            &edits,
        );
        let (bare, url) = publish(&root, &dir, &name);
        made.push(Made {
            name,
            entry: url,
            remote: Some(bare),
            lbc: Some(("python", v, edits)),
        });
    }
    // Not lbc projects: a plain repository, one with only a Dockerfile, an empty one.
    for (name, files) in [
        ("plain", vec![("README.md", "# a library\n")]),
        ("docker-only", vec![("Dockerfile", "FROM scratch\n")]),
    ] {
        let dir = work.join(name);
        for (p, c) in files {
            w(&dir, p, c.as_bytes());
        }
        git(&dir, &["init", "-q", "-b", "main"]);
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-q", "-m", "x"]);
        let (bare, url) = publish(&root, &dir, name);
        made.push(Made {
            name: name.to_owned(),
            entry: url,
            remote: Some(bare),
            lbc: None,
        });
    }
    let empty = root.join("remotes/empty.git");
    std::fs::create_dir_all(&empty).unwrap();
    git(&empty, &["init", "-q", "--bare", "-b", "main"]);
    made.push(Made {
        name: "empty".into(),
        entry: format!("file://{}", empty.display()),
        remote: Some(empty),
        lbc: None,
    });
    // A local working copy where an earlier `lbc upgrade` left conflicts (not resolved).
    let stuck = generate(
        &work,
        "stuck",
        &["--template", &tpl_s, "--template-version", "v1.0.0"],
        &[Edit::Overlap, Edit::Binary],
    );
    lbc(&stuck)
        .args(["upgrade", "--to", "v1.1.0"])
        .run()
        .code_is(3);
    made.push(Made {
        name: "stuck".into(),
        entry: stuck.display().to_string(),
        remote: None,
        lbc: Some(("acme", "1.1.0", vec![])),
    });
    // An adopted repository: no template, lbc.toml at schema 1.
    let adopted = work.join("adopted");
    w(
        &adopted,
        "lbc.toml",
        b"schema = 1\n\n[project]\nname = \"adopted\"\n\n[env.staging]\ncontext = \"nonprod\"\n",
    );
    git(&adopted, &["init", "-q", "-b", "main"]);
    git(&adopted, &["add", "-A"]);
    git(&adopted, &["commit", "-q", "-m", "x"]);
    let (bare, url) = publish(&root, &adopted, "adopted");
    made.push(Made {
        name: "adopted".into(),
        entry: url,
        remote: Some(bare),
        lbc: None,
    });
    Fleet {
        _tmp: tmp,
        root,
        tpl,
        made,
    }
}

fn write_fleet_toml(f: &Fleet, extra: &str) -> PathBuf {
    let mut repos: Vec<String> = f.made.iter().map(|m| format!("  {:?},", m.entry)).collect();
    repos.push(format!(
        "  {:?},",
        format!("file://{}/remotes/gone.git", f.root.display())
    ));
    let text = format!(
        "jobs = 3\ncache = \"cache\"\n{extra}\nrepos = [\n{}\n]\n",
        repos.join("\n")
    );
    let path = f.root.join("fleet.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn rows(doc: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    doc["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

fn ls_tree(bare: &Path, rev: &str) -> BTreeSet<String> {
    git(bare, &["ls-tree", "-r", "--name-only", rev])
        .lines()
        .map(str::to_owned)
        .collect()
}

fn show(bare: &Path, rev: &str, path: &str) -> Vec<u8> {
    let out = std::process::Command::new("git")
        .args(["show", &format!("{rev}:{path}")])
        .current_dir(bare)
        .output()
        .unwrap();
    assert!(out.status.success(), "git show {rev}:{path}");
    out.stdout
}

#[test]
fn a_fleet_of_thirty_repositories() {
    let f = build_fleet();
    assert!(f.made.len() >= 30, "{} repositories", f.made.len());
    write_fleet_toml(&f, "");

    // --- status: every figure checked against what the repository holds -----------
    let run = lbc(&f.root)
        .args(["fleet", "status", "--output", "json"])
        .run()
        .code_is(1)
        .stderr_has("1 of 33 repositories could not be read: gone");
    let doc = run.json();
    assert_eq!(doc["report_version"], 1);
    let by = rows(&doc);
    assert_eq!(by.len(), f.made.len() + 1);
    assert_eq!(by["gone"]["state"], "unreachable");
    assert!(by["gone"]["error"].as_str().unwrap().contains("gone.git"));
    for m in &f.made {
        let r = &by[&m.name];
        match (&m.lbc, m.name.as_str()) {
            (None, "adopted") => {
                assert_eq!(r["state"], "ok", "{r}");
                assert!(r["template"].is_null());
                assert_eq!(r["schema"], 1);
                assert_eq!(r["schema_current"], false);
                assert_eq!(r["up_to_date"], false);
            }
            (None, _) => {
                assert_eq!(r["state"], "not-lbc", "{}: {r}", m.name);
                assert!(r["template"].is_null());
            }
            (Some((template, version, edits)), _) => {
                assert_eq!(r["state"], "ok", "{}: {r}", m.name);
                let t = &r["template"];
                assert_eq!(t["name"], *template);
                assert_eq!(t["version"], *version);
                let (newest, behind) = match (*template, *version) {
                    ("acme", "1.0.0") => ("1.2.0", 2),
                    ("acme", "1.1.0") => ("1.2.0", 1),
                    ("acme", _) => ("1.2.0", 0),
                    // python 1.3.0 (#11: the family's Dockerfile) is the newest built-in
                    // release.
                    ("python", "1.0.0") => ("1.3.0", 3),
                    _ => ("1.3.0", 2),
                };
                assert_eq!(t["newest"], newest, "{}", m.name);
                assert_eq!(t["behind"], behind, "{}", m.name);
                if m.name == "stuck" {
                    // An upgrade to 1.1.0 ran in its working copy (and moved lbc.toml to
                    // the current schema); its conflicts are checked below.
                    continue;
                }
                let acme_old = *template == "acme" && *version != "1.2.0";
                assert_eq!(r["schema"], if acme_old { 1 } else { 2 }, "{}", m.name);
                assert_eq!(r["up_to_date"], behind == 0 && !acme_old, "{}", m.name);
                let want: BTreeSet<(String, String)> = edits
                    .iter()
                    .filter_map(|e| e.drift())
                    .map(|(p, c)| (p.to_owned(), c.to_owned()))
                    .collect();
                let got: BTreeSet<(String, String)> = r["drift"]["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| {
                        (
                            d["path"].as_str().unwrap().to_owned(),
                            d["change"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect();
                assert_eq!(got, want, "drift of {}", m.name);
                assert_eq!(r["drift"]["count"], want.len());
                assert_eq!(r["conflicts"]["count"], 0, "{}", m.name);
                assert_eq!(r["location"], "remote");
                assert_eq!(r["branch"], "main");
                assert_eq!(r["proposals"], serde_json::json!([]));
                let bare = m.remote.as_ref().unwrap();
                assert_eq!(r["commit"], git(bare, &["rev-parse", "main"]));
            }
        }
    }
    // The repository an earlier upgrade left with conflicts: markers, unmerged entries
    // in the index, and the template's binary beside the local one.
    let stuck = &by["stuck"];
    assert_eq!(stuck["location"], "local");
    assert_eq!(stuck["dirty"], true);
    let conflicts: BTreeMap<String, Vec<String>> = stuck["conflicts"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap().to_owned(),
                c["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        conflicts,
        BTreeMap::from([
            (
                "config/app.yaml".to_owned(),
                vec!["unmerged".to_owned(), "markers".to_owned()]
            ),
            (
                "logo.bin".to_owned(),
                vec!["unmerged".to_owned(), "lbc-new".to_owned()]
            ),
        ])
    );
    let s = &doc["summary"];
    assert_eq!(s["repositories"], 33);
    assert_eq!(s["not_lbc"], 3);
    assert_eq!(s["unreachable"], 1);
    assert_eq!(s["conflicted"], 1);

    // The table and the Markdown report say the same.
    let table = lbc(&f.root).args(["fleet", "status"]).run().code_is(1);
    let out = table.stdout();
    let line = out.lines().find(|l| l.starts_with("acme-10 ")).unwrap();
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        cells,
        ["acme-10", "acme", "1.0.0", "1.2.0", "2", "1", "(old)", "2", "0"]
    );
    assert!(
        out.contains("plain ") && out.contains("not an lbc project"),
        "{out}"
    );
    assert!(out.contains("unreachable: "), "{out}");
    let md = lbc(&f.root)
        .args(["fleet", "status", "--format", "markdown"])
        .run()
        .code_is(1);
    md.stdout_has("# Fleet status")
        .stdout_has("| acme-10 | acme | 1.0.0 | 1.2.0 | 2 | 1 (old) | 2 | 0 |")
        .stdout_has("## stuck")
        .stdout_has("- **conflict** config/app.yaml (unmerged, markers)");

    // --fail-on-behind: 7 when a repository is that far behind, whatever else.
    lbc(&f.root)
        .args(["fleet", "status", "--fail-on-behind", "2"])
        .run()
        .code_is(7)
        // The python ones too: 1.0.0 and 1.1.0 are 3 and 2 behind 1.3.0 (#11).
        .stderr_has("20 of 33 repositories are 2 or more versions behind their template: acme-00,");
    lbc(&f.root)
        .args(["fleet", "status", "--fail-on-behind", "3", "acme-none"])
        .run()
        .code_is(1);
    let only_current: Vec<String> = f
        .made
        .iter()
        .filter(|m| {
            m.name.starts_with("acme-1")
                && ["acme-16", "acme-17", "acme-18"].contains(&m.name.as_str())
        })
        .map(|m| m.entry.clone())
        .collect();
    let mut args = vec!["fleet", "status", "--fail-on-behind", "1", "--cache"];
    let cache = f.root.join("cache").display().to_string();
    args.push(&cache);
    args.extend(only_current.iter().map(String::as_str));
    lbc(&f.root).args(&args).run().success();

    // --- upgrade: dry run first, nothing changes ---------------------------------------
    let heads: BTreeMap<String, String> = f
        .made
        .iter()
        .filter_map(|m| {
            let bare = m.remote.as_ref()?;
            Some((
                m.name.clone(),
                git(bare, &["for-each-ref", "--format=%(refname) %(objectname)"]),
            ))
        })
        .collect();
    let mr_log = f.root.join("mr");
    std::fs::create_dir_all(&mr_log).unwrap();
    write_fleet_toml(
        &f,
        &format!(
            "open_mr = [\"sh\", \"-c\", \"printf '%s\\\\n' \\\"$@\\\" > \\\"$0\\\"\", {:?}, \"{{branch}}\", \"{{default_branch}}\", \"{{title}}\", \"{{conflicts}}\"]",
            format!("{}/{{repo}}.args", mr_log.display())
        ),
    );
    let dry = lbc(&f.root)
        .args(["fleet", "upgrade", "--dry-run", "--output", "json"])
        .run()
        .code_is(1);
    let dry_rows = rows(&dry.json());
    assert_eq!(dry_rows["acme-02"]["outcome"], "proposed-with-conflicts");
    assert_eq!(dry_rows["acme-02"]["branch"], "lbc/upgrade-1.2.0");
    assert!(
        dry_rows["acme-02"]["plan"]["steps"]
            .as_array()
            .unwrap()
            .len()
            == 6
    );
    for m in &f.made {
        if let Some(bare) = &m.remote {
            assert_eq!(
                git(bare, &["for-each-ref", "--format=%(refname) %(objectname)"]),
                heads[&m.name],
                "--dry-run changed {}",
                m.name
            );
        }
    }
    assert_eq!(std::fs::read_dir(&mr_log).unwrap().count(), 0);

    // --- upgrade for real ---------------------------------------------------------------
    let up = lbc(&f.root)
        .args(["fleet", "upgrade", "--output", "json"])
        .run()
        .code_is(1)
        .stderr_has("1 of 33 repositories failed: gone (unreachable:");
    let up_rows = rows(&up.json());
    let fresh_dir = f.root.join("fresh");
    std::fs::create_dir_all(&fresh_dir).unwrap();
    let fresh = generate(
        &fresh_dir,
        "svc",
        &[
            "--template",
            &f.tpl.display().to_string(),
            "--template-version",
            "v1.2.0",
        ],
        &[],
    );
    let fresh_py = generate(
        &fresh_dir,
        "py-00",
        &["--stack", "python", "--set", "ci=none"],
        &[],
    );
    for m in &f.made {
        let r = &up_rows[&m.name];
        let Some(bare) = &m.remote else {
            // Local repositories: the branch is made in place, not pushed.
            // From its committed state (v1.0.0 with two edits that conflict).
            assert_eq!(r["outcome"], "proposed-with-conflicts", "{r}");
            assert_eq!(r["pushed"], false);
            assert_eq!(r["merge_request"], serde_json::Value::Null);
            continue;
        };
        // The default branch is never touched.
        let main_before = heads[&m.name]
            .lines()
            .find(|l| l.starts_with("refs/heads/main "))
            .map(str::to_owned);
        let main_after = git(
            bare,
            &[
                "for-each-ref",
                "--format=%(refname) %(objectname)",
                "refs/heads/main",
            ],
        );
        assert_eq!(main_before.unwrap_or_default(), main_after, "{}", m.name);
        let Some((template, version, edits)) = &m.lbc else {
            if m.name == "adopted" {
                assert_eq!(r["outcome"], "proposed", "{r}");
                assert_eq!(r["branch"], "lbc/upgrade-schema-2");
                let toml =
                    String::from_utf8(show(bare, "lbc/upgrade-schema-2", "lbc.toml")).unwrap();
                assert!(
                    toml.starts_with("schema = 2\n") && toml.contains("kind = \"kubernetes\""),
                    "{toml}"
                );
            } else {
                assert_eq!(r["outcome"], "skipped", "{r}");
                assert_eq!(
                    r["reason"]
                        .as_str()
                        .unwrap()
                        .split(' ')
                        .take(3)
                        .collect::<Vec<_>>(),
                    ["not", "an", "lbc"]
                );
            }
            continue;
        };
        // acme's newest tag, and python's newest release (#11)
        let newest = if *template == "acme" {
            "1.2.0"
        } else {
            "1.3.0"
        };
        if *version == newest {
            assert_eq!(r["outcome"], "skipped", "{}: {r}", m.name);
            assert_eq!(r["reason"], "up to date");
            assert_eq!(git(bare, &["branch", "--list", "lbc/*"]), "");
            continue;
        }
        let branch = format!("lbc/upgrade-{newest}");
        let want_conflicts: Vec<&str> = {
            let mut c: Vec<&str> = edits.iter().filter_map(|e| e.conflict()).collect();
            c.sort();
            c
        };
        assert_eq!(
            r["outcome"],
            if want_conflicts.is_empty() {
                "proposed"
            } else {
                "proposed-with-conflicts"
            },
            "{}: {r}",
            m.name
        );
        assert_eq!(r["branch"], branch.as_str());
        assert_eq!(r["pushed"], true);
        assert_eq!(r["merge_request"], "opened");
        assert_eq!(
            r["conflicts"],
            serde_json::json!(want_conflicts),
            "{}",
            m.name
        );
        // The pushed branch: one commit on top of main, its message listing the conflicts.
        assert_eq!(
            git(bare, &["rev-parse", &format!("{branch}~1")]),
            git(bare, &["rev-parse", "main"])
        );
        let msg = git(bare, &["log", "-1", "--format=%B", &branch]);
        assert!(
            msg.starts_with(&format!("lbc upgrade: {template} {version} -> {newest}")),
            "{msg}"
        );
        for c in &want_conflicts {
            assert!(msg.contains(&format!("  - {c}")), "{}: {msg}", m.name);
        }
        assert_eq!(r["commit"], git(bare, &["rev-parse", &branch]));
        // The merge request command got its arguments, each one whole.
        let args = read(&mr_log, &format!("{}.args", m.name));
        let title = format!(
            "lbc upgrade: {template} {version} -> {newest}{}",
            if want_conflicts.is_empty() {
                ""
            } else {
                " (conflicts to resolve)"
            }
        );
        assert_eq!(
            args,
            format!("{branch}\nmain\n{title}\n{}\n", want_conflicts.len())
        );
        // The tree on the branch.
        let files = ls_tree(bare, &branch);
        // A fresh rendering under the repository's own name (the name is in its files).
        let fresh_named;
        let fresh_for = if *template == "acme" {
            &fresh
        } else if m.name == "py-00" {
            &fresh_py
        } else {
            fresh_named = generate(
                &fresh_dir,
                &m.name,
                &["--stack", "python", "--set", "ci=none"],
                &[],
            );
            &fresh_named
        };
        if edits.is_empty() {
            let want: BTreeSet<String> = crate::init_support::tree(fresh_for)
                .into_keys()
                .filter(|p| !p.starts_with(".git/"))
                .collect();
            assert_eq!(files, want, "{}", m.name);
            for p in &files {
                assert_eq!(
                    show(bare, &branch, p),
                    std::fs::read(fresh_for.join(p)).unwrap(),
                    "{}: {p}",
                    m.name
                );
            }
            continue;
        }
        for e in edits {
            match e {
                Edit::Notes => assert_eq!(
                    show(bare, &branch, "notes.md"),
                    b"one (local)\ntwo\nthree\nfour\nfive\nSIX (template)\n"
                ),
                Edit::Overlap => {
                    let t = String::from_utf8(show(bare, &branch, "config/app.yaml")).unwrap();
                    assert!(
                        t.contains("<<<<<<< local\n")
                            && t.contains("log: debug")
                            && t.contains("log: warn")
                            && t.contains(">>>>>>> template 1.2.0\n"),
                        "{t}"
                    );
                }
                Edit::Binary => {
                    assert_eq!(show(bare, &branch, "logo.bin"), LOGO_LOCAL);
                    assert_eq!(show(bare, &branch, "logo.bin.lbc-new"), LOGO_V2);
                }
                Edit::RenamedAndChanged => {
                    assert!(!files.contains("docs/old-name.md"));
                    assert_eq!(
                        show(bare, &branch, "docs/guide.md"),
                        b"# Guide (ours)\n\nstep 1\nstep 2\nstep 3\nstep 4\nstep 5\n"
                    );
                }
                Edit::Delete => assert!(!files.contains("CONTRIBUTING.md")),
                Edit::RemovedChanged => assert_eq!(
                    show(bare, &branch, "legacy.sh"),
                    b"#!/bin/sh\necho legacy\necho local\n"
                ),
                Edit::OwnFile => assert_eq!(show(bare, &branch, "src/main.py"), b"print('ours')\n"),
                Edit::TomlComment => {
                    let t = String::from_utf8(show(bare, &branch, "lbc.toml")).unwrap();
                    assert!(
                        t.starts_with("schema = 2\n")
                            && t.ends_with("\n# owned by team-a\n")
                            && t.contains("kind = \"kubernetes\""),
                        "{t}"
                    );
                }
                Edit::PyReadme => {
                    let t = String::from_utf8(show(bare, &branch, "README.md")).unwrap();
                    assert!(t.ends_with("\n## Our notes\n\nOn call: team-a.\n"), "{t}");
                }
                Edit::PyDockerfile => {
                    let t = String::from_utf8(show(bare, &branch, "Dockerfile")).unwrap();
                    assert!(
                        t.contains("<<<<<<< local\n") && t.contains("--interval=30s"),
                        "{t}"
                    );
                }
                Edit::PyDelete => assert!(!files.contains("requirements.txt")),
                Edit::PyRenamed => {
                    assert!(!files.contains("tests/test_app.py"));
                    let t =
                        String::from_utf8(show(bare, &branch, "tests/test_service.py")).unwrap();
                    // Carried over to the new name, in conflict with 1.2.0's rewrite.
                    assert!(
                        t.contains("<<<<<<< local\n") && t.contains("# local: more tests soon\n"),
                        "{t}"
                    );
                }
                Edit::PyRemovedChanged => {
                    assert!(String::from_utf8(show(bare, &branch, "healthcheck.py"))
                        .unwrap()
                        .ends_with("# local tweak\n"))
                }
            }
        }
        // Every provenance moved to the new version.
        let prov = String::from_utf8(show(bare, &branch, ".lbc/template.toml")).unwrap();
        assert!(prov.contains(&format!("version = \"{newest}\"")), "{prov}");
    }
    // The local repository keeps its working copy as it was; the branch is beside it.
    let stuck_dir = f.root.join("work/stuck");
    assert!(git(&stuck_dir, &["status", "--porcelain"]).contains("UU config/app.yaml"));
    assert_eq!(
        git(&stuck_dir, &["branch", "--list", "lbc/*"]),
        "lbc/upgrade-1.2.0"
    );
    assert_eq!(git(&stuck_dir, &["worktree", "list"]).lines().count(), 1);

    // --- again: every proposal exists already, nothing is pushed over it -----------------
    let again = lbc(&f.root)
        .args(["fleet", "upgrade", "--output", "json"])
        .run()
        .code_is(1);
    let again_rows = rows(&again.json());
    assert_eq!(again_rows["acme-02"]["outcome"], "skipped");
    assert!(again_rows["acme-02"]["reason"]
        .as_str()
        .unwrap()
        .contains("exists already"));

    // --- the status of a proposal branch shows the conflicts it carries ------------------
    let acme02 = f.made.iter().find(|m| m.name == "acme-10").unwrap();
    std::fs::write(
        f.root.join("branch.toml"),
        format!(
            "cache = \"cache\"\nrepos = [{{ url = {:?}, name = \"acme-10-proposal\", branch = \"lbc/upgrade-1.2.0\" }}]\n",
            acme02.entry
        ),
    )
    .unwrap();
    let st = lbc(&f.root)
        .args([
            "fleet",
            "status",
            "--fleet",
            "branch.toml",
            "--output",
            "json",
        ])
        .run()
        .success();
    let r = &rows(&st.json())["acme-10-proposal"];
    assert_eq!(r["template"]["version"], "1.2.0");
    assert_eq!(r["template"]["behind"], 0);
    assert_eq!(r["proposals"], serde_json::json!(["lbc/upgrade-1.2.0"]));
    assert_eq!(r["conflicts"]["count"], 2, "{r}");
    assert_eq!(
        r["conflicts"]["files"][0]["reasons"],
        serde_json::json!(["markers"])
    );
    assert_eq!(
        r["conflicts"]["files"][1]["reasons"],
        serde_json::json!(["lbc-new"])
    );
}

#[test]
fn fleet_toml_errors_name_the_line() {
    let p = Project::with(&[(
        "fleet.toml",
        "repos = [\"a\"]\nopen_mr = [\"glab\", \"mr\", \"create\", \"{nope}\"]\n",
    )]);
    lbc(p.path())
        .args(["fleet", "status"])
        .run()
        .code_is(2)
        .stderr_has("unknown placeholder `{nope}`")
        .stderr_has("fleet.toml:2:");
    let empty = Project::empty();
    lbc(empty.path())
        .args(["fleet", "status"])
        .run()
        .code_is(2)
        .stderr_has("no repositories");
}

#[test]
fn a_placeholder_never_becomes_an_option() {
    let f = Project::empty();
    let tpl = f.path().join("tpl");
    git_template(&tpl);
    let dir = generate(
        f.path(),
        "svc",
        &[
            "--template",
            &tpl.display().to_string(),
            "--template-version",
            "v1.1.0",
        ],
        &[],
    );
    let (bare, url) = publish(f.path(), &dir, "svc");
    // {version} alone as an argument is fine ("1.2.0"); {repo} named "-svc" would not be.
    std::fs::write(
        f.path().join("fleet.toml"),
        format!("cache = \"c\"\nopen_mr = [\"true\", \"{{repo}}\"]\nrepos = [{{ url = {url:?}, name = \"-svc\" }}]\n"),
    )
    .unwrap();
    lbc(f.path())
        .args(["fleet", "upgrade"])
        .run()
        .code_is(1)
        .stdout_has("would start with `-`");
    assert_eq!(
        git(&bare, &["branch", "--list"]),
        "* main",
        "nothing was made"
    );
    // A merge request command that fails: the branch is pushed, the failure reported.
    std::fs::write(
        f.path().join("fleet.toml"),
        format!("cache = \"c\"\nopen_mr = [\"false\"]\nrepos = [{url:?}]\n"),
    )
    .unwrap();
    let run = lbc(f.path())
        .args(["fleet", "upgrade", "--output", "json"])
        .run()
        .code_is(1)
        .stderr_has("1 of 1 repositories failed: svc");
    let r = &rows(&run.json())["svc"];
    assert_eq!(r["outcome"], "failed");
    assert_eq!(r["pushed"], true);
    assert_eq!(r["merge_request"], "failed");
    assert_eq!(
        git(&bare, &["branch", "--list"]),
        "lbc/upgrade-1.2.0\n* main"
    );
}

#[test]
fn to_a_given_release_and_never_down() {
    let f = Project::empty();
    let tpl = f.path().join("tpl");
    git_template(&tpl);
    let tpl_s = tpl.display().to_string();
    let old = generate(
        f.path(),
        "old",
        &["--template", &tpl_s, "--template-version", "v1.0.0"],
        &[Edit::Notes],
    );
    let new = generate(
        f.path(),
        "new",
        &["--template", &tpl_s, "--template-version", "v1.2.0"],
        &[],
    );
    let (old_bare, old_url) = publish(f.path(), &old, "old");
    let (new_bare, new_url) = publish(f.path(), &new, "new");
    let run = |to: &str| {
        lbc(f.path())
            .args([
                "fleet", "upgrade", "--cache", "c", "--to", to, "--output", "json", &old_url,
                &new_url,
            ])
            .run()
    };
    // No such release: both skipped, nothing pushed.
    let r = rows(&run("9.9.9").success().json());
    assert_eq!(r["old"]["outcome"], "skipped");
    assert_eq!(r["old"]["reason"], "template `acme` has no release 9.9.9");
    // v1.1.0 for the old one; the new one is past it: no downgrade.
    let r = rows(&run("v1.1.0").success().json());
    assert_eq!(r["old"]["outcome"], "proposed", "{}", r["old"]);
    assert_eq!(r["old"]["to"], "1.1.0");
    assert_eq!(r["new"]["outcome"], "skipped");
    assert_eq!(r["new"]["reason"], "up to date");
    assert_eq!(
        git(&old_bare, &["branch", "--list"]),
        "lbc/upgrade-1.1.0\n* main"
    );
    assert_eq!(git(&new_bare, &["branch", "--list"]), "* main");
    let prov =
        String::from_utf8(show(&old_bare, "lbc/upgrade-1.1.0", ".lbc/template.toml")).unwrap();
    assert!(
        prov.contains("version = \"1.1.0\"") && prov.contains("ref = \"v1.1.0\""),
        "{prov}"
    );
    assert_eq!(
        show(&old_bare, "lbc/upgrade-1.1.0", "notes.md"),
        b"one (local)\ntwo\nthree\nfour\nfive\nSIX (template)\n"
    );
    // A bad version is a usage error before anything runs.
    lbc(f.path())
        .args(["fleet", "upgrade", "--to=latest", &old_url])
        .run()
        .code_is(2)
        .stderr_has("--to latest: not a released version");
}

#[test]
fn the_json_document_keeps_its_documented_fields_and_dry_run_clones_nothing() {
    let f = Project::empty();
    let tpl = f.path().join("tpl");
    git_template(&tpl);
    let dir = generate(
        f.path(),
        "svc",
        // A template behind a URL: the fleet fetches it once into its cache.
        &[
            "--template",
            &format!("file://{}", tpl.display()),
            "--template-version",
            "v1.1.0",
        ],
        &[Edit::Delete],
    );
    let (bare, url) = publish(f.path(), &dir, "svc");
    let svc = dir.display().to_string();
    // --dry-run: the clone it would make, and no cache.
    lbc(f.path())
        .args(["fleet", "status", "--dry-run", "--cache", "c", &url, &svc])
        .run()
        .success()
        .stdout_has("svc: clone ")
        .stdout_has("git clone --bare --quiet -- file://")
        .stdout_has("1 local repositories are read as they are");
    assert!(!f.path().join("c").exists());
    let doc = lbc(f.path())
        .args([
            "fleet", "status", "--cache", "c", "--output", "json", &url, &svc,
        ])
        .run()
        .success()
        .json();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    // docs/fleet.md documents these; report_version 1 only ever adds fields.
    assert_eq!(
        keys(&doc),
        [
            "current_schema",
            "lbc_version",
            "report_version",
            "repositories",
            "summary"
        ]
    );
    assert_eq!(
        keys(&doc["summary"]),
        [
            "behind",
            "conflicted",
            "drifted",
            "errors",
            "lbc_projects",
            "not_lbc",
            "repositories",
            "schema_outdated",
            "unreachable",
            "up_to_date"
        ]
    );
    let repos = doc["repositories"].as_array().unwrap();
    assert_eq!(repos.len(), 2);
    for r in repos {
        assert_eq!(
            keys(r),
            [
                "branch",
                "commit",
                "conflicts",
                "dirty",
                "drift",
                "error",
                "location",
                "name",
                "proposals",
                "schema",
                "schema_current",
                "source",
                "state",
                "template",
                "up_to_date"
            ]
        );
        assert_eq!(
            keys(&r["template"]),
            ["behind", "kind", "name", "newest", "source", "version"]
        );
        assert_eq!(
            r["drift"]["files"],
            serde_json::json!([{"path": "CONTRIBUTING.md", "change": "deleted"}])
        );
        assert_eq!(r["template"]["behind"], 1);
    }
    assert_eq!(
        std::fs::read_dir(f.path().join("c/templates"))
            .unwrap()
            .count(),
        1,
        "one copy of the template for both repositories"
    );
    assert!(repos[0]["template"]["source"]
        .as_str()
        .unwrap()
        .starts_with("file://"));
    assert_eq!(repos[0]["location"], "remote");
    assert_eq!(repos[0]["dirty"], serde_json::Value::Null);
    assert_eq!(repos[1]["location"], "local");
    assert_eq!(repos[1]["dirty"], false);
    // The upgrade reads the template from the cache and records its URL, not the cache.
    lbc(f.path())
        .args(["fleet", "upgrade", "--cache", "c", &url])
        .run()
        .success();
    let prov = String::from_utf8(show(&bare, "lbc/upgrade-1.2.0", ".lbc/template.toml")).unwrap();
    assert!(
        prov.contains(&format!("source = \"file://{}\"", tpl.display()))
            && prov.contains("version = \"1.2.0\""),
        "{prov}"
    );
}
