//! The broker's own CPU profile at `/debug/pprof/profile?seconds=N`, in pprof protobuf format
//! (pprof-rs, signal-based sampling at 99 Hz). This is what the charm publishes on
//! `self-profiling-endpoint`. One profile at a time.

use super::Shared;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;

#[derive(serde::Deserialize)]
pub(super) struct ProfileParams {
    seconds: Option<u64>,
}

pub(super) async fn profile(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<ProfileParams>,
) -> Response {
    let seconds = params.seconds.unwrap_or(30).clamp(1, 60);
    let Ok(_busy) = shared.profiling.try_lock() else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "a profile is already being taken\n",
        )
            .into_response();
    };
    let guard = match pprof::ProfilerGuardBuilder::default().frequency(99).build() {
        Ok(guard) => guard,
        Err(err) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot start the profiler: {err}\n"),
            )
                .into_response();
        }
    };
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let report = match guard.report().build() {
        Ok(report) => report,
        Err(err) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot build the profile: {err}\n"),
            )
                .into_response();
        }
    };
    match report.pprof() {
        Ok(profile) => {
            use pprof::protos::Message;
            let body = profile.encode_to_vec();
            ([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response()
        }
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the profile: {err}\n"),
        )
            .into_response(),
    }
}
