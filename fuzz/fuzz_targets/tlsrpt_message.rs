//! Feeds arbitrary bytes as an RFC 5322 message to `tlsrpt::report_part` (what `dane_exporter
//! tlsrpt ingest` reads from a Postfix pipe), then the part found to the report decoder and
//! parser. Checks: no panic; a part is only found in a message within the size bound.
#![no_main]
use dane_exporter::tlsrpt::{decode_body, parse_report, report_part, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok((media, part)) = report_part(data, &limits) else {
        return;
    };
    assert!(data.len() <= limits.max_message_bytes);
    if let Ok(json) = decode_body(&part, media, &limits) {
        let _ = parse_report(&json, &limits, 1_796_126_400);
    }
});
