//! PHP: Laravel (artisan and laravel/framework), Symfony (bin/console and
//! symfony/framework-bundle); Composer. Starting is a choice between PHP's own server and
//! php-fpm behind a web server (`--set start=NAME`).

use super::evidence::{line_of, Evidence};
use super::services::{self, Found, ServiceKind};
use super::{
    resolve_port, strs, Choice, Command, Ctx, Dep, Migration, PackageManager, PortSource, Report,
    Strength,
};

const SERVICE_DEPS: &[(&str, ServiceKind)] = &[
    ("ext-pgsql", ServiceKind::Postgres),
    ("ext-pdo_pgsql", ServiceKind::Postgres),
    ("ext-mysqli", ServiceKind::Mysql),
    ("ext-pdo_mysql", ServiceKind::Mysql),
    ("predis/predis", ServiceKind::Redis),
    ("ext-redis", ServiceKind::Redis),
];

pub fn detect(ctx: &Ctx) -> Option<Report> {
    let repo = ctx.repo;
    let text = repo.read("composer.json");
    let artisan = repo.is_file("artisan");
    if text.is_none() && !artisan {
        return None;
    }
    let text = text.unwrap_or_default();
    let (json, parse_error): (serde_json::Value, Option<String>) = if text.is_empty() {
        (serde_json::Value::Null, None)
    } else {
        match serde_json::from_str(&text) {
            Ok(v) => (v, None),
            Err(e) => (serde_json::Value::Null, Some(e.to_string())),
        }
    };
    let mut deps = Vec::new();
    for (section, dev) in [("require", false), ("require-dev", true)] {
        let after = line_of(&text, &format!("\"{section}\"")).unwrap_or(0);
        if let Some(o) = json.get(section).and_then(|v| v.as_object()) {
            for k in o.keys() {
                deps.push(Dep {
                    name: k.to_ascii_lowercase(),
                    file: "composer.json".into(),
                    line: super::dep_line(&text, &format!("\"{k}\""), after),
                    dev,
                });
            }
        }
    }
    let has = |n: &str| deps.iter().find(|d| d.name == n);
    let mut evidence = Vec::new();
    if !text.is_empty() {
        evidence.push(Evidence::file("composer.json", "Composer manifest"));
    }
    let mut report = Report::new("php", Strength::Manifest, Vec::new());
    if let Some(e) = parse_error {
        report
            .notes
            .push(format!("composer.json does not parse: {e}"));
    }
    report.package_manager = Some(PackageManager {
        name: "composer".into(),
        lockfile: repo
            .is_file("composer.lock")
            .then(|| "composer.lock".to_owned()),
        install: strs(&["composer", "install", "--no-interaction", "--prefer-dist"]),
        run: Vec::new(),
        evidence: vec![Evidence::file(
            if repo.is_file("composer.lock") {
                "composer.lock"
            } else {
                "composer.json"
            },
            "Composer",
        )],
    });
    let laravel = has("laravel/framework");
    let symfony = has("symfony/framework-bundle");
    let serve_port = ctx.opts.port.unwrap_or(8000).to_string();
    let choices: Vec<Choice>;
    if let (true, Some(laravel)) = (artisan, laravel) {
        report.framework = Some("laravel".into());
        evidence.push(Evidence::file("artisan", "Laravel's artisan"));
        evidence.push(super::dep_evidence(laravel, "dependency"));
        choices = vec![
            Choice {
                name: "artisan-serve".into(),
                command: strs(&["php", "artisan", "serve", "--host=0.0.0.0", &format!("--port={serve_port}")]),
                note: "PHP's built-in server through artisan: one process, simple".into(),
            },
            Choice {
                name: "php-fpm".into(),
                command: strs(&["php-fpm"]),
                note: "FastCGI on port 9000: needs nginx (or another web server) in front serving public/".into(),
            },
        ];
        report.test = Some(Command::new(
            &["php", "artisan", "test"],
            vec![Evidence::file("artisan", "Laravel's test command")],
        ));
        report.migration = Some(Migration {
            tool: "laravel".into(),
            command: Some(strs(&["php", "artisan", "migrate", "--force"])),
            at_start: false,
            evidence: vec![Evidence::file(
                "artisan",
                "Laravel migrations (database/migrations)",
            )],
        });
    } else if let (true, Some(symfony)) = (repo.is_file("bin/console"), symfony) {
        report.framework = Some("symfony".into());
        evidence.push(Evidence::file("bin/console", "Symfony's console"));
        evidence.push(super::dep_evidence(symfony, "dependency"));
        choices = php_server_choices(&serve_port);
        if let Some(d) = has("doctrine/doctrine-migrations-bundle") {
            report.migration = Some(Migration {
                tool: "doctrine-migrations".into(),
                command: Some(strs(&[
                    "php",
                    "bin/console",
                    "doctrine:migrations:migrate",
                    "--no-interaction",
                ])),
                at_start: false,
                evidence: vec![super::dep_evidence(d, "dependency")],
            });
        }
    } else {
        if artisan {
            report.notes.push(
                "artisan without laravel/framework in composer.json: not treated as Laravel".into(),
            );
        }
        let index = ["public/index.php", "index.php"]
            .into_iter()
            .find(|f| repo.is_file(f));
        choices = match index {
            Some(f) => {
                evidence.push(Evidence::file(f, "PHP front controller"));
                let docroot = if f.starts_with("public/") {
                    "public"
                } else {
                    "."
                };
                let mut c = php_server_choices(&serve_port);
                c[0].command =
                    strs(&["php", "-S", &format!("0.0.0.0:{serve_port}"), "-t", docroot]);
                c
            }
            None => Vec::new(),
        };
    }
    if report.migration.is_none() {
        report.migration = plain_migration(&text, &json, &deps, ctx, &mut report.notes);
    }
    if report.framework.is_some() {
        report.strength = Strength::Framework;
    } else if !choices.is_empty() {
        report.strength = Strength::Application;
    }
    if report.test.is_none() {
        if repo.is_file("bin/phpunit") {
            report.test = Some(Command::new(
                &["php", "bin/phpunit"],
                vec![Evidence::file("bin/phpunit", "Symfony's PHPUnit bridge")],
            ));
        } else if let Some(d) = has("pestphp/pest") {
            report.test = Some(Command::new(
                &["vendor/bin/pest"],
                vec![super::dep_evidence(d, "dependency")],
            ));
        } else if let Some(d) = has("phpunit/phpunit") {
            report.test = Some(Command::new(
                &["vendor/bin/phpunit"],
                vec![super::dep_evidence(d, "dependency")],
            ));
        } else {
            report
                .notes
                .push("no PHPUnit or Pest among the dependencies: no test command".into());
        }
    }
    // Starting: a choice, never a silent one.
    let mut port_found = None;
    if choices.is_empty() {
        report.start.flag = Some("--set start=COMMAND".into());
    } else {
        let pick = ctx
            .opts
            .start
            .as_ref()
            .and_then(|s| choices.iter().find(|c| c.name == *s));
        let c = pick.unwrap_or(&choices[0]);
        report.start.command = Some(c.command.clone());
        report.start.evidence = evidence.last().cloned().into_iter().collect();
        if pick.is_none() {
            report.start.flag = Some(format!(
                "--set start={}",
                choices
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join("|")
            ));
        }
        port_found = Some(if c.name == "php-fpm" {
            (
                9000,
                PortSource::Default,
                Evidence::file("composer.json", "php-fpm's FastCGI port (not HTTP)"),
            )
        } else {
            (
                8000,
                PortSource::Default,
                Evidence::file("composer.json", "the port of the start command lbc chose"),
            )
        });
        report.start.choices = choices;
    }
    report.port = resolve_port(ctx, port_found);
    if let (Some(p), Some(cmd)) = (report.port.value, report.start.command.as_mut()) {
        for a in cmd.iter_mut() {
            if a.starts_with("--port=") {
                *a = format!("--port={p}");
            } else if a.starts_with("0.0.0.0:") {
                *a = format!("0.0.0.0:{p}");
            }
        }
    }
    let mut found = Found::default();
    found.add_deps(&deps, SERVICE_DEPS);
    if let Some(v) = ctx
        .env
        .iter()
        .find(|v| v.name == "DB_CONNECTION" && v.value == "sqlite")
    {
        report.notes.push(format!(
            "{}:{}: DB_CONNECTION=sqlite: a file, no database service",
            v.file, v.line
        ));
    }
    if report.framework.as_deref() == Some("symfony") {
        // Symfony commits .env with the defaults (secrets go to .env.local).
        if let Some(t) = repo.read(".env") {
            found.add_env(&services::parse_env(".env", &t));
        }
    }
    report.evidence = evidence;
    let fw = report.framework.clone();
    let env = ctx.env.clone();
    services::complete(&mut report, found, ctx, |k| match (fw.as_deref(), k) {
        (Some("laravel"), ServiceKind::Redis) => {
            strs(&["REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"])
        }
        (Some("laravel"), _) => strs(&[
            "DB_CONNECTION",
            "DB_HOST",
            "DB_PORT",
            "DB_DATABASE",
            "DB_USERNAME",
            "DB_PASSWORD",
        ]),
        (Some("symfony"), ServiceKind::Redis) => strs(&["REDIS_URL"]),
        (Some("symfony"), _) => strs(&["DATABASE_URL"]),
        _ => services::declared_or_url(k, &env),
    });
    Some(report)
}

