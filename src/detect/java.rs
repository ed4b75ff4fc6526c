//! Java: Spring Boot with Gradle or Maven (and their wrappers `gradlew`, `mvnw`).

use super::evidence::{find_re, line_at, line_of, Evidence};
use super::services::{self, Found, ServiceKind};
use super::{
    resolve_port, strs, Command, Ctx, Dep, Migration, PackageManager, PortSource, Report, Start,
    Strength,
};

const SERVICE_DEPS: &[(&str, ServiceKind)] = &[
    ("postgresql", ServiceKind::Postgres),
    ("r2dbc-postgresql", ServiceKind::Postgres),
    ("mysql-connector-j", ServiceKind::Mysql),
    ("mysql-connector-java", ServiceKind::Mysql),
    ("mariadb-java-client", ServiceKind::Mysql),
    ("spring-boot-starter-data-redis", ServiceKind::Redis),
    (
        "spring-boot-starter-data-redis-reactive",
        ServiceKind::Redis,
    ),
    ("jedis", ServiceKind::Redis),
    ("lettuce-core", ServiceKind::Redis),
];

fn gradle_deps(file: &str, text: &str) -> Vec<Dep> {
    let re =
        regex::Regex::new(r#"(?m)^\s*(\w+)\s*\(?\s*["']([\w.\-]+):([\w.\-]+)(?::[^"']*)?["']"#)
            .expect("valid regex");
    re.captures_iter(text)
        .map(|c| Dep {
            name: c[3].to_ascii_lowercase(),
            file: file.to_owned(),
            line: line_at(text, c.get(0).expect("match").start()),
            dev: c[1].starts_with("test"),
        })
        .collect()
}

fn maven_deps(text: &str) -> Vec<Dep> {
    let block = regex::Regex::new(r"(?s)<dependency>(.*?)</dependency>").expect("valid regex");
    let art = regex::Regex::new(r"<artifactId>\s*([^<\s]+)\s*</artifactId>").expect("valid regex");
    block
        .captures_iter(text)
        .filter_map(|c| {
            let body = c.get(1)?;
            let a = art.captures(body.as_str())?;
            let start = body.start() + a.get(0)?.start();
            Some(Dep {
                name: a[1].to_ascii_lowercase(),
                file: "pom.xml".into(),
                line: line_at(text, start),
                dev: body.as_str().contains("<scope>test</scope>"),
            })
        })
        .collect()
}

pub fn detect(ctx: &Ctx) -> Option<Report> {
    let repo = ctx.repo;
    let gradle_file = ["build.gradle.kts", "build.gradle"]
        .into_iter()
        .find(|f| repo.is_file(f));
    let pom = repo.read("pom.xml");
    if gradle_file.is_none() && pom.is_none() {
        return None;
    }
    let mut report = Report::new("java", Strength::Manifest, Vec::new());
    let mut evidence = Vec::new();
    let (tool, wrapper, mut deps, build_text, build_file) = match (gradle_file, &pom) {
        (Some(g), _) => {
            let t = repo.read(g).unwrap_or_default();
            evidence.push(Evidence::file(g, "Gradle build"));
            let w = repo.is_file("gradlew");
            ("gradle", w, gradle_deps(g, &t), t, g)
        }
        (None, Some(p)) => {
            evidence.push(Evidence::file("pom.xml", "Maven build"));
            let w = repo.is_file("mvnw");
            ("maven", w, maven_deps(p), p.clone(), "pom.xml")
        }
        _ => unreachable!(),
    };
    // A Gradle version catalogue declares the coordinates the build refers to by alias.
    const CATALOG: &str = "gradle/libs.versions.toml";
    let catalog = if tool == "gradle" {
        repo.read(CATALOG).unwrap_or_default()
    } else {
        String::new()
    };
    if !catalog.is_empty() {
        let coords = regex::Regex::new(
            r#"(?m)(?:module\s*=\s*|^\s*[\w\-]+\s*=\s*)["']([\w.\-]+):([\w.\-]+)(?::[^"']*)?["']"#,
        )
        .expect("valid regex");
        for c in coords.captures_iter(&catalog) {
            deps.push(Dep {
                name: c[2].to_ascii_lowercase(),
                file: CATALOG.into(),
                line: line_at(&catalog, c.get(0).expect("match").start()),
                dev: c[2].contains("test"),
            });
        }
    }
    if tool == "maven" && build_text.contains("<modules>") {
        report.notes.push(
            "a multi-module Maven build: lbc adopts the root; the application module's jar may differ".into(),
        );
    }
    if gradle_file.is_some() && pom.is_some() {
        report
            .notes
            .push("both Gradle and Maven builds: lbc uses Gradle".into());
    }
    let exe = match (tool, wrapper) {
        ("gradle", true) => "./gradlew",
        ("gradle", false) => "gradle",
        (_, true) => "./mvnw",
        _ => "mvn",
    };
    if wrapper {
        let w = if tool == "gradle" { "gradlew" } else { "mvnw" };
        evidence.push(Evidence::file(w, format!("{tool} wrapper")));
    }
    let maven_flags: &[&str] = if tool == "maven" { &["-B"] } else { &[] };
    let run = |args: &[&str]| -> Vec<String> {
        let mut v = strs(&[exe]);
        v.extend(strs(maven_flags));
        v.extend(strs(args));
        if tool == "gradle" {
            v.push("--no-daemon".into());
        }
        v
    };
    report.package_manager = Some(PackageManager {
        name: tool.into(),
        lockfile: None,
        install: if tool == "gradle" {
            run(&["dependencies"])
        } else {
            run(&["dependency:go-offline"])
        },
        run: Vec::new(),
        evidence: vec![Evidence::file(build_file, format!("{tool} build"))],
    });
    // Spring Boot: the Gradle plugin, the Maven parent, or a Boot starter.
    let boot = ["org.springframework.boot", "spring-boot-starter-parent"]
        .iter()
        .find_map(|n| line_of(&build_text, n).map(|l| Evidence::at(build_file, l, n.to_string())))
        .or_else(|| {
            line_of(&catalog, "\"org.springframework.boot\"")
                .map(|l| Evidence::at(CATALOG, l, "plugin org.springframework.boot"))
        })
        .or_else(|| {
            deps.iter()
                .find(|d| d.name.starts_with("spring-boot-starter"))
                .map(|d| super::dep_evidence(d, "dependency"))
        });
    // The jar the build makes: NAME-VERSION.jar.
    let version_re = if tool == "gradle" {
        regex::Regex::new(r#"(?m)^\s*version\s*=\s*["']([^"']+)["']"#).expect("valid regex")
    } else {
        regex::Regex::new(r"<version>\s*([^<\s]+)\s*</version>").expect("valid regex")
    };
    let without_parent = regex::Regex::new(
        r"(?s)<parent>.*?</parent>|<dependencies>.*</dependencies>|<build>.*</build>",
    )
    .expect("valid regex")
    .replace_all(&build_text, "")
    .into_owned();
    let version = find_re(&without_parent, &version_re).map(|(_, v)| v);
    let root_name =
        regex::Regex::new(r#"rootProject\.name\s*=\s*["']([^"']+)["']"#).expect("valid regex");
    let name = if tool == "gradle" {
        ["settings.gradle.kts", "settings.gradle"]
            .iter()
            .filter_map(|f| repo.read(f))
            .find_map(|t| find_re(&t, &root_name).map(|(_, n)| n))
    } else {
        let re =
            regex::Regex::new(r"<artifactId>\s*([^<\s]+)\s*</artifactId>").expect("valid regex");
        find_re(&without_parent, &re).map(|(_, n)| n)
    };
    let jar = {
        let n = name.clone().unwrap_or_else(|| "app".into());
        let file = match &version {
            Some(v) => format!("{n}-{v}.jar"),
            None => format!("{n}.jar"),
        };
        if tool == "gradle" {
            format!("build/libs/{file}")
        } else {
            format!("target/{file}")
        }
    };
    let mut port_found = None;
    if let Some(b) = boot {
        report.framework = Some("spring-boot".into());
        report.strength = Strength::Framework;
        evidence.push(b.clone());
        report.build = Some(Command {
            command: if tool == "gradle" {
                run(&["bootJar"])
            } else {
                run(&["package", "-DskipTests"])
            },
            evidence: vec![b.clone()],
        });
        let mut start_ev = vec![b];
        if name.is_none() {
            report.notes.push(format!(
                "the project's name was not found: the jar is assumed to be {jar}"
            ));
        } else {
            start_ev.push(Evidence::file(
                if tool == "gradle" {
                    "settings.gradle"
                } else {
                    "pom.xml"
                },
                format!("the build makes {jar}"),
            ));
        }
        report.start = Start {
            command: Some(strs(&["java", "-jar", &jar])),
            evidence: start_ev,
            ..Start::default()
        };
        // server.port in application.properties / application.yml.
        let props = "src/main/resources/application.properties";
        let yml = [
            "src/main/resources/application.yml",
            "src/main/resources/application.yaml",
        ];
        if let Some(t) = repo.read(props) {
            let re = regex::Regex::new(r"(?m)^\s*server\.port\s*[=:]\s*(?:\$\{\w+:)?(\d{2,5})")
                .expect("valid regex");
            if let Some((l, p)) = find_re(&t, &re) {
                port_found = p.parse().ok().map(|p| {
                    (
                        p,
                        PortSource::Settings,
                        Evidence::at(props, l, format!("server.port {p}")),
                    )
                });
            }
        }
        // `server:` at the top level, then an indented `port:` before the next top-level key.
        let yml_port = regex::Regex::new(
            r"(?m)^server:[ \t]*\n(?:(?:[ \t]+.*)?\n)*?[ \t]+port:[ \t]*(?:\$\{\w+:)?(\d{2,5})",
        )
        .expect("valid regex");
        for y in yml {
            if port_found.is_some() {
                break;
            }
            if let Some(t) = repo.read(y) {
                if let Some(c) = yml_port.captures(&t) {
                    let m = c.get(1).expect("group");
                    port_found = m.as_str().parse().ok().map(|p| {
                        (
                            p,
                            PortSource::Settings,
                            Evidence::at(y, line_at(&t, m.start()), format!("server.port {p}")),
                        )
                    });
                }
            }
        }
        if port_found.is_none() {
            port_found = Some((
                8080,
                PortSource::Default,
                Evidence::file(build_file, "Spring Boot's default port"),
            ));
        }
    } else {
        report.start.flag = Some("--set start=COMMAND".into());
        let app_plugin = regex::Regex::new(
            r#"(?m)^\s*(?:id\s*\(?\s*["']application["']|apply plugin:\s*["']application["']|application\s*\{|<artifactId>maven-shade-plugin</artifactId>)"#,
        )
        .expect("valid regex");
        if app_plugin.is_match(&build_text) {
            report.strength = Strength::Application;
        }
    }
    report.port = resolve_port(ctx, port_found);
    report.test = Some(Command {
        command: run(&["test"]),
        evidence: vec![Evidence::file(
            if wrapper {
                if tool == "gradle" {
                    "gradlew"
                } else {
                    "mvnw"
                }
            } else {
                build_file
            },
            format!("{tool}'s test task"),
        )],
    });
    let spring = report.framework.is_some();
    for (tool, names) in [
        (
            "flyway",
            &["flyway-core", "flyway-database-postgresql", "flyway-mysql"][..],
        ),
        ("liquibase", &["liquibase-core"][..]),
    ] {
        if let Some(d) = super::find_dep(&deps, names) {
            report.migration = Some(Migration {
                tool: tool.into(),
                command: None,
                at_start: spring,
                evidence: vec![super::dep_evidence(
                    d,
                    if spring {
                        "dependency: Spring Boot migrates at start"
                    } else {
                        "dependency"
                    },
                )],
            });
            break;
        }
    }
    let mut found = Found::default();
    found.add_deps(&deps, SERVICE_DEPS);
    // application.properties/yml, then the profiles' application-PROFILE.* files.
    let res = "src/main/resources";
    let mut config_files: Vec<String> = [
        "application.properties",
        "application.yml",
        "application.yaml",
    ]
    .iter()
    .map(|f| format!("{res}/{f}"))
    .collect();
    config_files.extend(
        repo.list(res)
            .into_iter()
            .filter(|f| {
                f.starts_with("application-")
                    && [".properties", ".yml", ".yaml"]
                        .iter()
                        .any(|x| f.ends_with(x))
            })
            .map(|f| format!("{res}/{f}")),
    );
    for f in &config_files {
        if let Some(t) = repo.read(f) {
            for (needle, kind) in [
                ("jdbc:postgresql:", ServiceKind::Postgres),
                ("jdbc:mysql:", ServiceKind::Mysql),
                ("jdbc:mariadb:", ServiceKind::Mysql),
            ] {
                if let Some(l) = line_of(&t, needle) {
                    let profile = f
                        .rsplit('/')
                        .next()
                        .and_then(|n| n.strip_prefix("application-"))
                        .and_then(|n| n.rsplit_once('.'))
                        .map(|(p, _)| format!(" (profile {p})"))
                        .unwrap_or_default();
                    found.add(
                        kind,
                        Evidence::at(f, l, format!("datasource {needle}{profile}")),
                    );
                }
            }
        }
    }
    report.evidence = evidence;
    let env = ctx.env.clone();
    services::complete(&mut report, found, ctx, |k| {
        if !spring {
            return services::declared_or_url(k, &env);
        }
        match k {
            ServiceKind::Redis => strs(&[
                "SPRING_DATA_REDIS_HOST",
                "SPRING_DATA_REDIS_PORT",
                "SPRING_DATA_REDIS_PASSWORD",
            ]),
            _ => strs(&[
                "SPRING_DATASOURCE_URL",
                "SPRING_DATASOURCE_USERNAME",
                "SPRING_DATASOURCE_PASSWORD",
            ]),
        }
    });
    Some(report)
}
