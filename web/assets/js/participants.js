// The participants panel: who is here, their microphone, camera, hand and role; for
// moderators, the per-person and room-wide moderation buttons and the lobby.

import { h } from './dom.js';
import { handIcon } from './icons.js';

/** @typedef {import('./protocol.js').Participant} Participant */
/** @typedef {import('./protocol.js').LobbyEntry} LobbyEntry */
/** @typedef {import('./protocol.js').TrackKind} TrackKind */

/**
 * What the moderation buttons do (the meeting sends the messages; the server decides).
 * @typedef {{
 *   mute: (p: Participant, kind: TrackKind) => void,
 *   allowUnmute: (p: Participant) => void,
 *   remove: (p: Participant) => void,
 *   makeModerator: (p: Participant) => void,
 *   muteAll: (kind: TrackKind) => void,
 *   admit: (e: LobbyEntry) => void,
 *   reject: (e: LobbyEntry) => void,
 *   verify?: (p: Participant) => void,
 * }} ModerationActions
 */

/**
 * Where the end-to-end verification with one person stands: the code both sides should see,
 * and who has confirmed it.
 * @typedef {{code: string, byMe: boolean, byThem: boolean}} Verification
 */

/**
 * @param {string} text
 * @param {() => void} onclick
 * @param {string} [cls]
 */
const small = (text, onclick, cls = '') => h('button', { type: 'button', class: `small ${cls}`.trim(), text, onclick });

/** One person's entry: built once, updated in place (so a focused button survives updates). */
class PersonItem {
  /**
   * @param {Participant} p
   * @param {boolean} isLocal
   * @param {ModerationActions} actions
   */
  constructor(p, isLocal, actions) {
    this.p = p;
    this.isLocal = isLocal;
    this.name = h('span', { class: 'person-name' });
    this.badge = h('span', { class: 'badge', text: 'moderator' });
    this.hand = h('span', { class: 'person-hand' }, handIcon(true), h('span', { class: 'visually-hidden', text: 'hand raised' }));
    this.state = h('span', { class: 'person-state' });
    this.muteBtn = small('', () => actions.mute(this.p, 'audio'));
    this.stopVideoBtn = small('', () => actions.mute(this.p, 'video'));
    this.allowBtn = small('', () => actions.allowUnmute(this.p));
    this.makeModBtn = small('', () => actions.makeModerator(this.p));
    this.removeBtn = small('', () => actions.remove(this.p), 'danger');
    this.actions = h('div', { class: 'person-actions', hidden: true }, this.muteBtn, this.stopVideoBtn, this.allowBtn, this.makeModBtn, this.removeBtn);
    this.code = h('span', { class: 'verify-code' });
    this.verifyState = h('span', { class: 'verify-state' });
    this.verifyBtn = small('', () => actions.verify?.(this.p));
    this.verify = h('div', { class: 'person-verify', hidden: true }, this.code, this.verifyState, this.verifyBtn);
    this.el = h(
      'li',
      { 'data-participant-id': p.id },
      h('div', { class: 'person-line' }, this.name, this.badge, this.hand),
      this.state,
      this.verify,
      this.actions,
    );
  }

  /** @param {Verification | null} v */
  setVerification(v) {
    this.verify.hidden = !v;
    if (!v) return;
    const name = this.p.name;
    this.code.textContent = `Verification code: ${v.code}`;
    this.el.dataset.verified = String(v.byMe && v.byThem);
    this.verifyState.textContent = v.byMe && v.byThem ? 'verified' : v.byMe ? `waiting for ${name} to confirm` : v.byThem ? `${name} confirmed the code` : '';
    this.verifyBtn.textContent = `Mark ${name} as verified`;
    this.verifyBtn.hidden = v.byMe;
  }

  /**
   * @param {Participant} p
   * @param {boolean} canModerate whether the viewer is a moderator
   */
  update(p, canModerate) {
    this.p = p;
    this.el.setAttribute('aria-label', p.name);
    this.el.dataset.moderator = String(p.moderator);
    this.el.dataset.hand = String(p.hand_raised);
    this.name.textContent = this.isLocal ? `${p.name} (you)` : p.name;
    this.badge.hidden = !p.moderator;
    this.hand.hidden = !p.hand_raised;
    const mic = p.audio_blocked ? 'microphone off (muted by a moderator)' : p.audio ? 'microphone on' : 'microphone off';
    const cam = p.video_blocked ? 'camera off (stopped by a moderator)' : p.video ? 'camera on' : 'camera off';
    this.state.textContent = `${mic}, ${cam}`;
    this.muteBtn.textContent = `Mute ${p.name}`;
    this.stopVideoBtn.textContent = `Stop video of ${p.name}`;
    this.allowBtn.textContent = `Allow ${p.name} to unmute`;
    this.makeModBtn.textContent = `Make ${p.name} moderator`;
    this.removeBtn.textContent = `Remove ${p.name}`;
    this.actions.hidden = !canModerate || this.isLocal;
    this.muteBtn.hidden = p.audio_blocked;
    this.stopVideoBtn.hidden = p.video_blocked;
    this.allowBtn.hidden = !(p.audio_blocked || p.video_blocked);
    this.makeModBtn.hidden = p.moderator;
  }
}

