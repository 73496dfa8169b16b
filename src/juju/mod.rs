//! The only code that touches the Juju process boundary: the hook's environment
//! ([`context`]) and the hook tools ([`tools`]). Everything else receives typed values.

pub mod context;
pub mod tools;

pub use context::{ContextError, Dispatch, Event, JujuContext};
pub use tools::{ProcessRunner, ToolError, ToolRunner, Tools};
