//! Feeds arbitrary bytes to the SMTP reply reader as a server stream (the first byte picks how
//! many bytes each read returns, so line ends fall across reads). Checks: no panic, every reply
//! within MAX_LINE / MAX_LINES / MAX_REPLY_BYTES (asserted by the hook), and the reader never
//! buffers more than a line plus one read chunk.
#![no_main]
use dane_exporter::smtp::fuzzing::{read_stream, MAX_BUFFERED};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, stream)) = data.split_first() else {
        return;
    };
    let chunk = if pick == 0 { 4096 } else { usize::from(pick) };
    let outcome = read_stream(stream, chunk);
    assert!(
        outcome.max_buffered <= MAX_BUFFERED,
        "buffered {} bytes",
        outcome.max_buffered
    );
});
