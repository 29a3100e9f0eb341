// What this page sends: its microphone and camera as the toolbar toggles them, its screen share,
// on the media session's senders (replaceTrack, no renegotiation), told to the server with
// `media_state`; switching devices and the speaker; and the choices to restore on a rejoin.
// Turning media on while a moderator's mute holds is only asked: the server decides
// (moderation.js puts the toggle back if it refuses).

import { announce } from './dom.js';
import { rememberDevice } from './media.js';
import { preferredSpeaker } from './settings.js';

/** @typedef {import('./protocol.js').TrackKind} TrackKind */

/**
 * @typedef {{
 *   devices: import('./media.js').LocalMedia,
 *   screenShare: () => import('./screenshare.js').ScreenShare,
 *   toolbar: () => import('./toolbar.js').Toolbar,
 *   pc: () => import('./media-session.js').MediaSession | null,
 *   signaling: import('./protocol.js').SignalingClient,
 *   roster: import('./roster.js').Roster,
 *   stage: import('./stage.js').Stage,
 *   askingToUnmute: (kind: TrackKind) => void,
 *   say: (text: string) => void,
 *   failed: (message: string) => void,
 *   showError: (message: string) => void,
 * }} MyMediaWiring
 * `say` and `failed` report a device change in the Settings dialog; `showError` is an alert.
 */

export class MyMedia {
  /** @param {MyMediaWiring} wiring */
  constructor(wiring) {
    this.wiring = wiring;
    this.devices = wiring.devices;
    /** Media choices to restore on rejoin (the tracks themselves are stopped on leave). */
    this.rejoinChoice = this.devices.choice();
    /** The chosen speaker (setSinkId). */
    this.sinkId = preferredSpeaker();
  }

  toggleMic() {
    if (!this.devices.hasAudio) return;
    this.wiring.stage.speaking.resume();
    const on = !this.devices.audioOn;
    // Asking is all the client does: the server decides (and drops the audio meanwhile).
    if (on) this.wiring.askingToUnmute('audio');
    this.devices.setAudio(on);
    this.wiring.toolbar().setMic(this.devices.audioOn);
    this.changed();
  }

  async toggleCamera() {
    this.wiring.stage.speaking.resume();
    const on = !this.devices.videoOn;
    if (on) this.wiring.askingToUnmute('video');
    await this.#setCamera(on);
  }

  /** @param {boolean} on */
  async #setCamera(on) {
    const button = this.wiring.toolbar().camera;
    button.disabled = true;
    try {
      if (!on) {
        await this.wiring.pc()?.replaceVideoTrack(null);
        await this.devices.setVideo(false);
      } else {
        const track = await this.devices.setVideo(true);
        await this.wiring.pc()?.replaceVideoTrack(track);
      }
    } catch (err) {
      this.wiring.showError(`The camera could not be turned on: ${errorText(err)}`);
    } finally {
      button.disabled = !this.devices.canVideo;
    }
    this.wiring.toolbar().setCamera(this.devices.videoOn);
    this.changed();
  }

  /** @param {TrackKind} kind */
  isOn(kind) {
    return kind === 'audio' ? this.devices.audioOn : this.devices.videoOn;
  }

  /**
   * Turns my microphone or camera off (a moderator's mute, or a refused unmute).
   * @param {TrackKind} kind
   */
  async turnOff(kind) {
    if (kind === 'video') return this.#setCamera(false);
    this.devices.setAudio(false);
    this.wiring.toolbar().setMic(false);
    this.changed();
  }

  /** The local media changed: my tile, the rejoin choices, and the server are told. */
  changed() {
    this.rejoinChoice = this.devices.choice();
    void this.refreshMe();
    const share = this.wiring.screenShare();
    if (this.wiring.roster.me) this.wiring.signaling.sendMediaState(this.devices.audioOn, this.devices.videoOn, share.active);
  }

  /** My own participant (tile, panel entry) follows the local media state. */
  async refreshMe() {
    const me = this.wiring.roster.me;
    if (me) await this.wiring.roster.setMe({ ...me, audio: this.devices.audioOn, video: this.devices.videoOn, screen: this.wiring.screenShare().active });
  }

  /**
   * @param {MediaStreamTrack} video
   * @param {MediaStreamTrack | null} audio
   */
  async screenStarted(video, audio) {
    await this.wiring.pc()?.replaceScreenTracks(video, audio);
    this.changed();
    announce(audio ? 'You are sharing your screen and its sound' : 'You are sharing your screen');
  }

  async screenStopped() {
    await this.wiring.pc()?.replaceScreenTracks(null, null);
    this.changed();
    announce('You stopped sharing your screen');
  }

  /** @param {string} id */
  async chooseCamera(id) {
    try {
      const track = await this.devices.switchCamera(id);
      if (track) {
        await this.wiring.pc()?.replaceVideoTrack(track);
        await this.refreshMe();
      }
      this.wiring.say('Camera changed');
    } catch (err) {
      this.wiring.failed(`The camera could not be changed: ${errorText(err)}`);
    }
  }

  /** @param {string} id */
  async chooseMicrophone(id) {
    try {
      const track = await this.devices.switchMicrophone(id);
      await this.wiring.pc()?.replaceAudioTrack(track);
      this.wiring.stage.watchMyMicrophone(track);
      const toolbar = this.wiring.toolbar();
      toolbar.mic.disabled = false;
      toolbar.setMic(this.devices.audioOn);
      this.wiring.say('Microphone changed');
    } catch (err) {
      this.wiring.failed(`The microphone could not be changed: ${errorText(err)}`);
    }
  }

  /** @param {string} id */
  async chooseSpeaker(id) {
    this.sinkId = id;
    rememberDevice('speaker', id);
    await this.wiring.stage.applySpeaker(id);
    this.wiring.say('Speaker changed');
  }
}

/** @param {unknown} err */
function errorText(err) {
  return err instanceof Error ? err.message : String(err);
}
