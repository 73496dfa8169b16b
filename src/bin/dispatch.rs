//! The charm's `dispatch`: Juju runs it for every hook and action. Only the hook pipeline is
//! linked in (no HTTP server, TLS, profiler or command line parser), so a hook maps a third of
//! the code the full `parca-broker` binary would, and starts faster (issue 9, P5). The
//! service the hooks install runs the full binary, shipped beside it as `parca-broker`.

fn main() -> std::process::ExitCode {
    parca_broker::reconcile::hook_main()
}
