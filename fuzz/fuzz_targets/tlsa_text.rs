//! Feeds arbitrary text to `TlsaRecord::from_str` (the presentation form users type, e.g. in
//! `dane_exporter check`). Checks: no panic, and a parsed record prints (Display) to text that
//! parses back to the same record.
#![no_main]
use dane_exporter::core::TlsaRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(record) = text.parse::<TlsaRecord>() {
        let printed = record.to_string();
        assert_eq!(
            printed.parse::<TlsaRecord>().as_ref(),
            Ok(&record),
            "{printed}"
        );
    }
});
