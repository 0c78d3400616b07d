#![no_main]

#[path = "known_bugs.rs"]
mod known_bugs;

libfuzzer_sys::fuzz_target!(|data: &[u8]| known_bugs::run(fave_lock::fuzzing::marker, data));
