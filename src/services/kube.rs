//! The Kubernetes side of backing services (issue #10).
//!
//! Per kubernetes environment, each service of `[services]` is either **provisioned** by
//! lbc in the environment's namespace — a StatefulSet with a volumeClaimTemplate, a
//! headless Service of the same name and a Secret holding its generated password — or
//! **external**: `[env.NAME.services.SERVICE] secret = "NAME"` names a Secret the
//! platform team manages (keys `host`, `port`, `database`, `user`, `password`), and lbc
//! only references it.
//!
//! lbc applies the provisioned services itself (kubectl) before the chart's release,
//! and waits for them, so that the release's migration hook (a `pre-install,pre-upgrade`
//! Job) finds its database even on the first install (Helm runs pre-install hooks before
//! any resource of the release exists). The Secret is created by lbc once, with
//! `kubectl create` (never replaced), when it is missing: the cluster keeps the password,
//! nothing is kept on the machine that deployed, a re-deploy keeps it, and a dry run,
//! `helm template`, a GitOps renderer or Argo CD (where Helm's `lookup` sees nothing and
//! would generate a new password at every render) never hold it.
//!
//! The app gets the connection through one values key of the shared chart,
//! `services.env`: a list of container variables whose secret parts are `secretKeyRef`s
//! (composed values use Kubernetes' `$(VAR)` expansion), so no password is ever in the
//! values.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::Loaded;
use crate::error::Error;
use crate::services::{template_parts, variables, Kind, Service};

/// `[env.NAME.services.SERVICE]`: how one service exists in a kubernetes environment.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvService {
    /// External: the name of a Secret in the environment's namespace, managed outside
    /// lbc, with the keys `host`, `port`, `database`, `user` and `password` (those the
    /// app's variables use). Without it, lbc provisions the service in the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Provisioned: the size of the service's volume (default `1Gi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
}

/// `[env.NAME.backup]`: the scheduled backup (a CronJob) of the environment's
/// provisioned services.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvBackup {
    /// A cron schedule (five fields, UTC; default `0 * * * *`: hourly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// How many backups of each service the CronJob keeps (default 48).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<u32>,
    /// `false` turns the scheduled backup off (protected environments get one by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The size of the backups' volume (default `10Gi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    /// When `[backup] destination` is a bucket: the Secret in the namespace holding its
    /// credentials (keys `access-key-id`, `secret-access-key`); the CronJob then uploads
    /// there (with the catalogue's `rclone` image) instead of keeping a volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_secret: Option<String>,
}

/// Where a scheduled backup goes when it is a bucket.
#[derive(Debug, Clone)]
pub struct CronS3 {
    /// rclone's remote, `:s3:BUCKET/PREFIX`.
    pub remote: String,
    /// The credentials' Secret.
    pub secret: String,
    /// The uploader's image (catalogue `rclone`).
    pub image: String,
    /// RCLONE_S3_PROVIDER, _REGION, _ENDPOINT.
    pub env: Vec<(String, String)>,
}

/// The bucket of an environment's scheduled backup: `[backup] destination` is `s3://`
/// and `[env.NAME.backup] s3_secret` names its credentials (else the volume claim).
pub fn cron_s3(
    l: &Loaded,
    env_name: &str,
    uploader: impl FnOnce() -> Result<String, Error>,
) -> Result<Option<CronS3>, Error> {
    let env = &l.config.env[env_name];
    let Some(secret) = env.backup.as_ref().and_then(|b| b.s3_secret.clone()) else {
        return Ok(None);
    };
    let cfg = l.config.backup.clone().unwrap_or_default();
    let Some(Ok((bucket, prefix))) = cfg.destination.as_deref().and_then(super::backup::parse_s3)
    else {
        return Ok(None);
    };
    let remote = if prefix.is_empty() {
        format!(":s3:{bucket}")
    } else {
        format!(":s3:{bucket}/{prefix}")
    };
    let mut env = vec![
        (
            "RCLONE_S3_PROVIDER".to_owned(),
            if cfg.endpoint.is_some() {
                "Other"
            } else {
                "AWS"
            }
            .to_owned(),
        ),
        (
            "RCLONE_S3_REGION".to_owned(),
            cfg.region.clone().unwrap_or_else(|| "us-east-1".into()),
        ),
    ];
    if let Some(e) = &cfg.endpoint {
        env.push(("RCLONE_S3_ENDPOINT".to_owned(), e.clone()));
    }
    Ok(Some(CronS3 {
        remote,
        secret,
        image: uploader()?,
        env,
    }))
}

pub const DEFAULT_SCHEDULE: &str = "0 * * * *";
pub const DEFAULT_KEEP: u32 = 48;
const DEFAULT_STORAGE: &str = "1Gi";
const DEFAULT_BACKUP_STORAGE: &str = "10Gi";
/// Where the CronJob's pods mount the backups' volume.
pub const BACKUP_MOUNT: &str = "/backups";

/// The keys of a service's Secret (an external one holds the first five).
pub const SECRET_KEYS: &[&str] = &["host", "port", "database", "user", "password"];
/// MySQL's root password, in a provisioned service's Secret (backups, restores).
pub const ROOT_PASSWORD_KEY: &str = "root-password";

/// One service as an environment has it.
#[derive(Debug, Clone)]
pub struct KubeService {
    pub name: String,
    pub service: Service,
    /// The Kubernetes name of its objects (StatefulSet, Service, Secret): `RELEASE-NAME`.
    pub object: String,
    /// The Secret the app's variables read.
    pub secret: String,
    /// `None`: external.
    pub provisioned: Option<Provisioned>,
}

#[derive(Debug, Clone)]
pub struct Provisioned {
    pub image: String,
    pub storage: String,
}

/// The services of `env_name` in the order of the file, images resolved through the
/// catalogue (only for provisioned ones). `resolve_image` is the catalogue look-up.
pub fn resolve(
    l: &Loaded,
    env_name: &str,
    release: &str,
    mut resolve_image: impl FnMut(&str, &Service) -> Result<String, Error>,
) -> Result<Vec<KubeService>, Error> {
    let env = &l.config.env[env_name];
    let mut out = Vec::new();
    for (name, s) in crate::services::ordered(l) {
        let es = env.services.get(name.as_str());
        let object = object_name(release, name);
        match es.and_then(|e| e.secret.clone()) {
            Some(secret) => out.push(KubeService {
                name: name.clone(),
                service: s.clone(),
                object,
                secret,
                provisioned: None,
            }),
            None => out.push(KubeService {
                name: name.clone(),
                service: s.clone(),
                secret: object.clone(),
                object,
                provisioned: Some(Provisioned {
                    image: resolve_image(name, s)?,
                    storage: es
                        .and_then(|e| e.storage.clone())
                        .unwrap_or_else(|| DEFAULT_STORAGE.into()),
                }),
            }),
        }
    }
    Ok(out)
}

