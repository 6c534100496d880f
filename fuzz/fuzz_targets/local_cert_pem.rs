//! Feeds arbitrary bytes as a certificate file to `local_certs::parse_pem_chain` (files on disk
//! change under the exporter: a half-written renewal, a key file named by mistake). Checks: no
//! panic, and a success holds between one and 20 certificates.
#![no_main]
use dane_exporter::checks::local_certs::parse_pem_chain;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &[u8]| {
    if let Ok(chain) = parse_pem_chain(text) {
        assert!(!chain.is_empty() && chain.len() <= 20, "{} certificates", chain.len());
    }
});
