//! The `grafana_dashboard` wire details: the key, the content encoding (xz + base64) and the
//! uids (`grafana_dashboard.md` §3–5). Pure.

use base64::Engine as _;
use sha3::digest::{ExtendableOutput, Update, XofReader};
use std::io::{Read, Write};

/// Provider app bag: the `{"templates": {...}, "uuid": "..."}` document.
pub const DASHBOARDS: &str = "dashboards";
/// Consumer app bag: `{"errors": [...]}` reports from Grafana.
pub const EVENT: &str = "event";

/// The LZMA preset of cosl ≤ 1.11.2, what current COS charms lock (cosl ≥ 1.11.3 uses 3).
pub const PRESET: u32 = 6;

/// A content string that is not base64 of an xz stream of UTF-8 text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dashboard content: {0}")]
pub struct ContentError(pub String);

/// `base64(xz(text))`: liblzma's easy encoder at `preset`, CRC64, standard base64 — the bytes
/// Python's `lzma.compress(text, preset=preset)` gives.
pub fn encode_content(text: &str, preset: u32) -> Result<String, ContentError> {
    let stream = liblzma::stream::Stream::new_easy_encoder(preset, liblzma::stream::Check::Crc64)
        .map_err(|e| ContentError(e.to_string()))?;
    let mut encoder = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
    encoder
        .write_all(text.as_bytes())
        .map_err(|e| ContentError(e.to_string()))?;
    let compressed = encoder.finish().map_err(|e| ContentError(e.to_string()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(compressed))
}

/// The text inside a `content` string (any valid xz stream, as the consumer accepts).
pub fn decode_content(content: &str) -> Result<String, ContentError> {
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(content)
        .map_err(|e| ContentError(format!("not base64: {e}")))?;
    let mut text = String::new();
    liblzma::read::XzDecoder::new(compressed.as_slice())
        .read_to_string(&mut text)
        .map_err(|e| ContentError(format!("not an xz stream of UTF-8 text: {e}")))?;
    Ok(text)
}

/// SHAKE-256 of `text`, `bytes` long, lower-case hex.
pub fn shake256_hex(text: &str, bytes: usize) -> String {
    let mut hasher = sha3::Shake256::default();
    hasher.update(text.as_bytes());
    let mut reader = hasher.finalize_xof();
    let mut out = vec![0u8; bytes];
    XofReader::read(&mut reader, &mut out);
    out.iter().map(|b| format!("{b:02x}")).collect()
}

/// `dashboard_alt_uid`: SHAKE-256 of `<charm>-<template key>`, 8 bytes.
pub fn alt_uid(charm: &str, key: &str) -> String {
    shake256_hex(&format!("{charm}-{key}"), 8)
}

/// The uid given to a dashboard without a valid one: SHAKE-256 of `<charm>-<path from the
/// charm root>`, 20 bytes.
pub fn file_uid(charm: &str, path: &str) -> String {
    shake256_hex(&format!("{charm}-{path}"), 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_match_the_recorded_ones() {
        assert_eq!(
            alt_uid("demo-exporter", "file:overview"),
            "496d9ecbab55ba73"
        );
        assert_eq!(
            file_uid("demo-exporter", "src/grafana_dashboards/overview.json"),
            "b1c5a8b92cfb0fbfa282e616e5a9aea60c8040aa"
        );
    }

    #[test]
    fn content_round_trips_and_starts_with_the_xz_header() {
        let content = encode_content("{\"a\": 1}", PRESET).unwrap();
        assert!(content.starts_with("/Td6WFoAAATm1rRG"));
        assert_eq!(decode_content(&content).unwrap(), "{\"a\": 1}");
        assert!(decode_content("not base64!").is_err());
    }
}
