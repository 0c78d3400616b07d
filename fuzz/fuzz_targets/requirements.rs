#![no_main]

#[path = "known_bugs.rs"]
mod known_bugs;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if !known_bugs::is_known(data) {
        fave_lock::fuzzing::requirements(data);
    }
});
