#![no_main]
//! See src/fuzzing.rs: `store`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| parca_broker::fuzzing::store(data));
