//! The simulator's hook tools (test support): one binary linked under every tool name.
//! Reads and updates the hook context file named by `JUJU_AGENT_SOCKET_ADDRESS`.

use parca_broker::simulator::context::HookContext;
use parca_broker::simulator::tool;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_default();
    let name = argv0.rsplit('/').next().unwrap_or_default().to_owned();
    let args: Vec<String> = args.collect();
    let Some(path) = std::env::var_os("JUJU_AGENT_SOCKET_ADDRESS").map(PathBuf::from) else {
        eprintln!("ERROR JUJU_AGENT_SOCKET_ADDRESS is not set: not running inside a hook");
        return ExitCode::from(1);
    };
    let mut ctx = match HookContext::load(&path) {
        Ok(ctx) => ctx,
        Err(err) => {
            eprintln!(
                "ERROR cannot reach the unit agent ({}): {err}",
                path.display()
            );
            return ExitCode::from(1);
        }
    };
    // Only tools given `--file -` read stdin (others must not block on an inherited terminal).
    let reads_stdin = args.windows(2).any(|w| w[0] == "--file" && w[1] == "-")
        || args.iter().any(|a| a == "--file=-");
    let mut stdin = String::new();
    if reads_stdin && std::io::stdin().read_to_string(&mut stdin).is_err() {
        eprintln!("ERROR cannot read stdin");
        return ExitCode::from(1);
    }
    let out = tool::run(&mut ctx, &name, &args, &stdin);
    if let Err(err) = ctx.save(&path) {
        eprintln!(
            "ERROR cannot update the unit agent ({}): {err}",
            path.display()
        );
        return ExitCode::from(1);
    }
    let _ = std::io::stdout().write_all(out.stdout.as_bytes());
    let _ = std::io::stderr().write_all(out.stderr.as_bytes());
    ExitCode::from(u8::try_from(out.code).unwrap_or(1))
}
