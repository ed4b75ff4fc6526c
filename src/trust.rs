//! The organisation's network inside the containers lbc builds and runs (issue #11).
//!
//! Many organisations (and this project's own machines) reach PyPI, npm or the crate
//! registry only through a TLS-inspecting proxy whose certificate authority the host
//! trusts and containers do not: a `pip install` in a `docker build` then fails
//! certificate verification. lbc hands containers two things:
//!
//! - **The CA bundle.** A build stage trusts it through a tiny derived image of its base
//!   (`FROM BASE`, the bundle copied in, `SSL_CERT_FILE`, `PIP_CERT`,
//!   `NODE_EXTRA_CA_CERTS`, `CARGO_HTTP_CAINFO`, ... pointing at it), tagged
//!   `lbc-trust/...:HASH` and substituted for the base in the rewritten copy of the
//!   Dockerfile the catalogue already builds from. Docker's classic builder has no secret
//!   mounts, and an image derived this way works with any Dockerfile, adopted ones too.
//!   By default only the stages that are not the final image get it (`[image]
//!   ca_certificates`): the image that ships does not carry the bundle. Task containers
//!   get the bundle mounted read-only with the same variables.
//! - **The proxy variables** (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` and their
//!   lower-case forms), passed by name — values stay in the environment — as build
//!   arguments (Docker keeps these predefined ones out of the image's history) and to
//!   task containers.
//!
//! Where the bundle comes from, first match: `LBC_CA_CERTIFICATES` (a path, or `none`),
//! the catalogue's `[network] ca_certificates`, else the host's own bundle (the file
//! the host's TLS clients already trust, which an organisation's IT usually extends with
//! its CA).

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::plan::{EnvVar, Exec, Step};

/// Where the bundle is inside a container.
pub const IN_CONTAINER: &str = "/etc/ssl/certs/lbc-ca-certificates.crt";

/// The variables that point each client at the bundle: OpenSSL and Python's `ssl`,
/// requests, pip, Node (added to its own roots), cargo, curl, git, the AWS SDKs.
pub const CA_VARS: &[&str] = &[
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "PIP_CERT",
    "NODE_EXTRA_CA_CERTS",
    "CARGO_HTTP_CAINFO",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "AWS_CA_BUNDLE",
];

/// The proxy variables handed on when they are set (Docker's predefined build
/// arguments, which it keeps out of `docker history`).
pub const PROXY_VARS: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
];

/// The host bundles lbc looks for, in order (Debian/Ubuntu/Alpine, Fedora/RHEL, macOS
/// and the BSDs).
pub const HOST_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// The URLs `lbc doctor` fetches from a build container when the catalogue's `[network]
/// probe` names none: the registries of the built-in stacks.
pub const DEFAULT_PROBES: &[&str] = &[
    "https://pypi.org/simple/pip/",
    "https://registry.npmjs.org/express",
    "https://index.crates.io/config.json",
];

/// The CA bundle in effect.
#[derive(Debug, Clone, Serialize)]
pub struct Bundle {
    pub path: PathBuf,
    /// Where it was configured: `LBC_CA_CERTIFICATES`, `FILE:LINE` of the catalogue, or
    /// `host`.
    pub source: String,
    /// sha256 of its bytes (part of the derived images' tags and of the build inputs).
    pub sha256: String,
    /// How many certificates it holds.
    pub certificates: usize,
}

/// Find the bundle: `LBC_CA_CERTIFICATES`, the catalogue's `[network]`, the host's.
/// `None`: turned off (`none`), or the host has no bundle. A configured bundle that
/// cannot be read or holds no certificate is an error naming where it was configured.
pub fn find(
    env_value: Option<&str>,
    catalog: Option<&(Option<PathBuf>, String)>,
) -> Result<Option<Bundle>, Error> {
    let (path, source) = match (env_value, catalog) {
        (Some(v), _) if v.trim() == "none" => return Ok(None),
        (Some(v), _) => (PathBuf::from(v), "LBC_CA_CERTIFICATES".to_owned()),
        (None, Some((None, _))) => return Ok(None),
        (None, Some((Some(p), at))) => (p.clone(), at.clone()),
        (None, None) => match HOST_BUNDLES.iter().map(Path::new).find(|p| p.is_file()) {
            Some(p) => (p.to_owned(), "host".to_owned()),
            None => return Ok(None),
        },
    };
    let bad = |why: String| {
        Error::usage(
            format!("the CA bundle {} ({source}) {why}", path.display()),
            Some(if source == "LBC_CA_CERTIFICATES" {
                "point LBC_CA_CERTIFICATES at a PEM file of CA certificates (e.g. /etc/ssl/certs/ca-certificates.crt), or set it to `none`".to_owned()
            } else if source == "host" {
                "fix the host's bundle, or set LBC_CA_CERTIFICATES to another PEM file or to `none`"
                    .to_owned()
            } else {
                format!("fix `ca_certificates` at {source}: a PEM file of CA certificates, relative to the catalogue, or \"none\"")
            }),
        )
    };
    let bytes = std::fs::read(&path).map_err(|e| bad(format!("cannot be read: {e}")))?;
    let certificates = String::from_utf8_lossy(&bytes)
        .matches("-----BEGIN CERTIFICATE-----")
        .count();
    if certificates == 0 {
        return Err(bad("holds no PEM certificate".into()));
    }
    Ok(Some(Bundle {
        path,
        source,
        sha256: format!("{:x}", Sha256::digest(&bytes)),
        certificates,
    }))
}

