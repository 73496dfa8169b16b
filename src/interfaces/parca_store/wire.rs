//! The exact `parca_store` app-databag keys (protocol.md §2.2). Values are plain strings.

/// `host:port` of the store's gRPC endpoint.
pub const ADDRESS: &str = "remote-store-address";
/// Bearer token; absent when there is none.
pub const BEARER_TOKEN: &str = "remote-store-bearer-token";
/// `"true"` / `"false"`: connect without TLS.
pub const INSECURE: &str = "remote-store-insecure";
/// Our extension: the URI of a Juju secret holding the bearer token under the key
/// [`SECRET_TOKEN_KEY`], granted to the reading application. Requirers that do not know it
/// (the Python library) ignore it and read [`BEARER_TOKEN`] instead.
pub const BEARER_TOKEN_SECRET: &str = "remote-store-bearer-token-secret";
/// The key of the token inside that secret.
pub const SECRET_TOKEN_KEY: &str = "token";
