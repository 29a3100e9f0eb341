// The media side of a meeting: one RTCPeerConnection to the server. No DOM code here.
//
// The client makes exactly one offer with four send-only transceivers (microphone, camera,
// screen video, screen audio, named in `offer.sources`); after that only the server offers,
// and each server offer says in `tracks` which transceiver (mid) carries whose media, and from
// which source. Turning the camera on or off, switching devices and sharing the screen never
// renegotiate: replaceTrack.
//
// Audio slots (docs/protocol.md, "Large rooms"): our offer says `audio_slots`; in a large room
// the server then sends the others' microphones on a few receiving transceivers whose mids it
// lists in `offer.slots`, and a `slot` message says whose microphone each carries from then on.
// With end-to-end encryption the frame crypto also learns whose key opens each slot's frames
// (the page's E2eeKeys itself, or the frame worker's `opener` reports passed on through
// `FrameCrypto.slotOpened`): the UI shows that sender speaking, not the server's claim.

import { frameTransformStream } from './sframe.js';

/** @typedef {import('./protocol.js').TrackInfo} TrackInfo */
/** @typedef {import('./protocol.js').TrackSource} TrackSource */

/**
 * The remote tracks currently bound to one participant: microphone and camera, and the
 * screen share's video and sound.
 * @typedef {{audio: MediaStreamTrack | null, video: MediaStreamTrack | null,
 *   screen: MediaStreamTrack | null, screenAudio: MediaStreamTrack | null}} RemoteMedia
 */

/**
 * Camera simulcast layers, lowest first (the server ranks RIDs q < h < f). Chromium sends at
 * most two layers below 960x540 and drops the top ones, so a smaller (or not yet known)
 * camera gets two layers, half and full size: a 640x480 camera still reaches 640x480.
 * @param {MediaStreamTrack | null | undefined} track
 * @returns {RTCRtpEncodingParameters[]}
 */
export function simulcastEncodings(track) {
  const height = track?.getSettings?.().height ?? 0;
  if (height >= 540) {
    return [
      { rid: 'q', scaleResolutionDownBy: 4 },
      { rid: 'h', scaleResolutionDownBy: 2 },
      { rid: 'f', scaleResolutionDownBy: 1 },
    ];
  }
  return [
    { rid: 'h', scaleResolutionDownBy: 2 },
    { rid: 'f', scaleResolutionDownBy: 1 },
  ];
}

/** The upload cap for slow links ("Limit my upload"), bits per second. */
export const LIMITED_CAMERA_BITRATE = 300_000;
export const LIMITED_SCREEN_BITRATE = 500_000;

/**
 * What end-to-end encryption needs from the session (e2ee.js implements it): `active()` says
 * whether to encrypt and decrypt now; frames that cannot be decrypted come back null and are
 * dropped, never passed on. `decrypt` gets the mid of an audio slot as `slot` (its frames may
 * be another sender's than `owner`'s). `capture` (tests only) sees each frame's bytes.
 * @typedef {{
 *   active: () => boolean,
 *   encrypt: (kind: 'audio' | 'video', frame: Uint8Array<ArrayBuffer>) => Promise<Uint8Array<ArrayBuffer>>,
 *   decrypt: (kind: 'audio' | 'video', owner: string | undefined, data: Uint8Array<ArrayBuffer>, slot?: string) => Promise<Uint8Array<ArrayBuffer> | null>,
 *   capture?: (where: 'sent-plain' | 'sent-wire' | 'received-wire' | 'received-plain', kind: 'audio' | 'video', owner: string | undefined, bytes: Uint8Array<ArrayBuffer>) => void,
 *   connectWorker?: (post: (update: import('./e2ee.js').KeyUpdate) => void) => () => void,
 *   countWorker?: (delta: Record<string, number>) => void,
 *   slotOpened?: (mid: string, from: string) => void,
 *   keepSlots?: (mids: string[]) => void,
 * }} FrameCrypto
 *
 * Browsers without createEncodedStreams but with RTCRtpScriptTransform (Firefox, Safari) run
 * the frames through sframe-worker.js instead: `connectWorker` gives it the keys (all of them
 * now, each change later; returns a function that stops that), `countWorker` takes its counters,
 * `slotOpened` its reports of whose key now opens an audio slot's frames. `encrypt`, `decrypt`
 * and `capture` are then unused. Either way `keepSlots` hears which mids are audio slots now
 * (after each server offer; none when the session starts), so that what is known of the
 * openers of slots that are gone is forgotten.
 */

