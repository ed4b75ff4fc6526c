//! `fleet.toml`: the repositories a platform team looks after, and how it wants upgrade
//! proposals opened. The format is documented in `docs/fleet.md`.
//!
//! ```toml
//! jobs = 8
//! open_mr = ["glab", "mr", "create", "--source-branch", "{branch}", "--title", "{title}", "--yes"]
//! repos = [
//!   "services/billing",
//!   "https://git.example.com/team/orders.git",
//!   { url = "git@git.example.com:team/legacy.git", name = "legacy", branch = "trunk" },
//! ]
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;
use crate::template::source::is_url;

pub const FILE_NAME: &str = "fleet.toml";

/// The placeholders an `open_mr` argument may use.
pub const PLACEHOLDERS: &[&str] = &[
    "branch",
    "default_branch",
    "repo",
    "url",
    "template",
    "from",
    "version",
    "title",
    "body",
    "conflicts",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    repos: Vec<toml::Spanned<RawRepo>>,
    #[serde(default)]
    jobs: Option<usize>,
    #[serde(default)]
    cache: Option<PathBuf>,
    #[serde(default)]
    open_mr: Option<toml::Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawRepo {
    Short(String),
    Table(RepoTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RepoTable {
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    branch: Option<String>,
}

/// Where a repository is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A working copy on this machine.
    Local(PathBuf),
    /// A git URL (`https://`, `ssh://`, `git@host:path`, `file://`): cloned into the cache.
    Remote(String),
}

/// One repository of the fleet.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub location: Location,
    /// The default branch, when it is not the remote's HEAD (or, locally, the checked-out one).
    pub branch: Option<String>,
}

impl Entry {
    /// A repository named on the command line or as a short string in `fleet.toml`.
    pub fn parse(text: &str, base: &Path) -> Entry {
        let location = if is_url(text) {
            register_credentials(text);
            Location::Remote(text.to_owned())
        } else {
            Location::Local(base.join(text))
        };
        Entry {
            name: default_name(&location),
            location,
            branch: None,
        }
    }

    /// The name of the repository's directory when it was generated (the `dir_name`
    /// built-in of templates): the last component of its path or URL.
    pub fn dir_name(&self) -> String {
        default_name(&self.location)
    }

    /// The source as shown in reports (a URL without credentials, or the path).
    pub fn source(&self) -> String {
        match &self.location {
            Location::Local(p) => p.display().to_string(),
            Location::Remote(u) => crate::tools::git::strip_credentials(u),
        }
    }
}

/// A password or token in a URL (`https://user:TOKEN@host/...`) is a secret: registered
/// for redaction, so that no plan, report or error shows it.
fn register_credentials(url: &str) {
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split('/').next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            match userinfo.split_once(':') {
                Some((_, secret)) => crate::ui::register_secret(secret),
                // A lone token (`https://TOKEN@host`), as some forges use.
                None => crate::ui::register_secret(userinfo),
            }
        }
    }
}

/// The last path component, without `.git`.
fn default_name(location: &Location) -> String {
    let text = match location {
        Location::Local(p) => p
            .canonicalize()
            .unwrap_or_else(|_| p.clone())
            .display()
            .to_string(),
        Location::Remote(u) => u.clone(),
    };
    let last = text
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or(&text)
        .to_owned();
    last.strip_suffix(".git").unwrap_or(&last).to_owned()
}

/// The whole of `fleet.toml`.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    pub repos: Vec<Entry>,
    pub jobs: Option<usize>,
    pub cache: Option<PathBuf>,
    /// The command that opens a merge request after a push (argv with placeholders).
    pub open_mr: Option<Vec<String>>,
    /// The file it was read from.
    pub path: Option<PathBuf>,
}

impl Fleet {
    pub fn load(path: &Path) -> Result<Fleet, Error> {
        let raw = fs_err::read_to_string(path).map_err(|e| Error::Io {
            path: path.to_owned(),
            source: std::io::Error::new(e.kind(), e.to_string()),
        })?;
        Self::parse(path, &raw)
    }

