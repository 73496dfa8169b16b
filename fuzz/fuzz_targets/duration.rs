#![no_main]
//! See src/fuzzing.rs: `duration`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| parca_broker::fuzzing::duration(data));
