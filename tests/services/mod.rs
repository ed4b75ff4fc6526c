//! Backing services (issue #10) against real PostgreSQL, MariaDB and Redis servers (the
//! images `scripts/test-env.sh` builds from Debian's packages) on the real Docker engine:
//! deploy with services and migrations, redeploys that keep the data, destroy with and
//! without `--volumes`, readiness failures, tasks with services, backups and restores.

use std::time::{Duration, Instant};

use crate::support::{docker, docker_env, docker_ok, free_port, unique, Project, TestEnv};

/// The app: built from the catalogue's PostgreSQL image (for its `psql`), it records
/// its version in the database when it starts, then idles.
const DOCKERFILE: &str = r#"ARG BASE
FROM ${BASE}
ARG VERSION=v1
ENV APP_VERSION=${VERSION}
COPY app.sh /app.sh
ENTRYPOINT []
USER postgres
CMD ["sh", "/app.sh"]
"#;

const APP: &str = r#"psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -v v="$APP_VERSION" <<'SQL' || exit 1
INSERT INTO visits VALUES (:'v');
SQL
exec sleep infinity
"#;

const MIGRATE_OK: &str = r#"run = "psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 -c 'CREATE TABLE IF NOT EXISTS visits(version text)'""#;

/// A project of the test and everything lbc may create for it, removed by name on drop.
struct Stack {
    p: Project,
    name: String,
    env: TestEnv,
    state: tempfile::TempDir,
}

impl Stack {
    fn new(env: &TestEnv, prefix: &str) -> Stack {
        Stack {
            p: Project::empty(),
            name: unique(prefix),
            env: env.clone(),
            state: tempfile::tempdir().unwrap(),
        }
    }

    fn lbc(&self) -> crate::support::Lbc {
        self.p
            .lbc()
            .env("LBC_CATALOG", &self.env.catalog)
            .env("XDG_STATE_HOME", self.state.path())
    }

    fn credentials(&self, env: &str) -> std::path::PathBuf {
        self.state
            .path()
            .join("lbc")
            .join(&self.name)
            .join(env)
            .join("credentials.toml")
    }

    fn psql(&self, env: &str, sql: &str) -> String {
        docker_ok(&[
            "exec",
            &format!("lbc-{}-{env}_db", self.name),
            "psql",
            "-U",
            &self.name.replace('-', "_"),
            "-d",
            &self.name.replace('-', "_"),
            "-tAc",
            sql,
        ])
    }

    /// Poll the rows of `visits` until there are `n` of them.
    fn rows(&self, env: &str, n: usize) -> Vec<String> {
        let start = Instant::now();
        loop {
            let out = self.psql(env, "SELECT version FROM visits ORDER BY version");
            let rows: Vec<String> = out.lines().map(str::to_owned).collect();
            if rows.len() >= n || start.elapsed() > Duration::from_secs(20) {
                return rows;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let n = &self.name;
        let out = docker(&["ps", "-aq", "--filter", &format!("label=lbc.project={n}")]);
        for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = docker(&["rm", "-f", "-v", id]);
        }
        let out = docker(&[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("label=lbc.project={n}"),
        ]);
        for v in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = docker(&["volume", "rm", v]);
        }
        let out = docker(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("label=lbc.project={n}"),
        ]);
        for v in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = docker(&["network", "rm", v]);
        }
        let out = docker(&[
            "image",
            "ls",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            &format!("lbc-tests/{n}"),
        ]);
        for i in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = docker(&["rmi", "-f", i]);
        }
    }
}

fn app_toml(name: &str, port: u16, version: &str, migrate: &str, extra: &str) -> String {
    format!(
        r#"[project]
name = "{name}"
[image]
repository = "lbc-tests/{name}"
[image.bases]
BASE = "postgres-15"
[image.args]
VERSION = "{version}"
[services.db]
type = "postgres"
version = "15"
[tasks.migrate]
{migrate}
[env.local]
kind = "docker"
port = {port}
timeout = "60s"
{extra}"#
    )
}

