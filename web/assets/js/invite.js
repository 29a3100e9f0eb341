// The Invite dialog: the meeting link, and for whoever holds the room's host key, a separate
// host link that makes its holder a moderator. An "Email invitation" mailto: link carries the
// meeting link only; when the meeting has a password, the dialog advises sending it through
// another channel (the client never puts a password into the copied text or the email).

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
    this.mail = h('a', { class: 'button-link', id: 'invite-email', href: 'mailto:', text: 'Email invitation' });
    this.passwordAdvice = h(
      'p',
      { id: 'invite-password-advice', class: 'warning', hidden: true },
      'This meeting has a password. Send the password through another channel (for example a phone call or another messaging app), never together with the link.',
    );
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
        h('div', { class: 'row' }, this.link, this.copy, this.mail),
        this.passwordAdvice,
      ),
      this.hostBox,
      this.status,
    );
  }

  /**
   * @param {string | null} hostKey the room's host key, if this browser holds it
   * @param {boolean} [passwordSet] whether the meeting has a password (advice shown)
   */
  open(hostKey, passwordSet = false) {
    this.link.value = `${location.origin}/${this.room}`;
    this.mail.href = inviteMailto(this.link.value);
    this.setPassword(passwordSet);
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

  /**
   * Shows or hides the advice to send the password separately.
   * @param {boolean} on
   */
  setPassword(on) {
    this.passwordAdvice.hidden = !on;
    if (on) this.link.setAttribute('aria-describedby', 'invite-password-advice');
    else this.link.removeAttribute('aria-describedby');
  }

  destroy() {
    this.dialog.destroy();
  }
}

/**
 * A mailto: address for an invitation carrying the meeting link and nothing else (no password,
 * no host link).
 * @param {string} link
 */
export function inviteMailto(link) {
  const subject = 'Invitation to a Moot video meeting';
  const body = `Join the video meeting here: ${link}`;
  return `mailto:?subject=${encodeURIComponent(subject)}&body=${encodeURIComponent(body)}`;
}
