#![no_main]
//! See src/fuzzing.rs: `config`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| parca_broker::fuzzing::config(data));
