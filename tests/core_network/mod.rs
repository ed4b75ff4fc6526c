//! The organisation's network inside builds and task containers (issue #11): the CA
//! bundle that build stages and task containers trust, kept out of the shipped image
//! unless asked, the proxies handed on by name, and `lbc doctor`'s probe.
//!
//! On these machines PyPI answers only through the host's certificate authority (TLS is
//! intercepted): a container without the host's bundle fails certificate verification.
//! The tests do not depend on that: they prove which bundle a container uses by also
//! handing it one that signs nothing (`tests/fixtures/ca/unrelated-ca.pem`), with which
//! the same fetch must fail on any machine.

use crate::support::{docker, docker_env, docker_ok, unique, Cleanup, Project, TestEnv};

/// A stage that fetches from PyPI (as `pip install` would) and a final image that only
/// copies its result.
const DOCKERFILE: &str = r#"ARG BASE
FROM ${BASE} AS deps
RUN python3 -c "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/pip/', timeout=20); open('/tmp/fetched', 'w').write('yes')"

FROM ${BASE} AS runtime
COPY --from=deps /tmp/fetched /fetched
CMD ["cat", "/fetched"]
"#;

const FETCH: &str = "python3 -c \"import urllib.request; print('status', urllib.request.urlopen('https://pypi.org/simple/pip/', timeout=20).status)\"";

fn project(env: &TestEnv, name: &str, image_extra: &str) -> Project {
    let toml = format!(
        r#"[project]
name = "{name}"
[image]
repository = "{registry}/lbc-tests/{name}"
{image_extra}
[image.bases]
BASE = "python"
[tasks.fetch]
image = "python"
run = "{fetch} && printf 'no_proxy=%s\n' \"$NO_PROXY\""
"#,
        registry = env.registry,
        fetch = FETCH.replace('\\', "\\\\").replace('"', "\\\""),
    );
    let p = Project::with(&[("lbc.toml", &toml), ("Dockerfile", DOCKERFILE)]);
    p.git_init();
    p
}

fn unrelated_ca() -> String {
    format!(
        "{}/tests/fixtures/ca/unrelated-ca.pem",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn built_image(out: &str) -> String {
    out.lines().last().unwrap_or_default().trim().to_owned()
}

#[test]
fn build_stages_trust_the_bundle_and_the_shipped_image_does_not_carry_it() {
    let Some(env) =
        docker_env("build_stages_trust_the_bundle_and_the_shipped_image_does_not_carry_it")
    else {
        return;
    };
    let name = unique("trust");
    let p = project(&env, &name, "");
    let mut cleanup = Cleanup::new();

    // The host's bundle (the default): the stage that downloads gets it, through a
    // derived image of its base.
    let run = p
        .lbc()
        .trusting_host()
        .env("LBC_CATALOG", &env.catalog)
        .args(["build"])
        .run()
        .success();
    let image = built_image(&run.stdout());
    cleanup.images.push(image.clone());
    assert_eq!(docker_ok(&["run", "--rm", &image]), "yes");
    // The derived builder image: built once (an earlier test may have built it), then
    // reused without a `docker build` while it sits on the base's current layers.
    let plan = p
        .lbc()
        .trusting_host()
        .env("LBC_CATALOG", &env.catalog)
        .args(["build", "--force", "--dry-run", "--output", "json"])
        .run()
        .success()
        .json();
    let text = plan.to_string();
    assert!(
        run.stderr().contains("Derive lbc-trust/") || text.contains(") is up to date"),
        "{}",
        run.stderr()
    );
    assert!(
        text.contains(") is up to date") && !text.contains("Derive lbc-trust/"),
        "the derived image is reused: {plan}"
    );
    // #14: with a rewritten copy, the OCI labels are one instruction in it, not `--label`s
    // (a build step each in the classic builder), and the image has them all.
    assert!(
        run.stderr().contains("the OCI labels are one instruction"),
        "{}",
        run.stderr()
    );
    assert!(!run.stderr().contains("--label="), "{}", run.stderr());
    let labels = docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        &image,
    ]);
    for key in [
        "org.opencontainers.image.title",
        "org.opencontainers.image.created",
        "org.opencontainers.image.version",
        "org.opencontainers.image.source",
    ] {
        assert!(labels.contains(key), "{key} in {labels}");
    }
    assert!(
        labels.contains(&format!("\"org.opencontainers.image.title\":\"{name}\"")),
        "{labels}"
    );
    // The shipped image has neither the bundle nor the variables.
    let out = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        &image,
        "-c",
        "test ! -e /etc/ssl/certs/lbc-ca-certificates.crt && env",
    ]);
    assert!(out.status.success(), "the shipped image carries the bundle");
    let envs = String::from_utf8_lossy(&out.stdout);
    assert!(!envs.contains("SSL_CERT_FILE"), "{envs}");

    // A bundle that signs nothing: the same download fails, so the stage really
    // uses the bundle lbc hands it (and nothing else).
    let run = p
        .lbc()
        .env("LBC_CATALOG", &env.catalog)
        .env("LBC_CA_CERTIFICATES", unrelated_ca())
        .args(["build", "--force"])
        .run();
    assert_ne!(run.code(), 0, "a build with a CA that signs nothing passed");
    assert!(
        run.stdout().contains("CERTIFICATE_VERIFY_FAILED")
            || run.stderr().contains("CERTIFICATE_VERIFY_FAILED"),
        "{}\n{}",
        run.stdout(),
        run.stderr()
    );
}

