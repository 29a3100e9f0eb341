//! One media worker: a thread with its own single-threaded tokio runtime, its own `Sfu` (the
//! rooms placed on it) and its own socket on the shared media port.
//!
//! Each loop turn reads what is queued on the socket with `recvmmsg`, feeds the ones whose peers live
//! here to the SFU and passes the others, in one message per worker, to their owners; then it
//! sends everything the SFU produced with `sendmmsg`. Commands and passed-on datagrams arrive
//! on the worker's channel; what the SFU says for signaling leaves as `MediaEvent`s.

use super::convert::{self, peer};
use super::handle::{MediaHandle, PassedOn, WorkerInput, WorkerPort};
use super::messages::{ConnectionId, MediaCommand, MediaEvent};
use super::recording::{RecordingLimits, Recordings};
use super::routes::{Lookup, PublishedTrack};
use crate::media_tcp::{Inbound as TcpInbound, TcpMedia};
use crate::udp_batch::{send_all, Datagram, Receiver, BATCH, RECEIVE_BATCH};
use moot_protocol::{ParticipantId, ServerMessage};
use moot_sfu::{
    ClusterMessage, ForwardedPacket, GroupId, PeerId, Protocol, Rid, Sfu, SfuConfig, SfuOutput,
    Signal, TrackKey,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

/// `recvmmsg` calls per loop turn at most (so commands and timers are never starved).
const RECEIVE_CALLS_PER_TURN: usize = 2;
/// Queued inputs handled in one loop turn at most, after the first.
const INPUTS_PER_TURN: usize = 16;
/// How often a worker tells the routing table how busy it is (for spreading large rooms).
const BUSY_REPORT_EVERY: Duration = Duration::from_secs(1);

/// What every worker is started with.
pub struct Context {
    pub candidates: Vec<SocketAddr>,
    pub handle: MediaHandle,
    pub shutdown: watch::Receiver<bool>,
    /// ICE-TCP: the connections (shared by all workers) and the candidates advertising them.
    pub tcp: Option<TcpMedia>,
    pub tcp_candidates: Vec<SocketAddr>,
    pub initial_bandwidth_bps: u64,
    pub selective_audio_after: usize,
    pub loss_based_estimation_after: usize,
    pub opus_dtx: bool,
    pub recording_dir: Option<std::path::PathBuf>,
    pub recording_limits: RecordingLimits,
}

/// The worker thread's body: runs until shutdown.
pub fn run(socket: std::net::UdpSocket, port: WorkerPort, context: Context) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(worker = port.index, "cannot start a media worker: {e}");
            return;
        }
    };
    runtime.block_on(async move {
        let socket = match UdpSocket::from_std(socket) {
            Ok(socket) => socket,
            Err(e) => {
                tracing::error!(worker = port.index, "media socket unusable: {e}");
                return;
            }
        };
        match Worker::new(socket, port, context) {
            Ok(worker) => worker.run().await,
            Err(e) => tracing::error!("media socket has no local address: {e}"),
        }
    });
}

struct Worker {
    index: usize,
    socket: UdpSocket,
    /// The local address str0m sees datagrams arrive on (see `Worker::new`).
    destination: SocketAddr,
    sfu: Sfu,
    inputs: mpsc::UnboundedReceiver<WorkerInput>,
    /// Where what the SFU says for signaling goes (the hub reads it).
    events: mpsc::UnboundedSender<MediaEvent>,
    handle: MediaHandle,
    shutdown: watch::Receiver<bool>,
    tcp: Option<TcpMedia>,
    tcp_candidates: Vec<SocketAddr>,
    /// Which connection each media peer belongs to (see `MediaCommand::AddPeer`).
    connections: HashMap<ParticipantId, ConnectionId>,
    outgoing: Vec<Datagram>,
    /// Datagrams received for other workers' peers, by worker, sent once per loop turn.
    passing_on: Vec<PassedOn>,
    /// Which of the datagrams just read are this worker's (indices into the `Receiver`),
    /// with their peers.
    local: Vec<(usize, PeerId)>,
    /// Where each datagram just read goes (kept to reuse its memory).
    lookups: Vec<Lookup>,
    /// Packets of spread rooms to relay, gathered during one flush.
    relaying: Vec<(GroupId, ForwardedPacket)>,
    /// The recordings of rooms this worker holds peers of (recording.rs).
    recordings: Recordings,
}

