//! The fleet report: a table for people, Markdown for a written report, and a JSON
//! document with a stable schema for dashboards (`docs/fleet.md`).

use serde::Serialize;

use crate::config::CURRENT_SCHEMA;
use crate::fleet::status::{RepoStatus, State, REPORT_VERSION};

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub repositories: usize,
    pub lbc_projects: usize,
    pub not_lbc: usize,
    pub unreachable: usize,
    pub errors: usize,
    pub up_to_date: usize,
    pub behind: usize,
    pub schema_outdated: usize,
    pub drifted: usize,
    pub conflicted: usize,
}

pub fn summary(rows: &[RepoStatus]) -> Summary {
    let mut s = Summary {
        repositories: rows.len(),
        ..Summary::default()
    };
    for r in rows {
        match r.state {
            State::Ok => s.lbc_projects += 1,
            State::NotLbc => s.not_lbc += 1,
            State::Unreachable => s.unreachable += 1,
            State::Error => {
                s.errors += 1;
                if r.schema.is_some() {
                    s.lbc_projects += 1;
                }
            }
        }
        if r.up_to_date == Some(true) {
            s.up_to_date += 1;
        }
        if r.behind() > 0 {
            s.behind += 1;
        }
        if r.schema_current == Some(false) {
            s.schema_outdated += 1;
        }
        if r.drift.count > 0 {
            s.drifted += 1;
        }
        if r.conflicts.count > 0 {
            s.conflicted += 1;
        }
    }
    s
}

/// The JSON document.
pub fn json(rows: &[RepoStatus]) -> serde_json::Value {
    serde_json::json!({
        "report_version": REPORT_VERSION,
        "lbc_version": env!("CARGO_PKG_VERSION"),
        "current_schema": CURRENT_SCHEMA,
        "summary": summary(rows),
        "repositories": rows,
    })
}

fn dash(o: Option<String>) -> String {
    o.unwrap_or_else(|| "-".to_owned())
}