#[test]
fn ca_certificates_image_puts_the_bundle_in_the_final_image_too() {
    let Some(env) = docker_env("ca_certificates_image_puts_the_bundle_in_the_final_image_too")
    else {
        return;
    };
    let name = unique("trust-image");
    let p = project(&env, &name, "ca_certificates = \"image\"");
    let mut cleanup = Cleanup::new();
    let run = p
        .lbc()
        .trusting_host()
        .env("LBC_CATALOG", &env.catalog)
        .args(["build"])
        .run()
        .success();
    let image = built_image(&run.stdout());
    cleanup.images.push(image.clone());
    let out = docker_ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        &image,
        "-c",
        "test -s /etc/ssl/certs/lbc-ca-certificates.crt && echo \"$SSL_CERT_FILE\"",
    ]);
    assert_eq!(out, "/etc/ssl/certs/lbc-ca-certificates.crt");
}

#[test]
fn task_containers_get_the_bundle_and_the_proxy_variables() {
    let Some(env) = docker_env("task_containers_get_the_bundle_and_the_proxy_variables") else {
        return;
    };
    let name = unique("trust-task");
    let p = project(&env, &name, "");
    let run = p
        .lbc()
        .trusting_host()
        .env("LBC_CATALOG", &env.catalog)
        .env("NO_PROXY", "registry.corp.invalid")
        .args(["task", "fetch"])
        .run()
        .success();
    let out = run.stdout();
    assert!(out.contains("status 200"), "{out}");
    assert!(out.contains("no_proxy=registry.corp.invalid"), "{out}");
    assert!(
        run.stderr().contains(
            "--volume=/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/lbc-ca-certificates.crt:ro"
        ) || run
            .stderr()
            .contains(":/etc/ssl/certs/lbc-ca-certificates.crt:ro"),
        "{}",
        run.stderr()
    );
    let run = p
        .lbc()
        .env("LBC_CATALOG", &env.catalog)
        .env("LBC_CA_CERTIFICATES", unrelated_ca())
        .args(["task", "fetch"])
        .run();
    assert_ne!(run.code(), 0, "a task with a CA that signs nothing fetched");
}

#[test]
fn doctor_probes_the_registries_from_a_build_container() {
    let Some(env) = docker_env("doctor_probes_the_registries_from_a_build_container") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.toml");
    let base = std::fs::read_to_string(&env.catalog).unwrap();
    std::fs::write(
        &catalog,
        format!("{base}\n[network]\nprobe = [\"https://pypi.org/simple/pip/\"]\n"),
    )
    .unwrap();
    let p = Project::with(&[("README", "x")]);
    let doc = p
        .lbc()
        .trusting_host()
        .env("LBC_CATALOG", &catalog)
        .args(["doctor", "--output", "json"])
        .run()
        .json();
    let check = |doc: &serde_json::Value, name: &str| {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no `{name}` check in {doc}"))
    };
    let reg = check(&doc, "registries");
    assert_eq!(reg["ok"], true, "{reg}");
    assert!(reg["detail"]
        .as_str()
        .unwrap()
        .contains("https://pypi.org/simple/pip/ 200"));
    let doc = p
        .lbc()
        .env("LBC_CATALOG", &catalog)
        .env("LBC_CA_CERTIFICATES", unrelated_ca())
        .args(["doctor", "--output", "json"])
        .run()
        .json();
    let reg = check(&doc, "registries");
    assert_eq!(reg["ok"], false, "{reg}");
    assert!(reg["fix"].as_str().unwrap().contains("LBC_CA_CERTIFICATES"));
    let ca = check(&doc, "CA certificates");
    assert!(
        ca["detail"]
            .as_str()
            .unwrap()
            .contains("unrelated-ca.pem (LBC_CA_CERTIFICATES, 1 certificate)"),
        "{ca}"
    );
}

#[test]
fn a_bad_bundle_or_probe_is_refused_with_where_it_was_set() {
    // A catalogue's `[network]`: a probe that is not a URL, at its line.
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(
        &catalog,
        "[images]\npython = \"python:3.12\"\n\n[network]\nprobe = [\"ftp://x\"]\n",
    )
    .unwrap();
    let p = Project::with(&[("README", "x")]);
    let run = p
        .lbc()
        .env("LBC_CATALOG", &catalog)
        .args(["catalog"])
        .run()
        .code_is(2);
    assert!(run.stderr().contains("catalog.toml:5"), "{}", run.stderr());
    assert!(
        run.stderr().contains("not an http(s) URL"),
        "{}",
        run.stderr()
    );

    // A bundle without a certificate, set in the catalogue: named with its line.
    std::fs::write(dir.path().join("ca.pem"), "nothing here").unwrap();
    std::fs::write(
        &catalog,
        "[images]\npython = \"python:3.12\"\n\n[network]\nca_certificates = \"ca.pem\"\n",
    )
    .unwrap();
    let p = Project::with(&[
        (
            "lbc.toml",
            "[project]\nname = \"badca\"\n[image]\nrepository = \"registry.example.com/badca\"\n",
        ),
        ("Dockerfile", "FROM python:3.12 AS deps\nFROM python:3.12\n"),
    ]);
    let run = p
        .lbc()
        .env_remove("LBC_CA_CERTIFICATES")
        .env("LBC_CATALOG", &catalog)
        .args(["build", "--dry-run"])
        .run()
        .code_is(2);
    let err = run.stderr();
    assert!(err.contains("holds no PEM certificate"), "{err}");
    assert!(err.contains("catalog.toml:5"), "{err}");
}