fn exists(kind: &str, name: &str) -> bool {
    docker(&[kind, "inspect", name]).status.success()
}

#[test]
fn a_postgres_app_keeps_its_rows_across_redeploys_and_destroy_keeps_the_volume() {
    // issue #10: services first, migration before the app, redeploys and destroy keep the
    // data, a failed migration leaves the old version serving, --volumes removes it.
    let Some(env) = docker_env("services::a_postgres_app_keeps_its_rows") else {
        return;
    };
    let s = Stack::new(&env, "svc-pg");
    let port = free_port();
    s.p.write("Dockerfile", DOCKERFILE)
        .write("app.sh", APP)
        .write(".dockerignore", ".git\n")
        .write("lbc.toml", &app_toml(&s.name, port, "v1", MIGRATE_OK, ""));
    s.p.git_init();
    s.lbc().args(["build"]).run().success();
    let first = s.lbc().args(["deploy", "local"]).run().success();
    let app = format!("lbc-{}-local", s.name);
    let db = format!("lbc-{}-local_db", s.name);
    let volume = db.clone();
    assert!(exists("volume", &volume), "{}", first.stderr());
    assert_eq!(s.rows("local", 1), vec!["v1"]);
    let net = docker_ok(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}",
        &app,
    ]);
    assert_eq!(net, format!("lbc-{}-local", s.name));

    // Credentials: generated once, owner-only, never printed.
    let creds = s.credentials("local");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&creds).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{}", creds.display());
    let text = std::fs::read_to_string(&creds).unwrap();
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("password = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("a password")
        .to_owned();
    let first = first.nowhere(&password);
    assert!(
        !docker_ok(&["inspect", "-f", "{{json .Config.Cmd}}", &app]).contains(&password),
        "no password in the app's command"
    );
    drop(first);
    // The plan shows the readiness probe and the variables by name, never their values.
    let dry = s
        .lbc()
        .args(["deploy", "local", "--dry-run", "--output", "json"])
        .run()
        .success()
        .nowhere(&password)
        .json();
    let steps = dry["plan"]["steps"].as_array().unwrap();
    let wait = steps
        .iter()
        .find(|st| st["kind"] == "wait_command")
        .expect("a readiness wait");
    assert_eq!(wait["probe"]["argv"][2], db.as_str(), "{wait}");
    assert_eq!(wait["probe"]["argv"][3], "pg_isready", "{wait}");
    assert!(
        dry.to_string()
            .contains(r#"{"name":"DATABASE_URL","secret":true}"#),
        "{dry}"
    );

    // A redeploy of a new version keeps the rows (and the password).
    s.p.write("lbc.toml", &app_toml(&s.name, port, "v2", MIGRATE_OK, ""));
    s.lbc().args(["build"]).run().success();
    s.lbc()
        .args(["deploy", "local"])
        .run()
        .success()
        .stderr_has("runs already")
        .nowhere(&password);
    assert_eq!(s.rows("local", 2), vec!["v1", "v2"]);
    assert_eq!(std::fs::read_to_string(&creds).unwrap(), text);
    let v2_id = docker_ok(&["inspect", "-f", "{{.Id}}", &app]);

    // A failing migration stops the deploy: v2 keeps running, untouched.
    s.p.write(
        "lbc.toml",
        &app_toml(&s.name, port, "v3", "run = \"exit 3\"", ""),
    );
    s.lbc().args(["build"]).run().success();
    s.lbc()
        .args(["deploy", "local"])
        .run()
        .code_is(3)
        .stderr_has("the migration (task `migrate`) failed with exit code 3")
        .stderr_has("still serves");
    assert_eq!(docker_ok(&["inspect", "-f", "{{.Id}}", &app]), v2_id);
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.Status}}", &app]),
        "running"
    );

    // status lists the app and the service; logs --service shows the database's log.
    let st = s
        .lbc()
        .args(["status", "local", "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(st["state"], "running");
    assert_eq!(st["services"][0]["service"], "db");
    assert_eq!(st["services"][0]["state"], "running");
    assert_eq!(st["services"][0]["volume"], volume.as_str());
    assert!(st["services"][0]["published"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    s.lbc()
        .args(["logs", "local", "--service", "db", "--tail", "50"])
        .run()
        .success()
        .stdout_has("database system is ready to accept connections");
    s.lbc()
        .args(["logs", "local", "--service", "nope"])
        .run()
        .code_is(2)
        .stderr_has("declared services: db");

    // destroy keeps the volume and says so; the data comes back with the next deploy.
    s.lbc()
        .args(["destroy", "local"])
        .run()
        .success()
        .stderr_has(&format!("keeping the volumes {volume}"));
    assert!(!exists("container", &db) && !exists("container", &app));
    assert!(exists("volume", &volume));
    assert!(!exists("network", &format!("lbc-{}-local", s.name)));
    s.p.write("lbc.toml", &app_toml(&s.name, port, "v4", MIGRATE_OK, ""));
    s.lbc().args(["build"]).run().success();
    s.lbc().args(["deploy", "local"]).run().success();
    assert_eq!(s.rows("local", 3), vec!["v1", "v2", "v4"]);

    // --volumes removes the data and forgets its credentials.
    s.lbc()
        .args(["destroy", "local", "--volumes"])
        .run()
        .success();
    assert!(!exists("volume", &volume));
    assert!(!creds.exists());
}

#[test]
fn a_service_that_never_becomes_ready_fails_naming_it_and_the_app_keeps_running() {
    // issue #10: the readiness wait is bounded, names the service with its last log lines,
    // and leaves the running app as it was.
    let Some(env) = docker_env("services::a_service_that_never_becomes_ready") else {
        return;
    };
    let s = Stack::new(&env, "svc-never");
    let port = free_port();
    let toml = |services: &str| {
        format!(
            "[project]\nname = \"{}\"\n[image]\nrepository = \"lbc-tests/{}\"\n[env.local]\nkind = \"docker\"\nport = {port}\ntimeout = \"3s\"\n{services}",
            s.name, s.name
        )
    };
    s.p.write(
        "Dockerfile",
        "FROM lbc-test/debian:bookworm\nCMD [\"sleep\", \"infinity\"]\n",
    )
    .write("lbc.toml", &toml(""));
    s.p.git_init();
    s.lbc().args(["build"]).run().success();
    s.lbc().args(["deploy", "local"]).run().success();
    let app = format!("lbc-{}-local", s.name);
    let before = docker_ok(&["inspect", "-f", "{{.Id}}", &app]);

    // A "postgres" whose image is Redis: it runs, but never answers pg_isready.
    s.p.write(
        "lbc.toml",
        &toml("[services.db]\ntype = \"postgres\"\nimage = \"lbc-test/redis:bookworm\"\n"),
    );
    s.lbc()
        .args(["deploy", "local"])
        .run()
        .code_is(1)
        .stderr_has("service `db` did not accept connections within 3s")
        .stderr_has(&format!("last log lines of lbc-{}-local_db", s.name))
        .stderr_has("Ready to accept connections")
        .stderr_has("still serves");
    assert_eq!(docker_ok(&["inspect", "-f", "{{.Id}}", &app]), before);
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.Status}}", &app]),
        "running"
    );
}

