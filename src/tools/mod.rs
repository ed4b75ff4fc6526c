//! Wrappers for the external tools lbc drives. Each builds argument lists and parses
//! the tool's output; none runs anything itself (the runner does).

pub mod docker;
pub mod docker_api;
pub mod docker_objects;
pub mod git;
pub mod helm;
pub mod kubectl;
pub mod rclone;

use std::path::{Path, PathBuf};

use crate::error::Error;

/// How to get a tool, shown when it is missing.
pub fn install_hint(tool: &str) -> String {
    match tool {
        "docker" => "install the Docker engine (Debian/Ubuntu: `apt-get install docker.io`), then start it (`systemctl start docker`, or `dockerd &` as root)".into(),
        "helm" => "install helm v3 or v4 (https://helm.sh/docs/intro/install/), or name another binary with `helm = \"PATH\"` in the environment's table of lbc.toml".into(),
        "kubectl" => "install kubectl (https://kubernetes.io/docs/tasks/tools/), or name another binary (e.g. `oc`) with `kubectl = \"PATH\"` in the environment's table of lbc.toml".into(),
        "git" => "install git (Debian/Ubuntu: `apt-get install git`)".into(),
        other => format!("install `{other}` and make sure it is on PATH"),
    }
}

/// Find a program once: a path is checked as given, a bare name is looked up on PATH.
pub fn find(prog: &str) -> Result<PathBuf, Error> {
    let found = if prog.contains('/') {
        let p = Path::new(prog);
        p.is_file().then(|| p.to_owned())
    } else {
        which::which(prog).ok()
    };
    found.ok_or_else(|| Error::ToolMissing {
        tool: prog.to_owned(),
        hint: install_hint(
            Path::new(prog)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or(prog),
        ),
    })
}