export class ParticipantsPanel {
  /** @param {ModerationActions} actions */
  constructor(actions) {
    this.actions = actions;
    this.moderator = false;
    this.count = h('span', { class: 'count' });
    this.list = h('ul', { class: 'people', 'aria-label': 'Participants' });
    this.lobbyList = h('ul', { class: 'people lobby-list', 'aria-label': 'Lobby' });
    this.lobbyCount = h('span', { class: 'count' });
    this.lobbySection = h(
      'section',
      { class: 'lobby-section', hidden: true, 'aria-labelledby': 'lobby-heading' },
      h('h3', { id: 'lobby-heading' }, 'Waiting in the lobby ', this.lobbyCount),
      this.lobbyList,
    );
    this.roomActions = h(
      'div',
      { class: 'room-actions', hidden: true },
      small('Mute everyone', () => actions.muteAll('audio')),
      small('Stop everyone\'s video', () => actions.muteAll('video')),
    );
    this.el = h('aside', { class: 'panel', hidden: true, 'aria-labelledby': 'participants-heading' },
      h('h2', { id: 'participants-heading' }, 'Participants ', this.count),
      this.lobbySection,
      this.roomActions,
      this.list,
    );
    /** @type {Map<string, PersonItem>} */
    this.items = new Map();
    /** @type {LobbyEntry[]} */
    this.waiting = [];
  }

  /**
   * @param {Participant} p
   * @param {boolean} isLocal
   */
  upsert(p, isLocal) {
    let item = this.items.get(p.id);
    if (!item) {
      item = new PersonItem(p, isLocal, this.actions);
      this.items.set(p.id, item);
      if (isLocal) this.list.prepend(item.el);
      else this.list.append(item.el);
    }
    item.update(p, this.moderator);
  }

  /**
   * The verification code and marks for one person (null hides them).
   * @param {string} id
   * @param {Verification | null} v
   */
  setVerification(id, v) {
    this.items.get(id)?.setVerification(v);
  }

  /** @param {string} id */
  remove(id) {
    this.items.get(id)?.el.remove();
    this.items.delete(id);
  }

  /**
   * Shows or hides the moderation controls.
   * @param {boolean} on
   */
  setModerator(on) {
    this.moderator = on;
    this.roomActions.hidden = !on;
    for (const item of this.items.values()) item.update(item.p, on);
    this.setLobby(this.waiting);
  }

  /**
   * The people waiting in the lobby (shown to moderators only).
   * @param {LobbyEntry[]} waiting
   */
  setLobby(waiting) {
    this.waiting = waiting;
    this.lobbySection.hidden = !this.moderator || waiting.length === 0;
    this.lobbyCount.textContent = `(${waiting.length})`;
    // Keep focus sensible: rebuild, then put focus back on the same button if it still exists.
    const focused = document.activeElement instanceof HTMLElement && this.lobbyList.contains(document.activeElement) ? document.activeElement.textContent : null;
    this.lobbyList.replaceChildren(
      ...waiting.map((e) =>
        h(
          'li',
          { 'aria-label': e.name, 'data-participant-id': e.id },
          h('span', { class: 'person-name', text: e.name }),
          e.knock ? h('span', { class: 'knock', text: `“${e.knock}”` }) : null,
          h('div', { class: 'person-actions' }, small(`Admit ${e.name}`, () => this.actions.admit(e), 'primary'), small(`Reject ${e.name}`, () => this.actions.reject(e))),
        ),
      ),
    );
    if (focused) {
      const again = [...this.lobbyList.querySelectorAll('button')].find((b) => b.textContent === focused);
      (again ?? /** @type {HTMLElement | null} */ (this.lobbyList.querySelector('button')) ?? this.el.querySelector('h2'))?.focus();
    }
  }

  /** @param {number} n */
  setCount(n) {
    this.count.textContent = `(${n})`;
  }

  get shown() {
    return !this.el.hidden;
  }

  /** Shows or hides the panel; returns whether it is now shown. */
  toggle() {
    this.el.hidden = !this.el.hidden;
    return !this.el.hidden;
  }

  show() {
    this.el.hidden = false;
  }
}
