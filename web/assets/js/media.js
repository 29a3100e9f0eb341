// The local camera and microphone. No DOM code here.

/**
 * What the person wants on: used for the first request and again on rejoin.
 * @typedef {{audio: boolean, video: boolean}} MediaChoice
 */

// 720p when the camera has it: simulcast sends it in three layers and each receiver gets the
// one its tile needs (the server pauses layers nobody needs), so a large capture costs only
// those who show it large.
export const VIDEO_CONSTRAINTS = /** @type {MediaTrackConstraints} */ ({ width: 1280, height: 720 });

/** Where the chosen devices are remembered (this browser only). */
const DEVICE_KEYS = { camera: 'moot.camera', microphone: 'moot.microphone', speaker: 'moot.speaker' };

/**
 * The remembered device id of a kind, or ''.
 * @param {keyof typeof DEVICE_KEYS} kind
 */
export function preferredDevice(kind) {
  try {
    return localStorage.getItem(DEVICE_KEYS[kind]) ?? '';
  } catch {
    return '';
  }
}

/**
 * @param {keyof typeof DEVICE_KEYS} kind
 * @param {string} id
 */
export function rememberDevice(kind, id) {
  try {
    if (id) localStorage.setItem(DEVICE_KEYS[kind], id);
    else localStorage.removeItem(DEVICE_KEYS[kind]);
  } catch {
    // storage disabled
  }
}

/**
 * Camera constraints for a device id ('' for the default).
 * @param {string} id
 * @returns {MediaTrackConstraints}
 */
export function cameraConstraints(id) {
  return id ? { ...VIDEO_CONSTRAINTS, deviceId: { ideal: id } } : VIDEO_CONSTRAINTS;
}

/**
 * @param {string} id
 * @returns {MediaTrackConstraints | boolean}
 */
function micConstraints(id) {
  return id ? { deviceId: { ideal: id } } : true;
}

/** Whether audio output can be chosen here (HTMLMediaElement.setSinkId). */
export function canChooseSpeaker() {
  return typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
}

/**
 * The cameras, microphones and speakers the browser shows (labels once permission is given).
 * @returns {Promise<{cameras: MediaDeviceInfo[], microphones: MediaDeviceInfo[], speakers: MediaDeviceInfo[]}>}
 */
export async function listDevices() {
  const all = navigator.mediaDevices?.enumerateDevices ? await navigator.mediaDevices.enumerateDevices() : [];
  /** @param {MediaDeviceKind} kind */
  const of = (kind) => all.filter((d) => d.kind === kind && d.deviceId !== '');
  return { cameras: of('videoinput'), microphones: of('audioinput'), speakers: of('audiooutput') };
}

/**
 * A readable reason for a getUserMedia failure.
 * @param {unknown} err
 * @param {string} device "camera" or "microphone"
 * @returns {string}
 */
export function explainMediaError(err, device) {
  const name = err instanceof Error || err instanceof DOMException ? err.name : '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return `No ${device}: permission was refused. You can still join and see and hear the others.`;
    case 'NotFoundError':
    case 'OverconstrainedError':
      return `No ${device} was found. You can still join and see and hear the others.`;
    case 'NotReadableError':
    case 'AbortError':
      return `The ${device} could not be started (is another app using it?). You can still join.`;
    case 'InsecureContext':
      return `No ${device}: the browser only allows it on a secure (https) connection. You can still join.`;
    default:
      return `No ${device} is available. You can still join and see and hear the others.`;
  }
}

/**
 * The person's own camera and microphone tracks, in one MediaStream.
 * Events: `change` whenever a track or an on/off state changes.
 */
export class LocalMedia extends EventTarget {
  constructor() {
    super();
    this.stream = new MediaStream();
    /** @type {MediaStreamTrack | null} */
    this.audioTrack = null;
    /** @type {MediaStreamTrack | null} */
    this.videoTrack = null;
    /** Why there is no microphone, or null when it can be used. */
    /** @type {string | null} */
    this.audioProblem = null;
    /** Why there is no camera, or null when it can be used. */
    /** @type {string | null} */
    this.videoProblem = null;
    this.audioOn = false;
    this.videoOn = false;
  }

  /**
   * Asks for microphone and camera once; if that fails, microphone only; then nothing
   * (receive-only). With `want.video` false the camera is not opened at all.
   * @param {MediaChoice} [want]
   * @returns {Promise<LocalMedia>}
   */
  static async acquire(want = { audio: true, video: true }) {
    const media = new LocalMedia();
    const devices = navigator.mediaDevices;
    if (!devices || typeof devices.getUserMedia !== 'function') {
      const insecure = { name: 'InsecureContext' };
      media.audioProblem = explainMediaError(Object.assign(new Error(), insecure), 'microphone');
      media.videoProblem = explainMediaError(Object.assign(new Error(), insecure), 'camera');
      return media;
    }
    /** @type {unknown} */
    let firstError = null;
    if (want.video) {
      try {
        const s = await devices.getUserMedia({ audio: micConstraints(preferredDevice('microphone')), video: cameraConstraints(preferredDevice('camera')) });
        media.#adopt(s);
      } catch (err) {
        firstError = err;
      }
    }
    if (!media.audioTrack && !media.videoTrack) {
      try {
        const s = await devices.getUserMedia({ audio: micConstraints(preferredDevice('microphone')) });
        media.#adopt(s);
        if (want.video) media.videoProblem = explainMediaError(firstError, 'camera');
      } catch (err) {
        media.audioProblem = explainMediaError(err, 'microphone');
        if (want.video) media.videoProblem = explainMediaError(firstError ?? err, 'camera');
      }
    }
    media.audioOn = media.audioTrack !== null && want.audio;
    if (media.audioTrack) media.audioTrack.enabled = media.audioOn;
    media.videoOn = media.videoTrack !== null;
    return media;
  }

