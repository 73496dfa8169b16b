//! The charm's `dispatch`: Juju runs it for every hook and action. Only the hook pipeline is
//! linked in (no HTTP server, TLS, profiler or command line parser), so a hook maps less than
//! half the code the full `parca-broker` binary would, and starts sooner (issue 9, P5). The
//! service the hooks install runs the full binary, shipped beside it as `parca-broker`.

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::var_os("JUJU_DISPATCH_PATH").is_none() && std::env::args_os().len() > 1 {
        return hand_over_to_the_full_binary();
    }
    parca_broker::reconcile::hook_main()
}

/// Run with arguments and not by Juju: the command line is the full binary's. A service unit
/// written by an older charm runs `<charm dir>/dispatch serve …`, and systemd may restart it
/// between the upgrade replacing the charm directory and the upgrade-charm hook rewriting the
/// unit; so the arguments go, unchanged and unparsed, to `parca-broker` in the same directory.
fn hand_over_to_the_full_binary() -> ExitCode {
    use std::os::unix::process::CommandExt;
    let full = match std::env::current_exe() {
        Ok(exe) => exe.with_file_name(parca_broker::reconcile::plan::SERVICE_BINARY),
        Err(err) => {
            eprintln!("dispatch: cannot find this executable: {err}");
            return ExitCode::from(2);
        }
    };
    // exec only returns on failure.
    let err = std::process::Command::new(&full)
        .args(std::env::args_os().skip(1))
        .exec();
    eprintln!("dispatch: cannot run {}: {err}", full.display());
    ExitCode::from(2)
}