/// The cells of one row: repository, template, version, newest, behind, schema, drift,
/// conflicts, note.
fn cells(r: &RepoStatus) -> [String; 9] {
    let t = r.template.as_ref();
    let note = match r.state {
        State::Ok => {
            let mut n = Vec::new();
            if r.template.is_none() {
                n.push("no template provenance (adopted)".to_owned());
            }
            if r.dirty == Some(true) {
                n.push("uncommitted changes".to_owned());
            }
            if !r.proposals.is_empty() {
                n.push(format!("proposed: {}", r.proposals.join(", ")));
            }
            n.join("; ")
        }
        State::NotLbc => "not an lbc project".to_owned(),
        State::Unreachable => format!("unreachable: {}", r.error.as_deref().unwrap_or("")),
        State::Error => format!("error: {}", first_line(r.error.as_deref().unwrap_or(""))),
    };
    let lbc = r.schema.is_some();
    [
        r.name.clone(),
        dash(t.map(|t| t.name.clone())),
        dash(t.map(|t| t.version.clone())),
        dash(t.and_then(|t| t.newest.clone())),
        dash(t.and_then(|t| t.behind).map(|b| b.to_string())),
        dash(r.schema.map(|s| {
            if s < CURRENT_SCHEMA {
                format!("{s} (old)")
            } else {
                s.to_string()
            }
        })),
        dash(lbc.then(|| r.drift.count.to_string())),
        dash(lbc.then(|| r.conflicts.count.to_string())),
        note,
    ]
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

const HEADERS: [&str; 9] = [
    "REPOSITORY",
    "TEMPLATE",
    "VERSION",
    "NEWEST",
    "BEHIND",
    "SCHEMA",
    "DRIFT",
    "CONFLICTS",
    "NOTE",
];

fn summary_line(s: &Summary) -> String {
    format!(
        "{} repositories: {} lbc projects ({} up to date, {} behind, {} with an old lbc.toml schema, {} drifted, {} with conflicts), {} not lbc projects, {} unreachable, {} errors",
        s.repositories,
        s.lbc_projects,
        s.up_to_date,
        s.behind,
        s.schema_outdated,
        s.drifted,
        s.conflicted,
        s.not_lbc,
        s.unreachable,
        s.errors
    )
}

/// The human table, then the drifted and conflicted files of each repository.
pub fn table(rows: &[RepoStatus]) -> String {
    let all: Vec<[String; 9]> = rows.iter().map(cells).collect();
    let mut width = HEADERS.map(str::len);
    for c in &all {
        for (i, cell) in c.iter().enumerate() {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let line = |c: &[String]| -> String {
        let mut s = String::new();
        for (i, cell) in c.iter().enumerate() {
            if i == c.len() - 1 {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = width[i]));
            }
        }
        s.trim_end().to_owned() + "\n"
    };
    let mut out = line(&HEADERS.map(str::to_owned));
    for c in &all {
        out.push_str(&line(c));
    }
    let details = details(rows, |name| format!("\n{name}:\n"), "  ");
    out.push_str(&details);
    out.push('\n');
    out.push_str(&summary_line(&summary(rows)));
    out.push('\n');
    out
}

fn details(rows: &[RepoStatus], heading: impl Fn(&str) -> String, indent: &str) -> String {
    let mut out = String::new();
    for r in rows {
        if r.drift.count == 0 && r.conflicts.count == 0 {
            continue;
        }
        out.push_str(&heading(&r.name));
        for c in &r.conflicts.files {
            out.push_str(&format!(
                "{indent}conflict  {} ({})\n",
                c.path,
                c.reasons.join(", ")
            ));
        }
        for d in &r.drift.files {
            out.push_str(&format!("{indent}{:<9} {}\n", d.change, d.path));
        }
    }
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// A Markdown report: a summary, the table, and the files of each repository.
pub fn markdown(rows: &[RepoStatus]) -> String {
    let s = summary(rows);
    let mut out = String::from("# Fleet status\n\n");
    out.push_str(&summary_line(&s));
    out.push_str("\n\n");
    out.push_str(&format!(
        "| {} |\n",
        HEADERS.map(|h| h.to_lowercase()).join(" | ")
    ));
    out.push_str(&format!("|{}\n", " --- |".repeat(HEADERS.len())));
    for r in rows {
        let c = cells(r).map(|c| md_escape(&c));
        out.push_str(&format!("| {} |\n", c.join(" | ")));
    }
    let d = details(rows, |name| format!("\n## {}\n\n", md_escape(name)), "- ");
    if !d.is_empty() {
        out.push_str(&d.replace("- conflict  ", "- **conflict** "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::status::{ConflictFile, DriftFile, Listed, TemplateInfo};

    fn rows() -> Vec<RepoStatus> {
        let mut a = RepoStatus::new(
            "orders",
            "https://git.example.com/orders.git",
            "remote",
            State::Ok,
        );
        a.template = Some(TemplateInfo {
            name: "acme".into(),
            kind: "git".into(),
            source: "https://git.example.com/acme.git".into(),
            version: "1.0.0".into(),
            newest: Some("1.2.0".into()),
            behind: Some(2),
        });
        a.schema = Some(1);
        a.schema_current = Some(false);
        a.up_to_date = Some(false);
        a.drift = Listed {
            count: 1,
            files: vec![DriftFile {
                path: "a|b.md".into(),
                change: "modified",
            }],
        };
        a.conflicts = Listed {
            count: 1,
            files: vec![ConflictFile {
                path: "logo.bin".into(),
                reasons: vec!["lbc-new"],
            }],
        };
        let b = RepoStatus::new("lib", "/srv/lib", "local", State::NotLbc);
        let c = RepoStatus::new("gone", "file:///x.git", "remote", State::Ok)
            .failed(State::Unreachable, "fatal: no such repository".into());
        vec![a, b, c]
    }

    #[test]
    fn table_and_markdown() {
        assert_eq!(
            table(&rows()),
            "\
REPOSITORY  TEMPLATE  VERSION  NEWEST  BEHIND  SCHEMA   DRIFT  CONFLICTS  NOTE
orders      acme      1.0.0    1.2.0   2       1 (old)  1      1
lib         -         -        -       -       -        -      -          not an lbc project
gone        -         -        -       -       -        -      -          unreachable: fatal: no such repository

orders:
  conflict  logo.bin (lbc-new)
  modified  a|b.md

3 repositories: 1 lbc projects (0 up to date, 1 behind, 1 with an old lbc.toml schema, 1 drifted, 1 with conflicts), 1 not lbc projects, 1 unreachable, 0 errors
"
        );
        let md = markdown(&rows());
        assert!(
            md.contains("| orders | acme | 1.0.0 | 1.2.0 | 2 | 1 (old) | 1 | 1 |  |\n"),
            "{md}"
        );
        assert!(
            md.contains("\n## orders\n\n- **conflict** logo.bin (lbc-new)\n- modified  a|b.md\n"),
            "{md}"
        );
        let s = summary(&rows());
        assert_eq!(
            (s.repositories, s.lbc_projects, s.unreachable, s.behind),
            (3, 1, 1, 1)
        );
    }
}