/// `RELEASE-SERVICE`: the name of a provisioned service's objects and its host name.
pub fn object_name(release: &str, service: &str) -> String {
    format!("{release}-{service}")
}

/// The labels of everything lbc applies for a service (the selector takes the last
/// three).
fn labels(l: &Loaded, env_name: &str, ks: &KubeService) -> Value {
    json!({
        "app.kubernetes.io/name": ks.service.kind.catalog_name(),
        "app.kubernetes.io/instance": ks.object,
        "app.kubernetes.io/component": "backing-service",
        "app.kubernetes.io/managed-by": "lbc",
        "lbc.project": l.config.project.name,
        "lbc.env": env_name,
        "lbc.service": ks.name,
    })
}

fn selector(l: &Loaded, env_name: &str, service: &str) -> Value {
    json!({"lbc.project": l.config.project.name, "lbc.env": env_name, "lbc.service": service})
}

/// The label selector of every service lbc applied in an environment (`lbc status`).
pub fn env_selector(l: &Loaded, env_name: &str) -> String {
    format!("lbc.project={},lbc.env={env_name}", l.config.project.name)
}

/// A variable read from a Secret's key.
fn from_secret(name: &str, secret: &str, key: &str) -> Value {
    json!({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
}

/// The Secret lbc creates once for a provisioned service (the password generated now).
pub fn secret_manifest(
    l: &Loaded,
    env_name: &str,
    ks: &KubeService,
    secrets: &super::kinds::Secrets,
) -> Value {
    let mut data = serde_json::Map::new();
    data.insert("password".into(), Value::String(secrets.password.clone()));
    if let Some(r) = &secrets.root_password {
        data.insert(ROOT_PASSWORD_KEY.into(), Value::String(r.clone()));
    }
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": ks.secret,
            "labels": labels(l, env_name, ks),
            "annotations": {"lbc.dev/note": "generated once by lbc; lbc never replaces it (lbc destroy --volumes removes it with the data)"},
        },
        "type": "Opaque",
        "stringData": Value::Object(data),
    })
}

/// The server's container environment: the image's variables, the secret ones read
/// from the service's Secret, plus what the probes' clients need.
fn server_env(ks: &KubeService, project: &str) -> Vec<Value> {
    const PW: &str = "\u{0}lbc-password";
    const ROOT: &str = "\u{0}lbc-root-password";
    let secrets = super::kinds::Secrets {
        password: PW.into(),
        root_password: Some(ROOT.into()),
    };
    let user = ks.service.user(project);
    let database = ks.service.database(project);
    let spec = super::kinds::ServerSpec {
        user: &user,
        database: &database,
        secrets: &secrets,
    };
    let kind = ks.service.kind;
    let mut vars: Vec<Value> = kind
        .server_env(&spec)
        .into_iter()
        .map(|v| match v.real_value() {
            PW => from_secret(&v.name, &ks.secret, "password"),
            ROOT => from_secret(&v.name, &ks.secret, ROOT_PASSWORD_KEY),
            other => json!({"name": v.name, "value": other}),
        })
        .collect();
    if kind == Kind::Postgres {
        // A fresh volume's root may hold `lost+found`, which initdb refuses.
        vars.push(json!({"name": "PGDATA", "value": format!("{}/pgdata", kind.data_path())}));
    }
    vars
}

/// A client command run inside a service's pod (probe, `kubectl exec`): the client's
/// password variable (`MYSQL_PWD`, `REDISCLI_AUTH`) taken from the server's own
/// environment by a constant script, since `kubectl exec` cannot set one, and the
/// server's environment must not hold it (MariaDB's first-start scripts would send it).
pub fn in_pod(kind: Kind, argv: Vec<String>) -> Vec<String> {
    let script = match kind {
        Kind::Postgres => return argv,
        Kind::Mysql => "MYSQL_PWD=\"$MARIADB_ROOT_PASSWORD\" exec \"$@\"",
        Kind::Redis => "REDISCLI_AUTH=\"$REDIS_PASSWORD\" exec \"$@\"",
    };
    let mut out = vec!["sh".into(), "-c".into(), script.into(), "sh".into()];
    out.extend(argv);
    out
}

/// The StatefulSet and headless Service of a provisioned service.
pub fn service_manifests(l: &Loaded, env_name: &str, ks: &KubeService) -> Vec<Value> {
    let Some(p) = &ks.provisioned else {
        return Vec::new();
    };
    let project = &l.config.project.name;
    let kind = ks.service.kind;
    let labels = labels(l, env_name, ks);
    let sel = selector(l, env_name, &ks.name);
    let user = ks.service.user(project);
    let database = ks.service.database(project);
    let mut container = json!({
        "name": kind.catalog_name(),
        "image": p.image,
        "env": server_env(ks, project),
        "ports": [{"name": "server", "containerPort": kind.port(), "protocol": "TCP"}],
        "readinessProbe": {
            "exec": {"command": in_pod(kind, kind.ready_probe(&user, &database))},
            "initialDelaySeconds": 2,
            "periodSeconds": 5,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "volumeMounts": [{"name": "data", "mountPath": kind.data_path()}],
    });
    let args = kind.server_command();
    if !args.is_empty() {
        container["args"] = json!(args);
    }
    vec![
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": ks.object, "labels": labels},
            "spec": {
                "clusterIP": "None",
                "selector": sel,
                "ports": [{"name": "server", "port": kind.port(), "targetPort": "server", "protocol": "TCP"}],
            },
        }),
        json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": ks.object, "labels": labels},
            "spec": {
                "serviceName": ks.object,
                "replicas": 1,
                "selector": {"matchLabels": sel},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "automountServiceAccountToken": false,
                        "terminationGracePeriodSeconds": 30,
                        "containers": [container],
                    },
                },
                "volumeClaimTemplates": [{
                    "metadata": {"name": "data", "labels": labels},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": p.storage}},
                    },
                }],
            },
        }),
    ]
}

/// The name of a provisioned service's volume (the claim of its only pod).
pub fn volume_name(ks: &KubeService) -> String {
    format!("data-{}-0", ks.object)
}

/// The scheduled backup of an environment, when it has one: (schedule, keep, storage).
pub fn schedule_of(l: &Loaded, env_name: &str) -> Option<(String, u32, String)> {
    let env = &l.config.env[env_name];
    let enabled = match &env.backup {
        Some(b) => b.enabled.unwrap_or(true),
        None => env.protected,
    };
    if !enabled {
        return None;
    }
    let b = env.backup.clone().unwrap_or_default();
    Some((
        b.schedule.unwrap_or_else(|| DEFAULT_SCHEDULE.into()),
        b.keep.unwrap_or(DEFAULT_KEEP),
        b.storage.unwrap_or_else(|| DEFAULT_BACKUP_STORAGE.into()),
    ))
}

/// The backups' volume: `RELEASE-backups`.
pub fn backup_volume(release: &str) -> String {
    format!("{release}-backups")
}

