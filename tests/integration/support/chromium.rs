//! A real headless Chromium (Debian's `chromium`, installed by tests/stack/install-deps.sh) for
//! the pages the exporter serves: the DOM after parsing (what a browser made of the HTML) and a
//! screenshot. Every run has its own profile directory; background networking is off, and the
//! tests only point it at loopback URLs.

use std::path::Path;
use std::process::{Command, Output};

/// Flags for a quiet, self-contained headless run as root.
const FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
];

/// A headless Chromium with a private profile.
pub struct Chromium {
    profile: tempfile::TempDir,
}

impl Chromium {
    pub fn new() -> Self {
        Chromium {
            profile: tempfile::tempdir().expect("profile dir"),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new("chromium")
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", self.profile.path().display()))
            .args(args)
            .output()
            .expect("chromium (Debian package `chromium`)");
        assert!(
            out.status.success(),
            "chromium {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The document as the browser parsed it, serialised.
    pub fn dom(&self, url: &str) -> String {
        String::from_utf8(self.run(&["--dump-dom", url]).stdout).expect("DOM is UTF-8")
    }

    /// A `width`x`height` PNG screenshot of `url` at `path`; returns the PNG bytes.
    pub fn screenshot(&self, url: &str, path: &Path, width: u32, height: u32) -> Vec<u8> {
        self.run(&[
            &format!("--screenshot={}", path.display()),
            &format!("--window-size={width},{height}"),
            url,
        ]);
        std::fs::read(path).expect("screenshot written")
    }
}

/// Width and height from a PNG's IHDR chunk.
pub fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let be = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    (be(16), be(20))
}
