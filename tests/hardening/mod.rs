//! Issue #9, bad input: a corpus of lbc.toml files that lbc cannot use. Each must be
//! refused at load with exit 2 and one bounded error naming file, line and column of the
//! offending key or value, and a hint; none may panic, hang, be accepted, or let a value
//! reach a tool's argv as an option.
//!
//! `corpus_figures` (ignored by default) prints the figures for any binary:
//! `LBC_CORPUS_BIN=/path/to/lbc cargo test --test cli hardening::corpus_figures -- --ignored --nocapture`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Project, LBC};

mod fuzz;
mod inputs;
mod signals;

const HEAD: &str =
    "[project]\nname = \"hello\"\n[image]\nrepository = \"registry.example.com/hello\"\n";
/// A gitops environment (lines 5 to 12), for cases that add one key.
const GITOPS: &str = "[env.prod]\nkind = \"kubernetes\"\ncontext = \"c\"\nnamespace = \"n\"\ndelivery = \"gitops\"\nrepo = \"https://git.example.com/e.git\"\npath = \"apps/hello/prod\"\nformat = \"manifests\"\n";
const KUBE: &str = "[env.staging]\nkind = \"kubernetes\"\ncontext = \"c\"\nnamespace = \"n\"\n";

/// One bad lbc.toml: its text, the verb to run, where the error must point
/// (`line:column`), a phrase of the message, and for injection cases the value that must
/// not reach an argv.
pub struct Case {
    pub name: &'static str,
    pub toml: Vec<u8>,
    pub args: Vec<&'static str>,
    pub at: &'static str,
    pub says: &'static str,
    pub needle: Option<&'static str>,
    /// A FIFO to create in the project first (opening it would block forever).
    pub fifo: Option<&'static str>,
}