#[test]
fn tasks_get_their_services_on_a_network_or_on_a_host_port_and_leave_nothing_behind() {
    // issue #10: a task listing services runs with them up, the connection injected
    // (container tasks by network alias, host tasks on a published 127.0.0.1 port);
    // the services are removed afterwards, also when the task fails.
    let Some(env) = docker_env("services::tasks_get_their_services") else {
        return;
    };
    let s = Stack::new(&env, "svc-tasks");
    let toml = format!(
        r#"[project]
name = "{name}"
[services.db]
type = "postgres"
[services.cache]
type = "redis"
[services.audit]
type = "mysql"
database = "audit"
user = "auditor"
[services.audit.env]
AUDIT_HOST = "{{host}}"
AUDIT_PORT = "{{port}}"
AUDIT_DB = "{{database}}"
AUDIT_USER = "{{user}}"
AUDIT_PASSWORD = "{{password}}"
[tasks.cache-check]
image = "redis-7"
services = ["cache"]
run = "redis-cli -u \"$REDIS_URL\" --no-auth-warning set greeting hello >/dev/null && redis-cli -u \"$REDIS_URL\" --no-auth-warning get greeting && test -z \"$DATABASE_URL\""
[tasks.audit-check]
image = "mariadb-10.11"
services = ["audit"]
run = "mariadb --host=\"$AUDIT_HOST\" --port=\"$AUDIT_PORT\" --user=\"$AUDIT_USER\" --password=\"$AUDIT_PASSWORD\" \"$AUDIT_DB\" --batch --skip-column-names -e 'SELECT CONCAT(\"db=\", DATABASE())'"
[tasks.host-check]
services = ["db"]
run = ["python3", "-c", "import os, socket, urllib.parse as u; p = u.urlparse(os.environ['DATABASE_URL']); socket.create_connection((p.hostname, p.port), 3).close(); print('reached', p.hostname, p.path)"]
[tasks.failing]
services = ["cache"]
run = "exit 4"
[tasks.slow]
services = ["cache"]
run = "sleep 60"
"#,
        name = s.name
    );
    s.p.write("lbc.toml", &toml);
    s.lbc()
        .args(["task", "cache-check"])
        .run()
        .success()
        .stdout_has("hello");
    s.lbc()
        .args(["task", "audit-check"])
        .run()
        .success()
        .stdout_has("db=audit");
    s.lbc()
        .args(["task", "host-check"])
        .run()
        .success()
        .stdout_has(&format!("reached 127.0.0.1 /{}", s.name.replace('-', "_")));
    // Ctrl-C: lbc removes the services of the run before it exits (130). A killed lbc
    // (SIGKILL: nothing runs) leaves them; the next run of tasks removes those.
    let running = || {
        docker_ok(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=lbc.project={}", s.name),
        ])
    };
    let networks = || {
        docker_ok(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("label=lbc.project={}", s.name),
        ])
    };
    for (sig, code) in [
        (nix::sys::signal::Signal::SIGINT, Some(130)),
        (nix::sys::signal::Signal::SIGKILL, None),
    ] {
        let mut slow = s
            .lbc()
            .args(["task", "slow"])
            .command()
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while running().is_empty() && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(200));
        }
        std::thread::sleep(Duration::from_millis(1500));
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(slow.id() as i32), sig).unwrap();
        assert_eq!(slow.wait().unwrap().code(), code, "{sig}");
        if sig == nix::sys::signal::Signal::SIGINT {
            assert_eq!(running(), "", "Ctrl-C left the services behind");
            assert_eq!(networks(), "", "Ctrl-C left the network behind");
        }
    }
    s.lbc()
        .args(["task", "failing"])
        .run()
        .code_is(4)
        .stderr_has("an interrupted run of tasks left");
    assert_eq!(running(), "", "containers left behind");
    assert_eq!(networks(), "", "networks left behind");
}