/// The composer scripts that name an application's migration, in the order looked at.
const MIGRATE_SCRIPTS: &[&str] = &["migrate", "db:migrate", "migrations:migrate"];

/// The migration of an application without Laravel's or Symfony's: its own Composer
/// script (`"migrate": "@php bin/migrate.php"`, run as `php bin/migrate.php`: the image
/// that runs it has PHP, not Composer), else Phinx with its configuration.
fn plain_migration(
    text: &str,
    json: &serde_json::Value,
    deps: &[Dep],
    ctx: &Ctx,
    notes: &mut Vec<String>,
) -> Option<Migration> {
    let scripts = json.get("scripts").and_then(|v| v.as_object());
    let after = line_of(text, "\"scripts\"").unwrap_or(0);
    for name in MIGRATE_SCRIPTS {
        let Some(value) = scripts.and_then(|s| s.get(*name)) else {
            continue;
        };
        let line = super::dep_line(text, &format!("\"{name}\""), after);
        let lines: Vec<&str> = match value {
            serde_json::Value::String(s) => vec![s.as_str()],
            serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
            _ => Vec::new(),
        };
        match script_command(&lines) {
            Some(command) => {
                return Some(Migration {
                    tool: "composer-script".into(),
                    command: Some(command),
                    at_start: false,
                    evidence: vec![Evidence::at(
                        "composer.json",
                        line,
                        format!("the Composer script `{name}`"),
                    )],
                })
            }
            None => notes.push(format!(
                "composer.json:{line}: the Composer script `{name}` is not one `php FILE` or `vendor/bin/TOOL` command: no migrate task (declare [tasks.migrate] in lbc.toml)"
            )),
        }
        return None;
    }
    let phinx = deps
        .iter()
        .find(|d| d.name == "robmorgan/phinx" && !d.dev)?;
    let config = ["phinx.php", "phinx.yml", "phinx.yaml", "phinx.json"]
        .into_iter()
        .find(|f| ctx.repo.is_file(f))?;
    Some(Migration {
        tool: "phinx".into(),
        command: Some(strs(&["vendor/bin/phinx", "migrate"])),
        at_start: false,
        evidence: vec![
            super::dep_evidence(phinx, "dependency"),
            Evidence::file(config, "Phinx configuration"),
        ],
    })
}

