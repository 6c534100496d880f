//! What a packager or an operator installs, checked with the tools they use: the manual pages
//! through `man`, the bash completion through bash, the crate's file list through
//! `cargo package --list`, the systemd unit through `systemd-analyze verify`, the image's
//! configuration through `--config.check` and its default command (the demo) by running it, and
//! the build facts in `--version`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::exporter::{free_port, Exporter};

const BIN: &str = env!("CARGO_BIN_EXE_dane_exporter");

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every page renders through man(1) without a warning and documents its flags.
#[test]
fn manual_pages_render_with_man() {
    for (page, flags) in [
        (
            None,
            &[
                "--config.file",
                "--web.listen-address",
                "--storage.path",
                "check",
                "tlsrpt",
            ][..],
        ),
        (Some("tlsrpt"), &["ingest"][..]),
        (
            Some("check"),
            &["--reply-timeout", "--dnssec-mode", "DOMAIN"][..],
        ),
        (Some("completions"), &["SHELL"][..]),
    ] {
        let mut generate = Command::new(BIN);
        generate.arg("man").args(page);
        let roff = run(&mut generate).stdout;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("page.1");
        std::fs::write(&file, &roff).unwrap();
        let out = run(Command::new("man")
            .args(["--warnings", "-l"])
            .arg(&file)
            .env("MANWIDTH", "100")
            .env("MAN_KEEP_FORMATTING", "0"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.trim().is_empty(), "{page:?}: man warns: {stderr}");
        // Bold and underline come as overstrikes ("N\x08N"): keep the printed character.
        let mut rendered = String::new();
        for c in text(&out).chars() {
            if c == '\u{8}' {
                rendered.pop();
            } else {
                rendered.push(c);
            }
        }
        let name = page.map_or("dane_exporter".to_string(), |p| {
            format!("dane_exporter-{p}")
        });
        assert!(rendered.contains(&format!("{name}(1)")), "{rendered}");
        for flag in flags {
            assert!(rendered.contains(flag), "{page:?} lacks {flag}: {rendered}");
        }
    }
    let out = Command::new(BIN).args(["man", "nosuch"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// bash loads the completion and completes subcommands and flags with it.
#[test]
fn bash_completion_loads_and_completes() {
    let script = run(Command::new(BIN).args(["completions", "bash"])).stdout;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dane_exporter.bash");
    std::fs::write(&file, script).unwrap();
    // Completing `dane_exporter ch` and `dane_exporter check --rep` as bash would.
    let probe = format!(
        "source {f}; complete -p dane_exporter; \
         COMP_WORDS=(dane_exporter ch); COMP_CWORD=1; _dane_exporter dane_exporter ch dane_exporter; \
         echo \"sub: ${{COMPREPLY[*]}}\"; \
         COMP_WORDS=(dane_exporter check --rep); COMP_CWORD=2; _dane_exporter dane_exporter --rep check; \
         echo \"flag: ${{COMPREPLY[*]}}\"",
        f = file.display()
    );
    let out = text(&run(Command::new("bash").args(["--norc", "-c", &probe])));
    assert!(out.contains("-F _dane_exporter dane_exporter"), "{out}");
    assert!(out.contains("sub: check"), "{out}");
    assert!(out.contains("flag: --reply-timeout"), "{out}");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = run(Command::new(BIN).args(["completions", shell])).stdout;
        assert!(script.len() > 500, "{shell}: {} bytes", script.len());
    }
}

/// `cargo package` ships the program and what it reads at build time, not the test stacks.
#[test]
fn the_crate_ships_the_program_not_the_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = run(Command::new(env!("CARGO"))
        .args(["package", "--list", "--allow-dirty", "--offline"])
        .current_dir(root)
        .stdin(Stdio::null()));
    let files: Vec<String> = text(&out).lines().map(str::to_string).collect();
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "LICENSE",
        "README.md",
        "src/main.rs",
        "src/lib.rs",
        "examples/dane_exporter.yml",
        "alerts/dane.rules.yml",
        "alerts/runbook.md",
        "dashboards/dane-overview.json",
        "packaging/dane_exporter.service",
    ] {
        assert!(files.iter().any(|f| f == needed), "{needed} not packaged");
    }
    for f in &files {
        assert!(
            !f.starts_with("tests/") && !f.starts_with("fuzz/") && !f.starts_with("target/"),
            "{f} packaged"
        );
    }
    // Whatever the sources include at compile time must be in the package, or it won't build.
    // Unit-test modules (`tests.rs`) are not built by the package's verification and may read the
    // fixtures under tests/ (which stay out).
    for (file, included) in compile_time_includes(&root.join("src")) {
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let relative = file
            .parent()
            .unwrap()
            .join(&included)
            .strip_prefix(root)
            .map(normalise)
            .unwrap_or_default();
        assert!(
            files.contains(&relative),
            "{} includes {included}, which is not packaged",
            file.display()
        );
    }
}

/// `include_str!`/`include_bytes!` paths under `dir`, with the file that names them.
fn compile_time_includes(dir: &Path) -> Vec<(std::path::PathBuf, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(compile_time_includes(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let source = std::fs::read_to_string(&path).unwrap();
            for marker in ["include_str!(\"", "include_bytes!(\""] {
                for piece in source.split(marker).skip(1) {
                    if let Some(end) = piece.find('"') {
                        found.push((path.clone(), piece[..end].to_string()));
                    }
                }
            }
        }
    }
    found
}

/// `a/b/../c` -> `a/c`, with `/` separators.
fn normalise(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    parts.join("/")
}

/// The unit file passes systemd's own checks (with the binary path pointed at this build).
#[test]
fn systemd_unit_verifies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(root.join("packaging/dane_exporter.service")).unwrap();
    assert!(unit.lines().any(|l| l == "User=dane_exporter"));
    assert!(!unit.lines().any(|l| l.starts_with("DynamicUser")));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dane_exporter.service");
    std::fs::write(&file, unit.replace("/usr/local/bin/dane_exporter", BIN)).unwrap();
    let out = run(Command::new("systemd-analyze").arg("verify").arg(&file));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.trim().is_empty(), "systemd-analyze: {stderr}");
}

