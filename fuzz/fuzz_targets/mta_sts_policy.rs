//! Feeds arbitrary bytes to the MTA-STS and TLS-RPT parsers: the policy body (served by any HTTPS
//! server) and the `_mta-sts` / `_smtp._tls` TXT texts (from any DNS zone). Checks: no panic; a
//! policy that parses respects the RFC 8461 limits; every parsed mx pattern matches a host built
//! from it as the rule says (a wildcard exactly one label deep, never the parent itself).
#![no_main]
use dane_exporter::checks::mta_sts::policy::{parse_policy, Mode, MAX_MAX_AGE, MAX_POLICY_BYTES};
use dane_exporter::checks::mta_sts::record::select_sts_record;
use dane_exporter::checks::mta_sts::tls_rpt::select_tls_rpt_record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(policy) = parse_policy(data) {
        assert!(data.len() <= MAX_POLICY_BYTES);
        assert!(policy.max_age <= MAX_MAX_AGE);
        assert!(policy.mode == Mode::None || !policy.mx.is_empty());
        for pattern in &policy.mx {
            if pattern.wildcard {
                assert!(pattern.matches(&format!("a.{}", pattern.domain)));
                assert!(!pattern.matches(&pattern.domain));
                assert!(!pattern.matches(&format!("a.b.{}", pattern.domain)));
            } else {
                assert!(pattern.matches(&pattern.domain));
            }
        }
    }
    // The same bytes as TXT records: split on newlines into several records.
    let text = String::from_utf8_lossy(data);
    let records: Vec<String> = text.split('\n').map(str::to_string).collect();
    if let Ok(record) = select_sts_record(&records) {
        assert!(!record.id.is_empty() && record.id.len() <= 32);
    }
    if let Ok(record) = select_tls_rpt_record(&records) {
        assert!(!record.rua.is_empty());
    }
});
