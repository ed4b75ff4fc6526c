//! The image catalogue: the organisation's policy for the images lbc builds from and
//! runs. Templates and `[image.bases]` name logical images (`python`, `go-builder`, ...)
//! that `[images]` maps to concrete references; `[map]` sends exact references and
//! patterns (`"python:*"`) to approved ones (an internal mirror, an image pinned by
//! digest); `allow` approves images as they are; `policy` says whether an image that
//! is none of these is listed (`warn`) or refused (`enforce`). A lock file beside the
//! catalogue pins its tags to digests (`lbc catalog lock`).
//!
//! Defaults are well-known upstream images; `$LBC_CATALOG` (a file, or
//! `git+URL#TAG`), or else `~/.config/lbc/catalog.toml`, overrides them.

pub mod bases;
pub mod lock;
pub mod pattern;
pub mod source;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::Error;
use crate::image::ImageRef;
use lock::Lock;
use pattern::Pattern;
pub use source::Source;

/// The upstream defaults.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("debian", "debian:bookworm-slim"),
    ("python", "python:3.12-slim-bookworm"),
    ("python-runtime", "python:3.12-slim-bookworm"),
    ("node", "node:22-bookworm-slim"),
    ("node-runtime", "node:22-bookworm-slim"),
    ("go-builder", "golang:1.23-bookworm"),
    ("go-runtime", "debian:bookworm-slim"),
    ("rust-builder", "rust:1-bookworm"),
    ("rust-runtime", "debian:bookworm-slim"),
    ("java-builder", "eclipse-temurin:21-jdk"),
    ("java-runtime", "eclipse-temurin:21-jre"),
    ("static-runtime", "busybox:1.36"),
    // Middleware for `[services]` (issue #10): `{version}` is the service's version;
    // an entry `NAME-VERSION` (e.g. `postgres-15`) wins over the pattern.
    ("postgres", "postgres:{version}"),
    ("mariadb", "mariadb:{version}"),
    ("redis", "redis:{version}"),
];

/// What happens to an image the catalogue does not approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// No catalogue is configured: nothing is checked.
    None,
    /// Build anyway, and list the unapproved images.
    Warn,
    /// Refuse (exit 5), naming each image, file and line.
    Enforce,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    policy: Option<Spanned<Policy>>,
    #[serde(default)]
    allow: Vec<Spanned<String>>,
    #[serde(default)]
    images: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    map: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    registries: BTreeMap<String, RegistryCredentials>,
    #[serde(default)]
    network: Option<NetworkFile>,
}

/// `[network]`: how containers that lbc builds or runs reach the organisation's
/// package registries (issue #11).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkFile {
    #[serde(default)]
    ca_certificates: Option<Spanned<String>>,
    #[serde(default)]
    probe: Vec<Spanned<String>>,
}

/// The catalogue's `[network]` section, paths resolved against the catalogue's file.
#[derive(Debug, Clone, Default)]
pub struct Network {
    /// `ca_certificates`: the bundle (`None` inside: `"none"`, turned off), and where
    /// it was set (`FILE:LINE`, for messages).
    pub ca_certificates: Option<(Option<PathBuf>, String)>,
    /// `probe`: the URLs `lbc doctor` fetches from a build container.
    pub probe: Vec<String>,
}

/// Names of the variables holding a registry's credentials, for `lbc catalog lock`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryCredentials {
    pub username_env: String,
    pub password_env: String,
}

/// One resolved logical name and where its value came from.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub name: String,
    pub image: String,
    pub source: String,
}

/// One `[map]` rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub from: Pattern,
    pub to: Pattern,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub entries: BTreeMap<String, Entry>,
    /// The override file that was read, if it is a local file.
    pub file: Option<PathBuf>,
    pub source: Source,
    pub policy: Policy,
    pub rules: Vec<Rule>,
    pub allow: Vec<Pattern>,
    pub registries: BTreeMap<String, RegistryCredentials>,
    pub lock: Lock,
    /// Where `lbc catalog lock` writes (file catalogues only).
    pub lock_path: Option<PathBuf>,
    pub network: Network,
}

/// What the catalogue says about one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A `[map]` entry sends it to an approved image.
    Mapped,
    /// It is approved as it is (an `[images]` or `[map]` target, or `allow`).
    Approved,
    /// Nothing in the catalogue approves it.
    Unapproved,
    /// Not an image reference.
    Invalid,
    /// lbc cannot tell which image it is (a build argument without a value).
    Unknown,
}