impl Worker {
    fn new(socket: UdpSocket, port: WorkerPort, context: Context) -> std::io::Result<Self> {
        let local = socket.local_addr()?;
        // str0m matches a datagram's destination against its local candidates; with a socket
        // bound to one address that is the address itself; bound to all interfaces we cannot
        // see the destination without IP_PKTINFO, so use the first advertised candidate.
        let destination = if local.ip().is_unspecified() {
            context.candidates.first().copied().unwrap_or(local)
        } else {
            local
        };
        let workers = context.handle.worker_count();
        let sfu = Sfu::new(SfuConfig {
            candidates: context.candidates,
            tcp_candidates: context.tcp_candidates.clone(),
            keyframe_request_interval: moot_sfu::KEYFRAME_REQUEST_INTERVAL,
            initial_bandwidth_bps: context.initial_bandwidth_bps,
            seed: rand::random(),
            selective_audio_after: context.selective_audio_after,
            loss_based_estimation_after: context.loss_based_estimation_after,
            opus_dtx: context.opus_dtx,
        });
        Ok(Self {
            index: port.index,
            socket,
            destination,
            sfu,
            inputs: port.inputs,
            events: port.events,
            handle: context.handle,
            shutdown: context.shutdown,
            tcp: context.tcp,
            tcp_candidates: context.tcp_candidates,
            connections: HashMap::new(),
            outgoing: Vec::with_capacity(BATCH),
            passing_on: (0..workers).map(|_| PassedOn::default()).collect(),
            local: Vec::with_capacity(RECEIVE_BATCH),
            lookups: Vec::with_capacity(RECEIVE_BATCH),
            relaying: Vec::new(),
            recordings: Recordings::new(context.recording_dir, context.recording_limits),
        })
    }

    async fn run(mut self) {
        let mut receiver = Receiver::default();
        let mut busy = BusyMeter::new(Instant::now());
        loop {
            self.flush().await;
            self.handle.report_stats(self.index, self.sfu.stats());
            if let Some(permille) = busy.report(Instant::now()) {
                tracing::debug!(worker = self.index, permille, "busy");
                self.handle.report_busy(self.index, permille);
            }
            let deadline = self
                .sfu
                .poll_timeout()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
            tokio::select! {
                ready = self.socket.readable() => {
                    if ready.is_ok() {
                        // Everything queued, in batches, before sending: one sendmmsg then
                        // carries the datagrams of several received packets.
                        for _ in 0..RECEIVE_CALLS_PER_TURN {
                            match receiver.try_receive(&self.socket) {
                                Ok(0) => break,
                                Ok(n) => self.receive(&receiver, n),
                                // ICMP errors from departed clients surface here on Linux.
                                Err(e) => tracing::debug!("media recv error: {e}"),
                            }
                        }
                        self.pass_on();
                    }
                }
                input = self.inputs.recv() => match input {
                    Some(input) => {
                        self.on_input(input);
                        // What else is queued (relayed packets of a spread room come once per
                        // loop turn of each other worker) goes out in the same sendmmsg.
                        for _ in 0..INPUTS_PER_TURN {
                            match self.inputs.try_recv() {
                                Ok(input) => self.on_input(input),
                                Err(_) => break,
                            }
                        }
                    }
                    None => {
                        self.recordings.stop_all();
                        return;
                    }
                },
                _ = tokio::time::sleep_until(deadline.into()) => {
                    self.sfu.handle_timeout(Instant::now());
                }
                _ = self.shutdown.changed() => {
                    // Files end cleanly, with their durations, on a graceful stop.
                    self.recordings.stop_all();
                    return;
                }
            }
        }
    }

