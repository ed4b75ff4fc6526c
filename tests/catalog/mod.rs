//! The catalogue as the organisation's image policy (issue #16): every `FROM` of a
//! Dockerfile resolved through `[map]` (the real registry of the test environment
//! stands in for the internal mirror), `enforce` refusing and `warn` building, the lock
//! pinning digests that the next build uses, `lbc catalog check`, and a catalogue read
//! from a git repository at a tag.

use std::path::Path;

use crate::support::{
    docker, docker_env, docker_ok, git_in, unique, Cleanup, Lbc, Project, TestEnv,
};

/// Push local test images to the registry under `NS/python:3.11-slim` and `NS/node:20`
/// (the "mirror"); returns the mirror prefix `REGISTRY/NS`.
fn mirror(env: &TestEnv, clean: &mut Cleanup) -> String {
    let ns = unique("lbc-catalog");
    let prefix = format!("{}/{ns}", env.registry);
    let cfg = login(env);
    for (local, name) in [
        ("lbc-test/python:bookworm", "python:3.11-slim"),
        ("lbc-test/node:bookworm", "node:20"),
    ] {
        let r = format!("{prefix}/{name}");
        docker_ok(&["tag", local, &r]);
        clean.images.push(r.clone());
        push(&cfg, &r);
    }
    prefix
}