impl Status {
    pub fn ok(self) -> bool {
        matches!(self, Status::Mapped | Status::Approved)
    }
}

/// One image resolved through the catalogue.
#[derive(Debug, Clone, Serialize)]
pub struct Resolution {
    /// The image as found (after build arguments are expanded).
    pub requested: String,
    /// The image lbc uses: mapped, and pinned to the locked digest.
    pub image: String,
    pub status: Status,
    /// The catalogue entry that decided (`[map] "python:*"`, `[images] python`, `allow "..."`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// The digest from the lock file, when it pinned the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked: Option<String>,
    /// For an image that is not approved: the catalogue entry that would allow it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_allow: Option<String>,
    /// Why it is invalid or unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Resolution {
    pub fn changed(&self) -> bool {
        self.image != self.requested
    }
}

fn defaults() -> BTreeMap<String, Entry> {
    DEFAULTS
        .iter()
        .map(|(n, i)| {
            (
                (*n).to_owned(),
                Entry {
                    name: (*n).to_owned(),
                    image: (*i).to_owned(),
                    source: "default".into(),
                },
            )
        })
        .collect()
}

impl Catalog {
    /// The built-in defaults alone (no policy).
    pub fn builtin() -> Catalog {
        Catalog {
            entries: defaults(),
            file: None,
            source: Source::Defaults,
            policy: Policy::None,
            rules: Vec::new(),
            allow: Vec::new(),
            registries: BTreeMap::new(),
            lock: Lock::default(),
            lock_path: None,
            network: Network::default(),
        }
    }

    /// The effective catalogue: defaults, then the override (file or git), with its lock.
    /// `env_value` is `LBC_CATALOG`, `config_home` the user's configuration directory and
    /// `cache_home` the user's cache directory (where a git catalogue is cloned), as the
    /// settings read them (`Settings::catalog` loads it once per run).
    pub fn load(
        env_value: Option<&Path>,
        config_home: Option<&Path>,
        cache_home: Option<&Path>,
    ) -> Result<Self, Error> {
        match source::spec(env_value, config_home)? {
            None => Ok(Self::builtin()),
            Some(spec) => {
                let read = source::read(&spec, cache_home)?;
                let name = match &read.file {
                    Some(p) => p.clone(),
                    None => PathBuf::from(read.source.display()),
                };
                let mut cat = Self::parse(&name, &read.text)?;
                if let Some(lt) = &read.lock_text {
                    let lock_name = match &read.lock_path {
                        Some(p) => p.clone(),
                        None => lock::path_for(&name),
                    };
                    cat.lock = Lock::parse(&lock_name, lt)?;
                }
                cat.file = read.file;
                cat.lock_path = read.lock_path;
                cat.source = read.source;
                Ok(cat)
            }
        }
    }

