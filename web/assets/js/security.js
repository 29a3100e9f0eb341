// The Security dialog: lobby, room password, lock, and whether people muted by a moderator
// may unmute themselves. Moderators change them; everyone else sees them read-only. The
// switches show the server's settings: a click asks, the `settings` message answers.

import { h, switchButton, setChecked } from './dom.js';
import { ModalDialog } from './dialog.js';
import { DEFAULT_SETTINGS } from './protocol.js';

/** @typedef {import('./protocol.js').RoomSettings} RoomSettings */

/**
 * @typedef {{
 *   setLobby: (on: boolean) => void,
 *   setPassword: (password: string) => void,
 *   removePassword: () => void,
 *   setLock: (on: boolean) => void,
 *   setAllowUnmute: (on: boolean) => void,
 *   setChatHistory?: (on: boolean) => void,
 *   setE2ee?: (on: boolean) => void,
 * }} SecurityActions
 */

/** Room passwords are 1–128 characters (docs/protocol.md). */
const MAX_PASSWORD = 128;

export class SecurityDialog {
  /** @param {SecurityActions} actions */
  constructor(actions) {
    this.dialog = new ModalDialog({ title: 'Security', class: 'security-dialog' });
    /** @type {RoomSettings} */
    this.settings = { ...DEFAULT_SETTINGS };
    this.moderator = false;

    this.note = h('p', { class: 'hint', text: 'Only moderators can change these settings.' });
    this.lobby = switchButton({ label: 'Lobby', checked: false, onchange: (on) => actions.setLobby(on) });
    this.lock = switchButton({ label: 'Lock room', checked: false, onchange: (on) => actions.setLock(on) });
    this.allowUnmute = switchButton({ label: 'Let participants unmute', checked: true, onchange: (on) => actions.setAllowUnmute(on) });
    this.chatHistory = switchButton({ label: 'Share chat history with newcomers', checked: false, onchange: (on) => actions.setChatHistory?.(on) });
    this.e2ee = switchButton({ label: 'End-to-end encryption', checked: false, onchange: (on) => actions.setE2ee?.(on) });
    this.e2eeHint = h('p', { class: 'hint' });
    /** Whether this browser can encrypt (without it, the switch cannot be turned on here). */
    this.e2eeSupported = true;
    this.passwordInput = h('input', { id: 'room-password', type: 'text', autocomplete: 'off', maxlength: String(MAX_PASSWORD), 'aria-describedby': 'room-password-state' });
    this.passwordState = h('p', { id: 'room-password-state', class: 'hint' });
    this.setPasswordButton = h('button', { type: 'button', text: 'Set password', onclick: () => {
      const pw = this.passwordInput.value;
      if (pw.length === 0 || [...pw].length > MAX_PASSWORD) {
        this.showError(pw.length === 0 ? 'Type a password first.' : `A password has at most ${MAX_PASSWORD} characters.`);
        this.passwordInput.focus();
        return;
      }
      this.error.replaceChildren();
      actions.setPassword(pw);
      this.passwordInput.value = '';
    } });
    this.removePasswordButton = h('button', { type: 'button', text: 'Remove password', onclick: () => actions.removePassword() });
    this.passwordInput.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        this.setPasswordButton.click();
      }
    });
    this.error = h('div', { class: 'error-slot' });
    this.status = h('p', { role: 'status', class: 'dialog-status' });

    this.dialog.body.append(
      this.note,
      this.error,
      h('div', { class: 'setting' }, this.lobby, h('p', { class: 'hint', text: 'Newcomers wait until a moderator lets them in.' })),
      h(
        'div',
        { class: 'setting' },
        h('label', { for: 'room-password', text: 'Room password' }),
        this.passwordInput,
        this.passwordState,
        h('div', { class: 'row' }, this.setPasswordButton, this.removePasswordButton),
      ),
      h('div', { class: 'setting' }, this.lock, h('p', { class: 'hint', text: 'Nobody new can join, with or without the password.' })),
      h('div', { class: 'setting' }, this.allowUnmute, h('p', { class: 'hint', text: 'When off, people a moderator muted can only raise their hand to ask to speak.' })),
      h('div', { class: 'setting' }, this.e2ee, this.e2eeHint),
      h('div', { class: 'setting' }, this.chatHistory, h('p', { class: 'hint', text: 'When on, people who join later see the last 100 messages sent to everyone (never private ones). When off, newcomers see no earlier messages. Chat is kept only in memory and goes with the meeting.' })),
      this.status,
    );
    this.#render();
  }

  /**
   * @param {RoomSettings} settings
   * @param {boolean} moderator
   */
  update(settings, moderator) {
    this.settings = settings;
    this.moderator = moderator;
    this.#render();
  }

  #render() {
    const s = this.settings;
    const ro = !this.moderator;
    setChecked(this.lobby, s.lobby);
    setChecked(this.lock, s.locked);
    setChecked(this.allowUnmute, s.allow_unmute);
    setChecked(this.chatHistory, s.chat_history);
    setChecked(this.e2ee, s.e2ee);
    this.e2ee.disabled = ro || s.e2ee || !this.e2eeSupported;
    this.e2eeHint.textContent = s.e2ee
      ? 'On: audio, video and chat are encrypted so that only the people in the meeting can read them, not the server. It stays on until the meeting ends.'
      : !this.e2eeSupported
        ? 'This browser cannot encrypt media end to end.'
        : 'When on, audio, video and chat are encrypted so that only the people in the meeting can read them, not the server. Everyone’s browser must support it, and it cannot be turned off again in this meeting.';
    this.passwordState.textContent = s.password ? 'A password is set.' : 'No password is set.';
    this.note.hidden = !ro;
    for (const b of [this.lobby, this.lock, this.allowUnmute, this.chatHistory, this.setPasswordButton]) b.disabled = ro;
    // (the E2EE switch is set above: it is also read-only once on)
    this.removePasswordButton.disabled = ro || !s.password;
    this.passwordInput.disabled = ro;
  }

  /** @param {string} message */
  showError(message) {
    this.error.replaceChildren(h('p', { role: 'alert', text: message }));
  }

  /** @param {string} message */
  say(message) {
    this.status.textContent = message;
  }

  get isOpen() {
    return this.dialog.isOpen;
  }

  open() {
    this.error.replaceChildren();
    this.status.textContent = '';
    this.dialog.open();
  }

  destroy() {
    this.dialog.destroy();
  }
}
