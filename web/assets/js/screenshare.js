// Sharing the screen: the toolbar toggle **Share screen** asks the browser for a screen, window
// or tab (with its sound where the browser offers it), and the meeting sends it on the screen
// transceivers (media-session.js) with replaceTrack — no renegotiation — and says `media_state`
// `screen: true`. Stopping from the toggle or from the browser's own "Stop sharing" bar (the
// track's `ended` event) sends nothing on them again and says `screen: false`.

import { toggleButton, setPressed } from './dom.js';
import { screenIcon } from './icons.js';

/**
 * @typedef {{
 *   started: (video: MediaStreamTrack, audio: MediaStreamTrack | null) => Promise<void>,
 *   stopped: () => Promise<void>,
 *   failed: (message: string) => void,
 * }} ScreenShareHooks
 */

/** Whether this browser can share a screen at all (not on most phones). */
export function canShareScreen() {
  return typeof navigator !== 'undefined' && typeof navigator.mediaDevices?.getDisplayMedia === 'function';
}

export class ScreenShare {
  /** @param {ScreenShareHooks} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    /** @type {MediaStreamTrack | null} */
    this.video = null;
    /** @type {MediaStreamTrack | null} */
    this.audio = null;
    this.busy = false;
    this.button = toggleButton({ label: 'Share screen', icon: screenIcon, pressed: false, onclick: () => void this.toggle() });
    if (!canShareScreen()) {
      this.button.disabled = true;
      this.button.title = 'This browser cannot share a screen.';
    }
  }

  get active() {
    return this.video !== null;
  }

  async toggle() {
    if (this.active) await this.stop();
    else await this.start();
  }

  async start() {
    if (this.busy || this.active || !canShareScreen()) return;
    this.busy = true;
    try {
      /** @type {MediaStream} */
      let stream;
      try {
        stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: true });
      } catch (err) {
        const name = err instanceof Error || err instanceof DOMException ? err.name : '';
        // Cancelling the browser's picker is not an error worth an alert.
        if (name !== 'NotAllowedError' && name !== 'AbortError') {
          this.hooks.failed(`The screen could not be shared: ${err instanceof Error ? err.message : String(err)}`);
        }
        return;
      }
      const video = stream.getVideoTracks()[0] ?? null;
      if (!video) {
        for (const t of stream.getTracks()) t.stop();
        this.hooks.failed('The browser shared no picture of the screen.');
        return;
      }
      // Text and lines stay sharp: the encoder lowers the frame rate before the resolution.
      if ('contentHint' in video) video.contentHint = 'detail';
      this.video = video;
      this.audio = stream.getAudioTracks()[0] ?? null;
      // The browser's own "Stop sharing" ends the track.
      video.addEventListener('ended', () => void this.stop(), { once: true });
      setPressed(this.button, true, screenIcon);
      await this.hooks.started(video, this.audio);
    } finally {
      this.busy = false;
    }
  }

  async stop() {
    if (!this.active) return;
    const tracks = [this.video, this.audio];
    this.video = null;
    this.audio = null;
    for (const t of tracks) t?.stop();
    setPressed(this.button, false, screenIcon);
    await this.hooks.stopped();
  }

  /** Ends a share without telling anyone (the meeting is over). */
  release() {
    for (const t of [this.video, this.audio]) t?.stop();
    this.video = null;
    this.audio = null;
    setPressed(this.button, false, screenIcon);
  }
}
