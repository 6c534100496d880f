//! Feeds arbitrary text to `config::parse` (the user's YAML config file). Checks: no panic, and
//! every error renders (Display) with the file name.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Err(e) = dane_exporter::config::parse(text, Path::new("/nonexistent/fuzz.yml")) {
        let _ = e.to_string();
    }
});