/// A Composer script as an argv without Composer: one `php FILE ARGS` (`@php` is
/// Composer's alias of the PHP it runs) or `vendor/bin/TOOL ARGS` command of plain words;
/// anything a shell would interpret (or several commands) is not guessed at.
fn script_command(lines: &[&str]) -> Option<Vec<String>> {
    let [line] = lines else { return None };
    if line.contains(|c: char| "&|;<>$`'\"\\(){}*?~".contains(c)) {
        return None;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["@php" | "php", file, ..] if !file.starts_with('-') => {
            let mut argv = vec!["php".to_owned()];
            argv.extend(words[1..].iter().map(|w| (*w).to_owned()));
            Some(argv)
        }
        [tool, ..] if tool.starts_with("vendor/bin/") => {
            Some(words.iter().map(|w| (*w).to_owned()).collect())
        }
        _ => None,
    }
}

fn php_server_choices(port: &str) -> Vec<Choice> {
    vec![
        Choice {
            name: "php-server".into(),
            command: strs(&["php", "-S", &format!("0.0.0.0:{port}"), "-t", "public"]),
            note: "PHP's built-in server on public/: one process, simple".into(),
        },
        Choice {
            name: "php-fpm".into(),
            command: strs(&["php-fpm"]),
            note:
                "FastCGI on port 9000: needs nginx (or another web server) in front serving public/"
                    .into(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::script_command;

    #[test]
    fn composer_scripts_become_an_argv_only_when_nothing_is_guessed() {
        let argv = |w: &[&str]| Some(w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(
            script_command(&["@php bin/migrate.php --force"]),
            argv(&["php", "bin/migrate.php", "--force"])
        );
        assert_eq!(
            script_command(&["php bin/migrate.php"]),
            argv(&["php", "bin/migrate.php"])
        );
        assert_eq!(
            script_command(&["vendor/bin/phinx migrate -e production"]),
            argv(&["vendor/bin/phinx", "migrate", "-e", "production"])
        );
        for shell in [
            "php bin/migrate.php && php bin/seed.php",
            "php bin/migrate.php $ENV",
            "@php -r 'echo 1;'",
            "php -d memory_limit=1G bin/migrate.php",
            "@composer dump-autoload",
            "phinx migrate",
        ] {
            assert_eq!(script_command(&[shell]), None, "{shell}");
        }
        assert_eq!(script_command(&["php a.php", "php b.php"]), None);
        assert_eq!(script_command(&[]), None);
    }
}