    fn on_input(&mut self, input: WorkerInput) {
        let now = Instant::now();
        let sfu = &mut self.sfu;
        match input {
            WorkerInput::Tcp(peer, packet) => self.receive_tcp(peer, packet),
            WorkerInput::Command(command) => self.on_command(command),
            WorkerInput::Datagrams(passed) => {
                sfu.handle_receive_batch(now, self.destination, passed.datagrams());
            }
            WorkerInput::Spread { group, spread } => sfu.set_spread(group, spread),
            WorkerInput::RemoteTracks { group, tracks } => {
                for t in tracks {
                    sfu.add_remote_track(now, group, t.track, t.kind, t.source);
                }
            }
            WorkerInput::RemotePeerGone(peer) => sfu.remove_remote_peer(now, peer),
            WorkerInput::ForgetGroup(group) => sfu.forget_remote_group(now, group),
            WorkerInput::Relayed(packets) => sfu.relay_in(now, packets),
            WorkerInput::KeyframeWanted { track, kind } => {
                sfu.relay_keyframe_request(now, track, kind);
            }
            WorkerInput::LayersWanted { from, needs } => {
                sfu.set_remote_layer_needs(now, from as u64, needs);
            }
        }
    }

    /// Feeds the `count` datagrams just read to this worker's SFU in one batch, keeping the
    /// others for the workers owning their peers.
    fn receive(&mut self, receiver: &Receiver, count: usize) {
        self.local.clear();
        self.lookups.clear();
        {
            // One read lock per batch: the table is shared by all workers.
            let routes = self.handle.routes();
            self.lookups.extend((0..count).map(|k| {
                let (source, datagram) = receiver.datagram(k);
                routes.lookup(Protocol::Udp, source, datagram)
            }));
        }
        for (k, lookup) in self.lookups.iter().enumerate() {
            let (source, datagram) = receiver.datagram(k);
            let (owner, peer) = match *lookup {
                Lookup::Worker(worker, peer) => (worker, peer),
                // A STUN message naming its peer from a new address: rare, so a write lock.
                Lookup::Bind(peer) => {
                    match self.handle.routes_mut().bind(Protocol::Udp, source, peer) {
                        Some(worker) => (worker, peer),
                        None => continue,
                    }
                }
                // Nobody's (a departed client, a stray or forged packet): dropped.
                Lookup::Unknown => continue,
            };
            if owner == self.index {
                self.local.push((k, peer));
            } else {
                self.passing_on[owner].push(peer, source, datagram);
            }
        }
        let batch = self.local.iter().map(|&(k, peer)| {
            let (source, datagram) = receiver.datagram(k);
            (peer, source, datagram)
        });
        self.sfu
            .handle_receive_batch(Instant::now(), self.destination, batch);
    }

    fn pass_on(&mut self) {
        for (worker, datagrams) in self.passing_on.iter_mut().enumerate() {
            if !datagrams.is_empty() {
                self.handle.pass_on(worker, std::mem::take(datagrams));
            }
        }
    }

    /// Feeds a packet from an ICE-TCP connection (routed here by `MediaHandle::route_tcp`).
    fn receive_tcp(&mut self, peer: PeerId, packet: TcpInbound) {
        // str0m matches the destination against its TCP candidates: the address accepted on
        // when advertised as is, else (bound to all interfaces, or behind 1:1 NAT) the first.
        let destination = if self.tcp_candidates.contains(&packet.local) {
            packet.local
        } else {
            self.tcp_candidates.first().copied().unwrap_or(packet.local)
        };
        let now = Instant::now();
        self.sfu.handle_receive(
            now,
            peer,
            Protocol::Tcp,
            packet.source,
            destination,
            &packet.packet,
        );
    }