/** Whether frames go through a worker (RTCRtpScriptTransform) rather than createEncodedStreams. */
export function usesFrameWorker() {
  return typeof RTCRtpSender !== 'undefined' && !('createEncodedStreams' in RTCRtpSender.prototype) && typeof RTCRtpScriptTransform !== 'undefined';
}

/** @returns {RemoteMedia} */
const noMedia = () => ({ audio: null, video: null, screen: null, screenAudio: null });

/** @type {Record<TrackSource, keyof RemoteMedia>} */
const SLOT = { microphone: 'audio', camera: 'video', screen: 'screen', screen_audio: 'screenAudio' };

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
   *   iceServers?: RTCIceServer[],
   *   relayOnly?: boolean,
   *   frameCrypto?: FrameCrypto | null,
   * }} local `iceServers`: `welcome.ice_servers` (TURN); `relayOnly`: media only through them;
   *   `frameCrypto`: end-to-end encryption of every frame (Chromium's encoded insertable streams,
   *   or RTCRtpScriptTransform and sframe-worker.js)
   */
  constructor(local) {
    super();
    const PC = local.PeerConnection ?? RTCPeerConnection;
    /** @type {FrameCrypto | null} */
    this.frameCrypto = local.frameCrypto ?? null;
    this.pc = new PC(/** @type {RTCConfiguration} */ ({
      ...RTC_CONFIG,
      iceServers: local.iceServers ?? [],
      ...(local.relayOnly ? { iceTransportPolicy: /** @type {RTCIceTransportPolicy} */ ('relay') } : {}),
      // Chromium: every sender and receiver then has encoded streams (createEncodedStreams);
      // receiver-side transforms are reliable only with this (design.md).
      ...(this.frameCrypto && !usesFrameWorker() ? { encodedInsertableStreams: true } : {}),
    }));
    /** Remote mid → participant id, as of the last server offer (whose frames a receiver gets)
     * and, for audio slots, the last `slot` message. */
    /** @type {Map<string, string>} */
    this.owners = new Map();
    /** Audio slot mid → its current owner (null until a `slot` message names one). */
    /** @type {Map<string, string | null>} */
    this.slots = new Map();
    /** What the last server offer said (for tests, through the `?debug` hook). */
    /** @type {{tracks: TrackInfo[], slots: string[]} | null} */
    this.lastOffer = null;
    // A new session: no audio slot yet, so no opener of one either.
    this.frameCrypto?.keepSlots?.([]);
    /** The frame worker (RTCRtpScriptTransform browsers), and how to stop feeding it keys. */
    /** @type {Worker | null} */
    this.worker = null;
    /** @type {() => void} */
    this.disconnectWorker = () => {};
    if (this.frameCrypto && usesFrameWorker()) {
      const fc = this.frameCrypto;
      const worker = new Worker(new URL('./sframe-worker.js', import.meta.url), { type: 'module', name: 'moot-sframe' });
      this.worker = worker;
      /** @type {Record<string, number>} */
      let last = {};
      worker.addEventListener('message', (ev) => {
        /** @type {import('./e2ee.js').WorkerReport} */
        const m = ev.data;
        if (m?.t === 'opener') {
          if (typeof m.mid === 'string' && typeof m.from === 'string') fc.slotOpened?.(m.mid, m.from);
          return;
        }
        if (m?.t !== 'stats') return;
        const now = m.stats;
        fc.countWorker?.(Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - (last[k] ?? 0)])));
        last = now;
      });
      worker.addEventListener('error', (ev) => console.warn('moot: the frame worker failed:', ev.message));
      this.disconnectWorker = fc.connectWorker?.((update) => worker.postMessage(update)) ?? (() => {});
      this.refreshE2ee();
      this.pc.addEventListener('track', (ev) => {
        const t = /** @type {RTCTrackEvent} */ (ev).transceiver;
        t.receiver.transform = new RTCRtpScriptTransform(worker, { side: 'receive', kind: t.receiver.track.kind, mid: t.mid });
      });
    } else if (this.frameCrypto) {
      const fc = this.frameCrypto;
      this.pc.addEventListener('track', (ev) => {
        const t = /** @type {RTCTrackEvent} */ (ev).transceiver;
        const kind = /** @type {'audio' | 'video'} */ (t.receiver.track.kind);
        pipeFrames(t.receiver, async (data) => {
          const owner = t.mid === null ? undefined : this.owners.get(t.mid);
          fc.capture?.('received-wire', kind, owner, data);
          if (!fc.active()) return data;
          const slot = t.mid !== null && this.slots.has(t.mid) ? t.mid : undefined;
          const plain = await fc.decrypt(kind, owner, data, slot);
          if (plain) fc.capture?.('received-plain', kind, owner, plain);
          return plain;
        });
      });
    }
    this.local = local;
    /** @type {RTCRtpTransceiver | null} */
    this.audioTransceiver = null;
    /** @type {RTCRtpTransceiver | null} */
    this.videoTransceiver = null;
    /** @type {RTCRtpTransceiver | null} */
    this.screenTransceiver = null;
    /** @type {RTCRtpTransceiver | null} */
    this.screenAudioTransceiver = null;
    /** Our mids and what they carry (`offer.sources`), once the offer is made. */
    /** @type {Record<string, TrackSource>} */
    this.sources = {};
    /** Upload cap on ("Limit my upload"). */
    this.limited = false;
    /** Participant id → their bound remote tracks, as of the last server offer. */
    /** @type {Map<string, RemoteMedia>} */
    this.remote = new Map();
    this.pc.addEventListener('connectionstatechange', () => {
      this.dispatchEvent(new CustomEvent('connectionstatechange', { detail: this.pc.connectionState }));
    });
  }

  /**
   * Adds the four send-only transceivers (microphone, camera, screen, screen audio) and
   * returns the SDP of the one client offer; `this.sources` then names our mids.
   * @param {{screen?: MediaStreamTrack | null, screenAudio?: MediaStreamTrack | null}} [share] a screen share already running (a reconnection)
   * @returns {Promise<string>}
   */
  async createPublishOffer(share = {}) {
    const { stream, audioTrack, videoTrack } = this.local;
    this.audioTransceiver = this.pc.addTransceiver(audioTrack ?? 'audio', { direction: 'sendonly', streams: [stream] });
    // Simulcast: three layers (quarter, half, full size); the server forwards each receiver
    // the one that suits it and switches at keyframes. A small capture yields fewer layers.
    this.videoTransceiver = this.pc.addTransceiver(videoTrack ?? 'video', {
      direction: 'sendonly',
      streams: [stream],
      sendEncodings: simulcastEncodings(videoTrack),
    });
    const screenStream = new MediaStream();
    this.screenTransceiver = this.pc.addTransceiver(share.screen ?? 'video', { direction: 'sendonly', streams: [screenStream] });
    this.screenAudioTransceiver = this.pc.addTransceiver(share.screenAudio ?? 'audio', { direction: 'sendonly', streams: [screenStream] });
    const fc = this.frameCrypto;
    if (fc && this.worker) {
      for (const t of [this.audioTransceiver, this.videoTransceiver, this.screenTransceiver, this.screenAudioTransceiver]) {
        const kind = t === this.audioTransceiver || t === this.screenAudioTransceiver ? 'audio' : 'video';
        t.sender.transform = new RTCRtpScriptTransform(this.worker, { side: 'send', kind });
      }
    } else if (fc) {
      for (const t of [this.audioTransceiver, this.videoTransceiver, this.screenTransceiver, this.screenAudioTransceiver]) {
        const kind = t === this.audioTransceiver || t === this.screenAudioTransceiver ? 'audio' : 'video';
        pipeFrames(t.sender, async (frame) => {
          fc.capture?.('sent-plain', kind, undefined, frame);
          if (!fc.active()) return frame;
          const wire = await fc.encrypt(kind, frame);
          fc.capture?.('sent-wire', kind, undefined, wire);
          return wire;
        });
      }
    }
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    const sdp = this.pc.localDescription?.sdp;
    if (!sdp) throw new Error('the browser produced no local offer');
    /** @type {[RTCRtpTransceiver, TrackSource][]} */
    const named = [
      [this.audioTransceiver, 'microphone'],
      [this.videoTransceiver, 'camera'],
      [this.screenTransceiver, 'screen'],
      [this.screenAudioTransceiver, 'screen_audio'],
    ];
    this.sources = {};
    for (const [t, source] of named) if (t.mid !== null) this.sources[t.mid] = source;
    if (this.limited) await this.#applyLimit();
    return sdp;
  }

  /**
   * Applies the server's answer to our offer.
   * @param {string} sdp
   */
  async acceptAnswer(sdp) {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    if (this.limited) await this.#applyLimit();
  }

  /**
   * Applies a server offer, returns our answer's SDP, and rebinds remote tracks from `tracks`
   * and the audio slots from `slots`.
   * @param {string} sdp
   * @param {TrackInfo[]} tracks
   * @param {string[]} [slots]
   * @returns {Promise<string>}
   */
  async answerOffer(sdp, tracks, slots = []) {
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    const local = this.pc.localDescription?.sdp;
    if (!local) throw new Error('the browser produced no local answer');
    this.lastOffer = { tracks, slots };
    this.slots = keptSlots(this.slots, slots);
    this.frameCrypto?.keepSlots?.(slots);
    this.#bind(tracks);
    return local;
  }

  /**
   * A `slot` message: that audio slot carries `participant`'s microphone from now on. False
   * (and nothing changes) when `mid` is not a slot of the last offer.
   * @param {string} mid
   * @param {string} participant
   */
  setSlotOwner(mid, participant) {
    if (!this.slots.has(mid)) return false;
    this.slots.set(mid, participant);
    this.owners.set(mid, participant);
    this.#postOwners();
    return true;
  }

  /**
   * The audio slots and the receiver track of each, in the server's order.
   * @returns {{mid: string, owner: string | null, track: MediaStreamTrack}[]}
   */
  slotTracks() {
    /** @type {{mid: string, owner: string | null, track: MediaStreamTrack}[]} */
    const out = [];
    const byMid = new Map(this.pc.getTransceivers().map((t) => [t.mid, t]));
    for (const [mid, owner] of this.slots) {
      const track = byMid.get(mid)?.receiver.track;
      if (track?.kind === 'audio') out.push({ mid, owner, track });
    }
    return out;
  }

  #postOwners() {
    this.worker?.postMessage({ t: 'owners', owners: [...this.owners], slots: [...this.slots.keys()] });
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
    const own = [this.audioTransceiver, this.videoTransceiver, this.screenTransceiver, this.screenAudioTransceiver];
    this.owners = new Map(tracks.map((t) => [t.mid, t.participant]));
    for (const [mid, owner] of this.slots) if (owner !== null) this.owners.set(mid, owner);
    this.#postOwners();
    for (const { mid, participant, kind, source } of tracks) {
      const transceiver = byMid.get(mid);
      if (!transceiver || own.includes(transceiver)) continue;
      const track = transceiver.receiver.track;
      if (track.kind !== kind) continue; // the server said one thing, the SDP another: ignore
      const slot = SLOT[source] ?? (kind === 'audio' ? 'audio' : 'video');
      if ((slot === 'audio' || slot === 'screenAudio') !== (kind === 'audio')) continue;
      const entry = remote.get(participant) ?? noMedia();
      entry[slot] = track;
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
    return this.remote.get(participant) ?? noMedia();
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

  /**
   * Sends the screen share (or nothing, with nulls) on the screen transceivers.
   * @param {MediaStreamTrack | null} video
   * @param {MediaStreamTrack | null} audio
   */
  async replaceScreenTracks(video, audio) {
    if (this.screenTransceiver) await this.screenTransceiver.sender.replaceTrack(video);
    if (this.screenAudioTransceiver) await this.screenAudioTransceiver.sender.replaceTrack(audio);
  }

  /**
   * Caps (or uncaps) what we upload, without renegotiation (RTCRtpSender.setParameters).
   * @param {boolean} on
   */
  async setUploadLimit(on) {
    this.limited = on;
    await this.#applyLimit();
  }

  async #applyLimit() {
    /** @type {[RTCRtpTransceiver | null, number][]} */
    const caps = [
      [this.videoTransceiver, LIMITED_CAMERA_BITRATE],
      [this.screenTransceiver, LIMITED_SCREEN_BITRATE],
    ];
    for (const [t, cap] of caps) {
      if (!t) continue;
      const params = t.sender.getParameters();
      if (!params.encodings || params.encodings.length === 0) continue; // not negotiated yet
      for (const e of params.encodings) {
        if (this.limited) e.maxBitrate = cap;
        else delete e.maxBitrate;
      }
      try {
        await t.sender.setParameters(params);
      } catch (err) {
        console.warn('moot: could not change the upload limit:', err);
      }
    }
  }

  /**
   * Encodes only the listed simulcast layers of the camera (the server's `layers` message:
   * the others nobody receives now), without renegotiation. Never leaves no layer active.
   * @param {string} mid
   * @param {string[]} active RIDs
   */
  async setActiveLayers(mid, active) {
    const t = this.videoTransceiver;
    if (!t || t.mid !== mid || active.length === 0) return;
    const params = t.sender.getParameters();
    if (!params.encodings || params.encodings.length < 2) return;
    let changed = false;
    for (const e of params.encodings) {
      const on = e.rid === undefined || active.includes(e.rid);
      if (e.active !== on) {
        e.active = on;
        changed = true;
      }
    }
    if (!changed) return;
    try {
      await t.sender.setParameters(params);
    } catch (err) {
      console.warn('moot: could not change the simulcast layers:', err);
    }
  }

  /** Tells the frame worker (if any) whether E2EE is on now (`frameCrypto.active()`). */
  refreshE2ee() {
    if (this.worker && this.frameCrypto) this.worker.postMessage({ t: 'active', on: this.frameCrypto.active() });
  }

  close() {
    this.pc.close();
    this.disconnectWorker();
    this.worker?.terminate();
    this.worker = null;
    this.remote = new Map();
    this.slots = new Map();
  }
}

/**
 * The audio slots after a server offer: the mids it lists, each keeping the owner it had if it
 * was a slot before (the offer does not say who is on it; `slot` messages do).
 * @param {Map<string, string | null>} before
 * @param {string[]} mids the offer's `slots`
 * @returns {Map<string, string | null>}
 */
export function keptSlots(before, mids) {
  return new Map(mids.map((mid) => [mid, before.get(mid) ?? null]));
}

/**
 * Runs every encoded frame of a sender or receiver through `change` (Chromium's
 * createEncodedStreams); a null result drops the frame. Frames stay in order.
 * @param {RTCRtpSender | RTCRtpReceiver} endpoint
 * @param {(data: Uint8Array<ArrayBuffer>) => Promise<Uint8Array<ArrayBuffer> | null>} change
 */
function pipeFrames(endpoint, change) {
  const { readable, writable } = /** @type {any} */ (endpoint).createEncodedStreams();
  const transform = frameTransformStream(change);
  readable.pipeThrough(transform).pipeTo(writable).catch(() => {});
}
