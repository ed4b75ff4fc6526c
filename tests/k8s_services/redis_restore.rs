//! `lbc restore` of a Redis service of a kubernetes environment (issue #10): the plan
//! (copy the RDB into the pod on `kubectl exec --stdin`, check it, put it in place of the
//! server's RDB file with snapshots off and writes paused, restart the pod, wait for it),
//! and, since the API emulator runs no pods, that plan played step by step on the real
//! Redis image of the test catalogue in Docker, started exactly as the StatefulSet is
//! rendered: each `kubectl exec POD -- ARGV` as `docker exec CONTAINER ARGV` (stdin
//! from the same file), the pod's deletion and re-creation as a stop and start of the
//! container on its volume, the readiness wait as the rendered readiness probe.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{docker, docker_ok, unique, Cleanup, Lbc, Project};

const POD: &str = "shop-cache-0";

/// A project from `lbc init` (the shared chart) with a Redis service and kubernetes
/// environments that point at no cluster: plans only.
fn project() -> (Project, PathBuf) {
    let parent = Project::empty();
    parent
        .lbc()
        .args(["init", "shop", "--stack", "python", "--yes"])
        .run()
        .success();
    let dir = parent.path().join("shop");
    std::fs::write(
        dir.join("lbc.toml"),
        r#"[project]
name = "shop"
[image]
repository = "registry.example.com/shop"
[deploy]
chart = "deploy/chart"
[services.cache]
type = "redis"
[env.staging]
context = "nowhere"
namespace = "shop-staging"
timeout = "30s"
[env.production]
context = "nowhere"
namespace = "shop-prod"
protected = true
[env.production.services.cache]
secret = "platform-cache"
"#,
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("instances")).unwrap();
    std::fs::write(dir.join("instances/acme.toml"), "").unwrap();
    (parent, dir)
}

