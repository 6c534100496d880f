//! Decodes arbitrary bytes as a DNS message (hickory `Message::from_vec`) and assembles its
//! answer as the exporter does for MX, TLSA, A and AAAA lookups (`dns::answer::assemble`, the
//! RDATA conversions). Checks (in the hook): no panic, CNAME chains bounded and loop-free, and
//! every TLSA RDATA converts and round-trips through its presentation form.
#![no_main]
use dane_exporter::dns::fuzzing::assemble_message;
use hickory_proto::op::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::from_vec(data) {
        assemble_message(&message);
    }
});
