//! The media side: worker threads, each owning a sans-IO SFU and a socket on the one UDP
//! media port, fed by the signaling sessions' commands.
//!
//! Rooms are spread over the workers (`routes.rs`); each worker runs its own loop on its own
//! thread (`worker.rs`), so many rooms use every core. A large room spreads too: its peers
//! are placed on several workers, which relay each published packet to each other once
//! (`moot_sfu::cluster`; the messages below carry it).
//!
//! Signaling talks to the workers through `MediaHandle::send(MediaCommand)`, which routes each
//! command to the worker owning the participant's peer. The workers answer with `MediaEvent`s
//! on one channel (`MediaHandle::new` returns its receiving end), already in protocol terms
//! (`convert.rs`), in the order each SFU produced them; the hub consumes it. A worker never
//! calls into signaling and never takes the rooms' lock.

mod convert;
mod handle;
mod messages;
mod recording;
mod routes;
mod worker;

pub use handle::{MediaHandle, WorkerPort};
pub use messages::{ConnectionId, MediaCommand, MediaEvent};
pub use recording::{delete_expired, RecordingLimits};

use std::net::SocketAddr;

/// What the media workers are started with.
pub struct MediaSetup {
    /// One socket per worker, all on the media port (`SO_REUSEPORT`).
    pub sockets: Vec<std::net::UdpSocket>,
    /// The UDP addresses advertised to browsers.
    pub candidates: Vec<SocketAddr>,
    /// The ICE-TCP listener and the candidates advertising it.
    pub tcp: Option<(tokio::net::TcpListener, Vec<SocketAddr>)>,
    /// Where each subscriber's bandwidth estimate starts (`media.initial_bandwidth_kbps`).
    pub initial_bandwidth_bps: u64,
    /// `media.selective_audio_after`.
    pub selective_audio_after: usize,
    /// `media.loss_based_estimation_after`.
    pub loss_based_estimation_after: usize,
    /// `media.opus_dtx`.
    pub opus_dtx: bool,
    /// `recording.directory`: None, this server does not record.
    pub recording_dir: Option<std::path::PathBuf>,
    /// `recording.max_minutes` and `recording.min_free_mb`.
    pub recording_limits: RecordingLimits,
}

/// Starts one thread per socket, running until `shutdown` fires. Must be called inside the
/// tokio runtime: the ICE-TCP connections run there and pass their packets to the workers.
pub fn start(
    setup: MediaSetup,
    ports: Vec<WorkerPort>,
    handle: MediaHandle,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let MediaSetup {
        sockets,
        candidates,
        tcp,
        initial_bandwidth_bps,
        selective_audio_after,
        loss_based_estimation_after,
        opus_dtx,
        recording_dir,
        recording_limits,
    } = setup;
    let (tcp, tcp_candidates) = match tcp {
        Some((listener, tcp_candidates)) => {
            let routing = handle.clone();
            let limits = crate::media_tcp::TcpLimits::default();
            let media = crate::media_tcp::TcpMedia::start(listener, limits, move |packet| {
                routing.route_tcp(packet)
            });
            (Some(media), tcp_candidates)
        }
        None => (None, Vec::new()),
    };
    for (socket, port) in sockets.into_iter().zip(ports) {
        let context = worker::Context {
            candidates: candidates.clone(),
            handle: handle.clone(),
            shutdown: shutdown.clone(),
            tcp: tcp.clone(),
            tcp_candidates: tcp_candidates.clone(),
            initial_bandwidth_bps,
            selective_audio_after,
            loss_based_estimation_after,
            opus_dtx,
            recording_dir: recording_dir.clone(),
            recording_limits,
        };
        std::thread::Builder::new()
            .name(format!("moot-media-{}", port.index))
            .spawn(move || worker::run(socket, port, context))?;
    }
    Ok(())
}