fn case(
    name: &'static str,
    body: &str,
    args: &[&'static str],
    at: &'static str,
    says: &'static str,
) -> Case {
    Case {
        name,
        toml: format!("{HEAD}{body}").into_bytes(),
        args: args.to_vec(),
        at,
        says,
        needle: None,
        fifo: None,
    }
}

/// An injection case: run the verb's dry run as JSON and look for `needle` in the argv.
fn inject(
    name: &'static str,
    body: &str,
    args: &[&'static str],
    at: &'static str,
    needle: &'static str,
) -> Case {
    let mut all = args.to_vec();
    all.extend(["--dry-run", "--output", "json"]);
    Case {
        needle: Some(needle),
        ..case(name, body, &all, at, "is not valid")
    }
}

pub fn corpus() -> Vec<Case> {
    let huge = "x".repeat(100_000);
    let cfg: &[&'static str] = &["config"];
    let mut v = vec![
        // Tasks (run = [] in table form panicked the runner before).
        case("run_empty_table", "[tasks.x]\nrun = []\n", &["task", "x"], "6:7", "empty argv"),
        case("run_empty_inline", "[tasks]\nx = { run = [] }\n", &["task", "x"], "6:13", "empty argv"),
        case("run_empty_program", "[tasks]\nx = [\"\"]\n", &["task", "x"], "6:5", "names no program"),
        case("run_empty_program_table", "[tasks.x]\nrun = [\"\", \"a\"]\n", &["task", "x"], "6:7", "names no program"),
        case("run_blank_shell", "[tasks]\nx = \"  \"\n", cfg, "6:5", "empty command"),
        case("run_blank_shell_table", "[tasks.x]\nrun = \"\"\n", cfg, "6:7", "empty command"),
        case("run_wrong_type", "[tasks.x]\nrun = 5\n", cfg, "6:7", "must be a string"),
        case("run_missing", "[tasks.x]\nstage = \"test\"\n", cfg, "5:1", "missing field `run`"),
        case("task_name_dash", "[tasks]\n\"-x\" = \"true\"\n", cfg, "6:1", "task name"),
        case("task_stage_empty", "[tasks.x]\nrun = \"true\"\nstage = \"\"\n", cfg, "7:9", "stage"),
        case("task_image_empty", "[tasks.x]\nrun = \"true\"\nimage = \"\"\n", cfg, "7:9", "task image"),
        case("task_env_empty_name", "[tasks.x]\nrun = \"true\"\nenv = { \"\" = \"v\" }\n", cfg, "7:9", "variable name"),
        case("task_stage_and_image", "[tasks.x]\nrun = \"true\"\nstage = \"a\"\nimage = \"b\"\n", cfg, "8:9", "not both"),
        // [image]
        case("platform_empty", "platform = \"\"\n", cfg, "5:12", "platform"),
        case("platform_garbage", "platform = \"amd64\"\n", cfg, "5:12", "platform"),
        case("target_empty", "target = \"\"\n", cfg, "5:10", "build target"),
        case("context_empty", "context = \"\"\n", cfg, "5:11", "build context"),
        case("context_root", "context = \"/\"\n", cfg, "5:11", "absolute"),
        case("context_up", "context = \"../..\"\n", cfg, "5:11", "climbs out"),
        case("context_up_inner", "context = \"a/../../b\"\n", cfg, "5:11", "climbs out"),
        case("dockerfile_empty", "dockerfile = \"\"\n", cfg, "5:14", "dockerfile path"),
        case("dockerfile_outside", "dockerfile = \"../Dockerfile\"\n", cfg, "5:14", "climbs out"),
        case("dockerfile_absolute", "dockerfile = \"/etc/passwd\"\n", cfg, "5:14", "absolute"),
        case("repository_huge", &format!("[image.args]\nA = \"{huge}\"\n[tasks]\nx = \"\"\n"), cfg, "8:5", "empty command"),
        case("build_arg_name_eq", "[image.args]\n\"A=B\" = \"x\"\n", cfg, "6:1", "build argument name"),
        case("build_arg_name_empty", "[image.args]\n\"\" = \"x\"\n", cfg, "6:1", "build argument name"),
        case("base_empty", "[image.bases]\nB = \"\"\n", cfg, "6:5", "base image"),
        case("base_option", "[image.bases]\nB = \"-v/:/x\"\n", cfg, "6:5", "base image"),
        // [registry]
        case("registry_env_value", "[registry]\nusername_env = \"me@example.com\"\npassword_env = \"P\"\n", cfg, "6:16", "not an environment variable name"),
        case("registry_server_empty", "[registry]\nserver = \"\"\nusername_env = \"U\"\npassword_env = \"P\"\n", cfg, "6:10", "registry server"),
        case("registry_server_newline", "[registry]\nserver = \"r.io\\n--x\"\nusername_env = \"U\"\npassword_env = \"P\"\n", cfg, "6:10", "registry server"),
        // [deploy]
        case("release_empty", &format!("[deploy]\nrelease = \"\"\n{KUBE}"), cfg, "6:11", "release name"),
        case("release_long", &format!("[deploy]\nrelease = \"{}\"\n{KUBE}", "a".repeat(60)), cfg, "6:11", "release name"),
        case("chart_absolute", &format!("[deploy]\nchart = \"/etc\"\n{KUBE}"), cfg, "6:9", "absolute"),
        case("manifests_up", &format!("[deploy]\nmanifests = \"../x\"\n{KUBE}"), cfg, "6:13", "climbs out"),
        case("kustomize_dash", &format!("[deploy]\nkustomize = \"-k\"\n{KUBE}"), cfg, "6:13", "starts with '-'"),
        // [env] docker
        case("container_port_zero", "[env.local]\nkind = \"docker\"\nport = 8080\ncontainer_port = 0\n", cfg, "8:18", "port 0"),
        case("port_zero", "[env.local]\nkind = \"docker\"\nport = 0\n", cfg, "7:8", "port 0"),
        case("port_too_big", "[env.local]\nkind = \"docker\"\nport = 70000\n", cfg, "7:8", "port"),
        case("bind_empty", "[env.local]\nkind = \"docker\"\nbind = \"\"\n", cfg, "7:8", "not an IP address"),
        case("health_relative", "[env.local]\nkind = \"docker\"\nhealth = \"healthz\"\n", cfg, "7:10", "must start with '/'"),
        case("health_crlf", "[env.local]\nkind = \"docker\"\nhealth = \"/x HTTP/1.1\\r\\nHost: evil\"\n", cfg, "7:10", "health path"),
        case("vars_empty_name", "[env.local]\nkind = \"docker\"\nvars = { \"\" = \"x\" }\n", cfg, "7:10", "variable name"),
        case("timeout_empty", "[env.local]\nkind = \"docker\"\ntimeout = \"\"\n", cfg, "7:11", "not a duration"),
        case("env_name_bad", "[env.Local]\nkind = \"docker\"\n", cfg, "5:6", "environment name"),
        case("env_mixed", "[env.x]\nport = 1\nnamespace = \"n\"\n", cfg, "5:1", "mixes"),
        case("env_nothing", "[env.x]\nprotected = true\n", cfg, "5:1", "does not say"),
        // [env] kubernetes
        case("promote_from_self", "[env.staging]\ncontext = \"c\"\nnamespace = \"n\"\npromote_from = \"staging\"\n", cfg, "8:16", "from itself"),
        case("promote_from_unknown", "[env.staging]\ncontext = \"c\"\nnamespace = \"n\"\npromote_from = \"qa\"\n", cfg, "8:16", "names no environment"),
        case("namespace_empty", "[env.staging]\ncontext = \"c\"\nnamespace = \"\"\n", cfg, "7:13", "namespace"),
        case("namespace_option", "[env.staging]\ncontext = \"c\"\nnamespace = \"--all-namespaces\"\n", cfg, "7:13", "namespace"),
        case("context_option", "[env.staging]\ncontext = \"--kubeconfig=/tmp/x\"\nnamespace = \"n\"\n", cfg, "6:11", "kube context"),
        case("kube_context_empty", "[env.staging]\ncontext = \"\"\nnamespace = \"n\"\n", cfg, "6:11", "kube context"),
        case("kubeconfig_empty", "[env.staging]\ncontext = \"c\"\nkubeconfig = \"\"\n", cfg, "7:14", "kubeconfig path"),
        case("values_outside", "[env.staging]\ncontext = \"c\"\nvalues = [\"../../etc/passwd\"]\n", cfg, "7:10", "values file"),
        case("values_empty", "[env.staging]\ncontext = \"c\"\nvalues = [\"\"]\n", cfg, "7:10", "values file"),
        case("set_key_comma", "[env.staging]\ncontext = \"c\"\nset = { \"a,b\" = \"x\" }\n", cfg, "7:9", "value path"),
        case("set_key_eq", "[env.staging]\ncontext = \"c\"\n[env.staging.set]\n\"a=b\" = \"x\"\n", cfg, "8:1", "value path"),
        case("helm_empty", "[env.staging]\ncontext = \"c\"\nhelm = \"\"\n", cfg, "7:8", "program"),
        case("kubectl_option", "[env.staging]\ncontext = \"c\"\nkubectl = \"--help\"\n", cfg, "7:11", "program"),
        case("timeout_words", "[env.staging]\ncontext = \"c\"\ntimeout = \"5 minutes\"\n", cfg, "7:11", "not a duration"),
        case("docker_key_in_kube", "[env.staging]\nkind = \"kubernetes\"\nport = 1\n", cfg, "7:8", "applies to docker"),
        // Whole-file problems.
        case("unknown_key_huge_line", &format!("[tasks]\nx = \"true\"\n[wat]\nk = \"{huge}\"\n"), cfg, "7:2", "unknown field"),
        case("duplicate_key", "[tasks]\nx = \"a\"\nx = \"b\"\n", cfg, "7:1", "duplicate key"),
        // Values that would reach a tool as an option (or split) before issue #9.
        inject("task_image_option", "[tasks.x]\nrun = \"true\"\nimage = \"-v/:/host\"\n", &["task", "x"], "7:9", "-v/:/host"),
        inject("task_stage_option", "[tasks.x]\nrun = \"true\"\nstage = \"-evil\"\n", &["task", "x"], "7:9", "-evil"),
        inject("task_env_name_split", "[tasks.x]\nrun = \"true\"\nimage = \"python\"\nenv = { \"PATH=/evil\" = \"x\" }\n", &["task", "x"], "8:9", "PATH=/evil"),
        inject("target_option", "target = \"-evil\"\n", &["build"], "5:10", "-evil"),
        inject("platform_option", "platform = \"--evil\"\n", &["build"], "5:12", "--evil"),
        inject("dockerfile_dash", "dockerfile = \"-\"\n", &["build"], "5:14", "-"),
        inject("context_dash", "context = \"--help\"\n", &["build"], "5:11", "--help"),
        inject("registry_server_option", "[registry]\nserver = \"--help\"\nusername_env = \"LBC_CORPUS_U\"\npassword_env = \"LBC_CORPUS_P\"\n", &["build", "--push"], "6:10", "--help"),
        inject("vars_name_split", "[env.local]\nkind = \"docker\"\n[env.local.vars]\n\"PATH=/evil\" = \"x\"\n", &["deploy", "local", "--image", "registry.example.com/hello:1"], "8:1", "PATH=/evil"),
        inject("release_option", &format!("[deploy]\nrelease = \"--debug\"\n{KUBE}"), &["render", "staging", "--image", "registry.example.com/hello:1"], "6:11", "--debug"),
        // Keys added since (#10 services, #13 gitops) are checked at load the same way.
        case("service_name_option", "[services.\"-db\"]\ntype = \"postgres\"\n", cfg, "5:11", "service name"),
        case("service_image_option", "[services.db]\ntype = \"postgres\"\nimage = \"--privileged\"\n", cfg, "7:9", "not an image reference"),
        case("service_version_option", "[services.db]\ntype = \"postgres\"\nversion = \"--x\"\n", cfg, "7:11", "not a valid image tag"),
        case("service_user_option", "[services.db]\ntype = \"postgres\"\nuser = \"-U\"\n", cfg, "7:8", "user name"),
        case("gitops_branch_option", &format!("{GITOPS}branch = \"--force\"\n"), cfg, "13:10", "branch"),
        case("gitops_repo_option", "[env.prod]\nkind = \"kubernetes\"\ncontext = \"c\"\nnamespace = \"n\"\ndelivery = \"gitops\"\nrepo = \"--upload-pack=evil\"\npath = \"apps/hello/prod\"\nformat = \"manifests\"\n", cfg, "10:8", "repository URL"),
        case("gitops_path_outside", "[env.prod]\nkind = \"kubernetes\"\ncontext = \"c\"\nnamespace = \"n\"\ndelivery = \"gitops\"\nrepo = \"https://git.example.com/e.git\"\npath = \"../x\"\nformat = \"manifests\"\n", cfg, "11:8", "not a directory inside"),
    ];
    // The repository value itself, 100 000 characters long: the error stays short.
    v.push(Case {
        name: "repository_100k",
        toml: format!("[project]\nname = \"hello\"\n[image]\nrepository = \"-{huge}\"\n")
            .into_bytes(),
        args: vec!["config"],
        at: "4:14",
        says: "is not valid",
        needle: None,
        fifo: None,
    });
    v.push(Case {
        name: "schema_zero",
        toml: format!("schema = 0\n{HEAD}").into_bytes(),
        args: vec!["config"],
        at: "1:10",
        says: "starts at 1",
        needle: None,
        fifo: None,
    });
    v.push(Case {
        name: "project_name_100k",
        toml: format!("[project]\nname = \"{huge}X\"\n").into_bytes(),
        args: vec!["config"],
        at: "2:8",
        says: "DNS-1123",
        needle: None,
        fifo: None,
    });
    // Special files where lbc reads: before issue #9 these hung even a dry run.
    v.push(Case {
        fifo: Some(".dockerignore"),
        ..case(
            "dockerignore_fifo",
            "",
            &["build", "--dry-run"],
            "",
            ".dockerignore is not a regular file",
        )
    });
    v.push(Case {
        fifo: Some("pipe"),
        ..case(
            "dockerfile_fifo",
            "dockerfile = \"pipe\"\n",
            &["build", "--dry-run"],
            "5:14",
            "is not a regular file",
        )
    });
    let mut bad_utf8 = b"[project]\nname = \"hello\"\ndescription = \"caf".to_vec();
    bad_utf8.extend([0xe9, b'"', b'\n']);
    v.push(Case {
        name: "invalid_utf8",
        toml: bad_utf8,
        args: vec!["config"],
        at: "3:19",
        says: "not valid UTF-8",
        needle: None,
        fifo: None,
    });
    v
}

/// What one case did.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Outcome {
    /// Exit 2, the location, the phrase, a hint, a bounded message.
    Refused,
    /// Refused, but not as promised (wrong code or place, no hint, unbounded).
    RefusedBadly,
    Panic,
    Hang,
    /// Exit 0 on a file lbc cannot use.
    Accepted,
    /// The value reached a planned argv.
    OptionTaken,
}

/// Longest error lbc may print for one bad file.
const MAX_STDERR: usize = 2_000;

pub fn run_case(bin: &Path, c: &Case) -> (Outcome, String) {
    let p = Project::with(&[
        ("Dockerfile", "FROM scratch\nCOPY . /\n"),
        ("app.txt", "hi\n"),
    ]);
    std::fs::write(p.path().join("lbc.toml"), &c.toml).unwrap();
    if let Some(f) = c.fifo {
        nix::unistd::mkfifo(
            &p.path().join(f),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
    }
    let config = p.path().join("xdg");
    std::fs::create_dir_all(&config).unwrap();
    let mut child = Command::new(bin)
        .args(&c.args)
        .current_dir(p.path())
        .env("NO_COLOR", "1")
        .env("LBC_CATALOG", "")
        .env("XDG_CONFIG_HOME", &config)
        // No engine: dry runs print their plan without asking Docker anything.
        .env("DOCKER_HOST", "unix:///nonexistent/lbc-corpus.sock")
        .env("LBC_CORPUS_U", "u")
        .env("LBC_CORPUS_P", "p")
        .env_remove("LBC_DRY_RUN")
        .env_remove("LBC_OUTPUT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read in threads so that a large output cannot block the child.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = std::io::Read::read_to_end(&mut so, &mut b);
        b
    });
    let t_err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = std::io::Read::read_to_end(&mut se, &mut b);
        b
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    let Some(status) = status else {
        return (Outcome::Hang, String::new());
    };
    let code = status.code().unwrap_or(-1);
    let shown: String = stderr.chars().take(600).collect();
    if code == 101 || stderr.contains("panicked") {
        return (Outcome::Panic, shown);
    }
    if code == 0 {
        if let Some(needle) = c.needle {
            let json: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_default();
            let mut taken = false;
            for step in json["plan"]["steps"].as_array().into_iter().flatten() {
                for arg in step["argv"].as_array().into_iter().flatten() {
                    if arg
                        .as_str()
                        .is_some_and(|a| a == needle || a.starts_with(needle))
                    {
                        taken = true;
                    }
                }
            }
            if taken {
                return (Outcome::OptionTaken, stdout.chars().take(600).collect());
            }
        }
        return (Outcome::Accepted, shown);
    }
    // A file-level error (no line to name) says which file instead.
    let location = if c.at.is_empty() {
        String::new()
    } else {
        format!("lbc.toml:{}", c.at)
    };
    let good = code == 2
        && stderr.contains(&location)
        && stderr.contains(c.says)
        && stderr.contains("hint:")
        && stderr.len() <= MAX_STDERR
        && stderr.matches("error:").count() == 1;
    (
        if good {
            Outcome::Refused
        } else {
            Outcome::RefusedBadly
        },
        format!("exit {code}, wanted {location} and {:?}:\n{shown}", c.says),
    )
}

/// Issue #9: every case of the corpus is refused as promised.
#[test]
fn every_bad_lbc_toml_is_refused_at_its_line() {
    let mut failures = Vec::new();
    let cases = corpus();
    assert!(cases.len() >= 80, "the corpus shrank: {}", cases.len());
    for c in &cases {
        let (outcome, detail) = run_case(Path::new(LBC), c);
        if outcome != Outcome::Refused {
            failures.push(format!("{}: {outcome:?}\n{detail}", c.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n---\n")
    );
}

/// The figures of the corpus for any binary (`LBC_CORPUS_BIN`), for the report.
#[test]
#[ignore = "prints figures; run by hand with LBC_CORPUS_BIN"]
fn corpus_figures() {
    let bin = std::env::var("LBC_CORPUS_BIN").unwrap_or_else(|_| LBC.to_owned());
    let cases = corpus();
    let mut counts = std::collections::BTreeMap::new();
    for c in &cases {
        let (o, _) = run_case(Path::new(&bin), c);
        println!("{:32} {o:?}", c.name);
        *counts.entry(format!("{o:?}")).or_insert(0) += 1;
    }
    println!("{bin}: {} cases: {counts:?}", cases.len());
}