/// The image's configuration file is valid and probes nothing; the build context leaves the
/// build output out.
#[test]
fn container_defaults_probe_nothing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = run(Command::new(BIN).arg("--config.check").arg(format!(
        "--config.file={}",
        root.join("packaging/docker.yml").display()
    )));
    assert!(
        text(&out).contains("valid (0 inbound, 0 outbound targets)"),
        "{}",
        text(&out)
    );
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("COPY packaging/docker.yml /etc/dane_exporter/dane_exporter.yml"));
    assert!(!dockerfile.contains("examples/dane_exporter.yml /etc"));
    let ignore = std::fs::read_to_string(root.join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "/target"), "{ignore}");
}

/// The image's default command (its `CMD`, after the binary as `ENTRYPOINT`) starts the demo,
/// on every address of the container as a published port needs, and the commands the demo
/// prints name loopback, where the container's own shell reaches it.
#[test]
fn container_command_starts_the_demo() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    assert!(dockerfile.contains(r#"ENTRYPOINT ["/usr/local/bin/dane_exporter"]"#));
    let cmd: Vec<String> = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("CMD "))
        .map(|json| serde_json::from_str(json).expect("CMD in exec form"))
        .expect("a CMD line");
    assert_eq!(cmd.last().map(String::as_str), Some("demo"), "{cmd:?}");
    let port = free_port();
    let args: Vec<String> = cmd
        .iter()
        .map(|a| a.replace("=:9724", &format!("=:{port}")))
        .collect();
    assert!(
        args.contains(&format!("--web.listen-address=:{port}")),
        "{cmd:?}"
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let demo = Exporter::run_listening(&[], addr, &args);
    let (status, page) = demo.get("/demo");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!(
            "'http://127.0.0.1:{port}/demo/rotate-key?domain=pass.example'"
        )),
        "{page}"
    );
    // Every address: the IPv6 loopback reaches it too (where the host has one).
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        assert!(std::net::TcpStream::connect(("::1", port)).is_ok());
    }
}

/// `--version` names the revision and the compiler, as `dane_exporter_build_info` does.
#[test]
fn version_names_revision_and_compiler() {
    let out = text(&run(Command::new(BIN).arg("--version")));
    let (version, rest) = out
        .trim()
        .strip_prefix("dane_exporter ")
        .and_then(|v| v.split_once(" (revision "))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let (revision, rustc) = rest
        .split_once(", rustc ")
        .unwrap_or_else(|| panic!("{out}"));
    // Built from a git checkout here: twelve hex digits.
    assert!(
        revision.len() == 12 && revision.chars().all(|c| c.is_ascii_hexdigit()),
        "{revision}"
    );
    assert!(
        rustc.trim_end_matches(')').split('.').count() == 3,
        "{rustc}"
    );
}
