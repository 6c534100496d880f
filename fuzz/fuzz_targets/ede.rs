//! Feeds arbitrary bytes to `ExtendedDnsError::parse` (EDNS option 15 data from a resolver).
//! Checks: no panic; only inputs shorter than 2 bytes are rejected; the kept text is bounded
//! (MAX_EXTRA_TEXT input bytes) and free of control characters; Display works.
#![no_main]
use dane_exporter::core::ede::{ExtendedDnsError, MAX_EXTRA_TEXT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match ExtendedDnsError::parse(data) {
        Ok(ede) => {
            assert!(data.len() >= 2);
            assert_eq!(ede.code, u16::from_be_bytes([data[0], data[1]]));
            if let Some(text) = &ede.text {
                assert!(!text.is_empty());
                assert!(text.chars().count() <= MAX_EXTRA_TEXT);
                assert!(!text.chars().any(char::is_control));
            }
            let _ = ede.to_string();
            let _ = ede.is_dnssec_failure();
        }
        Err(_) => assert!(data.len() < 2),
    }
});