fn push(cfg: &tempfile::TempDir, r: &str) {
    let out = std::process::Command::new("docker")
        .args(["push", r])
        .env("DOCKER_CONFIG", cfg.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "push {r}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private docker configuration logged in to the test registry.
fn login(env: &TestEnv) -> tempfile::TempDir {
    let cfg = tempfile::tempdir().unwrap();
    let mut login = std::process::Command::new("docker")
        .args([
            "login",
            &env.registry,
            "--username",
            &env.user,
            "--password-stdin",
        ])
        .env("DOCKER_CONFIG", cfg.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    login
        .stdin
        .take()
        .unwrap()
        .write_all(env.password.as_bytes())
        .unwrap();
    assert!(
        login.wait().unwrap().success(),
        "docker login to the test registry"
    );
    cfg
}

fn catalog_toml(policy: &str, prefix: &str, registry: &str) -> String {
    format!(
        "policy = \"{policy}\"\n\n[map]\n\"python:*\" = \"{prefix}/python:*\"\n\"node:20\" = \"{prefix}/node:20\"\n\n[registries.\"{registry}\"]\nusername_env = \"LBC_T_USER\"\npassword_env = \"LBC_T_PASSWORD\"\n"
    )
}

/// A repository whose Dockerfile names public images, in several stages, some through
/// `ARG`s.
const PUBLIC_DOCKERFILE: &str = "# syntax=docker/dockerfile:1
ARG PY=3.11-slim
ARG NODE_IMAGE=node
FROM python:${PY} AS build
RUN echo built > /built

FROM ${NODE_IMAGE}:20 AS web
RUN echo web > /web

FROM build AS runtime
COPY --from=web /web /web
CMD [\"cat\", \"/built\", \"/web\"]
";

fn project(name: &str, registry: &str, dockerfile: &str) -> Project {
    let p = Project::with(&[
        (
            "lbc.toml",
            &format!("[project]\nname = \"{name}\"\n[image]\nrepository = \"{registry}/lbc-tests/{name}\"\n"),
        ),
        ("Dockerfile", dockerfile),
        (".dockerignore", ".git\n"),
    ]);
    p.git_init();
    p
}

fn lbc(p: &Project, catalog: &Path, env: &TestEnv) -> Lbc {
    p.lbc()
        .env("LBC_CATALOG", catalog)
        .env("LBC_T_USER", &env.user)
        .env("LBC_T_PASSWORD", &env.password)
}

fn file_arg(plan: &serde_json::Value) -> String {
    let steps = plan["plan"]["steps"].as_array().unwrap();
    let argv = steps.last().unwrap()["argv"].as_array().unwrap();
    argv.iter()
        .find_map(|a| a.as_str()?.strip_prefix("--file="))
        .unwrap()
        .to_owned()
}

#[test]
fn public_images_build_through_the_mapping_and_the_lock_pins_them() {
    let Some(env) = docker_env("public_images_build_through_the_mapping_and_the_lock_pins_them")
    else {
        return;
    };
    let mut clean = Cleanup::new();
    let prefix = mirror(&env, &mut clean);
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(&catalog, catalog_toml("enforce", &prefix, &env.registry)).unwrap();
    let name = unique("catmap");
    let p = project(&name, &env.registry, PUBLIC_DOCKERFILE);

    // --dry-run shows each mapping with its Dockerfile line, and builds from a copy.
    let dry = lbc(&p, &catalog, &env)
        .args(["build", "--dry-run"])
        .run()
        .success();
    dry.stdout_has(&format!(
        "Dockerfile:4: FROM python:${{PY}} AS build  -> {prefix}/python:3.11-slim ([map] \"python:*\")"
    ))
    .stdout_has(&format!(
        "Dockerfile:7: FROM ${{NODE_IMAGE}}:20 AS web  -> {prefix}/node:20 ([map] \"node:20\")"
    ));
    let plan = lbc(&p, &catalog, &env)
        .args(["build", "--dry-run", "--output", "json"])
        .run()
        .success()
        .json();
    let bases = plan["target"]["bases"].as_array().unwrap();
    assert_eq!(bases.len(), 2, "stage `build` is not an image: {bases:?}");
    assert_eq!(bases[0]["status"], "mapped");
    assert_eq!(bases[0]["line"], 4);
    assert!(!file_arg(&plan).starts_with(p.path().to_str().unwrap()));

    // The real build: from the mirror, through a copy outside the repository.
    let out = lbc(&p, &catalog, &env)
        .args(["build", "--output", "json"])
        .run()
        .success();
    let j = out.json();
    let image = j["image"].as_str().unwrap().to_owned();
    clean.images.push(image.clone());
    assert_eq!(
        p.read("Dockerfile"),
        PUBLIC_DOCKERFILE,
        "the repository's file is never modified"
    );
    let copy = j["steps"][1]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|a| a.as_str()?.strip_prefix("--file="))
        .unwrap()
        .to_owned();
    assert!(!copy.starts_with(p.path().to_str().unwrap()), "{copy}");
    assert!(
        !Path::new(&copy).exists(),
        "the copy {copy} is removed after the build"
    );
    let ran = docker_ok(&["run", "--rm", &image]);
    assert_eq!(ran, "built\nweb");

    // lock: the catalogue's tags resolved to digests with the same login as push.
    let lock_file = dir.path().join("catalog.lock");
    let plan = lbc(&p, &catalog, &env)
        .args(["catalog", "lock", "--dry-run", "--output", "json"])
        .run()
        .success()
        .nowhere(&env.password)
        .json();
    let kinds: Vec<&str> = plan["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["argv"][1].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["login", "pull", "pull"]);
    assert_eq!(plan["plan"]["steps"][0]["stdin"], "secret (redacted)");
    assert!(!lock_file.exists(), "a dry run writes no lock");
    let locked = lbc(&p, &catalog, &env)
        .args(["catalog", "lock"])
        .run()
        .success()
        .nowhere(&env.password);
    locked.stdout_has(lock_file.to_str().unwrap());
    let lock = std::fs::read_to_string(&lock_file).unwrap();
    let digests = docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{join .RepoDigests \" \"}}",
        &format!("{prefix}/python:3.11-slim"),
    ]);
    let python_digest = digests
        .split(' ')
        .find_map(|d| d.strip_prefix(&format!("{prefix}/python@")))
        .unwrap()
        .to_owned();
    assert!(
        lock.contains(&format!(
            "\"{prefix}/python:3.11-slim\" = \"{python_digest}\""
        )),
        "{lock}"
    );
    assert!(
        lock.contains(&format!("\"{prefix}/node:20\" = \"sha256:")),
        "{lock}"
    );

    // The next build uses the digests (and rebuilds: its inputs changed).
    let plan = lbc(&p, &catalog, &env)
        .args(["build", "--dry-run", "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(
        plan["target"]["bases"][0]["image"],
        format!("{prefix}/python:3.11-slim@{python_digest}")
    );
    assert_eq!(plan["target"]["bases"][0]["locked"], python_digest);
    assert_eq!(plan["target"]["up_to_date"], false);
    let again = lbc(&p, &catalog, &env).args(["build"]).run().success();
    again.stderr_has(&format!(
        "FROM {prefix}/python:3.11-slim@{python_digest} AS build"
    ));
}

#[test]
fn enforce_refuses_with_file_line_and_entry_and_warn_builds() {
    let Some(env) = docker_env("enforce_refuses_with_file_line_and_entry_and_warn_builds") else {
        return;
    };
    let mut clean = Cleanup::new();
    let prefix = mirror(&env, &mut clean);
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(&catalog, catalog_toml("enforce", &prefix, &env.registry)).unwrap();
    let name = unique("catenf");
    // lbc-test/busybox exists locally, so warn mode can build from it.
    let dockerfile = "FROM python:3.11-slim AS base\nFROM lbc-test/busybox:bookworm\nCOPY --from=base /etc/os-release /x\n";
    let p = project(&name, &env.registry, dockerfile);

    let refused = lbc(&p, &catalog, &env).args(["build"]).run().code_is(5);
    refused
        .stderr_has("policy enforce) refuses 1 image")
        .stderr_has("Dockerfile:2: lbc-test/busybox:bookworm")
        .stderr_has(&format!(
            "allowed by this entry: [map] \"lbc-test/busybox:bookworm\" = \"{prefix}/lbc-test/busybox:bookworm\""
        ));
    assert!(
        !p.path().join(".lbc").exists(),
        "nothing built, nothing recorded"
    );
    lbc(&p, &catalog, &env)
        .args(["build", "--dry-run"])
        .run()
        .code_is(5);

    // `catalog check` for CI: every image, and exit 5 under enforce.
    let check = lbc(&p, &catalog, &env)
        .args(["catalog", "check", "--output", "json"])
        .run()
        .code_is(5);
    let j = check.json();
    assert_eq!(j["ok"], false);
    assert_eq!(j["not_approved"], 1);
    let images = j["images"].as_array().unwrap();
    assert_eq!(images[0]["status"], "mapped");
    assert_eq!(images[1]["status"], "unapproved");
    assert_eq!(images[1]["file"], "Dockerfile");
    assert_eq!(images[1]["line"], 2);

    // warn: the same repository builds, and the image is listed.
    std::fs::write(&catalog, catalog_toml("warn", &prefix, &env.registry)).unwrap();
    let built = lbc(&p, &catalog, &env)
        .args(["build", "--output", "json"])
        .run()
        .success();
    let built = built.stderr_has("warning: Dockerfile:2: lbc-test/busybox:bookworm (`FROM lbc-test/busybox:bookworm`) is not approved");
    clean
        .images
        .push(built.json()["image"].as_str().unwrap().to_owned());
    lbc(&p, &catalog, &env)
        .args(["catalog", "check"])
        .run()
        .success()
        .stdout_has("NOT APPROVED");
    lbc(&p, &catalog, &env)
        .args(["catalog", "check", "--strict"])
        .run()
        .code_is(5);
    assert!(docker(&["image", "inspect", "lbc-test/busybox:bookworm"])
        .status
        .success());
}

#[test]
fn check_lists_task_images_chart_values_and_other_dockerfiles() {
    // #16: no Docker needed; everything the repository uses, against the catalogue.
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(
        &catalog,
        "[images]\npython = \"mirror.corp/python:3.12\"\n[map]\n\"redis:*\" = \"mirror.corp/redis:*\"\n",
    )
    .unwrap();
    let p = Project::with(&[
        (
            "lbc.toml",
            "[project]\nname = \"chk\"\n[image]\nrepository = \"registry.example.com/team/chk\"\n[image.bases]\nBASE = \"python\"\n[tasks.format]\nrun = [\"ruff\", \"format\"]\nimage = \"ghcr.io/astral-sh/ruff:0.6\"\n",
        ),
        ("Dockerfile", "ARG BASE\nFROM ${BASE}\n"),
        ("tools/Dockerfile.dev", "FROM redis:7\n"),
        (
            "deploy/chart/values.yaml",
            "image:\n  repository: registry.example.com/team/chk\n  tag: \"\"\ncache:\n  image: redis:7.2\n",
        ),
    ]);
    let j = Lbc::new()
        .current_dir(p.path())
        .env("LBC_CATALOG", &catalog)
        .args(["catalog", "check", "--output", "json"])
        .run()
        .success()
        .json();
    let seen: Vec<(String, String, String)> = j["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                format!("{}:{}", i["file"].as_str().unwrap(), i["line"]),
                i["requested"].as_str().unwrap().to_owned(),
                i["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let s = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        seen,
        [
            s("Dockerfile:2", "mirror.corp/python:3.12", "approved"),
            s("tools/Dockerfile.dev:1", "redis:7", "mapped"),
            s("lbc.toml:9", "ghcr.io/astral-sh/ruff:0.6", "unapproved"),
            s("deploy/chart/values.yaml:5", "redis:7.2", "mapped"),
        ],
        "{j}"
    );
    assert_eq!(j["catalog"]["policy"], "warn");
    assert_eq!(j["ok"], true, "warn does not fail the check");
    let human = Lbc::new()
        .current_dir(p.path())
        .env("LBC_CATALOG", &catalog)
        .args(["catalog", "check"])
        .run()
        .success()
        .stdout()
        .replace(catalog.to_str().unwrap(), "[CATALOG]");
    insta::assert_snapshot!("catalog_check_human", human);

    // enforce: the unapproved task image is refused before the task runs.
    let text = std::fs::read_to_string(&catalog).unwrap();
    std::fs::write(&catalog, format!("policy = \"enforce\"\n{text}")).unwrap();
    Lbc::new()
        .current_dir(p.path())
        .env("LBC_CATALOG", &catalog)
        .args(["format", "--dry-run"])
        .run()
        .code_is(5)
        .stderr_has("task format: image = \"ghcr.io/astral-sh/ruff:0.6\"")
        .stderr_has("allowed by this entry: allow = [\"ghcr.io/astral-sh/ruff:0.6\"]");
    Lbc::new()
        .current_dir(p.path())
        .env("LBC_CATALOG", &catalog)
        .args(["catalog", "check"])
        .run()
        .code_is(5)
        .stdout_has("lbc.toml:9: task format")
        .stderr_has("error: 1 image of the repository is not approved by the image catalogue");

    // A repository without lbc.toml (not adopted yet) is checked too.
    let bare = Project::with(&[("Dockerfile", "FROM redis:7 AS cache\nFROM cache\n")]);
    let j = Lbc::new()
        .current_dir(bare.path())
        .env("LBC_CATALOG", &catalog)
        .args(["catalog", "check", "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(j["images"].as_array().unwrap().len(), 1, "{j}");
    assert_eq!(j["images"][0]["image"], "mirror.corp/redis:7");
}

#[test]
fn catalogue_from_a_git_repository_at_a_tag() {
    // #16: fetched once into lbc's cache; a tag already there is used without the network.
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("platform");
    std::fs::create_dir(&repo).unwrap();
    git_in(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(
        repo.join("catalog.toml"),
        "policy = \"enforce\"\n[map]\n\"python:*\" = \"mirror.corp/v1/python:*\"\n",
    )
    .unwrap();
    // The platform team commits the lock beside the catalogue.
    let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    std::fs::write(
        repo.join("catalog.lock"),
        format!("[digests]\n\"mirror.corp/v1/python:3.12\" = \"{d}\"\n"),
    )
    .unwrap();
    git_in(&repo, &["add", "-A"]);
    git_in(&repo, &["commit", "-q", "-m", "v1"]);
    git_in(&repo, &["tag", "v1"]);
    std::fs::write(
        repo.join("catalog.toml"),
        "policy = \"warn\"\n[map]\n\"python:*\" = \"mirror.corp/v2/python:*\"\n",
    )
    .unwrap();
    git_in(&repo, &["commit", "-q", "-am", "v2"]);
    git_in(&repo, &["tag", "v2"]);
    let cache = work.path().join("cache");
    let url = format!("file://{}", repo.display());
    let list = |tag: &str| {
        Lbc::new()
            .env("LBC_CATALOG", format!("git+{url}#{tag}"))
            .env("XDG_CACHE_HOME", &cache)
            .args(["catalog", "--output", "json"])
            .run()
    };
    let j = list("v1").success().json();
    assert_eq!(j["source"]["kind"], "git");
    assert_eq!(j["source"]["ref"], "v1");
    assert_eq!(j["policy"], "enforce");
    assert_eq!(j["map"][0]["to"], "mirror.corp/v1/python:*");
    assert_eq!(j["locked"]["mirror.corp/v1/python:3.12"], d);
    assert_eq!(list("v2").success().json()["policy"], "warn");
    // A branch is fetched on every run.
    assert_eq!(list("main").success().json()["policy"], "warn");
    std::fs::write(repo.join("catalog.toml"), "policy = \"none\"\n").unwrap();
    git_in(&repo, &["commit", "-q", "-am", "v3"]);
    assert_eq!(list("main").success().json()["policy"], "none");
    // The remote is gone: the cached tags still serve.
    std::fs::rename(&repo, work.path().join("moved")).unwrap();
    assert_eq!(
        list("v1").success().json()["map"][0]["to"],
        "mirror.corp/v1/python:*"
    );
    list("v3")
        .code_is(1)
        .stderr_has("could not fetch the catalogue");
    // The lock of a git catalogue lives in its repository.
    Lbc::new()
        .env("LBC_CATALOG", format!("git+{url}#v1"))
        .env("XDG_CACHE_HOME", &cache)
        .args(["catalog", "lock"])
        .run()
        .code_is(2)
        .stderr_has("its lock file is committed in that repository");
}

#[test]
fn a_base_only_in_the_authenticated_mirror_is_pulled_with_the_catalogue_credentials() {
    let Some(env) = docker_env(
        "a_base_only_in_the_authenticated_mirror_is_pulled_with_the_catalogue_credentials",
    ) else {
        return;
    };
    let mut clean = Cleanup::new();
    // An image that exists only in the registry (pushed, then removed here).
    let ns = unique("lbc-catalog-pull");
    let mirrored = format!("{}/{ns}/busybox:1.36", env.registry);
    let mut build = std::process::Command::new("docker")
        .args(["build", "--quiet", "--tag", &mirrored, "-"])
        .env("DOCKER_BUILDKIT", "0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    build
        .stdin
        .take()
        .unwrap()
        .write_all(format!("FROM lbc-test/busybox:bookworm\nLABEL test={ns}\n").as_bytes())
        .unwrap();
    assert!(build.wait().unwrap().success());
    let cfg = login(&env);
    push(&cfg, &mirrored);
    docker_ok(&["rmi", &mirrored]);
    clean.images.push(mirrored.clone());

    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(
        &catalog,
        format!(
            "policy = \"enforce\"\n[map]\n\"busybox:*\" = \"{}/{ns}/busybox:*\"\n[registries.\"{}\"]\nusername_env = \"LBC_T_USER\"\npassword_env = \"LBC_T_PASSWORD\"\n",
            env.registry, env.registry
        ),
    )
    .unwrap();
    let name = unique("catpull");
    let p = project(&name, &env.registry, "FROM busybox:1.36\nCMD [\"true\"]\n");

    // Without the variables the catalogue names: refused before anything runs.
    p.lbc()
        .env("LBC_CATALOG", &catalog)
        .env_remove("LBC_T_USER")
        .env_remove("LBC_T_PASSWORD")
        .args(["build"])
        .run()
        .code_is(2)
        .stderr_has("LBC_T_USER or LBC_T_PASSWORD is not set");
    let plan = lbc(&p, &catalog, &env)
        .args(["build", "--dry-run", "--output", "json"])
        .run()
        .success()
        .nowhere(&env.password)
        .json();
    assert_eq!(plan["plan"]["steps"][0]["argv"][1], "login");
    assert_eq!(plan["plan"]["steps"][0]["stdin"], "secret (redacted)");
    let out = lbc(&p, &catalog, &env)
        .args(["build", "--output", "json"])
        .run()
        .success()
        .nowhere(&env.password);
    let j = out.json();
    clean.images.push(j["image"].as_str().unwrap().to_owned());
    assert_eq!(j["steps"][0]["argv"][1], "login");
    assert!(
        docker(&["image", "inspect", &mirrored]).status.success(),
        "the base was pulled from the mirror"
    );

    // A task's stage build logs in the same way.
    docker_ok(&["rmi", &mirrored]);
    p.write(
        "lbc.toml",
        &format!(
            "{}[tasks.check]\nrun = [\"true\"]\nstage = \"test\"\n",
            p.read("lbc.toml")
        ),
    );
    p.write("Dockerfile", "FROM busybox:1.36 AS test\nCMD [\"true\"]\n");
    clean.images.push(format!("lbc-task/{name}:test"));
    lbc(&p, &catalog, &env)
        .args(["task", "check"])
        .run()
        .success()
        .stderr_has("Log in to")
        .nowhere(&env.password);
    assert!(docker(&["image", "inspect", &mirrored]).status.success());
}

#[test]
fn doctor_reports_the_catalogue_and_points_at_a_bad_line() {
    let Some(_env) = docker_env("doctor_reports_the_catalogue_and_points_at_a_bad_line") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(
        &catalog,
        "policy = \"enforce\"\n[map]\n\"python:*\" = \"mirror.corp/python:*\"\n",
    )
    .unwrap();
    let j = Lbc::new()
        .current_dir(dir.path())
        .env("LBC_CATALOG", &catalog)
        .args(["doctor", "--output", "json"])
        .run()
        .json();
    let check = j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "image catalogue")
        .cloned()
        .unwrap();
    assert_eq!(check["ok"], true, "{check}");
    assert!(
        check["detail"].as_str().unwrap().contains("policy enforce"),
        "{check}"
    );
    std::fs::write(&catalog, "[map]\n\"python:*\" = \"Mirror.corp/Python:*\"\n").unwrap();
    Lbc::new()
        .current_dir(dir.path())
        .env("LBC_CATALOG", &catalog)
        .args(["doctor"])
        .run()
        .code_is(1)
        .stdout_has("PROBLEM  image catalogue")
        .stdout_has("catalog.toml:2:");
}

/// Issues #10 and #16: the images of backing services go through the catalogue's policy
/// like every other image: `lbc catalog check` lists them (with the line of their table),
/// and under `enforce` a deploy that would run an unapproved one is refused before
/// anything starts; a mapped one is used.
#[test]
fn service_images_are_checked_and_mapped_by_the_catalogue() {
    // The deploy's planning inspects the app's image on the engine.
    if docker_env("service_images_are_checked_and_mapped_by_the_catalogue").is_none() {
        return;
    }
    let p = Project::with(&[(
        "lbc.toml",
        "[project]\nname = \"svcpolicy\"\n[image]\nrepository = \"registry.example.com/svcpolicy\"\n\n[services.db]\ntype = \"postgres\"\nversion = \"15\"\n\n[services.cache]\ntype = \"redis\"\nversion = \"7\"\n\n[env.local]\nport = 18999\n",
    )]);
    let catalog = p.path().join("catalog.toml");
    std::fs::write(
        &catalog,
        "policy = \"enforce\"\n[map]\n\"postgres:*\" = \"mirror.example.com/approved/postgres:*\"\n",
    )
    .unwrap();
    let out = p
        .lbc()
        .env("LBC_CATALOG", &catalog)
        .args(["catalog", "check", "--output", "json"])
        .run()
        .code_is(5);
    let text = out.stdout();
    let j: serde_json::Value = serde_json::from_str(&text).unwrap();
    let uses = j["images"].as_array().expect("images listed");
    let service = |name: &str| {
        uses.iter()
            .find(|u| u["kind"] == "service" && u["context"].as_str().unwrap().contains(name))
            .unwrap_or_else(|| panic!("service {name} listed: {text}"))
            .clone()
    };
    let db = service("service db");
    assert_eq!(db["image"], "mirror.example.com/approved/postgres:15");
    assert_eq!(db["line"], 6);
    let cache = service("service cache");
    assert_eq!(cache["requested"], "redis:7");
    assert_ne!(
        cache["status"], db["status"],
        "redis is not approved: {text}"
    );
    // A deploy that would start the unapproved redis is refused before anything runs.
    p.lbc()
        .env("LBC_CATALOG", &catalog)
        .args([
            "deploy",
            "local",
            "--image",
            "lbc-test/debian:bookworm",
            "--dry-run",
        ])
        .run()
        .code_is(5)
        .stderr_has("redis:7");
}
