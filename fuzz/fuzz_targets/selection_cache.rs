#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fave_lock::fuzzing::selection_cache(data));