  /** @param {MediaStream} s */
  #adopt(s) {
    for (const track of s.getTracks()) {
      if (track.kind === 'audio' && !this.audioTrack) {
        this.audioTrack = track;
        this.stream.addTrack(track);
      } else if (track.kind === 'video' && !this.videoTrack) {
        this.videoTrack = track;
        this.stream.addTrack(track);
      } else {
        track.stop();
      }
    }
  }

  get hasAudio() {
    return this.audioTrack !== null;
  }

  /** The camera can be turned on (it was granted, or was never asked for). */
  get canVideo() {
    return this.videoProblem === null;
  }

  /**
   * Mutes or unmutes the microphone (track.enabled; the track keeps flowing as silence).
   * @param {boolean} on
   */
  setAudio(on) {
    if (!this.audioTrack) return;
    this.audioTrack.enabled = on;
    this.audioOn = on;
    this.dispatchEvent(new Event('change'));
  }

  /**
   * Turns the camera on (opens it again) or off (stops it, so its light goes out).
   * Returns the new video track or null.
   * @param {boolean} on
   * @returns {Promise<MediaStreamTrack | null>}
   */
  async setVideo(on) {
    if (!on) {
      if (this.videoTrack) {
        this.videoTrack.stop();
        this.stream.removeTrack(this.videoTrack);
        this.videoTrack = null;
      }
      this.videoOn = false;
      this.dispatchEvent(new Event('change'));
      return null;
    }
    if (!this.videoTrack) {
      const s = await navigator.mediaDevices.getUserMedia({ video: cameraConstraints(preferredDevice('camera')) });
      const track = s.getVideoTracks()[0];
      if (!track) throw new Error('the browser returned no camera track');
      this.videoTrack = track;
      this.stream.addTrack(track);
    }
    this.videoOn = true;
    this.dispatchEvent(new Event('change'));
    return this.videoTrack;
  }

  /** The device id of the microphone in use, or ''. */
  get microphoneId() {
    return this.audioTrack?.getSettings().deviceId ?? preferredDevice('microphone');
  }

  /** The device id of the camera in use (or to be used when it is turned on), or ''. */
  get cameraId() {
    return this.videoTrack?.getSettings().deviceId ?? preferredDevice('camera');
  }

  /**
   * Opens another microphone (keeping the on/off state) and returns its track; the caller
   * sends it with replaceTrack. The old track is stopped.
   * @param {string} deviceId
   * @returns {Promise<MediaStreamTrack>}
   */
  async switchMicrophone(deviceId) {
    const s = await navigator.mediaDevices.getUserMedia({ audio: { deviceId: { exact: deviceId } } });
    const track = s.getAudioTracks()[0];
    if (!track) throw new Error('the browser returned no microphone track');
    rememberDevice('microphone', deviceId);
    const old = this.audioTrack;
    if (old) {
      old.stop();
      this.stream.removeTrack(old);
    }
    track.enabled = old ? this.audioOn : true;
    if (!old) this.audioOn = true;
    this.audioTrack = track;
    this.audioProblem = null;
    this.stream.addTrack(track);
    this.dispatchEvent(new Event('change'));
    return track;
  }

  /**
   * Chooses another camera. While the camera is on, opens it and returns the new track (the
   * caller sends it with replaceTrack; the old one is stopped); while off, only remembers it
   * and returns null.
   * @param {string} deviceId
   * @returns {Promise<MediaStreamTrack | null>}
   */
  async switchCamera(deviceId) {
    rememberDevice('camera', deviceId);
    if (!this.videoTrack) return null;
    const s = await navigator.mediaDevices.getUserMedia({ video: { ...VIDEO_CONSTRAINTS, deviceId: { exact: deviceId } } });
    const track = s.getVideoTracks()[0];
    if (!track) throw new Error('the browser returned no camera track');
    const old = this.videoTrack;
    old.stop();
    this.stream.removeTrack(old);
    this.videoTrack = track;
    this.stream.addTrack(track);
    this.dispatchEvent(new Event('change'));
    return track;
  }

  /** Stops every track (lights out). */
  stop() {
    for (const t of this.stream.getTracks()) t.stop();
    this.audioTrack = null;
    this.videoTrack = null;
    this.audioOn = false;
    this.videoOn = false;
  }

  /** @returns {MediaChoice} */
  choice() {
    return { audio: this.audioOn, video: this.videoOn };
  }
}
