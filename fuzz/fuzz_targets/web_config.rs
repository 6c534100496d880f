//! Feeds arbitrary text to `web::WebConfig::parse` (the user's web config: TLS and basic auth).
//! Checks: no panic, and every error renders (Display).
#![no_main]
use std::path::Path;

use dane_exporter::web::WebConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Err(e) = WebConfig::parse(text, Path::new("/nonexistent/web.yml")) {
        let _ = e.to_string();
    }
});
