#![no_main]
//! See src/fuzzing.rs: `host_port`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| parca_broker::fuzzing::host_port(data));
