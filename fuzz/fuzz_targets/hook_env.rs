#![no_main]
//! See src/fuzzing.rs: `hook_env`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| parca_broker::fuzzing::hook_env(data));
