// The participants panel: who is here, and whether their microphone and camera are on.

import { h } from './dom.js';

/** @typedef {import('./protocol.js').Participant} Participant */

export class ParticipantsPanel {
  constructor() {
    this.count = h('span', { class: 'count' });
    this.list = h('ul', { class: 'people', 'aria-label': 'Participants' });
    this.el = h('aside', { class: 'panel', hidden: true, 'aria-labelledby': 'participants-heading' },
      h('h2', { id: 'participants-heading' }, 'Participants ', this.count),
      this.list,
    );
    /** @type {Map<string, HTMLLIElement>} */
    this.items = new Map();
  }

  /**
   * @param {Participant} p
   * @param {boolean} isLocal
   */
  upsert(p, isLocal) {
    let li = this.items.get(p.id);
    if (!li) {
      li = h('li', { 'data-participant-id': p.id });
      this.items.set(p.id, li);
      if (isLocal) this.list.prepend(li);
      else this.list.append(li);
    }
    li.setAttribute('aria-label', p.name);
    const state = [p.audio ? 'microphone on' : 'microphone off', p.video ? 'camera on' : 'camera off'].join(', ');
    li.replaceChildren(
      h('span', { class: 'person-name', text: isLocal ? `${p.name} (you)` : p.name }),
      h('span', { class: 'person-state', text: state }),
    );
  }

  /** @param {string} id */
  remove(id) {
    this.items.get(id)?.remove();
    this.items.delete(id);
  }

  /** @param {number} n */
  setCount(n) {
    this.count.textContent = `(${n})`;
  }

  /** Shows or hides the panel; returns whether it is now shown. */
  toggle() {
    this.el.hidden = !this.el.hidden;
    return !this.el.hidden;
  }
}
