// The media side of a meeting: one RTCPeerConnection to the server. No DOM code here.
//
// The client makes exactly one offer (one send-only audio and one send-only video transceiver);
// after that only the server offers, and each server offer says in `tracks` which transceiver
// (mid) carries whose media. Turning the camera on or off never renegotiates: replaceTrack.

/** @typedef {import('./protocol.js').TrackInfo} TrackInfo */

/**
 * The remote tracks currently bound to one participant.
 * @typedef {{audio: MediaStreamTrack | null, video: MediaStreamTrack | null}} RemoteMedia
 */

/** No STUN/TURN: the server is ICE-lite and its candidates come in its answer. */
export const RTC_CONFIG = /** @type {RTCConfiguration} */ ({
  iceServers: [],
  bundlePolicy: 'max-bundle',
  rtcpMuxPolicy: 'require',
});

/**
 * Events: `connectionstatechange` (detail: RTCPeerConnectionState).
 */
export class MediaSession extends EventTarget {
  /**
   * @param {{
   *   stream: MediaStream,
   *   audioTrack: MediaStreamTrack | null,
   *   videoTrack: MediaStreamTrack | null,
   *   PeerConnection?: typeof RTCPeerConnection,
   * }} local
   */
  constructor(local) {
    super();
    const PC = local.PeerConnection ?? RTCPeerConnection;
    this.pc = new PC(RTC_CONFIG);
    this.local = local;
    /** @type {RTCRtpTransceiver | null} */
    this.audioTransceiver = null;
    /** @type {RTCRtpTransceiver | null} */
    this.videoTransceiver = null;
    /** Participant id → their bound remote tracks, as of the last server offer. */
    /** @type {Map<string, RemoteMedia>} */
    this.remote = new Map();
    this.pc.addEventListener('connectionstatechange', () => {
      this.dispatchEvent(new CustomEvent('connectionstatechange', { detail: this.pc.connectionState }));
    });
  }

  /**
   * Adds the two send-only transceivers and returns the SDP of the one client offer.
   * @returns {Promise<string>}
   */
  async createPublishOffer() {
    const { stream, audioTrack, videoTrack } = this.local;
    this.audioTransceiver = this.pc.addTransceiver(audioTrack ?? 'audio', { direction: 'sendonly', streams: [stream] });
    this.videoTransceiver = this.pc.addTransceiver(videoTrack ?? 'video', { direction: 'sendonly', streams: [stream] });
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    const sdp = this.pc.localDescription?.sdp;
    if (!sdp) throw new Error('the browser produced no local offer');
    return sdp;
  }

  /**
   * Applies the server's answer to our offer.
   * @param {string} sdp
   */
  async acceptAnswer(sdp) {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
  }

  /**
   * Applies a server offer, returns our answer's SDP, and rebinds remote tracks from `tracks`.
   * @param {string} sdp
   * @param {TrackInfo[]} tracks
   * @returns {Promise<string>}
   */
  async answerOffer(sdp, tracks) {
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    const local = this.pc.localDescription?.sdp;
    if (!local) throw new Error('the browser produced no local answer');
    this.#bind(tracks);
    return local;
  }

  /**
   * Maps listed mids to participants; transceivers whose mid is not listed carry nothing.
   * @param {TrackInfo[]} tracks
   */
  #bind(tracks) {
    /** @type {Map<string, RTCRtpTransceiver>} */
    const byMid = new Map();
    for (const t of this.pc.getTransceivers()) if (t.mid !== null) byMid.set(t.mid, t);
    /** @type {Map<string, RemoteMedia>} */
    const remote = new Map();
    for (const { mid, participant, kind } of tracks) {
      const transceiver = byMid.get(mid);
      if (!transceiver || transceiver === this.audioTransceiver || transceiver === this.videoTransceiver) continue;
      const track = transceiver.receiver.track;
      if (track.kind !== kind) continue; // the server said one thing, the SDP another: ignore
      const entry = remote.get(participant) ?? { audio: null, video: null };
      entry[kind] = track;
      remote.set(participant, entry);
    }
    this.remote = remote;
  }

  /**
   * The tracks bound to a participant (both null when none).
   * @param {string} participant
   * @returns {RemoteMedia}
   */
  remoteMedia(participant) {
    return this.remote.get(participant) ?? { audio: null, video: null };
  }

  /**
   * Sends a different (or no) camera track, without renegotiation.
   * @param {MediaStreamTrack | null} track
   */
  async replaceVideoTrack(track) {
    this.local.videoTrack = track;
    if (this.videoTransceiver) await this.videoTransceiver.sender.replaceTrack(track);
  }

  /**
   * Sends a different (or no) microphone track, without renegotiation.
   * @param {MediaStreamTrack | null} track
   */
  async replaceAudioTrack(track) {
    this.local.audioTrack = track;
    if (this.audioTransceiver) await this.audioTransceiver.sender.replaceTrack(track);
  }

  close() {
    this.pc.close();
    this.remote = new Map();
  }
}