/// The proxy variables set in lbc's environment (names only).
pub fn proxies() -> Vec<String> {
    PROXY_VARS
        .iter()
        .filter(|n| crate::settings::env_var(n).is_some())
        .map(|n| (*n).to_owned())
        .collect()
}

/// The proxy variables as a container's environment: by name, values from lbc's own.
pub fn proxy_env() -> Vec<EnvVar> {
    proxies()
        .into_iter()
        .filter_map(|n| {
            crate::settings::env_var(&n).map(|v| {
                // A proxy URL with a user and password is a secret.
                if v.contains('@') {
                    EnvVar::secret(&n, &v)
                } else {
                    EnvVar::plain(&n, &v)
                }
            })
        })
        .collect()
}

/// The variables pointing a container's clients at the mounted bundle.
pub fn ca_env() -> Vec<EnvVar> {
    CA_VARS
        .iter()
        .map(|n| EnvVar::plain(*n, IN_CONTAINER))
        .collect()
}

/// The read-only mount of the bundle into a task container.
pub fn mount(bundle: &Bundle) -> String {
    format!("{}:{IN_CONTAINER}:ro", bundle.path.display())
}

/// The derived image of `base` that trusts the bundle: `lbc-trust/NAME:HASH`, the hash
/// over the base reference, the bundle and the derived Dockerfile, so another bundle,
/// base or recipe is another image.
pub fn derived_tag(base: &str, bundle: &Bundle) -> String {
    let mut h = Sha256::new();
    h.update(base.as_bytes());
    h.update([0]);
    h.update(bundle.sha256.as_bytes());
    h.update([0]);
    h.update(derived_dockerfile(base).as_bytes());
    let hash = format!("{:x}", h.finalize());
    let last = base
        .rsplit('/')
        .next()
        .unwrap_or(base)
        .split(['@', ':'])
        .next()
        .unwrap_or("base");
    let name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches(|c| c == '-' || c == '.' || c == '_');
    format!(
        "lbc-trust/{}:{}",
        if name.is_empty() { "base" } else { name },
        &hash[..16]
    )
}

/// The Dockerfile of a derived image.
fn derived_dockerfile(base: &str) -> String {
    let mut s = format!(
        "# Written by lbc (issue #11): {base} trusting the organisation's CA certificates.\nFROM {base}\nCOPY ca-certificates.crt {IN_CONTAINER}\n"
    );
    s.push_str("ENV");
    for v in CA_VARS {
        s.push_str(&format!(" {v}={IN_CONTAINER}"));
    }
    s.push('\n');
    s.push_str(&format!(
        "LABEL org.lbc.trust.base=\"{}\"\n",
        base.replace(['"', '\\'], "")
    ));
    s
}

/// Is the derived image `tag` built on the `base` the engine has now? Its tag covers
/// the base's reference, the bundle and the recipe; the layers say whether it sits on
/// the base's current content (a re-pulled base gets a new derived image). Then its
/// `docker build` (a cached one still costs 0.2 s of every rebuild, `lbc watch`) is
/// skipped. A base the engine lacks, or a question it cannot answer, builds.
pub fn derived_is_current(
    runner: &crate::runner::Runner,
    cwd: &Path,
    base: &str,
    tag: &str,
) -> bool {
    use crate::tools::docker::image_inspect;
    let (Ok(Some(derived)), Ok(Some(base))) = (
        image_inspect(runner, cwd, tag),
        image_inspect(runner, cwd, base),
    ) else {
        return false;
    };
    let (d, b) = (derived.layers(), base.layers());
    !b.is_empty() && d.len() == b.len() + 1 && d.starts_with(b)
}

