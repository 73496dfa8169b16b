//! The exact `parca_store` app-databag keys (protocol.md §2.2). Values are plain strings.

/// `host:port` of the store's gRPC endpoint.
pub const ADDRESS: &str = "remote-store-address";
/// Bearer token; absent when there is none.
pub const BEARER_TOKEN: &str = "remote-store-bearer-token";
/// `"true"` / `"false"`: connect without TLS.
pub const INSECURE: &str = "remote-store-insecure";
