//! Entry point. Run by Juju as the charm's `dispatch` (JUJU_DISPATCH_PATH is set): one hook.
//! Otherwise a command line tool. Exit status: 0 success, 1 failure, 2 bad input.

use clap::Parser;
use parca_broker::cli::{
    Cli, Command, run_bench, run_check_config, run_demo, run_loadtest, run_serve, run_vectors,
};
use std::process::ExitCode;

fn main() -> ExitCode {
    // Multi-call: linked under a hook tool's name, this binary is the simulator's hook tool
    // (tests and the demo). Juju always runs it as `dispatch`.
    let argv0 = std::env::args().next().unwrap_or_default();
    let name = argv0.rsplit('/').next().unwrap_or_default();
    if parca_broker::simulator::tool::TOOLS.contains(&name) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let code = parca_broker::simulator::tool::main_as_tool(name, &args);
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    if std::env::var_os("JUJU_DISPATCH_PATH").is_some() {
        return parca_broker::reconcile::hook_main();
    }
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Vectors { files, emit } => {
            run_vectors(&files, emit, &mut std::io::stdout().lock())
        }
        Command::CheckConfig { file, with_parca } => {
            run_check_config(&file, with_parca.as_deref(), &mut std::io::stdout().lock())
        }
        Command::Demo {
            out,
            listen,
            exit_after,
            parca,
        } => run_demo(out, listen, exit_after, parca),
        Command::Loadtest {
            seconds,
            concurrency,
            apps,
        } => run_loadtest(
            parca_broker::loadtest::LoadOptions {
                seconds,
                concurrency,
                apps,
            },
            &mut std::io::stdout().lock(),
        ),
        Command::Bench { quick, out, source } => {
            run_bench(quick, out, source, &mut std::io::stdout().lock())
        }
        Command::Serve {
            listen,
            state,
            config_file: _,
            probe_interval,
            probe_timeout,
            shutdown_deadline,
        } => run_serve(
            listen,
            state,
            probe_interval,
            probe_timeout,
            shutdown_deadline,
        ),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("parca-broker: {err}");
            ExitCode::from(2)
        }
    }
}