#[test]
fn two_services_with_one_name_and_unknown_types_are_refused_with_their_line() {
    // issue #10: bad [services] input exits 2 with file, line and a fix.
    let p = Project::with(&[(
        "lbc.toml",
        "[project]\nname = \"x\"\n[services.db]\ntype = \"postgres\"\n[services.db]\ntype = \"redis\"\n",
    )]);
    p.lbc()
        .args(["config"])
        .run()
        .code_is(2)
        .stderr_has("lbc.toml:5:");
    p.write(
        "lbc.toml",
        "[project]\nname = \"x\"\n[services.db]\ntype = \"mongodb\"\n",
    );
    p.lbc()
        .args(["config"])
        .run()
        .code_is(2)
        .stderr_has("lbc.toml:4:8")
        .stderr_has("postgres");
}

/// The password of `service` in a credentials file (the test reads it to write data).
fn secret(creds: &std::path::Path, service: &str, key: &str) -> String {
    let doc: toml::Value = toml::from_str(&std::fs::read_to_string(creds).unwrap()).unwrap();
    doc[service][key].as_str().unwrap().to_owned()
}

#[test]
fn backup_wipe_restore_gives_identical_data_for_postgres_mariadb_and_redis() {
    // issue #10: consistent dumps named by project, env, service, time and server; a
    // restore refuses to overwrite data without --overwrite, and a protected
    // environment without --yes; restoring from another environment's latest backups.
    let Some(env) = docker_env("services::backup_wipe_restore") else {
        return;
    };
    let s = Stack::new(&env, "svc-bk");
    let backups = tempfile::tempdir().unwrap();
    let p1 = free_port();
    s.p.write(
        "Dockerfile",
        "FROM lbc-test/debian:bookworm\nCMD [\"sleep\", \"infinity\"]\n",
    )
    .write(
        "lbc.toml",
        &format!(
            r#"[project]
name = "{name}"
[image]
repository = "lbc-tests/{name}"
[services.db]
type = "postgres"
[services.audit]
type = "mysql"
[services.cache]
type = "redis"
[env.local]
kind = "docker"
port = {p1}
"#,
            name = s.name
        ),
    );
    s.p.git_init();
    s.lbc().args(["build"]).run().success();
    s.lbc().args(["deploy", "local"]).run().success();
    let db = s.name.replace('-', "_");
    let c = |svc: &str, env: &str| format!("lbc-{}-{env}_{svc}", s.name);
    let write_data = |env: &str| {
        let creds = s.credentials(env);
        s.psql(
            env,
            "CREATE TABLE t(v text); INSERT INTO t VALUES ('a'), ('b');",
        );
        docker_ok(&[
            "exec",
            "-e",
            &format!("MYSQL_PWD={}", secret(&creds, "audit", "root_password")),
            &c("audit", env),
            "mariadb",
            "-uroot",
            &db,
            "-e",
            "CREATE TABLE t(v varchar(9)); INSERT INTO t VALUES ('x'), ('y');",
        ]);
        docker_ok(&[
            "exec",
            "-e",
            &format!("REDISCLI_AUTH={}", secret(&creds, "cache", "password")),
            &c("cache", env),
            "redis-cli",
            "set",
            "greeting",
            "hello",
        ]);
    };
    let read_data = |env: &str| -> (String, String, String) {
        let creds = s.credentials(env);
        let pg = s.psql(env, "SELECT string_agg(v, ',' ORDER BY v) FROM t");
        let my = docker_ok(&[
            "exec",
            "-e",
            &format!("MYSQL_PWD={}", secret(&creds, "audit", "root_password")),
            &c("audit", env),
            "mariadb",
            "-uroot",
            &db,
            "-N",
            "-B",
            "-e",
            "SELECT GROUP_CONCAT(v ORDER BY v) FROM t",
        ]);
        let rd = docker_ok(&[
            "exec",
            "-e",
            &format!("REDISCLI_AUTH={}", secret(&creds, "cache", "password")),
            &c("cache", env),
            "redis-cli",
            "get",
            "greeting",
        ]);
        (pg, my, rd)
    };
    write_data("local");
    let want = ("a,b".to_owned(), "x,y".to_owned(), "hello".to_owned());
    assert_eq!(read_data("local"), want);

    let dir = backups.path().to_str().unwrap();
    s.lbc()
        .args(["backup", "local", "--backup-dir", "/proc/lbc-no-such-dir"])
        .run()
        .code_is(2)
        .stderr_has("backup directory");
    let out = s
        .lbc()
        .args(["backup", "local", "--backup-dir", dir])
        .run()
        .success()
        .stdout();
    assert_eq!(out.lines().count(), 3, "{out}");
    let listed = s
        .lbc()
        .args(["backups", "local", "--backup-dir", dir, "--output", "json"])
        .run()
        .success()
        .json();
    let names: Vec<String> = listed["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let f = b["file"].as_str().unwrap();
            let meta = std::fs::metadata(f).unwrap();
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{f}");
            assert!(meta.len() > 0, "{f}");
            format!(
                "{} {}",
                b["service"].as_str().unwrap(),
                b["server"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(names.len(), 3, "{listed}");
    for (svc, server) in [
        ("db", "postgres-15."),
        ("audit", "mariadb-10.11."),
        ("cache", "redis-7."),
    ] {
        assert!(
            names
                .iter()
                .any(|n| n.starts_with(&format!("{svc} {server}"))),
            "{names:?}"
        );
    }

    // Retention touches only the services backed up: two of `cache` with --keep 1 leave one.
    std::thread::sleep(Duration::from_millis(1100));
    s.lbc()
        .args([
            "backup",
            "local",
            "--backup-dir",
            dir,
            "--service",
            "cache",
            "--keep",
            "1",
        ])
        .run()
        .success()
        .stderr_has("(--keep 1)");
    let after = s
        .lbc()
        .args(["backups", "local", "--backup-dir", dir, "--output", "json"])
        .run()
        .success()
        .json();
    let per_service = |svc: &str| {
        after["backups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["service"] == svc)
            .count()
    };
    assert_eq!(
        (
            per_service("db"),
            per_service("audit"),
            per_service("cache")
        ),
        (1, 1, 1),
        "{after}"
    );

    // Wipe: the volumes go, fresh services come up empty; the restore brings it all back.
    s.lbc()
        .args(["destroy", "local", "--volumes"])
        .run()
        .success();
    s.lbc().args(["deploy", "local"]).run().success();
    s.lbc()
        .args(["restore", "local", "--from", "local", "--backup-dir", dir])
        .run()
        .success();
    assert_eq!(read_data("local"), want);
    // Now the data exists: restoring over it needs --overwrite.
    s.lbc()
        .args(["restore", "local", "--from", "local", "--backup-dir", dir])
        .run()
        .code_is(5)
        .stderr_has("holds data: refusing to overwrite it")
        .stderr_has("--overwrite");

    // A protected environment also needs --yes (the same code restores staging from
    // production's latest: `--from` names an environment).
    let toml = s.p.read("lbc.toml").replace(
        &format!("port = {p1}\n"),
        &format!("port = {p1}\nprotected = true\n"),
    );
    s.p.write("lbc.toml", &toml);
    s.lbc()
        .args([
            "restore",
            "local",
            "--from",
            "local",
            "--backup-dir",
            dir,
            "--overwrite",
        ])
        .run()
        .code_is(5)
        .stderr_has("environment `local` is protected");
    s.lbc()
        .args([
            "restore",
            "local",
            "--from",
            "local",
            "--service",
            "db",
            "--backup-dir",
            dir,
            "--overwrite",
            "--yes",
        ])
        .run()
        .success();
    assert_eq!(read_data("local"), want);
}

/// moto's S3 API server on a free 127.0.0.1 port (stands in for a real bucket), stopped
/// by its PID when dropped.
pub(crate) struct S3Server {
    child: std::process::Child,
    pub(crate) endpoint: String,
}

impl S3Server {
    pub(crate) fn start(test: &str) -> Option<S3Server> {
        let expected = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
            || std::env::var_os("LBC_TEST_ENV").is_some();
        let bin = std::env::var("LBC_TEST_MOTO_SERVER")
            .ok()
            .filter(|b| std::path::Path::new(b).is_file());
        let rclone = which::which("rclone").is_ok();
        let (Some(bin), true) = (bin, rclone) else {
            if expected {
                panic!("{test}: the test environment is expected here but moto_server (LBC_TEST_MOTO_SERVER) or rclone is missing; run `bash scripts/test-env.sh`");
            }
            eprintln!("skipped {test}: needs moto_server and rclone (run `bash scripts/test.sh`)");
            return None;
        };
        let port = free_port();
        let child = std::process::Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let endpoint = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "moto_server did not listen within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(S3Server { child, endpoint })
    }

    /// Create a bucket with rclone itself (credentials in its environment).
    pub(crate) fn bucket(&self, name: &str) {
        let out = std::process::Command::new("rclone")
            .args(["--config", "/dev/null", "mkdir", &format!(":s3:{name}")])
            .env("RCLONE_S3_PROVIDER", "Other")
            .env("RCLONE_S3_ENDPOINT", &self.endpoint)
            .env("RCLONE_S3_ACCESS_KEY_ID", "lbc-test-key")
            .env("RCLONE_S3_SECRET_ACCESS_KEY", "lbc-test-secret-0123456789")
            .env_remove("AWS_CA_BUNDLE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rclone mkdir: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

#[test]
fn backups_go_to_an_s3_bucket_and_come_back() {
    // issue #10: an S3-compatible bucket as the backup destination (moto's server stands
    // in for it); credentials only through the variables [backup] names.
    let Some(env) = docker_env("services::backups_go_to_an_s3_bucket") else {
        return;
    };
    let Some(s3) = S3Server::start("services::backups_go_to_an_s3_bucket") else {
        return;
    };
    s3.bucket("lbc-backups");
    let s = Stack::new(&env, "svc-s3");
    let toml = |bucket: &str| {
        format!(
            r#"[project]
name = "{name}"
[image]
repository = "lbc-tests/{name}"
[services.db]
type = "postgres"
[backup]
destination = "s3://{bucket}/team/{name}"
endpoint = "{endpoint}"
access_key_env = "LBC_T_S3_KEY"
secret_key_env = "LBC_T_S3_SECRET"
[env.local]
kind = "docker"
port = {port}
"#,
            name = s.name,
            endpoint = s3.endpoint,
            port = free_port()
        )
    };
    s.p.write(
        "Dockerfile",
        "FROM lbc-test/debian:bookworm\nCMD [\"sleep\", \"infinity\"]\n",
    )
    .write("lbc.toml", &toml("lbc-backups"));
    s.p.git_init();
    let secret = "lbc-test-secret-0123456789";
    let lbc = || {
        s.lbc()
            .env("LBC_T_S3_KEY", "lbc-test-key")
            .env("LBC_T_S3_SECRET", secret)
    };
    lbc().args(["build"]).run().success();
    lbc().args(["deploy", "local"]).run().success();
    s.psql(
        "local",
        "CREATE TABLE t(v text); INSERT INTO t VALUES ('a'), ('b');",
    );
    let out = lbc()
        .args(["backup", "local"])
        .run()
        .success()
        .nowhere(secret)
        .stdout();
    let url = out.trim();
    assert!(
        url.starts_with(&format!(
            "s3://lbc-backups/team/{}/{}_local_db_",
            s.name, s.name
        )) && url.ends_with(".dump"),
        "{url}"
    );
    let listed = lbc()
        .args(["backups", "local", "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(listed["backups"].as_array().unwrap().len(), 1, "{listed}");
    assert!(listed["backups"][0]["bytes"].as_u64().unwrap() > 0);

    lbc()
        .args(["destroy", "local", "--volumes"])
        .run()
        .success();
    lbc().args(["deploy", "local"]).run().success();
    lbc()
        .args(["restore", "local", "--from", "local"])
        .run()
        .success()
        .nowhere(secret);
    assert_eq!(
        s.psql("local", "SELECT string_agg(v, ',' ORDER BY v) FROM t"),
        "a,b"
    );

    // Retention: with --keep 1 the new object replaces the old one.
    std::thread::sleep(Duration::from_millis(1100));
    let second = lbc()
        .args(["backup", "local", "--keep", "1"])
        .run()
        .success()
        .stdout();
    let listed = lbc()
        .args(["backups", "local", "--output", "json"])
        .run()
        .success()
        .json();
    let names: Vec<&str> = listed["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["file"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec![second.trim()], "{listed}");

    // A bucket that cannot be reached is the destination's fault: exit 2 at its line.
    s.p.write("lbc.toml", &toml("no-such-bucket"));
    lbc()
        .args(["backup", "local"])
        .run()
        .code_is(2)
        .stderr_has("lbc.toml:8:15")
        .stderr_has("cannot be read")
        .nowhere(secret);
    // Without the credentials' variables: exit 2 naming the variable.
    s.lbc()
        .args(["backups", "local"])
        .run()
        .code_is(2)
        .stderr_has("`LBC_T_S3_KEY` is not set");
}

#[test]
fn the_deploy_plan_with_services_in_order() {
    // issue #10: the whole story of a deploy with services, as --dry-run tells it:
    // network, volumes, services, then the waits, the migration, and only then the app.
    let Some(env) = docker_env("services::the_deploy_plan_with_services_in_order") else {
        return;
    };
    let port = free_port();
    let p = Project::with(&[(
        "lbc.toml",
        &r#"[project]
name = "svc-plan-snapshot"
[services.db]
type = "postgres"
[services.cache]
type = "redis"
[services.cache.env]
CACHE_HOST = "{host}"
CACHE_URL = "{url}"
[tasks.migrate]
run = ["./manage.py", "migrate"]
[env.local]
kind = "docker"
port = PORT
"#
        .replace("PORT", &port.to_string()),
    )]);
    let state = tempfile::tempdir().unwrap();
    let out = p
        .lbc()
        .env("LBC_CATALOG", &env.catalog)
        .env("XDG_STATE_HOME", state.path())
        .args([
            "deploy",
            "local",
            "--dry-run",
            "--image",
            "lbc-test/debian:bookworm",
        ])
        .run()
        .success();
    assert!(
        !state.path().join("lbc").exists(),
        "a dry run writes no credentials"
    );
    let text = out
        .stdout()
        .replace(&p.path().display().to_string(), "[PROJECT]")
        .replace(&state.path().display().to_string(), "[STATE]")
        .replace(&format!(":{port}:{port}"), ":[PORT]:[PORT]");
    insta::assert_snapshot!(text);
}

#[test]
fn a_tasks_plan_removes_its_services_in_steps_that_always_run() {
    // issues #10 and #8: the services started for a run of tasks are removed by steps
    // marked "always" (after the tasks, failed or not), and their argv are in the
    // `--flag=value` form with `--` before the names.
    let Some(env) = docker_env("services::a_tasks_plan_removes_its_services") else {
        return;
    };
    let p = Project::with(&[(
        "lbc.toml",
        r#"[project]
name = "svc-tasks-always"
[services.db]
type = "postgres"
[tasks]
test-integration = "true"
"#,
    )]);
    let dry = p
        .lbc()
        .env("LBC_CATALOG", &env.catalog)
        .args(["test", "integration", "--dry-run", "--output", "json"])
        .run()
        .success()
        .json();
    let steps = dry["plan"]["steps"].as_array().unwrap();
    let kinds: Vec<(bool, String)> = steps
        .iter()
        .map(|s| {
            (
                s["always"] == true,
                s["argv"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .take(3)
                            .map(|v| v.as_str().unwrap_or("").to_owned())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_else(|| s["kind"].as_str().unwrap_or("").to_owned()),
            )
        })
        .collect();
    // network, service, its wait, the task, then the two clean-ups that always run.
    assert_eq!(
        kinds,
        vec![
            (false, "docker network create".to_owned()),
            (false, "docker run --detach".to_owned()),
            (false, "wait_command".to_owned()),
            (false, "sh -c true".to_owned()),
            (true, "docker rm --force".to_owned()),
            (true, "docker network rm".to_owned()),
        ],
        "{dry}"
    );
    let rm: Vec<&str> = steps[4]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(&rm[..4], ["docker", "rm", "--force", "--volumes"], "{rm:?}");
    assert_eq!(rm[4], "--");
    let run: Vec<&str> = steps[1]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(run.iter().any(|a| a.starts_with("--network=")), "{run:?}");
    assert!(run.iter().any(|a| a == &"--network-alias=db"), "{run:?}");
    let human = p
        .lbc()
        .env("LBC_CATALOG", &env.catalog)
        .args(["test", "integration", "--dry-run"])
        .run()
        .success()
        .stdout();
    assert!(
        human.contains("Remove the tasks' services and their data [always, even after a failure]"),
        "{human}"
    );
}