/// A constant script per kind: dump over the network into a temporary name, rename it
/// `PROJECT_ENV_SERVICE_TIME_SERVER.EXT` when complete (the naming of `lbc backup`),
/// then delete all but the newest KEEP of the service. Values only as `"$1"`...:
/// host, user, database, prefix (`PROJECT_ENV_SERVICE`), keep, directory.
const CRON_PRELUDE: &str = "set -eu; host=\"$1\"; user=\"$2\"; db=\"$3\"; prefix=\"$4\"; keep=\"$5\"; dir=\"$6\"; now=$(date -u +%Y%m%dT%H%M%SZ); tmp=\"$dir/.partial-$prefix-$now\"; ";
const CRON_POSTGRES: &str = "v=$(psql --no-psqlrc --tuples-only --no-align --host=\"$host\" --username=\"$user\" --dbname=\"$db\" --command='SHOW server_version' | cut -d' ' -f1); pg_dump --format=custom --host=\"$host\" --username=\"$user\" --dbname=\"$db\" --file=\"$tmp\"; server=\"postgres-$v\"; ext=dump; ";
const CRON_MYSQL: &str = "c=$(command -v mariadb || command -v mysql); d=$(command -v mariadb-dump || command -v mysqldump); v=$(\"$c\" --host=\"$host\" --user=root --batch --skip-column-names --execute='SELECT VERSION()'); case \"$v\" in *MariaDB*) n=mariadb;; *) n=mysql;; esac; \"$d\" --host=\"$host\" --user=root --single-transaction --routines --triggers --events --result-file=\"$tmp\" \"$db\"; server=\"$n-${v%%-*}\"; ext=sql; ";
const CRON_REDIS: &str = "v=$(redis-cli -h \"$host\" INFO server | tr -d '\\r' | sed -n 's/^redis_version://p'); redis-cli -h \"$host\" --rdb \"$tmp\" >/dev/null; server=\"redis-$v\"; ext=rdb; ";
const CRON_FINISH: &str = "chmod 600 \"$tmp\"; mv \"$tmp\" \"$dir/${prefix}_${now}_${server}.$ext\"; echo \"backup $dir/${prefix}_${now}_${server}.$ext\"; ls -1 \"$dir\" | grep \"^${prefix}_[0-9]\\{8\\}T[0-9]\\{6\\}Z_\" | sort -r | tail -n +$((keep + 1)) | while read -r f; do rm -f -- \"$dir/$f\"; echo \"expired $f\"; done";

/// The upload of a scheduled backup to the bucket, then the bucket's retention: values
/// as `"$1"`...: remote (`:s3:BUCKET/PREFIX`), prefix (`PROJECT_ENV_SERVICE`), keep,
/// directory. rclone reads the remote's settings from `RCLONE_S3_*` variables.
const CRON_UPLOAD: &str = "set -eu; remote=\"$1\"; prefix=\"$2\"; keep=\"$3\"; dir=\"$4\"; for f in \"$dir\"/\"${prefix}\"_*; do n=${f##*/}; rclone --config=/dev/null copyto \"$f\" \"$remote/$n\"; echo \"uploaded $remote/$n\"; done; rclone --config=/dev/null lsf \"$remote\" | grep \"^${prefix}_[0-9]\\{8\\}T[0-9]\\{6\\}Z_\" | sort -r | tail -n +$((keep + 1)) | while read -r o; do rclone --config=/dev/null deletefile \"$remote/$o\"; echo \"expired $o\"; done";

/// The CronJob of one provisioned service (and nothing for an external one: the
/// platform backs its own services up).
pub fn cronjob_manifest(
    l: &Loaded,
    env_name: &str,
    release: &str,
    ks: &KubeService,
    schedule: &str,
    keep: u32,
    s3: Option<&CronS3>,
) -> Option<Value> {
    let p = ks.provisioned.as_ref()?;
    let project = &l.config.project.name;
    let kind = ks.service.kind;
    let script = format!(
        "{CRON_PRELUDE}{}{CRON_FINISH}",
        match kind {
            Kind::Postgres => CRON_POSTGRES,
            Kind::Mysql => CRON_MYSQL,
            Kind::Redis => CRON_REDIS,
        }
    );
    let env: Vec<Value> = match kind {
        Kind::Postgres => vec![from_secret("PGPASSWORD", &ks.secret, "password")],
        Kind::Mysql => vec![from_secret("MYSQL_PWD", &ks.secret, ROOT_PASSWORD_KEY)],
        Kind::Redis => vec![from_secret("REDISCLI_AUTH", &ks.secret, "password")],
    };
    let labels = labels(l, env_name, ks);
    let prefix = format!("{}_{env_name}_{}", project, ks.name);
    let dump = json!({
        "name": if s3.is_some() { "dump" } else { "backup" },
        "image": p.image,
        "command": ["sh", "-c", script, "sh",
            ks.object.clone(),
            ks.service.user(project),
            ks.service.database(project),
            prefix,
            keep.to_string(),
            BACKUP_MOUNT],
        "env": env,
        "volumeMounts": [{"name": "backups", "mountPath": BACKUP_MOUNT}],
    });
    let pod = match s3 {
        None => json!({
            "restartPolicy": "Never",
            "automountServiceAccountToken": false,
            "containers": [dump],
            "volumes": [{"name": "backups", "persistentVolumeClaim": {"claimName": backup_volume(release)}}],
        }),
        // The dump into the pod's own volume, then the upload and the bucket's retention.
        Some(s3) => {
            let mut env: Vec<Value> = s3
                .env
                .iter()
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect();
            env.push(from_secret(
                "RCLONE_S3_ACCESS_KEY_ID",
                &s3.secret,
                "access-key-id",
            ));
            env.push(from_secret(
                "RCLONE_S3_SECRET_ACCESS_KEY",
                &s3.secret,
                "secret-access-key",
            ));
            json!({
                "restartPolicy": "Never",
                "automountServiceAccountToken": false,
                "initContainers": [dump],
                "containers": [{
                    "name": "upload",
                    "image": s3.image,
                    "command": ["sh", "-c", CRON_UPLOAD, "sh", s3.remote, prefix, keep.to_string(), BACKUP_MOUNT],
                    "env": env,
                    "volumeMounts": [{"name": "backups", "mountPath": BACKUP_MOUNT}],
                }],
                "volumes": [{"name": "backups", "emptyDir": {}}],
            })
        }
    };
    Some(json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": format!("{}-backup", ks.object), "labels": labels},
        "spec": {
            "schedule": schedule,
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": labels},
                "spec": {
                    "backoffLimit": 1,
                    "template": {
                        "metadata": {"labels": {"lbc.project": project, "lbc.env": env_name, "lbc.backup": ks.name}},
                        "spec": pod,
                    },
                },
            },
        },
    }))
}

/// The backups' volume claim.
pub fn backup_volume_manifest(l: &Loaded, env_name: &str, release: &str, storage: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": backup_volume(release),
            "labels": {
                "app.kubernetes.io/managed-by": "lbc",
                "app.kubernetes.io/component": "backups",
                "lbc.project": l.config.project.name,
                "lbc.env": env_name,
            },
        },
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}},
    })
}

