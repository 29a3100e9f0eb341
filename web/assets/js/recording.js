// Recording on the server, as the page shows it: the **Recording** dialog (moderators start and
// stop it; anyone else, and everyone in an end-to-end encrypted meeting, sees why not) and the
// `role=status` "Recording…" line everyone sees while it lasts. The server enforces every rule
// (docs/protocol.md, "Recording"); this only asks and shows.

import { h } from './dom.js';
import { ModalDialog } from './dialog.js';

/** @typedef {import('./protocol.js').RoomSettings} RoomSettings */

export class Recording {
  /** @param {{setRecording: (on: boolean) => void}} actions */
  constructor(actions) {
    this.actions = actions;
    this.recording = false;
    this.dialog = new ModalDialog({ title: 'Recording', class: 'recording-dialog' });
    this.state = h('p', { class: 'recording-state' });
    this.button = h('button', {
      type: 'button',
      class: 'primary',
      onclick: () => {
        this.error.textContent = '';
        this.actions.setRecording(!this.recording);
      },
    });
    this.reason = h('p', { class: 'recording-reason', id: 'recording-reason' });
    this.error = h('p', { role: 'alert', class: 'dialog-error' });
    this.dialog.body.append(this.state, this.button, this.reason, this.error);
    /** Everyone's sign that the meeting is being recorded (shown only then). */
    this.indicator = h('p', { role: 'status', class: 'recording-indicator' });
    this.indicator.hidden = true;
    this.update({ recording: false, e2ee: false }, false);
  }

  get isOpen() {
    return this.dialog.isOpen;
  }

  open() {
    this.dialog.open();
  }

  /**
   * Follows the room's settings and my role.
   * @param {Pick<RoomSettings, 'recording' | 'e2ee'>} settings
   * @param {boolean} isModerator
   */
  update(settings, isModerator) {
    this.recording = settings.recording;
    this.indicator.hidden = !settings.recording;
    this.indicator.textContent = settings.recording ? 'Recording… everyone in this meeting is being recorded' : '';
    this.state.textContent = settings.recording
      ? 'The server is recording this meeting: everyone in it can see that.'
      : 'The server is not recording this meeting.';
    this.button.textContent = settings.recording ? 'Stop recording' : 'Start recording';
    let reason = '';
    if (!isModerator) reason = 'Only a moderator can start or stop recording.';
    else if (settings.e2ee && !settings.recording) reason = 'This meeting is end-to-end encrypted: the server cannot see or hear it, so it cannot record it.';
    this.button.disabled = reason !== '';
    this.reason.textContent = reason;
    if (reason) this.button.setAttribute('aria-describedby', 'recording-reason');
    else this.button.removeAttribute('aria-describedby');
  }

  /** @param {string} message a refusal from the server (this server does not record, ...) */
  showError(message) {
    this.error.textContent = message;
  }

  destroy() {
    this.dialog.destroy();
    this.indicator.remove();
  }
}
