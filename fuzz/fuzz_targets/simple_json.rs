#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fave_lock::fuzzing::simple_json_page(data));
