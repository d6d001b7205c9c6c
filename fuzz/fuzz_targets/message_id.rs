//! Any bytes as a message: the header parsing that feeds the journal's Message-ID never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cutover_engine::mail::message_id::message_id(data);
});
