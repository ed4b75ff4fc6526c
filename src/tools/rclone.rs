//! rclone, for backups in an S3-compatible bucket (issue #10): argument lists and the
//! parsing of `rclone lsjson`. The remote is configured on the fly (`:s3:BUCKET/KEY`)
//! from `RCLONE_S3_*` variables in rclone's environment, so that neither the endpoint
//! nor a credential appears in an argv.

use std::path::Path;

use serde::Deserialize;

use crate::plan::{EnvVar, Exec};

/// Where objects go: a bucket, a key prefix, and how to reach it.
#[derive(Debug, Clone)]
pub struct S3 {
    pub bucket: String,
    /// Without leading or trailing '/'; may be empty.
    pub prefix: String,
    /// The rclone environment: provider, endpoint, region, credentials (secrets).
    pub env: Vec<EnvVar>,
    /// A CA bundle to trust (from `AWS_CA_BUNDLE`: rclone's SDK cannot load it itself).
    pub ca_cert: Option<String>,
}

impl S3 {
    /// `:s3:BUCKET/PREFIX/NAME` (or the prefix itself when `name` is empty).
    pub fn remote(&self, name: &str) -> String {
        let mut path = self.bucket.clone();
        for part in [self.prefix.as_str(), name] {
            if !part.is_empty() {
                path.push('/');
                path.push_str(part);
            }
        }
        format!(":s3:{path}")
    }

    /// `s3://BUCKET/PREFIX/NAME`, for messages.
    pub fn url(&self, name: &str) -> String {
        self.remote(name).replacen(":s3:", "s3://", 1)
    }
}

fn base(cwd: &Path, s3: &S3) -> Exec {
    // No configuration file: everything comes from the environment.
    let mut e = Exec::new(["rclone", "--config=/dev/null"], cwd)
        .envs(s3.env.iter().cloned())
        .progress();
    if let Some(ca) = &s3.ca_cert {
        e.argv.push(format!("--ca-cert={ca}"));
    }
    e
}

/// Copy one local file to `name` under the prefix.
pub fn upload(s3: &S3, file: &Path, name: &str, cwd: &Path) -> Exec {
    let mut e = base(cwd, s3);
    e.argv.extend([
        "copyto".into(),
        "--".into(),
        file.display().to_string(),
        s3.remote(name),
    ]);
    e
}

/// Copy the object `name` under the prefix to a local file.
pub fn download(s3: &S3, name: &str, file: &Path, cwd: &Path) -> Exec {
    let mut e = base(cwd, s3);
    e.argv.extend([
        "copyto".into(),
        "--".into(),
        s3.remote(name),
        file.display().to_string(),
    ]);
    e
}

/// Delete the object `name` under the prefix.
pub fn delete(s3: &S3, name: &str, cwd: &Path) -> Exec {
    let mut e = base(cwd, s3);
    e.argv
        .extend(["deletefile".into(), "--".into(), s3.remote(name)]);
    e
}

/// List the objects directly under the prefix (`rclone lsjson`).
pub fn list(s3: &S3, cwd: &Path) -> Exec {
    let mut e = base(cwd, s3);
    e.argv.extend([
        "lsjson".into(),
        "--files-only".into(),
        "--".into(),
        s3.remote(""),
    ]);
    e.capture()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Object {
    pub name: String,
    #[serde(default)]
    pub size: i64,
}

pub fn parse_list(stdout: &str) -> Result<Vec<Object>, serde_json::Error> {
    serde_json::from_str(stdout)
}