/// The step that builds the derived image of `base` (`docker build` of a two-file
/// context in a private temporary directory; the layer cache makes a repeat instant).
/// `materialize`: write the context (not in a dry run, which shows a placeholder).
pub fn derive_step(
    cwd: &Path,
    base: &str,
    tag: &str,
    bundle: &Bundle,
    materialize: bool,
) -> Result<Step, Error> {
    let (dir, held) = crate::fsutil::private_temp_dir("trust", materialize)?;
    if let Some(held) = held {
        crate::fsutil::write_new(
            &dir.join("Dockerfile"),
            derived_dockerfile(base).as_bytes(),
            0o644,
        )?;
        // World-readable inside the 0700 directory: the classic builder copies the
        // mode, and a build stage that runs as a non-root user must read the bundle.
        let bytes = crate::fsutil::read(&bundle.path)?;
        crate::fsutil::write_new(&dir.join("ca-certificates.crt"), &bytes, 0o644)?;
        crate::catalog::keep_temp_dir(held);
    }
    let exec = crate::tools::docker::build(
        cwd,
        &crate::tools::docker::Build {
            dockerfile: &dir.join("Dockerfile").display().to_string(),
            build_args: &[],
            pass_args: &[],
            platform: None,
            tags: std::slice::from_ref(&tag.to_owned()),
            target: None,
            labels: &[],
            context: &dir.display().to_string(),
        },
    );
    Ok(Step::exec(
        format!(
            "Derive {tag} from {base}: trusts the CA certificates of {} ({})",
            bundle.path.display(),
            bundle.source
        ),
        exec,
    )
    .hint("the base image could not be pulled or read: `lbc catalog` shows which images lbc asks for; LBC_CA_CERTIFICATES=none builds without the CA certificates"))
}

/// The probe `lbc doctor` runs in a build container: fetch each URL, print one line per
/// URL (`URL STATUS` or `URL ERROR: why`), exit non-zero when one failed. The URLs are
/// arguments of the script, never part of it.
pub fn probe_command(urls: &[String]) -> Vec<String> {
    let script = r#"import sys, urllib.request
bad = 0
for u in sys.argv[1:]:
    try:
        r = urllib.request.urlopen(urllib.request.Request(u, method="HEAD", headers={"User-Agent": "lbc-doctor"}), timeout=10)
        print(u, r.status)
    except urllib.error.HTTPError as e:
        print(u, e.code)
        bad += e.code >= 500
    except Exception as e:
        print(u, "ERROR:", getattr(e, "reason", e))
        bad += 1
sys.exit(1 if bad else 0)
"#;
    let mut argv = vec!["python3".to_owned(), "-c".into(), script.into()];
    argv.extend(urls.iter().cloned());
    argv
}

/// `docker run` of the probe in `image` with the bundle mounted and the proxies set.
pub fn probe_exec(cwd: &Path, image: &str, bundle: Option<&Bundle>, urls: &[String]) -> Exec {
    let mut env = proxy_env();
    let mut args = vec!["run".to_owned(), "--rm".into()];
    if let Some(b) = bundle {
        args.push(format!("--volume={}", mount(b)));
        env.extend(ca_env());
    }
    args.extend(env.iter().map(|v| format!("--env={}", v.name)));
    args.push("--".into());
    args.push(image.to_owned());
    args.extend(probe_command(urls));
    Exec::new(
        std::iter::once("docker".to_owned())
            .chain(args)
            .collect::<Vec<_>>(),
        cwd,
    )
    .envs(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_tag_names_the_base_and_changes_with_the_bundle() {
        let b = |sha: &str| Bundle {
            path: "/x".into(),
            source: "host".into(),
            sha256: sha.into(),
            certificates: 1,
        };
        let t1 = derived_tag("registry.corp.example/approved/python:3.12", &b("a"));
        let t2 = derived_tag("registry.corp.example/approved/python:3.12", &b("b"));
        assert!(t1.starts_with("lbc-trust/python:"), "{t1}");
        assert_ne!(t1, t2);
        assert!(crate::image::ImageRef::parse(&t1).is_ok());
        let d = derived_tag("python@sha256:0123", &b("a"));
        assert!(d.starts_with("lbc-trust/python:"), "{d}");
    }

    #[test]
    fn a_bundle_without_certificates_is_refused_and_none_turns_it_off() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ca.pem");
        std::fs::write(&f, "not a certificate").unwrap();
        let e = find(Some(f.to_str().unwrap()), None).unwrap_err();
        assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
        assert!(find(Some("none"), None).unwrap().is_none());
        assert!(find(None, Some(&(None, "catalog.toml:3".into())))
            .unwrap()
            .is_none());
        std::fs::write(
            &f,
            "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let b = find(None, Some(&(Some(f.clone()), "catalog.toml:3".into())))
            .unwrap()
            .unwrap();
        assert_eq!((b.certificates, b.source.as_str()), (1, "catalog.toml:3"));
    }

    #[test]
    fn the_derived_dockerfile_points_every_client_at_the_bundle() {
        let d = derived_dockerfile("python:3.12");
        assert!(d.contains("FROM python:3.12\n"));
        for v in CA_VARS {
            assert!(d.contains(&format!("{v}={IN_CONTAINER}")), "{v}");
        }
    }
}
