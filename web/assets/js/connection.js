// Staying connected: the media session (one RTCPeerConnection, made on `welcome` and again after
// each reconnection), watching it, and coming back after a dropped socket or failed media with
// the resume token (docs/protocol.md, "Reconnecting"; reconnect.js has the timing and banner).

import { MediaSession } from './media-session.js';
import { Reconnector, ICE_DISCONNECTED_MS } from './reconnect.js';

/**
 * @typedef {{
 *   signaling: import('./protocol.js').SignalingClient,
 *   devices: import('./media.js').LocalMedia,
 *   screenShare: import('./screenshare.js').ScreenShare,
 *   frameCrypto: () => import('./media-session.js').FrameCrypto | null,
 *   uploadLimited: () => boolean,
 *   live: () => boolean,
 *   lost: (message: string) => void,
 *   reconnecting: () => void,
 *   newSession: (pc: MediaSession) => void,
 * }} ConnectionWiring
 * `live`: welcomed and not ended; `lost` ends the meeting with the "Connection lost" alert;
 * `reconnecting` says so in the status line; `newSession` tells the stage and the test hook.
 */

export class Connection {
  /** @param {ConnectionWiring} wiring */
  constructor(wiring) {
    this.wiring = wiring;
    /** The last `welcome.resume_token`. @type {string | null} */
    this.resumeToken = null;
    /** The last `welcome.ice_servers` (TURN), for every media session of this meeting. @type {RTCIceServer[]} */
    this.iceServers = [];
    /** The current media session. @type {MediaSession | null} */
    this.pc = null;
    this.iceTimer = 0;
    this.reconnector = new Reconnector({
      attempt: () => {
        if (wiring.live() && this.resumeToken) wiring.signaling.reconnect(this.resumeToken);
      },
      abandon: () => wiring.signaling.drop(),
      giveUp: () => wiring.lost('Connection lost.'),
    });
  }

  get reconnecting() {
    return this.reconnector.active;
  }

  /** @param {import('./protocol.js').WelcomeMessage} msg */
  welcome(msg) {
    this.resumeToken = msg.resume_token;
    this.iceServers = msg.ice_servers;
    this.reconnector.succeeded();
  }

  /** A new RTCPeerConnection and its one offer (on `welcome`, and again after a reconnection). */
  async startSession() {
    const { devices, screenShare, signaling } = this.wiring;
    const pc = new MediaSession({
      stream: devices.stream, audioTrack: devices.audioTrack, videoTrack: devices.videoTrack,
      iceServers: this.iceServers,
      // Test/debug switch: `?relay=1` in the page URL sends media only through TURN.
      relayOnly: new URLSearchParams(location.search).get('relay') === '1',
      frameCrypto: this.wiring.frameCrypto(),
    });
    this.pc = pc;
    pc.limited = this.wiring.uploadLimited();
    pc.addEventListener('connectionstatechange', (ev) => {
      if (pc !== this.pc || !this.wiring.live()) return;
      const state = /** @type {CustomEvent<RTCPeerConnectionState>} */ (ev).detail;
      window.clearTimeout(this.iceTimer);
      if (state === 'failed') this.#mediaLost();
      else if (state === 'disconnected') {
        this.iceTimer = window.setTimeout(() => {
          if (pc === this.pc && pc.pc.connectionState === 'disconnected') this.#mediaLost();
        }, ICE_DISCONNECTED_MS);
      }
    });
    this.wiring.newSession(pc);
    const offer = await pc.createPublishOffer({ screen: screenShare.video, screenAudio: screenShare.audio });
    signaling.sendOffer(offer, pc.sources, true);
    signaling.sendMediaState(devices.audioOn, devices.videoOn, screenShare.active);
  }

  /** The media connection failed: reconnect everything (only the server makes offers). */
  #mediaLost() {
    if (!this.resumeToken) {
      this.wiring.lost('The media connection failed.');
      return;
    }
    this.wiring.signaling.drop(); // reported as a close: see reconnectOnClose
  }

  /**
   * The socket closed unexpectedly (or the server lost our media and closes): start (or go
   * on) reconnecting. Returns false when that is not possible (before `welcome`, or without a
   * resume token).
   * @returns {boolean}
   */
  reconnectOnClose() {
    if (!this.wiring.live() || !this.resumeToken) return false;
    if (this.reconnector.active) {
      this.reconnector.failed();
      return true;
    }
    window.clearTimeout(this.iceTimer);
    this.pc?.close();
    this.pc = null;
    this.reconnector.start();
    this.wiring.reconnecting();
    return true;
  }

  /** Stops reconnecting (a fatal answer while trying). */
  stopReconnecting() {
    this.reconnector.stop();
  }

  /**
   * Leaving on purpose: the server must read `leave` before it sees the media connection end;
   * otherwise it may take this for a dropped connection and keep us 10 s for a reconnection
   * (the others would see "lost the connection" late). So the peer connection closes a bit
   * later.
   */
  closeSoon() {
    const pc = this.pc;
    this.pc = null;
    if (pc) window.setTimeout(() => pc.close(), 1000);
  }

  /** Releases the peer connection and the timers (idempotent). */
  close() {
    this.pc?.close();
    this.reconnector.stop();
    window.clearTimeout(this.iceTimer);
  }
}