    /// Parse a catalogue file's text (`name` is used in messages and as its source).
    pub fn parse(name: &std::path::Path, raw: &str) -> Result<Self, Error> {
        let hint = "a catalogue file holds `policy = \"warn\"|\"enforce\"`, `allow = [PATTERN, ...]`, [images] with NAME = \"IMAGE\", [map] with \"REFERENCE-OR-PATTERN\" = \"IMAGE\", [registries.\"HOST\"] and [network] (docs/catalog.md)";
        let parsed: CatalogFile = toml::from_str(raw).map_err(|e| Error::Config {
            rendered: crate::config::render_at(name, raw, e.span(), e.message().trim()),
            hint: Some(hint.into()),
        })?;
        let at = |span: std::ops::Range<usize>, msg: &str, hint: &str| Error::Config {
            rendered: crate::config::render_at(name, raw, Some(span), msg),
            hint: Some(hint.to_owned()),
        };
        let mut entries = defaults();
        for (n, image) in &parsed.images {
            entries.insert(
                n.clone(),
                Entry {
                    name: n.clone(),
                    image: image.get_ref().clone(),
                    source: name.display().to_string(),
                },
            );
        }
        let mut rules = Vec::new();
        for (from, to) in &parsed.map {
            let f = Pattern::parse(from.get_ref()).map_err(|e| {
                at(from.span(), &e.to_string(), "a [map] key is an image reference, or a pattern with `*` (any characters but `/`) and `**` (any characters), e.g. \"python:*\"")
            })?;
            let t = Pattern::parse(to.get_ref()).map_err(|e| {
                at(
                    to.span(),
                    &e.to_string(),
                    "a [map] value is the approved image, e.g. \"mirror.corp.example/python:*\"",
                )
            })?;
            if t.wildcards() > f.wildcards() {
                return Err(at(
                    to.span(),
                    &format!("`{}` has more wildcards than `{}`: lbc cannot fill them", t.written, f.written),
                    "each `*` or `**` of the value takes what the wildcard at the same position of the key matched",
                ));
            }
            rules.push(Rule { from: f, to: t });
        }
        let mut network = Network::default();
        if let Some(n) = &parsed.network {
            let line_of = |span: std::ops::Range<usize>| {
                raw[..span.start.min(raw.len())].matches('\n').count() + 1
            };
            if let Some(ca) = &n.ca_certificates {
                let at_line = format!("{}:{}", name.display(), line_of(ca.span()));
                let value = ca.get_ref().trim();
                let path =
                    match value {
                        "none" => None,
                        "" => return Err(at(
                            ca.span(),
                            "`ca_certificates` is empty",
                            "give the path of a PEM bundle (relative to this file), or \"none\"",
                        )),
                        v => Some(name.parent().unwrap_or(Path::new(".")).join(v)),
                    };
                network.ca_certificates = Some((path, at_line));
            }
            for u in &n.probe {
                let v = u.get_ref();
                if !(v.starts_with("https://") || v.starts_with("http://"))
                    || v.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    return Err(at(
                        u.span(),
                        &format!("`{v}` is not an http(s) URL"),
                        "`probe` lists URLs such as \"https://pypi.org/simple/pip/\"",
                    ));
                }
                network.probe.push(v.clone());
            }
        }
        let mut allow = Vec::new();
        for a in &parsed.allow {
            allow.push(Pattern::parse(a.get_ref()).map_err(|e| {
                at(a.span(), &e.to_string(), "an `allow` entry is an image reference or a pattern such as \"mirror.corp.example/**\"")
            })?);
        }
        Ok(Catalog {
            entries,
            file: Some(name.to_owned()),
            source: Source::File {
                path: name.to_owned(),
            },
            policy: parsed
                .policy
                .map(|p| p.into_inner())
                .unwrap_or(Policy::Warn),
            rules,
            allow,
            registries: parsed.registries,
            lock: Lock::default(),
            lock_path: None,
            network,
        })
    }

    /// Resolve a logical name; a value that is not in the catalogue but looks like an
    /// image reference (has `:`, `/` or `@`) is used as it is. Either then goes through
    /// `[map]` and the lock.
    pub fn resolve(&self, name: &str) -> Result<String, Error> {
        Ok(self.resolve_name(name)?.image)
    }

    /// Like [`Catalog::resolve`], with what the catalogue says about it.
    pub fn resolve_name(&self, name: &str) -> Result<Resolution, Error> {
        if let Some(e) = self.entries.get(name) {
            let mut r = self.resolve_ref(&e.image);
            r.requested = name.to_owned();
            if r.status == Status::Approved && e.source != "default" {
                r.entry = Some(format!("[images] {name}"));
            }
            return Ok(r);
        }
        if name.contains([':', '/', '@']) {
            return Ok(self.resolve_ref(name));
        }
        Err(Error::usage(
            format!("`{name}` is not in the base-image catalogue"),
            Some(format!(
                "known names: {}; add it to {} under [images], or give a full image reference",
                self.entries.keys().cloned().collect::<Vec<_>>().join(", "),
                self.file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| {
                        "~/.config/lbc/catalog.toml (or the file named by LBC_CATALOG)".into()
                    })
            )),
        ))
    }

    /// What the catalogue does with an image reference: an exact `[map]` entry, else
    /// approved as it is, else the most specific `[map]` pattern, else unapproved; then
    /// the lock's digest.
    pub fn resolve_ref(&self, requested: &str) -> Resolution {
        let mut res = Resolution {
            requested: requested.to_owned(),
            image: requested.to_owned(),
            status: Status::Unapproved,
            entry: None,
            locked: None,
            would_allow: None,
            reason: None,
        };
        let parsed = match ImageRef::parse(requested) {
            Ok(r) => r,
            Err(e) => {
                res.status = Status::Invalid;
                res.reason = Some(e.reason);
                return res;
            }
        };
        let exact = self
            .rules
            .iter()
            .find(|r| r.from.is_exact() && r.from.matches(&parsed).is_some());
        let target = if let Some(rule) = exact {
            res.status = Status::Mapped;
            res.entry = Some(format!("[map] \"{}\"", rule.from.written));
            Some(rule.to.written.clone())
        } else if let Some(entry) = self.approving_entry(&parsed) {
            res.status = Status::Approved;
            res.entry = Some(entry);
            None
        } else {
            let best = self
                .rules
                .iter()
                .filter(|r| !r.from.is_exact())
                .filter_map(|r| r.from.matches(&parsed).map(|caps| (r, caps)))
                .max_by_key(|(r, _)| r.from.specificity());
            match best {
                Some((rule, caps)) => {
                    res.status = Status::Mapped;
                    res.entry = Some(format!("[map] \"{}\"", rule.from.written));
                    Some(rule.to.fill(&caps))
                }
                None => None,
            }
        };
        let result = match target {
            Some(t) => match ImageRef::parse(&t) {
                Ok(r) => {
                    res.image = t;
                    r
                }
                Err(e) => {
                    res.status = Status::Invalid;
                    res.reason = Some(format!(
                        "{} maps it to {e}",
                        res.entry.clone().unwrap_or_default()
                    ));
                    return res;
                }
            },
            None => parsed.clone(),
        };
        if let Some(d) = self.lock.get(&result) {
            res.locked = Some(d.to_owned());
            res.image = format!("{}@{d}", res.image);
        }
        if res.status == Status::Unapproved {
            res.would_allow = Some(self.suggest(&parsed));
        }
        res
    }

    /// The entry that approves `image` as it is: a target of `[images]` or `[map]`, or
    /// an `allow` pattern.
    fn approving_entry(&self, image: &ImageRef) -> Option<String> {
        // The built-in defaults are upstream images: an organisation's catalogue
        // approves what it names itself (a default it keeps can still be mapped).
        let own = |e: &&Entry| e.source != "default" || self.policy == Policy::None;
        for e in self.entries.values().filter(own) {
            if let Ok(p) = Pattern::parse(&e.image) {
                if p.matches(image).is_some() {
                    return Some(if e.source == "default" {
                        format!("default {}", e.name)
                    } else {
                        format!("[images] {}", e.name)
                    });
                }
            }
        }
        for r in &self.rules {
            if r.to.matches(image).is_some() {
                return Some(format!(
                    "[map] \"{}\" = \"{}\"",
                    r.from.written, r.to.written
                ));
            }
        }
        self.allow
            .iter()
            .find(|a| a.matches(image).is_some())
            .map(|a| format!("allow \"{}\"", a.written))
    }

    /// The catalogue entry that would allow `image`: a `[map]` line to the mirror the
    /// other entries use, else an `allow` entry.
    fn suggest(&self, image: &ImageRef) -> String {
        let familiar = image.familiar();
        let prefix = self.rules.iter().find_map(|r| {
            let from = r.from.written.as_str();
            r.to.written
                .strip_suffix(from)
                .filter(|p| p.ends_with('/'))
                .map(str::to_owned)
        });
        match prefix {
            Some(p) if image.registry == crate::image::DEFAULT_REGISTRY => {
                format!("[map] \"{familiar}\" = \"{p}{familiar}\"")
            }
            _ => format!("allow = [\"{familiar}\"]"),
        }
    }

    /// Where messages say to change the catalogue.
    pub fn where_to_edit(&self) -> String {
        match &self.source {
            Source::Defaults => {
                "a catalogue file (LBC_CATALOG, or ~/.config/lbc/catalog.toml)".into()
            }
            Source::File { path } => path.display().to_string(),
            Source::Git { .. } => {
                format!("the platform team's repository ({})", self.source.display())
            }
        }
    }
}

