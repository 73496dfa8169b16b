//! Entry point: parse the command line, run the mode, map the outcome to an exit status.

use clap::Parser;
use parca_broker::cli::{Cli, Command, run_vectors};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Vectors { files, emit } => {
            run_vectors(&files, emit, &mut std::io::stdout().lock())
        }
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
