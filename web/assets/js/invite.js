// The Invite dialog: the meeting link, and for whoever holds the room's host key, a separate
// host link that makes its holder a moderator.

import { h, announce } from './dom.js';
import { ModalDialog } from './dialog.js';
import { hostLink } from './identity.js';

export class InviteDialog {
  /** @param {string} room */
  constructor(room) {
    this.room = room;
    this.dialog = new ModalDialog({ title: 'Invite', class: 'invite-dialog' });
    this.status = h('p', { role: 'status', class: 'dialog-status' });
    this.link = h('input', { id: 'invite-link', type: 'text', readonly: true, class: 'invite-link' });
    this.copy = h('button', { type: 'button', class: 'primary', text: 'Copy link', onclick: () => void this.#copy(this.link, 'Meeting link copied') });
    this.hostLink = h('input', { id: 'host-link', type: 'text', readonly: true, class: 'invite-link', 'aria-describedby': 'host-link-warning' });
    this.copyHost = h('button', { type: 'button', text: 'Copy host link', onclick: () => void this.#copy(this.hostLink, 'Host link copied') });
    this.hostBox = h(
      'div',
      { class: 'setting host-box', hidden: true },
      h('label', { for: 'host-link', text: 'Host link' }),
      h('p', { id: 'host-link-warning', class: 'warning', text: 'Whoever has this link can moderate this meeting (let people in, mute, remove). Keep it to yourself or give it only to a co-host.' }),
      h('div', { class: 'row' }, this.hostLink, this.copyHost),
    );
    this.dialog.body.append(
      h(
        'div',
        { class: 'setting' },
        h('label', { for: 'invite-link', text: 'Meeting link' }),
        h('p', { class: 'hint', text: 'Send this link to the people you invite.' }),
        h('div', { class: 'row' }, this.link, this.copy),
      ),
      this.hostBox,
      this.status,
    );
  }

  /**
   * @param {string | null} hostKey the room's host key, if this browser holds it
   */
  open(hostKey) {
    this.link.value = `${location.origin}/${this.room}`;
    this.hostBox.hidden = !hostKey;
    this.hostLink.value = hostKey ? hostLink(location.origin, this.room, hostKey) : '';
    this.status.textContent = '';
    this.dialog.open(this.copy);
  }

  /**
   * Copies a link; without clipboard access, selects it for Control+C.
   * @param {HTMLInputElement} box
   * @param {string} done
   */
  async #copy(box, done) {
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(box.value);
      this.status.textContent = done;
      announce(done);
    } catch {
      box.focus();
      box.select();
      this.status.textContent = 'The link is selected: press Control+C to copy it.';
    }
  }

  destroy() {
    this.dialog.destroy();
  }
}