/// Temporary files lbc made for this run (rewritten Dockerfiles): removed when
/// [`release_temp_files`] runs at the end of the command.
static TEMP_DIRS: std::sync::Mutex<Vec<tempfile::TempDir>> = std::sync::Mutex::new(Vec::new());

pub(crate) fn keep_temp_dir(dir: tempfile::TempDir) {
    TEMP_DIRS.lock().unwrap().push(dir);
}

/// Remove every temporary file this run made.
pub fn release_temp_files() {
    TEMP_DIRS.lock().unwrap().clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn cat(text: &str) -> Catalog {
        Catalog::parse(Path::new("catalog.toml"), text).unwrap()
    }

    #[test]
    fn map_allow_images_and_lock() {
        // #16: exact references, patterns, approved targets, and the lock's digests.
        let mut c = cat(&format!(
            "policy = \"enforce\"\nallow = [\"ghcr.io/acme/**\"]\n[images]\npython = \"mirror.corp/python:3.12\"\n[map]\n\"python:*\" = \"mirror.corp/python:*\"\n\"python:3.12-slim\" = \"mirror.corp/python-approved@{D}\"\n\"docker.io/**\" = \"mirror.corp/hub/**\"\n"
        ));
        assert_eq!(c.policy, Policy::Enforce);
        let r = c.resolve_ref("python:3.11-slim");
        assert_eq!(
            (r.status, r.image.as_str()),
            (Status::Mapped, "mirror.corp/python:3.11-slim")
        );
        assert_eq!(
            r.entry.as_deref(),
            Some("[map] \"python:*\""),
            "the most specific pattern"
        );
        let r = c.resolve_ref("python:3.12-slim");
        assert_eq!(
            r.image,
            format!("mirror.corp/python-approved@{D}"),
            "exact wins"
        );
        let r = c.resolve_ref("node:20");
        assert_eq!(r.image, "mirror.corp/hub/library/node:20");
        let r = c.resolve_ref("mirror.corp/python:3.11");
        assert_eq!(r.status, Status::Approved, "a target is approved as it is");
        assert_eq!(r.image, "mirror.corp/python:3.11");
        let r = c.resolve_ref("ghcr.io/acme/sub/tool:1");
        assert_eq!(
            (r.status, r.entry.as_deref()),
            (Status::Approved, Some("allow \"ghcr.io/acme/**\""))
        );
        let r = c.resolve_ref("quay.io/x/y:1");
        assert_eq!(r.status, Status::Unapproved);
        assert_eq!(
            r.would_allow.as_deref(),
            Some("allow = [\"quay.io/x/y:1\"]")
        );
        assert_eq!(c.resolve("python").unwrap(), "mirror.corp/python:3.12");
        assert_eq!(c.resolve_ref("Bad:Ref").status, Status::Invalid);

        c.lock
            .digests
            .insert("mirror.corp/python:3.11-slim".into(), D.into());
        let r = c.resolve_ref("python:3.11-slim");
        assert_eq!(r.image, format!("mirror.corp/python:3.11-slim@{D}"));
        assert_eq!(r.locked.as_deref(), Some(D));
    }

    #[test]
    fn suggestion_uses_the_mirror_of_other_entries() {
        let c = cat("[map]\n\"python:*\" = \"127.0.0.1:5055/mirror/python:*\"\n");
        assert_eq!(c.policy, Policy::Warn, "warn by default");
        assert_eq!(
            c.resolve_ref("busybox:1.36").status,
            Status::Unapproved,
            "a built-in default is not the organisation's approval"
        );
        assert_eq!(
            Catalog::builtin().resolve_ref("busybox:1.36").status,
            Status::Approved
        );
        let r = c.resolve_ref("node:20");
        assert_eq!(
            r.would_allow.as_deref(),
            Some("[map] \"node:20\" = \"127.0.0.1:5055/mirror/node:20\"")
        );
    }

    #[test]
    fn old_format_still_reads_and_bad_entries_point_at_their_line() {
        let c = cat("[images]\npython = \"registry.corp/approved/python:3.12\"\n");
        assert_eq!(
            c.entries["python"].image,
            "registry.corp/approved/python:3.12"
        );
        assert_eq!(c.entries["go-builder"].source, "default");
        let e = Catalog::parse(
            Path::new("c.toml"),
            "[map]\n\"python:*\" = \"mirror/Python:*\"\n",
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("c.toml:2"), "{e}");
        let e = Catalog::parse(Path::new("c.toml"), "[map]\n\"python\" = \"m/python:*\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("more wildcards"), "{e}");
        let e = Catalog::parse(Path::new("c.toml"), "policy = \"strict\"\n").unwrap_err();
        assert!(e.to_string().contains("c.toml:1"), "{e}");
    }
}
