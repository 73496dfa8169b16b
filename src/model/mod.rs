//! Domain types shared by the interfaces: addresses, relation snapshots, rejections.
//! Pure data; no I/O.

pub mod hostport;
pub mod labels;
pub mod limits;
pub mod rejection;
pub mod relation;

pub use hostport::{Host, HostPort, HostPortError, Target};
pub use labels::Labels;
pub use rejection::{Rejection, RejectionKind, Scope};
pub use relation::{Databag, RelationId, RelationSnapshot, bag_value, unit_number};