/// lbc in `dir` with the test's kubectl first on PATH (planning asks the pod, and a dry
/// run says what it could not learn).
fn lbc(dir: &Path, kubectl: &Path) -> Lbc {
    Lbc::new().current_dir(dir).env(
        "PATH",
        format!(
            "{}:{}",
            kubectl.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    )
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_plan_of_a_kubernetes_redis_restore() {
    // issue #10: through the plan, --dry-run shows it; per instance in its namespace;
    // an external Redis is refused (exit 2) as every external restore is.
    let test = "k8s_services::redis_restore::the_plan_of_a_kubernetes_redis_restore";
    let Some(kube) = crate::support::kube_env(test) else {
        return;
    };
    let (_parent, dir) = project();
    let backups = tempfile::tempdir().unwrap();
    let name = "shop_staging_cache_20261129T201500Z_redis-7.0.15.rdb";
    std::fs::write(backups.path().join(name), "REDIS0010-placeholder").unwrap();
    let bdir = backups.path().to_str().unwrap();
    let human = lbc(&dir, &kube.kubectl)
        .args(["restore", "staging", "--from", name, "--dry-run"])
        .args(["--backup-dir", bdir])
        .run()
        .success()
        .stdout();
    let pid = regex::Regex::new(r"lbc-restore-[0-9]+\.").unwrap();
    let text = pid
        .replace_all(
            &human
                .replace(&dir.display().to_string(), "[PROJECT]")
                .replace(bdir, "[BACKUPS]"),
            "lbc-restore-[PID].",
        )
        .into_owned();
    insta::assert_snapshot!("kubernetes_redis_restore_plan", text);

    let plan = lbc(&dir, &kube.kubectl)
        .args(["restore", "staging", "--from", name, "--dry-run"])
        .args(["--output", "json", "--backup-dir", bdir])
        .run()
        .success()
        .json();
    let steps = plan["plan"]["steps"].as_array().unwrap();
    let copy = strings(&steps[0]["argv"]);
    assert!(copy.contains(&"--stdin".to_owned()), "{plan}");
    assert_eq!(
        steps[0]["stdin"]["file"],
        backups.path().join(name).display().to_string(),
        "the backup reaches the pod on stdin, its name in no command: {plan}"
    );
    assert!(!copy.iter().any(|a| a.contains(name)), "{copy:?}");
    assert_eq!(
        copy.last().unwrap(),
        "21",
        "the size the pod must receive: {copy:?}"
    );
    let kinds: Vec<String> = steps
        .iter()
        .map(|s| strings(&s["argv"])[1].clone())
        .collect();
    assert_eq!(
        kinds,
        ["exec", "exec", "delete", "exec", "wait", "wait", "exec"],
        "{plan}"
    );
    assert_eq!(steps[3]["on_failure_from_step"], 3, "{plan}");
    assert_eq!(steps[6]["always"], true, "{plan}");
    assert!(
        strings(&steps[2]["argv"]).contains(&format!("pod/{POD}")),
        "{plan}"
    );
    for s in steps {
        assert!(
            strings(&s["argv"]).contains(&"--namespace=shop-staging".to_owned()),
            "{s}"
        );
    }

    // An instance's Redis is its own: the same plan in the instance's namespace.
    std::fs::write(
        backups
            .path()
            .join("shop-acme_staging_cache_20261129T201500Z_redis-7.0.15.rdb"),
        "REDIS",
    )
    .unwrap();
    let acme = lbc(&dir, &kube.kubectl)
        .args([
            "restore",
            "staging",
            "--instance",
            "acme",
            "--from",
            "staging",
        ])
        .args(["--dry-run", "--output", "json", "--backup-dir", bdir])
        .run()
        .success()
        .json();
    let steps = acme["plan"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 7, "{acme}");
    assert_eq!(
        steps[0]["stdin"]["file"],
        backups
            .path()
            .join("shop-acme_staging_cache_20261129T201500Z_redis-7.0.15.rdb")
            .display()
            .to_string()
    );
    for s in steps {
        assert!(
            strings(&s["argv"]).contains(&"--namespace=shop-acme".to_owned()),
            "{s}"
        );
    }

    // A backup that is not Redis's cannot go into the Redis service.
    std::fs::write(
        backups
            .path()
            .join("shop_staging_cache_20261129T201500Z_postgres-15.20.dump"),
        "x",
    )
    .unwrap();
    lbc(&dir, &kube.kubectl)
        .args([
            "restore",
            "staging",
            "--from",
            "shop_staging_cache_20261129T201500Z_postgres-15.20.dump",
            "--dry-run",
        ])
        .args(["--backup-dir", bdir])
        .run()
        .code_is(2)
        .stderr_has("was written by postgres-15.20, but service `cache` is redis");

    // Production's Redis is the platform's (a Secret): refused, nothing planned.
    std::fs::write(
        backups
            .path()
            .join("shop_production_cache_20261129T201500Z_redis-7.0.15.rdb"),
        "REDIS",
    )
    .unwrap();
    lbc(&dir, &kube.kubectl)
        .args(["restore", "production", "--from", "production", "--yes"])
        .args(["--backup-dir", bdir])
        .run()
        .code_is(2)
        .stderr_has("service `cache` of `production` is external (Secret platform-cache): lbc does not restore it")
        .stderr_has("restore it with the platform that manages it");

    // From a bucket: the download comes first, the copy reads the downloaded file with
    // the object's size, and the on-failure step still follows the restart.
    if let Some(s3) = crate::services::S3Server::start(test) {
        s3.bucket("k8s-redis");
        let up = Command::new("rclone")
            .args(["--config", "/dev/null", "copyto"])
            .arg(backups.path().join(name))
            .arg(format!(":s3:k8s-redis/shop/{name}"))
            .env("RCLONE_S3_PROVIDER", "Other")
            .env("RCLONE_S3_ENDPOINT", &s3.endpoint)
            .env("RCLONE_S3_ACCESS_KEY_ID", "lbc-test-key")
            .env("RCLONE_S3_SECRET_ACCESS_KEY", "lbc-test-secret-0123456789")
            .env_remove("AWS_CA_BUNDLE")
            .output()
            .unwrap();
        assert!(
            up.status.success(),
            "{}",
            String::from_utf8_lossy(&up.stderr)
        );
        let toml = std::fs::read_to_string(dir.join("lbc.toml")).unwrap();
        std::fs::write(
            dir.join("lbc.toml"),
            format!("{toml}[backup]\nendpoint = \"{}\"\n", s3.endpoint),
        )
        .unwrap();
        let plan = lbc(&dir, &kube.kubectl)
            .env("AWS_ACCESS_KEY_ID", "lbc-test-key")
            .env("AWS_SECRET_ACCESS_KEY", "lbc-test-secret-0123456789")
            .env_remove("AWS_CA_BUNDLE")
            .args(["restore", "staging", "--from", "staging", "--dry-run"])
            .args(["--output", "json", "--backup-dir", "s3://k8s-redis/shop"])
            .run()
            .success()
            .json();
        let steps = plan["plan"]["steps"].as_array().unwrap();
        let download = strings(&steps[0]["argv"]);
        assert!(download.contains(&"copyto".to_owned()), "{plan}");
        assert_eq!(
            steps[1]["stdin"]["file"].as_str(),
            download.last().map(String::as_str),
            "{plan}"
        );
        assert_eq!(strings(&steps[1]["argv"]).last().unwrap(), "21", "{plan}");
        assert!(
            strings(&steps[3]["argv"]).contains(&format!("pod/{POD}")),
            "{plan}"
        );
        assert_eq!(steps[4]["on_failure_from_step"], 4, "{plan}");
        std::fs::write(dir.join("lbc.toml"), toml).unwrap();
    }

    // A real run asks the pod whether it holds data before anything: with no cluster
    // it fails there (exit 1) and nothing ran.
    let run = lbc(&dir, &kube.kubectl)
        .args(["restore", "staging", "--from", name, "--output", "json"])
        .args(["--backup-dir", bdir])
        .run()
        .code_is(1)
        .stderr_has("could not tell whether service `cache` holds data (pod shop-cache-0)");
    assert_eq!(
        run.json()["steps"],
        serde_json::json!([]),
        "{}",
        run.stdout()
    );
}

/// The rendered StatefulSet of the Redis service, run as a container named `name`:
/// its environment (the Secret's password given), image and args. Returns the
/// readiness probe's argv.
fn run_statefulset(dir: &Path, name: &str, password: &str) -> Vec<String> {
    let rendered = Lbc::new()
        .current_dir(dir)
        .args([
            "render",
            "staging",
            "--image",
            "registry.example.com/shop:1.0",
        ])
        .run()
        .success()
        .stdout();
    let docs = super::documents(&rendered);
    let sts = docs
        .iter()
        .find(|d| d["kind"] == "StatefulSet")
        .unwrap_or_else(|| panic!("no StatefulSet in {rendered}"));
    assert_eq!(sts["metadata"]["name"], "shop-cache");
    let c = &sts["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["volumeMounts"][0]["mountPath"], "/data",
        "the volume the restarted pod keeps"
    );
    let secret: std::collections::BTreeMap<&str, &str> = [("password", password)].into();
    let mut args = vec![
        "run".to_owned(),
        "--detach".into(),
        format!("--name={name}"),
    ];
    args.extend(super::docker_env_args(c, &secret));
    args.push(c["image"].as_str().unwrap().to_owned());
    args.extend(strings(&c["args"]));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    docker_ok(&args);
    strings(&c["readinessProbe"]["exec"]["command"])
}

/// Run the readiness probe as the kubelet would, until it succeeds.
fn wait_ready(container: &str, probe: &[String]) {
    let mut argv = vec!["exec".to_owned(), container.to_owned()];
    argv.extend(probe.iter().cloned());
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    for _ in 0..120 {
        if docker(&argv).status.success() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("the readiness probe of {container} never succeeded");
}

/// One step of a kubernetes restore plan played on `container` (standing for pod
/// shop-cache-0): `kubectl exec` as `docker exec` with the same argv and stdin, the
/// pod's deletion as a stop (the exit code must say Redis shut down on SIGTERM by
/// itself) and start of the container with its volume, `wait --for=create` as nothing
/// more, `wait --for=condition=Ready` as the readiness probe. Returns whether it
/// succeeded, and its output.
fn play(step: &Value, container: &str, probe: &[String]) -> (bool, String) {
    let argv = strings(&step["argv"]);
    assert!(argv[0].ends_with("kubectl"), "{step}");
    match argv[1].as_str() {
        "exec" => {
            let dash = argv.iter().position(|a| a == "--").unwrap();
            assert_eq!(argv[dash - 1], POD, "{step}");
            let mut cmd = Command::new("docker");
            cmd.arg("exec");
            if argv.contains(&"--stdin".to_owned()) {
                cmd.arg("--interactive");
                let file = step["stdin"]["file"].as_str().expect("a file on stdin");
                cmd.stdin(std::fs::File::open(file).unwrap());
            } else {
                cmd.stdin(Stdio::null());
            }
            cmd.arg(container).args(&argv[dash + 1..]);
            let out = cmd.output().unwrap();
            (
                out.status.success(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            )
        }
        "delete" => {
            assert!(argv.contains(&format!("pod/{POD}")), "{step}");
            docker_ok(&["stop", container]);
            let code = docker_ok(&["inspect", "--format={{.State.ExitCode}}", container]);
            assert_eq!(code, "0", "Redis stopped cleanly on SIGTERM");
            docker_ok(&["start", container]);
            (true, String::new())
        }
        "wait" if argv.contains(&"--for=create".to_owned()) => {
            assert!(argv.contains(&format!("pod/{POD}")), "{step}");
            (true, String::new())
        }
        "wait" if argv.contains(&"--for=condition=Ready".to_owned()) => {
            assert!(argv.contains(&format!("pod/{POD}")), "{step}");
            wait_ready(container, probe);
            (true, String::new())
        }
        _ => panic!("a step this test does not know how to play: {step}"),
    }
}

#[test]
fn a_kubernetes_redis_restore_loads_the_backup_into_the_real_server() {
    // issue #10: backup -> more writes -> restore gives the backup's keys, as the
    // restarted pod's server loads the RDB file the plan put in place; a file that is
    // not an RDB, or one of a newer Redis, is refused in the pod before the server is
    // touched; a failed restart
    // gives the running server its snapshots and writes back with its own data.
    let test =
        "k8s_services::redis_restore::a_kubernetes_redis_restore_loads_the_backup_into_the_real_server";
    if crate::support::docker_env(test).is_none() {
        return;
    }
    let Some(kube) = crate::support::kube_env(test) else {
        return;
    };
    let (_parent, dir) = project();
    let container = unique("k8sredis-pod");
    let mut cleanup = Cleanup::new();
    cleanup.containers.push(container.clone());
    let probe = run_statefulset(&dir, &container, "pw-Redis-1");
    wait_ready(&container, &probe);
    let cli = |args: &[&str]| -> String {
        let mut a = vec![
            "exec",
            container.as_str(),
            "sh",
            "-c",
            "REDISCLI_AUTH=\"$REDIS_PASSWORD\" exec redis-cli -h 127.0.0.1 \"$@\"",
            "sh",
        ];
        a.extend_from_slice(args);
        docker_ok(&a)
    };
    cli(&["SET", "kept", "from-the-backup"]);
    cli(&["SET", "counter", "1"]);

    // The backup, by the dump command of lbc's own backup plan, named as it names it.
    let backups = tempfile::tempdir().unwrap();
    let bdir = backups.path().to_str().unwrap();
    let plan = lbc(&dir, &kube.kubectl)
        .args(["backup", "staging", "--dry-run", "--output", "json"])
        .args(["--backup-dir", bdir])
        .run()
        .success()
        .json();
    let dump = plan["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["purpose"].as_str().unwrap().starts_with("Dump service"))
        .unwrap_or_else(|| panic!("{plan}"));
    let (ok, out) = play(dump, &container, &probe);
    assert!(ok, "{out}");
    let inside = strings(&dump["argv"]).last().unwrap().clone();
    let version = cli(&["INFO", "server"])
        .lines()
        .find_map(|l| l.trim().strip_prefix("redis_version:").map(str::to_owned))
        .unwrap();
    let name = format!("shop_staging_cache_20261129T201500Z_redis-{version}.rdb");
    docker_ok(&[
        "cp",
        &format!("{container}:{inside}"),
        &backups.path().join(&name).display().to_string(),
    ]);
    // Writes after the backup, which the restore replaces.
    cli(&["SET", "kept", "changed-later"]);
    cli(&["SET", "later", "written-after-the-backup"]);
    cli(&["INCR", "counter"]);
    cli(&["SAVE"]);

    // Not an RDB file: the first step fails in the pod, the server and its file stay.
    let bad = "shop_staging_cache_20261129T201600Z_redis-7.0.15.rdb";
    std::fs::write(backups.path().join(bad), "not an RDB file at all\n").unwrap();
    let refused = lbc(&dir, &kube.kubectl)
        .args([
            "restore",
            "staging",
            "--from",
            bad,
            "--overwrite",
            "--dry-run",
        ])
        .args(["--output", "json", "--backup-dir", bdir])
        .run()
        .success()
        .json();
    let steps = refused["plan"]["steps"].as_array().unwrap().clone();
    let (ok, out) = play(&steps[0], &container, &probe);
    assert!(!ok, "a file that is not an RDB must be refused: {out}");
    assert!(out.contains("redis-check-rdb rejects it"), "{out}");
    let (ok, out) = play(steps.last().unwrap(), &container, &probe);
    assert!(ok, "the always-step: {out}");
    // Nor is an RDB file of a newer format than this server's.
    let rdb = std::fs::read(backups.path().join(&name)).unwrap();
    assert_eq!(&rdb[..5], b"REDIS");
    let newer = "shop_staging_cache_20261129T201700Z_redis-99.0.0.rdb";
    std::fs::write(
        backups.path().join(newer),
        [b"REDIS0099".as_slice(), &rdb[9..]].concat(),
    )
    .unwrap();
    let refused = lbc(&dir, &kube.kubectl)
        .args([
            "restore",
            "staging",
            "--from",
            newer,
            "--overwrite",
            "--dry-run",
        ])
        .args(["--output", "json", "--backup-dir", bdir])
        .run()
        .success()
        .json();
    let (ok, out) = play(&refused["plan"]["steps"][0], &container, &probe);
    assert!(!ok, "an RDB file of a newer Redis must be refused: {out}");
    assert!(out.contains("Can't handle RDB format version 99"), "{out}");
    assert_eq!(cli(&["GET", "later"]), "written-after-the-backup");
    let files = docker_ok(&["exec", &container, "ls", "-A", "/data"]);
    assert_eq!(files, "dump.rdb", "no copy left beside the data");

    let restore = lbc(&dir, &kube.kubectl)
        .args([
            "restore",
            "staging",
            "--from",
            &name,
            "--overwrite",
            "--dry-run",
        ])
        .args(["--output", "json", "--backup-dir", bdir])
        .run()
        .success()
        .json();
    let steps = restore["plan"]["steps"].as_array().unwrap().clone();
    assert_eq!(steps.len(), 7, "{restore}");

    // The restart fails (say, deleting pods is not allowed): after the copy and the
    // swap, the on-failure step gives the running server its snapshots and writes back,
    // and its own data wins over the restored file.
    for s in &steps[..2] {
        let (ok, out) = play(s, &container, &probe);
        assert!(ok, "{}: {out}", s["purpose"]);
    }
    assert_eq!(cli(&["CONFIG", "GET", "save"]), "save", "snapshots off");
    // While writes are paused, a write waits (here until `timeout` gives up on it).
    let blocked = docker(&[
        "exec",
        &container,
        "sh",
        "-c",
        "REDISCLI_AUTH=\"$REDIS_PASSWORD\" exec timeout 2 redis-cli -h 127.0.0.1 SET blocked 1",
    ]);
    assert_eq!(
        blocked.status.code(),
        Some(124),
        "a write waits while paused"
    );
    assert!(steps[3]["on_failure_from_step"].is_number(), "{}", steps[3]);
    let (ok, out) = play(&steps[3], &container, &probe);
    assert!(ok, "{out}");
    assert_ne!(cli(&["CONFIG", "GET", "save"]), "save", "snapshots back");
    cli(&["SET", "after-resume", "1"]);
    let (ok, out) = play(&steps[6], &container, &probe);
    assert!(ok, "{out}");
    docker_ok(&["restart", &container]);
    wait_ready(&container, &probe);
    assert_eq!(
        cli(&["GET", "kept"]),
        "changed-later",
        "the restore did not happen"
    );
    assert_eq!(cli(&["GET", "after-resume"]), "1");

    // The whole plan, in order, then its always-step: the backup's data is back.
    let restore = lbc(&dir, &kube.kubectl)
        .args([
            "restore",
            "staging",
            "--from",
            &name,
            "--overwrite",
            "--dry-run",
        ])
        .args(["--output", "json", "--backup-dir", bdir])
        .run()
        .success()
        .json();
    let steps = restore["plan"]["steps"].as_array().unwrap().clone();
    for s in steps
        .iter()
        .filter(|s| s["on_failure_from_step"].is_null() && s["always"].is_null())
    {
        let (ok, out) = play(s, &container, &probe);
        assert!(ok, "{}: {out}", s["purpose"]);
    }
    for s in steps.iter().filter(|s| s["always"] == true) {
        let (ok, out) = play(s, &container, &probe);
        assert!(ok, "{}: {out}", s["purpose"]);
    }
    assert_eq!(cli(&["GET", "kept"]), "from-the-backup");
    assert_eq!(cli(&["GET", "counter"]), "1");
    assert_eq!(cli(&["EXISTS", "later"]), "0");
    assert_eq!(cli(&["EXISTS", "after-resume"]), "0");
    assert_ne!(
        cli(&["CONFIG", "GET", "save"]),
        "save",
        "the new server takes snapshots again"
    );
    let files = docker_ok(&["exec", &container, "ls", "-A", "/data"]);
    assert_eq!(files, "dump.rdb", "no copy left beside the data");
}