    pub fn parse(path: &Path, raw: &str) -> Result<Fleet, Error> {
        let at = |span: Option<std::ops::Range<usize>>, msg: &str, hint: &str| Error::Config {
            rendered: crate::config::render_at(path, raw, span, msg),
            hint: Some(hint.to_owned()),
        };
        let parsed: Raw = toml::from_str(raw).map_err(|e| {
            at(
                e.span(),
                e.message().trim(),
                "fleet.toml has `repos` (paths or git URLs, or tables with path/url, name, branch), and optionally `jobs`, `cache` and `open_mr` (docs/fleet.md)",
            )
        })?;
        let base = path
            .parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut repos = Vec::new();
        for r in parsed.repos {
            let span = r.span();
            let entry = match r.into_inner() {
                RawRepo::Short(s) => Entry::parse(&s, &base),
                RawRepo::Table(t) => {
                    let location = match (t.path, t.url) {
                        (Some(p), None) => Location::Local(base.join(p)),
                        (None, Some(u)) => {
                            register_credentials(&u);
                            Location::Remote(u)
                        }
                        _ => {
                            return Err(at(
                                Some(span),
                                "a repository needs exactly one of `path` and `url`",
                                "e.g. { url = \"https://git.example.com/team/x.git\", branch = \"main\" }",
                            ))
                        }
                    };
                    if let Some(b) = &t.branch {
                        crate::tools::git_cli::check_ref_name(b).map_err(|m| {
                            at(Some(span.clone()), &m, "`branch` names the default branch")
                        })?;
                    }
                    Entry {
                        name: t.name.unwrap_or_else(|| default_name(&location)),
                        location,
                        branch: t.branch,
                    }
                }
            };
            repos.push(entry);
        }
        if parsed.jobs == Some(0) {
            return Err(at(None, "`jobs` must be at least 1", "jobs = 4"));
        }
        let open_mr = match parsed.open_mr {
            None => None,
            Some(s) => {
                let span = s.span();
                let argv = s.into_inner();
                if argv.is_empty() {
                    return Err(at(
                        Some(span),
                        "`open_mr` is empty",
                        "an argv, e.g. [\"glab\", \"mr\", \"create\", \"--source-branch\", \"{branch}\", \"--yes\"]",
                    ));
                }
                for a in &argv {
                    if let Err(m) = check_placeholders(a) {
                        return Err(at(
                            Some(span),
                            &m,
                            &format!(
                                "the placeholders are {}; `{{{{` and `}}}}` are literal braces",
                                PLACEHOLDERS
                                    .iter()
                                    .map(|p| format!("{{{p}}}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ));
                    }
                }
                if argv[0].contains('{') {
                    return Err(at(
                        Some(span),
                        "the program of `open_mr` cannot be a placeholder",
                        "name the program itself, e.g. \"glab\" or \"gh\"",
                    ));
                }
                Some(argv)
            }
        };
        Ok(Fleet {
            repos,
            jobs: parsed.jobs,
            cache: parsed.cache.map(|c| base.join(c)),
            open_mr,
            path: Some(path.to_owned()),
        })
    }
}

/// Split an argument into literal text and placeholders.
fn pieces(arg: &str) -> Result<Vec<(bool, String)>, String> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = arg.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                lit.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err(format!("`{arg}`: a `{{` is not closed")),
                    }
                }
                if !PLACEHOLDERS.contains(&name.as_str()) {
                    return Err(format!("`{arg}`: unknown placeholder `{{{name}}}`"));
                }
                if !lit.is_empty() {
                    out.push((false, std::mem::take(&mut lit)));
                }
                out.push((true, name));
            }
            '}' => return Err(format!("`{arg}`: a lone `}}` (write `}}}}` for a brace)")),
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push((false, lit));
    }
    Ok(out)
}

fn check_placeholders(arg: &str) -> Result<(), String> {
    pieces(arg).map(|_| ())
}

/// Fill the placeholders of an argv. Each argument stays one argument whatever the
/// values hold (no shell is involved); an argument that is a placeholder alone must not
/// start with `-`, so a value can never become an option.
pub fn fill(argv: &[String], value: &dyn Fn(&str) -> String) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for a in argv {
        let parts = pieces(a)?;
        let mut s = String::new();
        for (is_var, text) in &parts {
            if *is_var {
                s.push_str(&value(text));
            } else {
                s.push_str(text);
            }
        }
        if parts.first().is_some_and(|(v, _)| *v) && s.starts_with('-') {
            return Err(format!(
                "`{a}` would start with `-` ({s:?}) and be read as an option"
            ));
        }
        out.push(s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_table_entries() {
        let f = Fleet::parse(
            Path::new("/srv/fleet.toml"),
            r#"
jobs = 3
open_mr = ["glab", "mr", "create", "--source-branch", "{branch}", "--title", "{title} ({{draft}})"]
repos = [
  "services/billing",
  "https://bob:fleet-s3cret-7x@git.example.com/team/orders.git",
  { url = "git@git.example.com:team/legacy.git", name = "old", branch = "trunk" },
]
"#,
        )
        .unwrap();
        assert_eq!(f.jobs, Some(3));
        assert_eq!(f.repos.len(), 3);
        assert_eq!(
            f.repos[0].location,
            Location::Local(PathBuf::from("/srv/services/billing"))
        );
        assert_eq!(f.repos[0].name, "billing");
        assert_eq!(f.repos[1].name, "orders");
        assert_eq!(
            f.repos[1].source(),
            "https://git.example.com/team/orders.git"
        );
        assert_eq!(
            crate::ui::redact("https://bob:fleet-s3cret-7x@git.example.com"),
            "https://bob:***@git.example.com",
            "a token in a URL is redacted everywhere"
        );
        assert_eq!(f.repos[2].name, "old");
        assert_eq!(f.repos[2].branch.as_deref(), Some("trunk"));
        let argv = fill(f.open_mr.as_ref().unwrap(), &|k| match k {
            "branch" => "lbc/upgrade-1.1.0".into(),
            "title" => "$(rm -rf /); echo".into(),
            _ => String::new(),
        })
        .unwrap();
        assert_eq!(argv[4], "lbc/upgrade-1.1.0");
        assert_eq!(argv[6], "$(rm -rf /); echo ({draft})");
    }

    #[test]
    fn errors_name_the_line() {
        let e = Fleet::parse(
            Path::new("fleet.toml"),
            "repos = [\"a\"]\nopen_mr = [\"gh\", \"{nope}\"]\n",
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("fleet.toml:2"), "{text}");
        assert!(text.contains("unknown placeholder `{nope}`"), "{text}");
        let e = Fleet::parse(Path::new("fleet.toml"), "repos = [{ name = \"x\" }]\n").unwrap_err();
        assert!(e.to_string().contains("exactly one of `path` and `url`"));
        let e = Fleet::parse(Path::new("fleet.toml"), "repo = []\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `repo`"), "{e}");
    }

    #[test]
    fn a_value_never_becomes_an_option() {
        let argv = vec!["gh".to_owned(), "{title}".to_owned()];
        assert!(fill(&argv, &|_| "--force".into()).is_err());
        let argv = vec!["gh".to_owned(), "--title={title}".to_owned()];
        assert_eq!(fill(&argv, &|_| "-x".into()).unwrap()[1], "--title=-x");
    }
}
