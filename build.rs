//! Build facts for `dane_exporter_build_info` (and `--version`): the git revision the binary was
//! built from and the compiler version, as Prometheus's own `*_build_info` carry `revision` and
//! `goversion`. Nothing here fails the build: outside a git checkout (a crate from crates.io) the
//! revision is "unknown", unless `DANE_EXPORTER_REVISION` names one (packagers set it).

use std::process::Command;

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=DANE_EXPORTER_REVISION");
    // A new commit moves HEAD or the branch it points to.
    println!("cargo:rerun-if-changed=.git/HEAD");
    if let Some(head) = std::fs::read_to_string(".git/HEAD")
        .ok()
        .and_then(|h| h.strip_prefix("ref: ").map(|r| r.trim().to_string()))
    {
        println!("cargo:rerun-if-changed=.git/{head}");
    }
    let revision = std::env::var("DANE_EXPORTER_REVISION")
        .ok()
        .filter(|r| !r.is_empty())
        .or_else(|| output("git", &["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    // "rustc 1.85.0 (4d91de4e4 2025-02-17)" -> "1.85.0"
    let rust_version = output(&rustc, &["--version"])
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=DANE_EXPORTER_REVISION={revision}");
    println!("cargo:rustc-env=DANE_EXPORTER_RUST_VERSION={rust_version}");
}