    /// A command from signaling for one of this worker's peers; what it answers goes back
    /// as a `MediaEvent` to the connection the peer belongs to.
    fn on_command(&mut self, command: MediaCommand) {
        let now = Instant::now();
        let sfu = &mut self.sfu;
        let reply = match command {
            MediaCommand::AddPeer {
                id,
                group,
                connection,
            } => {
                self.connections.insert(id, connection);
                match sfu.add_peer(now, peer(id), group) {
                    Ok(ufrag) => {
                        self.handle.set_ufrag(peer(id), ufrag);
                        None
                    }
                    Err(e) => {
                        tracing::warn!(participant = %id, "cannot add media peer: {e}");
                        let message = convert::media_ended("could not set up media");
                        self.emit(MediaEvent::Ended {
                            id,
                            connection: Some(connection),
                            message,
                        });
                        None
                    }
                }
            }
            MediaCommand::RemovePeer { id } => {
                self.connections.remove(&id);
                sfu.remove_peer(now, peer(id));
                None
            }
            MediaCommand::StartRecording { group, started_at } => {
                let tracks = sfu.published_here(group);
                self.recordings.start(now, group, started_at, tracks);
                sfu.set_recorded(now, group, true);
                None
            }
            MediaCommand::StopRecording { group } => {
                sfu.set_recorded(now, group, false);
                self.recordings.stop(group);
                None
            }
            MediaCommand::SetPermissions { id, audio, video } => {
                sfu.set_permissions(now, peer(id), audio, video);
                None
            }
            MediaCommand::SetQuality { id, quality } => {
                sfu.set_receive_video(now, peer(id), convert::receive_video(quality));
                None
            }
            MediaCommand::ViewSizes { id, sizes } => {
                sfu.set_view_sizes(peer(id), sizes.into_iter().map(|(p, h)| (peer(p), h)));
                None
            }
            MediaCommand::Offer {
                id,
                sdp,
                sources,
                audio_slots,
            } => {
                sfu.set_audio_slots(peer(id), audio_slots);
                let sources = sources
                    .into_iter()
                    .map(|(mid, source)| (mid, convert::sfu_source(source)))
                    .collect();
                let message = match sfu.accept_offer(now, peer(id), &sdp, sources) {
                    Ok(answer) => ServerMessage::Answer { sdp: answer },
                    Err(e) => {
                        tracing::debug!(participant = %id, "offer refused: {e}");
                        convert::sdp_error(&e, "offer")
                    }
                };
                Some((id, message))
            }
            MediaCommand::Answer { id, sdp } => match sfu.accept_answer(now, peer(id), &sdp) {
                Ok(()) => None,
                Err(e) => {
                    tracing::debug!(participant = %id, "answer refused: {e}");
                    Some((id, convert::sdp_error(&e, "answer")))
                }
            },
        };
        if let Some((to, message)) = reply {
            let connection = self.connections.get(&to).copied();
            self.emit(MediaEvent::Message {
                to,
                connection,
                message,
            });
        }
    }

    fn emit(&self, event: MediaEvent) {
        // Fails only once the hub stopped reading, i.e. during shutdown.
        let _ = self.events.send(event);
    }

    /// Sends every pending datagram, tells signaling what the SFU said, and hands what goes
    /// between workers to them.
    async fn flush(&mut self) {
        // A recording that lost a frame waits for a keyframe: ask its publisher. One that
        // reached a limit stopped here: the room is told, which stops it everywhere.
        let now = Instant::now();
        let polled = self.recordings.poll(now);
        for track in polled.keyframes {
            self.sfu
                .relay_keyframe_request(now, track, moot_sfu::KeyframeRequestKind::Pli);
        }
        for (group, reason) in polled.stopped {
            self.sfu.set_recorded(now, group, false);
            self.emit(MediaEvent::RecordingStopped { group, reason });
        }
        while let Some(output) = self.sfu.poll_output() {
            match output {
                SfuOutput::Transmit(t) => self.transmit(t),
                SfuOutput::Signal(signal) => self.signal(signal),
                SfuOutput::Cluster(message) => self.cluster(message),
            }
        }
        self.relay();
        send_all(&self.socket, &mut self.outgoing).await;
    }

    fn transmit(&mut self, t: moot_sfu::Transmit) {
        match t.proto {
            // Over the connection it came from; a full queue drops it, as UDP would.
            Protocol::Tcp => {
                if let Some(tcp) = &self.tcp {
                    tcp.send(t.destination, &t.contents);
                }
            }
            _ => self.outgoing.push(Datagram {
                destination: t.destination,
                contents: t.contents.into(),
            }),
        }
    }

    fn signal(&mut self, signal: Signal) {
        // Every worker holding part of a spread room ranks its speakers; one tells.
        if let Signal::DominantSpeaker { group, .. } = signal {
            if !self.handle.routes().is_home(group, self.index) {
                return;
            }
        }
        let connections = &self.connections;
        let event = convert::signal_event(signal, |id| connections.get(&id).copied());
        self.emit(event);
    }