/// What lbc applies for an environment before the release: every provisioned service's
/// Service and StatefulSet, and the scheduled backup (CronJobs, and the volume they
/// write to unless they upload to a bucket).
pub fn manifests(
    l: &Loaded,
    env_name: &str,
    release: &str,
    services: &[KubeService],
    s3: Option<&CronS3>,
) -> Vec<Value> {
    let mut out = Vec::new();
    for ks in services {
        out.extend(service_manifests(l, env_name, ks));
    }
    if let Some((schedule, keep, storage)) = schedule_of(l, env_name) {
        let jobs: Vec<Value> = services
            .iter()
            .filter_map(|ks| cronjob_manifest(l, env_name, release, ks, &schedule, keep, s3))
            .collect();
        if !jobs.is_empty() {
            if s3.is_none() {
                out.push(backup_volume_manifest(l, env_name, release, &storage));
            }
            out.extend(jobs);
        }
    }
    out
}

/// Manifests as one YAML stream.
pub fn to_yaml_stream(docs: &[Value]) -> String {
    let mut out = String::new();
    for d in docs {
        let mut s = String::new();
        let mut em = yaml_rust2::YamlEmitter::new(&mut s);
        em.dump(&crate::targets::gitops::json_to_yaml(d))
            .expect("yaml");
        out.push_str(&s);
        out.push('\n');
    }
    out
}

/// The variable that holds one key of a service's Secret for composed values.
fn helper_var(service: &str, key: &str) -> String {
    format!(
        "LBC_SERVICE_{}_{}",
        service.to_ascii_uppercase().replace('-', "_"),
        key.to_ascii_uppercase()
    )
}

fn scheme(kind: Kind) -> &'static str {
    match kind {
        Kind::Postgres => "postgresql",
        Kind::Mysql => "mysql",
        Kind::Redis => "redis",
    }
}

/// Literal text in a value that Kubernetes expands: `$(` is written `$$(`.
fn literal(s: &str) -> String {
    s.replace("$(", "$$(")
}

/// The app's connection variables, as container `env` entries (the chart's
/// `services.env`): the non-secret parts of a provisioned service as values, every part
/// of an external one and every password from the Secret; a value composed of several
/// parts reads them through helper variables (`$(LBC_SERVICE_DB_PASSWORD)`) defined
/// first.
pub fn app_env(l: &Loaded, services: &[KubeService]) -> Vec<Value> {
    let project = &l.config.project.name;
    let by_name: BTreeMap<&str, &KubeService> =
        services.iter().map(|k| (k.name.as_str(), k)).collect();
    let mut helpers: Vec<Value> = Vec::new();
    let mut helper_seen: BTreeSet<String> = BTreeSet::new();
    let mut vars: Vec<Value> = Vec::new();
    for (service, var, template) in variables(l) {
        let Some(ks) = by_name.get(service.as_str()) else {
            continue;
        };
        let kind = ks.service.kind;
        let known = |key: &str| -> Option<String> {
            ks.provisioned.as_ref()?;
            match key {
                "host" => Some(ks.object.clone()),
                "port" => Some(kind.port().to_string()),
                "database" => Some(ks.service.database(project)),
                "user" => Some(ks.service.user(project)),
                _ => None,
            }
        };
        let parts = template_parts(&template).expect("validated at load");
        // One part read from the Secret as it is: a plain secretKeyRef.
        if let [(true, key)] = parts.as_slice() {
            if *key != "url" && known(key).is_none() {
                vars.push(from_secret(&var, &ks.secret, key));
                continue;
            }
        }
        let mut piece = |key: &str| -> String {
            if let Some(v) = known(key) {
                return literal(&v);
            }
            let h = helper_var(&ks.name, key);
            if helper_seen.insert(h.clone()) {
                helpers.push(from_secret(&h, &ks.secret, key));
            }
            format!("$({h})")
        };
        let mut value = String::new();
        for (is_ph, text) in parts {
            if !is_ph {
                value.push_str(&literal(text));
            } else if text == "url" {
                let url = format!(
                    "{}://{}:{}@{}:{}/{}",
                    scheme(kind),
                    piece("user"),
                    piece("password"),
                    piece("host"),
                    piece("port"),
                    piece("database")
                );
                value.push_str(&url);
            } else {
                value.push_str(&piece(text));
            }
        }
        vars.push(json!({"name": var, "value": value}));
    }
    helpers.extend(vars);
    helpers
}

/// The values lbc adds to the chart's for an environment: `services.env` (the
/// connection) and `migrate.command` (the migration hook's command, when `[tasks.migrate]`
/// exists). `None` when there is neither.
pub fn chart_values(l: &Loaded, services: &[KubeService]) -> Option<Value> {
    let mut root = serde_json::Map::new();
    if !services.is_empty() {
        root.insert("services".into(), json!({"env": app_env(l, services)}));
    }
    if let Some(task) = l.config.tasks.get(super::local::MIGRATE_TASK) {
        let command: Vec<String> = match &task.run {
            crate::config::TaskCommand::Shell(s) => vec!["sh".into(), "-c".into(), s.clone()],
            crate::config::TaskCommand::Argv(v) => v.clone(),
        };
        root.insert("migrate".into(), json!({"command": command}));
    }
    if root.is_empty() {
        None
    } else {
        Some(Value::Object(root))
    }
}

/// A Kubernetes object name (a DNS subdomain): lowercase letters, digits, '-' and '.'.
fn is_object_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.')
            .all(|p| crate::config::check_dns_label(p).is_ok())
}

/// A Kubernetes quantity like `1Gi`, `500Mi`, `10G`.
fn is_quantity(s: &str) -> bool {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && ["", "Ki", "Mi", "Gi", "Ti", "Pi", "k", "M", "G", "T", "P"].contains(&unit)
}

/// A cron schedule of five fields (`*`, digits, `,-/`), or a `@hourly`-style macro.
fn is_schedule(s: &str) -> bool {
    if matches!(
        s,
        "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly"
    ) {
        return true;
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    fields.len() == 5
        && fields.iter().all(|f| {
            f.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '*' | ',' | '-' | '/'))
        })
}

