// The meeting's toolbar (`role=toolbar` **Meeting controls**): the buttons in their order, their
// pressed states, and the arrow keys between them (the WAI-ARIA toolbar pattern). What a button
// does is the meeting's business (`ToolbarActions`); controls made by their own modules (chat,
// reactions, screen share, speaker view) are passed in and placed.

import { h, toggleButton, setPressed } from './dom.js';
import { micIcon, cameraIcon, linkIcon, leaveIcon, peopleIcon, handIcon, shieldIcon, gearIcon, recordIcon } from './icons.js';

/**
 * @typedef {{
 *   toggleMic: () => void,
 *   toggleCamera: () => void,
 *   toggleHand: () => void,
 *   togglePanel: () => void,
 *   openSecurity: () => void,
 *   openRecording: () => void,
 *   invite: () => void,
 *   openSettings: () => void,
 *   leave: () => void,
 * }} ToolbarActions
 */

/**
 * @param {string} label
 * @param {() => SVGElement} icon
 * @param {() => void} onclick
 * @param {string} [cls]
 */
function tool(label, icon, onclick, cls = 'tool') {
  return h('button', { type: 'button', class: cls, onclick }, h('span', { class: 'icon', 'aria-hidden': 'true' }, icon()), h('span', { class: 'label', text: label }));
}

export class Toolbar {
  /**
   * @param {ToolbarActions} actions
   * @param {{chat: HTMLElement, reactions: HTMLElement, screen: HTMLElement, layout: HTMLElement}} parts
   */
  constructor(actions, parts) {
    this.mic = toggleButton({ label: 'Microphone', class: 'device', icon: micIcon, pressed: false, onclick: actions.toggleMic });
    this.camera = toggleButton({ label: 'Camera', class: 'device', icon: cameraIcon, pressed: false, onclick: actions.toggleCamera });
    this.people = toggleButton({ label: 'Participants', icon: peopleIcon, pressed: false, onclick: actions.togglePanel });
    this.hand = toggleButton({ label: 'Raise hand', icon: handIcon, pressed: false, onclick: actions.toggleHand });
    const security = tool('Security', shieldIcon, actions.openSecurity);
    const recording = tool('Recording', recordIcon, actions.openRecording);
    const invite = tool('Invite', linkIcon, actions.invite);
    const settings = tool('Settings', gearIcon, actions.openSettings);
    for (const b of [security, recording, invite, settings]) b.setAttribute('aria-haspopup', 'dialog');
    const leave = tool('Leave meeting', leaveIcon, actions.leave, 'tool danger');
    this.el = h(
      'div',
      { role: 'toolbar', 'aria-label': 'Meeting controls', class: 'toolbar' },
      this.mic,
      this.camera,
      parts.screen,
      parts.chat,
      this.hand,
      parts.reactions,
      this.people,
      security,
      recording,
      invite,
      parts.layout,
      settings,
      leave,
    );
    this.el.addEventListener('keydown', (ev) => this.#keys(ev));
  }

  /**
   * The device toggles follow the local devices.
   * @param {{audioOn: boolean, videoOn: boolean, hasAudio: boolean, canVideo: boolean, audioProblem?: string | null, videoProblem?: string | null}} devices
   */
  showDevices(devices) {
    setPressed(this.mic, devices.audioOn, micIcon);
    setPressed(this.camera, devices.videoOn, cameraIcon);
    this.mic.disabled = !devices.hasAudio;
    this.camera.disabled = !devices.canVideo;
    if (devices.audioProblem) this.mic.title = devices.audioProblem;
    if (devices.videoProblem) this.camera.title = devices.videoProblem;
  }

  /** @param {boolean} on */
  setMic(on) {
    setPressed(this.mic, on, micIcon);
  }

  /** @param {boolean} on */
  setCamera(on) {
    setPressed(this.camera, on, cameraIcon);
  }

  /** @param {boolean} raised */
  setHand(raised) {
    setPressed(this.hand, raised, handIcon);
  }

  get handRaised() {
    return this.hand.getAttribute('aria-pressed') === 'true';
  }

  /** @param {boolean} open */
  setPeople(open) {
    setPressed(this.people, open, peopleIcon);
  }

  /** The connection is lost: every control but **Leave meeting** goes dead. */
  disable() {
    for (const b of this.el.querySelectorAll('button')) if (!b.classList.contains('danger')) b.disabled = true;
  }

  /**
   * Arrow keys move between toolbar buttons (the WAI-ARIA toolbar pattern); Tab still works.
   * @param {KeyboardEvent} ev
   */
  #keys(ev) {
    if (!['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(ev.key)) return;
    const buttons = /** @type {HTMLButtonElement[]} */ ([...this.el.querySelectorAll('button:not([disabled])')]);
    const i = buttons.indexOf(/** @type {HTMLButtonElement} */ (document.activeElement));
    if (i < 0 || buttons.length === 0) return;
    ev.preventDefault();
    const next = ev.key === 'Home' ? 0 : ev.key === 'End' ? buttons.length - 1 : (i + (ev.key === 'ArrowRight' ? 1 : -1) + buttons.length) % buttons.length;
    buttons[next].focus();
  }
}