    fn cluster(&mut self, message: ClusterMessage) {
        match message {
            ClusterMessage::Relay { group, packet } => self.relaying.push((group, packet)),
            ClusterMessage::Published {
                group,
                track,
                kind,
                source,
            } => {
                self.recordings.published(group, track, kind, source);
                let track = PublishedTrack {
                    track,
                    kind,
                    source,
                };
                self.handle.published(self.index, group, track);
            }
            ClusterMessage::KeyframeWanted { track, kind } => {
                let owner = self.handle.routes().worker_of(track.peer);
                if let Some(owner) = owner {
                    self.handle
                        .to_worker(owner, WorkerInput::KeyframeWanted { track, kind });
                }
            }
            ClusterMessage::LayersWanted { needs } => self.send_layer_needs(needs),
            ClusterMessage::Record { group, packet } => {
                self.recordings.packet(Instant::now(), group, &packet);
            }
        }
    }

    /// Hands the packets of spread rooms gathered in this flush to the other workers holding
    /// part of their rooms: one message per worker, the payloads shared, not copied.
    fn relay(&mut self) {
        if self.relaying.is_empty() {
            return;
        }
        let workers = self.handle.worker_count();
        let mut by_worker: Vec<Vec<ForwardedPacket>> = (0..workers).map(|_| Vec::new()).collect();
        {
            let routes = self.handle.routes();
            for (group, packet) in self.relaying.drain(..) {
                for w in routes.other_workers(group, self.index) {
                    by_worker[w].push(packet.clone());
                }
            }
        }
        for (w, packets) in by_worker.into_iter().enumerate() {
            if !packets.is_empty() {
                self.handle.to_worker(w, WorkerInput::Relayed(packets));
            }
        }
    }

    /// Tells the owners of tracks published elsewhere which of their layers this worker's
    /// subscribers need.
    fn send_layer_needs(&self, needs: Vec<(TrackKey, Vec<Rid>)>) {
        let mut by_owner: HashMap<usize, Vec<(TrackKey, Vec<Rid>)>> = HashMap::new();
        {
            let routes = self.handle.routes();
            for (track, rids) in needs {
                if let Some(owner) = routes.worker_of(track.peer) {
                    by_owner.entry(owner).or_default().push((track, rids));
                }
            }
        }
        for (owner, needs) in by_owner {
            let from = self.index;
            self.handle
                .to_worker(owner, WorkerInput::LayersWanted { from, needs });
        }
    }
}

/// How much of a core this thread used since its last report.
struct BusyMeter {
    since: Instant,
    cpu_since: Duration,
}

impl BusyMeter {
    fn new(now: Instant) -> Self {
        Self {
            since: now,
            cpu_since: thread_cpu_time().unwrap_or_default(),
        }
    }

    /// Every `BUSY_REPORT_EVERY`: the thread's CPU time over the wall time since the last
    /// report, in permille (user and system time: sending is much of the work). Without a
    /// thread clock it says fully busy, so large rooms spread as soon as they are large.
    fn report(&mut self, now: Instant) -> Option<u32> {
        let wall = now.saturating_duration_since(self.since);
        if wall < BUSY_REPORT_EVERY {
            return None;
        }
        self.since = now;
        let Some(cpu) = thread_cpu_time() else {
            return Some(1000);
        };
        let used = cpu.saturating_sub(self.cpu_since);
        self.cpu_since = cpu;
        Some((used.as_secs_f64() / wall.as_secs_f64() * 1000.0).round() as u32)
    }
}

/// CPU time used by the calling thread so far.
fn thread_cpu_time() -> Option<Duration> {
    use nix::time::{clock_gettime, ClockId};
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).ok()?;
    Some(Duration::new(
        u64::try_from(t.tv_sec()).ok()?,
        u32::try_from(t.tv_nsec()).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::{BusyMeter, BUSY_REPORT_EVERY};
    use std::time::Instant;

    #[test]
    fn the_busy_meter_tells_a_spinning_thread_from_a_sleeping_one() {
        let start = Instant::now();
        let mut meter = BusyMeter::new(start);
        assert_eq!(meter.report(start), None, "not before a period has passed");
        let mut spins = 0u64;
        while start.elapsed() < BUSY_REPORT_EVERY {
            spins = std::hint::black_box(spins.wrapping_add(1));
        }
        let spinning = meter.report(Instant::now()).expect("a period passed");
        std::thread::sleep(BUSY_REPORT_EVERY);
        let sleeping = meter.report(Instant::now()).expect("another period passed");
        // Wide bounds: another process may take the core from the spinning thread.
        assert!(spinning >= 300, "spinning: {spinning}‰");
        assert!(sleeping <= 100, "sleeping: {sleeping}‰");
    }
}
