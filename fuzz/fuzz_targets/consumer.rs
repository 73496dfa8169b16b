#![no_main]
//! See src/fuzzing.rs: `consumer`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| parca_broker::fuzzing::consumer(data));