/// Checks of `[env.NAME.services]` and `[env.NAME.backup]` at load time (exit 2 with
/// file, line and a fix).
pub fn validate(l: &Loaded) -> Result<(), Error> {
    use crate::config::EnvKind;
    let has_kube = l.config.env.values().any(|e| e.kind == EnvKind::Kubernetes);
    if has_kube {
        let release = l
            .config
            .deploy
            .as_ref()
            .and_then(|d| d.release.clone())
            .unwrap_or_else(|| l.project().to_owned());
        for name in l.config.services.keys() {
            // The CronJob's name (`RELEASE-NAME-backup`) is the longest: at most 52.
            let longest = format!("{}-backup", object_name(&release, name));
            if longest.len() > 52 {
                return Err(l.error_at_key(
                    &["services", name],
                    &format!(
                        "service `{name}` makes Kubernetes names too long: `{longest}` has {} characters, at most 52",
                        longest.len()
                    ),
                    Some(format!(
                        "shorten the service's name (its objects are named RELEASE-NAME, release `{release}`)"
                    )),
                ));
            }
        }
    }
    for (env_name, env) in &l.config.env {
        let keyed = !env.services.is_empty() || env.backup.is_some();
        if keyed && env.kind == EnvKind::Docker {
            let key = if env.services.is_empty() {
                "backup"
            } else {
                "services"
            };
            return Err(l.error_at_key(
                &["env", env_name, key],
                &format!("`{key}` applies to kubernetes environments, but `env.{env_name}` is a docker environment"),
                Some(format!(
                    "remove [env.{env_name}.{key}]: a docker environment provisions every service of [services] itself (`lbc backup {env_name}` backs them up)"
                )),
            ));
        }
        for (name, es) in &env.services {
            if !l.config.services.contains_key(name) {
                return Err(l.error_at_key(
                    &["env", env_name, "services", name],
                    &format!("[env.{env_name}.services.{name}] names no service of [services]"),
                    Some(if l.config.services.is_empty() {
                        format!("declare it, e.g.\n  [services.{name}]\n  type = \"postgres\"")
                    } else {
                        format!(
                            "declared services: {}",
                            l.config
                                .services
                                .keys()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }),
                ));
            }
            if let Some(s) = &es.secret {
                if !is_object_name(s) {
                    return Err(l.error_at(
                        &["env", env_name, "services", name, "secret"],
                        &format!(
                            "`{}` is not a Secret name",
                            crate::validate::excerpt(s)
                        ),
                        Some(format!(
                            "name the Secret your platform manages in the namespace, like `secret = \"{}\"`",
                            crate::config::suggest_dns_label(s)
                        )),
                    ));
                }
                if es.storage.is_some() {
                    return Err(l.error_at(
                        &["env", env_name, "services", name, "storage"],
                        "`storage` applies to a service lbc provisions, but this one is external (`secret`)",
                        Some("remove `storage`, or remove `secret` to have lbc provision the service".into()),
                    ));
                }
            }
            if let Some(q) = &es.storage {
                if !is_quantity(q) {
                    return Err(l.error_at(
                        &["env", env_name, "services", name, "storage"],
                        &format!("`{}` is not a storage size", crate::validate::excerpt(q)),
                        Some("write it like `storage = \"5Gi\"`".into()),
                    ));
                }
            }
        }
        if let Some(b) = &env.backup {
            if let Some(s) = &b.schedule {
                if !is_schedule(s) {
                    return Err(l.error_at(
                        &["env", env_name, "backup", "schedule"],
                        &format!("`{}` is not a cron schedule", crate::validate::excerpt(s)),
                        Some(
                            "write five fields (minute hour day month weekday), e.g. `schedule = \"0 * * * *\"` for hourly"
                                .into(),
                        ),
                    ));
                }
            }
            if b.keep == Some(0) {
                return Err(l.error_at(
                    &["env", env_name, "backup", "keep"],
                    "`keep = 0` would delete every backup",
                    Some("keep at least one, e.g. `keep = 48` (two days of hourly backups)".into()),
                ));
            }
            if let Some(sec) = &b.s3_secret {
                if !is_object_name(sec) {
                    return Err(l.error_at(
                        &["env", env_name, "backup", "s3_secret"],
                        &format!("`{}` is not a Secret name", crate::validate::excerpt(sec)),
                        Some("name the Secret holding the bucket's credentials, like `s3_secret = \"backup-s3\"`".into()),
                    ));
                }
                let bucket = l
                    .config
                    .backup
                    .as_ref()
                    .and_then(|c| c.destination.as_deref())
                    .and_then(super::backup::parse_s3)
                    .is_some();
                if !bucket {
                    return Err(l.error_at(
                        &["env", env_name, "backup", "s3_secret"],
                        "`s3_secret` names the credentials of a bucket, but `[backup] destination` is not one",
                        Some("set `[backup] destination = \"s3://BUCKET/PREFIX\"`, or remove `s3_secret` (the CronJob then keeps its backups on a volume claim)".into()),
                    ));
                }
            }
            if let Some(q) = &b.storage {
                if !is_quantity(q) {
                    return Err(l.error_at(
                        &["env", env_name, "backup", "storage"],
                        &format!("`{}` is not a storage size", crate::validate::excerpt(q)),
                        Some("write it like `storage = \"20Gi\"`".into()),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The pod of a provisioned service (its StatefulSet's only one) and its container.
pub fn pod_of(ks: &KubeService) -> (String, &'static str) {
    (format!("{}-0", ks.object), ks.service.kind.catalog_name())
}

/// Plan `lbc backup ENV` of a kubernetes environment: per provisioned service, the
/// server's own dump tool inside its pod (`kubectl exec`), copied out (`kubectl cp`) to
/// a temporary name that [`super::backup::finish_backup`] renames when complete, and the
/// dump removed from the pod by a step that always runs. The names are those of the
/// docker path (`PROJECT_ENV_SERVICE_TIME_SERVER.EXT`); the server's version is read
/// from the pod while planning (a dry run without a pod that answers shows `SERVER`).
pub fn plan_backup(
    ctx: &crate::commands::Ctx,
    t: &crate::targets::kube::Kube,
    service: Option<&str>,
    dir: &std::path::Path,
) -> Result<(crate::plan::Plan, Vec<super::backup::Pending>), Error> {
    use crate::plan::Step;
    let l = &ctx.project;
    let env_name = &t.env_name;
    let wanted: Vec<String> = super::backup::selected(ctx, service)?
        .into_iter()
        .map(|(n, _)| n.clone())
        .collect();
    let services = t.services(ctx)?;
    let mut plan = t.plan("backup");
    plan.note(format!("backup directory: {}", dir.display()));
    let time = super::backup::compact_time();
    let project = l.project();
    let k = t.kubectl();
    let mut pending = Vec::new();
    for ks in services.iter().filter(|s| wanted.contains(&s.name)) {
        let name = &ks.name;
        if ks.provisioned.is_none() {
            if service.is_some() {
                return Err(Error::usage(
                    format!(
                        "service `{name}` of `{env_name}` is external (Secret {}): lbc does not back it up",
                        ks.secret
                    ),
                    Some("back it up with the platform that manages it".into()),
                ));
            }
            plan.note(format!(
                "service `{name}` is external (Secret {}): not backed up by lbc",
                ks.secret
            ));
            continue;
        }
        let kind = ks.service.kind;
        let (user, database) = (ks.service.user(project), ks.service.database(project));
        let (pod, container) = pod_of(ks);
        let out = ctx.runner.query(&k.exec_in(
            &pod,
            container,
            &in_pod(kind, kind.version_query(&user, &database)),
        ))?;
        let server = match kind.parse_version(&out.stdout) {
            Some(v) if out.ok() => v,
            _ if ctx.settings.dry_run => {
                plan.note(format!(
                    "service `{name}`: the server's version could not be read from pod {pod} ({}); the name shows SERVER",
                    out.stderr.lines().next().unwrap_or("no answer").trim()
                ));
                "SERVER".to_owned()
            }
            _ => {
                return Err(Error::failed(
                    format!(
                        "could not read the server version of service `{name}` in pod {pod}: {}",
                        format!("{}{}", out.stdout, out.stderr).trim()
                    ),
                    Some(format!(
                        "is it running? `lbc status {env_name}` lists the services; `kubectl logs {pod}` shows its log"
                    )),
                ))
            }
        };
        let file_name = format!(
            "{project}_{env_name}_{name}_{time}_{server}.{}",
            kind.dump_extension()
        );
        let file = dir.join(&file_name);
        let partial = dir.join(format!(".{file_name}.partial"));
        let inside = format!(
            "/tmp/lbc-backup-{}.{}",
            std::process::id(),
            kind.dump_extension()
        );
        plan.push(Step::exec(
            format!("Dump service `{name}` ({server}) inside pod {pod}"),
            k.exec_in(
                &pod,
                container,
                &in_pod(kind, kind.dump(&user, &database, &inside)),
            )
            .capture(),
        ));
        plan.push(Step::exec(
            format!("Copy the dump out to {}", partial.display()),
            k.cp(
                container,
                &format!("{pod}:{inside}"),
                &partial.display().to_string(),
            )
            .capture(),
        ));
        plan.push(
            Step::exec(
                format!("Remove the dump from pod {pod}"),
                k.exec_in(&pod, container, &["rm".into(), "-f".into(), inside])
                    .capture(),
            )
            .always(),
        );
        plan.note(format!("service `{name}` -> {}", file.display()));
        pending.push(super::backup::Pending {
            service: name.clone(),
            partial,
            file,
        });
    }
    if pending.is_empty() {
        return Err(Error::usage(
            format!("`{env_name}` has no service that lbc provisions: nothing to back up"),
            Some(format!(
                "its services are external ([env.{env_name}.services]): their platform backs them up"
            )),
        ));
    }
    Ok((plan, pending))
}

/// Plan `lbc restore ENV` of a kubernetes environment (the services lbc provisions):
/// refuse to overwrite a database that holds data unless `overwrite` (read in the pod
/// while planning; a dry run without a pod that answers says so), copy the dump into the
/// pod, load it with the server's own tool (Redis: [`plan_redis_swap`]), remove it from
/// the pod.
pub fn plan_restore(
    ctx: &crate::commands::Ctx,
    t: &crate::targets::kube::Kube,
    backups: &[super::backup::Backup],
    overwrite: bool,
) -> Result<crate::plan::Plan, Error> {
    use crate::plan::Step;
    let l = &ctx.project;
    let env_name = &t.env_name;
    let project = l.project();
    let services = t.services(ctx)?;
    let k = t.kubectl();
    let mut plan = t.plan("restore");
    for b in backups {
        let Some(ks) = services.iter().find(|s| s.name == b.service) else {
            return Err(Error::usage(
                format!(
                    "{} is a backup of service `{}`, which {} does not declare",
                    b.name(),
                    b.service,
                    l.path.display()
                ),
                None,
            ));
        };
        let name = &ks.name;
        let kind = ks.service.kind;
        if b.kind() != Some(kind) {
            return Err(Error::usage(
                format!(
                    "{} was written by {}, but service `{name}` is {}",
                    b.name(),
                    b.server,
                    kind.as_str()
                ),
                None,
            ));
        }
        if ks.provisioned.is_none() {
            return Err(Error::usage(
                format!(
                    "service `{name}` of `{env_name}` is external (Secret {}): lbc does not restore it",
                    ks.secret
                ),
                Some("restore it with the platform that manages it".into()),
            ));
        }
        let (user, database) = (ks.service.user(project), ks.service.database(project));
        let (pod, container) = pod_of(ks);
        let out = ctx.runner.query(&k.exec_in(
            &pod,
            container,
            &in_pod(kind, kind.data_query(&user, &database)),
        ))?;
        if !out.ok() {
            if !ctx.settings.dry_run {
                return Err(Error::failed(
                    format!(
                        "could not tell whether service `{name}` holds data (pod {pod}): {}",
                        out.stderr.trim()
                    ),
                    Some(format!(
                        "is it running? `lbc status {env_name}` lists the services"
                    )),
                ));
            }
            plan.note(format!(
                "service `{name}`: could not tell from pod {pod} whether it holds data; a real run refuses to overwrite data without --overwrite"
            ));
        } else if kind.has_data(&out.stdout) {
            if !overwrite {
                return Err(Error::Refused {
                    message: format!(
                        "service `{name}` of `{env_name}` holds data: refusing to overwrite it with {}",
                        b.name()
                    ),
                    hint: format!(
                        "pass --overwrite to replace it (take `lbc backup {env_name} --service {name}` first if you may want it back)"
                    ),
                });
            }
            plan.note(format!(
                "service `{name}` holds data: --overwrite replaces it"
            ));
        }
        if kind == Kind::Redis {
            plan_redis_swap(&mut plan, t, ks, b);
            continue;
        }
        let inside = format!(
            "/tmp/lbc-restore-{}.{}",
            std::process::id(),
            kind.dump_extension()
        );
        plan.push(Step::exec(
            format!("Copy {} into pod {pod}", b.name()),
            k.cp(
                container,
                &b.file.display().to_string(),
                &format!("{pod}:{inside}"),
            )
            .capture(),
        ));
        plan.push(Step::exec(
            format!("Load it into service `{name}` ({})", kind.as_str()),
            k.exec_in(
                &pod,
                container,
                &in_pod(kind, kind.restore(&user, &database, &inside)),
            )
            .capture(),
        ));
        plan.push(
            Step::exec(
                format!("Remove the dump from pod {pod}"),
                k.exec_in(&pod, container, &["rm".into(), "-f".into(), inside])
                    .capture(),
            )
            .always(),
        );
    }
    Ok(plan)
}

/// Receive a backup on stdin into `$1` (a temporary name beside the data), owner-only:
/// exactly `$2` bytes, accepted by the server's own `redis-check-rdb` (a file of another
/// kind or of a newer Redis is refused here, before the server is touched), then given
/// to the data directory's owner (the server's user). A failure removes it.
const REDIS_RECEIVE: &str = "set -eu; umask 077; f=\"$1\"; want=\"$2\"; fail() { rm -f \"$f\"; echo \"$1\" >&2; exit 1; }; cat > \"$f\"; n=$(wc -c < \"$f\"); [ \"$n\" -eq \"$want\" ] || fail \"received $n bytes of $want: the copy is incomplete\"; if command -v redis-check-rdb >/dev/null 2>&1; then out=$(redis-check-rdb \"$f\" 2>&1) || { printf '%s\\n' \"$out\" >&2; fail \"redis-check-rdb rejects it: not an RDB file this server can load\"; }; else [ \"$(head -c 5 \"$f\")\" = REDIS ] || fail \"it is not an RDB file\"; fi; if [ \"$(id -u)\" = 0 ]; then chown \"$(stat -c %u:%g \"${f%/*}\")\" \"$f\"; fi";

/// Put the received file `$1` in place of the server's RDB file (its `dir` and
/// `dbfilename`), so that the next start loads it: refused when the server keeps an
/// append-only file (it would load that instead); snapshots turned off (saved in `$3`)
/// so that neither a scheduled snapshot nor the shutdown overwrites it; writes paused
/// (`CLIENT PAUSE $2 WRITE`) so that none is accepted and then lost; a running
/// background save (which renames its file over the RDB file when done) waited for
/// before the pause, and once more after it. Any failure before the rename puts the
/// server back as it was. redis-cli exits 0 on an error reply: `r` checks the replies.
const REDIS_SWAP: &str = "set -eu; tmp=\"$1\"; ms=\"$2\"; keep=\"$3\"; trap 'rm -f \"$tmp\"' EXIT; r() { o=$(redis-cli -h 127.0.0.1 \"$@\") || exit 1; case \"$o\" in ERR*|NOAUTH*|WRONGPASS*|NOPERM*|LOADING*|BUSY*|MISCONF*|READONLY*) echo \"redis $1 $2: $o\" >&2; exit 1;; esac; printf '%s\\n' \"$o\"; }; cfg() { v=$(r CONFIG GET \"$1\"); [ \"$(printf '%s\\n' \"$v\" | sed -n 1p)\" = \"$1\" ] || { echo \"redis CONFIG GET $1: $v\" >&2; exit 1; }; printf '%s\\n' \"$v\" | sed -n 2p; }; aof=$(cfg appendonly); [ \"$aof\" = no ] || { echo \"appendonly is on: redis would load its AOF file at start, not the restored RDB file\" >&2; exit 1; }; dir=$(cfg dir); name=$(cfg dbfilename); idle() { while :; do i=$(r INFO persistence); case \"$i\" in *rdb_bgsave_in_progress:1*) sleep 1;; *) return 0;; esac; done; }; cfg save > \"$keep\"; trap 'redis-cli -h 127.0.0.1 CONFIG SET save \"$(cat \"$keep\")\" >/dev/null; redis-cli -h 127.0.0.1 CLIENT UNPAUSE >/dev/null; rm -f \"$keep\" \"$tmp\"' EXIT; r CONFIG SET save '' >/dev/null; idle; r CLIENT PAUSE \"$ms\" WRITE >/dev/null; idle; mv -f \"$tmp\" \"$dir/$name\"; trap - EXIT; echo \"replaced $dir/$name: writes paused and no snapshot until the restart\"";

/// When the restart failed, the server that still runs takes its snapshots (saved in
/// `$1`) and writes back, and a snapshot of its data replaces the restored file: the
/// restore did not happen. In a new pod (no `$1` there) it does nothing.
const REDIS_RESUME: &str = "set -eu; keep=\"$1\"; [ -f \"$keep\" ] || exit 0; redis-cli -h 127.0.0.1 CONFIG SET save \"$(cat \"$keep\")\"; redis-cli -h 127.0.0.1 CLIENT UNPAUSE; redis-cli -h 127.0.0.1 BGSAVE; rm -f \"$keep\"";

/// The steps of a Redis restore on Kubernetes (issue #10). Redis reads its RDB file only
/// when it starts, as in a docker environment, where the file is swapped while the
/// container is stopped; a pod cannot be stopped and kept, so the file goes in beside the
/// data while the server runs (`kubectl exec --stdin`, no `tar` needed), is checked,
/// renamed over the server's RDB file with snapshots off and writes paused, and the pod
/// is deleted: the StatefulSet recreates it on the same volume and the new server loads
/// the file (a SIGTERM saves nothing without snapshots). lbc then waits for the new pod
/// to be ready (its probe pings the server, which answers only once the file is loaded).
fn plan_redis_swap(
    plan: &mut crate::plan::Plan,
    t: &crate::targets::kube::Kube,
    ks: &KubeService,
    b: &super::backup::Backup,
) {
    use crate::plan::Step;
    let k = t.kubectl();
    let kind = ks.service.kind;
    let name = &ks.name;
    let (pod, container) = pod_of(ks);
    let pid = std::process::id();
    let inside = format!("{}/.lbc-restore-{pid}.rdb", kind.data_path());
    let keep = format!("/tmp/lbc-restore-{pid}.save");
    let timeout = t.timeout_secs();
    plan.note(format!(
        "service `{name}`: Redis reads its RDB file only when it starts, so pod {pod} is restarted; writes wait from the swap until then"
    ));
    let sh = |script: &str, args: Vec<String>| -> Vec<String> {
        let mut v = vec!["sh".into(), "-c".into(), script.into(), "sh".into()];
        v.extend(args);
        v
    };
    plan.push(Step::exec(
        format!(
            "Copy {} into pod {pod} and check it (redis-check-rdb)",
            b.name()
        ),
        k.exec_from_file(
            &pod,
            container,
            &sh(REDIS_RECEIVE, vec![inside.clone(), b.bytes.to_string()]),
            &b.file,
        )
        .capture(),
    ));
    plan.push(Step::exec(
        format!("Put it in place of the RDB file of service `{name}` (snapshots off, writes paused until the restart)"),
        k.exec_in(
            &pod,
            container,
            &in_pod(
                kind,
                sh(
                    REDIS_SWAP,
                    vec![inside.clone(), (timeout * 1000).to_string(), keep.clone()],
                ),
            ),
        )
        .capture(),
    ));
    let restart = plan.next_number();
    plan.push(Step::exec(
        format!(
            "Restart pod {pod}: the StatefulSet recreates it and Redis loads the restored file"
        ),
        k.delete(&[format!("pod/{pod}")]),
    ));
    plan.push(
        Step::exec(
            format!("Resume snapshots and writes of service `{name}` if its pod still runs (it keeps its data)"),
            k.exec_in(&pod, container, &in_pod(kind, sh(REDIS_RESUME, vec![keep])))
                .capture(),
        )
        .on_failure_from(restart),
    );
    plan.push(Step::exec(
        format!("Wait until pod {pod} exists again"),
        k.wait_for("create", &format!("pod/{pod}"), timeout),
    ));
    plan.push(
        Step::exec(
            format!("Wait until service `{name}` is ready (Redis answers once the file is loaded)"),
            k.wait_for("condition=Ready", &format!("pod/{pod}"), timeout),
        )
        .hint(format!(
            "`kubectl logs {pod}` shows whether Redis could load {}",
            b.name()
        )),
    );
    plan.push(
        Step::exec(
            format!("Remove the copy from pod {pod} if it is still there"),
            k.exec_in(&pod, container, &["rm".into(), "-f".into(), inside])
                .capture(),
        )
        .always(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(s: &str) -> Result<Loaded, Error> {
        crate::config::parse(Path::new("/repo/lbc.toml"), s)
    }

    fn resolved(l: &Loaded, env: &str) -> Vec<KubeService> {
        resolve(l, env, "shop", |_, s| {
            Ok(format!("{}:{}", s.kind.catalog_name(), s.version()))
        })
        .unwrap()
    }

    const TOML: &str = "[project]\nname = \"shop\"\n[services.db]\ntype = \"postgres\"\n[services.cache]\ntype = \"redis\"\n[services.cache.env]\nREDIS_HOST = \"{host}\"\nREDIS_PASSWORD = \"{password}\"\nCACHE_URL = \"{url}\"\n[env.staging]\nnamespace = \"shop\"\n[env.production]\nnamespace = \"shop\"\nprotected = true\n[env.production.services.db]\nsecret = \"shop-db\"\n";

    #[test]
    fn provisioned_values_are_plain_and_passwords_come_from_the_secret() {
        // issue #10: no password in the values, in clear or otherwise.
        let l = load(TOML).unwrap();
        let env = app_env(&l, &resolved(&l, "staging"));
        let text = serde_json::to_string(&env).unwrap();
        assert_eq!(
            env,
            vec![
                // The helpers come first: `$(VAR)` only sees the variables before it.
                from_secret("LBC_SERVICE_DB_PASSWORD", "shop-db", "password"),
                from_secret("LBC_SERVICE_CACHE_PASSWORD", "shop-cache", "password"),
                json!({"name": "DATABASE_URL", "value": "postgresql://shop:$(LBC_SERVICE_DB_PASSWORD)@shop-db:5432/shop"}),
                json!({"name": "CACHE_URL", "value": "redis://default:$(LBC_SERVICE_CACHE_PASSWORD)@shop-cache:6379/0"}),
                json!({"name": "REDIS_HOST", "value": "shop-cache"}),
                from_secret("REDIS_PASSWORD", "shop-cache", "password"),
            ],
            "{text}"
        );
    }

    #[test]
    fn an_external_service_reads_every_part_from_its_secret() {
        // issue #10: production's database is the platform's; lbc only references it.
        let l = load(TOML).unwrap();
        let ks = resolved(&l, "production");
        assert!(ks[0].provisioned.is_none());
        let env = app_env(&l, &ks);
        assert_eq!(
            env[0],
            from_secret("LBC_SERVICE_DB_USER", "shop-db", "user")
        );
        assert!(env.contains(&json!({"name": "DATABASE_URL", "value": "postgresql://$(LBC_SERVICE_DB_USER):$(LBC_SERVICE_DB_PASSWORD)@$(LBC_SERVICE_DB_HOST):$(LBC_SERVICE_DB_PORT)/$(LBC_SERVICE_DB_DATABASE)"})));
        // No StatefulSet, Service or CronJob for it.
        let docs = manifests(&l, "production", "shop", &ks, None);
        assert!(docs
            .iter()
            .all(|d| d["metadata"]["labels"]["lbc.service"] != "db"));
        // The protected environment gets the hourly backup of the provisioned cache.
        let cron: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "CronJob").collect();
        assert_eq!(cron.len(), 1);
        assert_eq!(cron[0]["spec"]["schedule"], "0 * * * *");
    }

    #[test]
    fn chart_values_carry_the_connection_and_the_migration() {
        // issue #10: `services.env` and `migrate.command` (a string runs with sh -c, an
        // argv as it is); gitops gives only the external services.
        let l = load(&format!(
            "{TOML}[tasks.migrate]\nrun = [\"./manage\", \"migrate\"]\n"
        ))
        .unwrap();
        let all = resolved(&l, "production");
        let v = chart_values(&l, &all).unwrap();
        assert_eq!(v["migrate"]["command"], json!(["./manage", "migrate"]));
        let external: Vec<KubeService> = all
            .into_iter()
            .filter(|s| s.provisioned.is_none())
            .collect();
        let v = chart_values(&l, &external).unwrap();
        let text = v.to_string();
        assert!(text.contains("DATABASE_URL"), "{text}");
        assert!(!text.contains("REDIS"), "{text}");
        let plain = load("[project]\nname = \"x\"\n").unwrap();
        assert!(chart_values(&plain, &[]).is_none());
    }

    #[test]
    fn literal_dollar_parens_are_escaped() {
        assert_eq!(literal("a$(b)"), "a$$(b)");
    }

    #[test]
    fn bad_environment_services_point_at_the_line() {
        // issue #10: exit 2 with file:line and a fix.
        let base = "[project]\nname = \"x\"\n[services.db]\ntype = \"postgres\"\n[env.staging]\nnamespace = \"x\"\n";
        let cases = [
            (format!("{base}[env.staging.services.dbx]\nsecret = \"a\"\n"), "/repo/lbc.toml:7"),
            (format!("{base}[env.staging.services.db]\nsecret = \"Not_A_Name\"\n"), "/repo/lbc.toml:8"),
            (format!("{base}[env.staging.services.db]\nstorage = \"lots\"\n"), "/repo/lbc.toml:8"),
            (format!("{base}[env.staging.backup]\nschedule = \"every hour\"\n"), "/repo/lbc.toml:8"),
            (format!("{base}[env.staging.backup]\nkeep = 0\n"), "/repo/lbc.toml:8"),
            (format!("{base}[env.staging.backup]\ns3_secret = \"creds\"\n"), "/repo/lbc.toml:8"),
            (format!("{base}[env.staging.backup]\ns3_secret = \"Bad_Name\"\n[backup]\ndestination = \"s3://bkt/x\"\n"), "/repo/lbc.toml:8"),
            (format!("{base}[env.staging.services.db]\nsecret = \"x\"\nstorage = \"1Gi\"\n"), "/repo/lbc.toml:9"),
            (
                "[project]\nname = \"x\"\n[services.db]\ntype = \"postgres\"\n[env.local]\nkind = \"docker\"\n[env.local.services.db]\nsecret = \"x\"\n".to_owned(),
                "/repo/lbc.toml:7",
            ),
        ];
        for (toml, at) in cases {
            let err = load(&toml).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{toml}");
            let text = err.to_string();
            assert!(text.contains(at), "{toml}\n---\n{text}");
            assert!(err.hint().is_some(), "{toml}");
        }
        let long = format!(
            "[project]\nname = \"x\"\n[services.{}]\ntype = \"redis\"\n[env.staging]\nnamespace = \"x\"\n",
            "a".repeat(50)
        );
        let err = load(&long).unwrap_err();
        assert!(err.to_string().contains("/repo/lbc.toml:3"), "{err}");
        assert!(is_schedule("*/15 2-4 * * 1,3"));
        assert!(is_quantity("500Mi"));
    }
}
