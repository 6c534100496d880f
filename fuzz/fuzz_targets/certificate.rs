//! Feeds arbitrary bytes as a DER certificate to `dane::describe_certificate` and
//! `dane::name_matches` (certificates come from any SMTP server). Checks: no panic, and a blob that
//! does not parse never matches a name.
#![no_main]
use dane_exporter::dane::{describe_certificate, name_matches};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|der: &[u8]| {
    let names = [
        "mx.example.com".to_string(),
        "example.com".to_string(),
        "*.example.com".to_string(),
    ];
    let described = describe_certificate(der);
    let matches = name_matches(der, &names);
    if described.is_err() {
        assert!(!matches, "an unparsable certificate matched a name");
    }
});
