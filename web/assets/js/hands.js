// The raised-hands queue, shown to everyone at the top of the Participants panel: whoever raised
// their hand first is first (ordered by the server's `hand_seq`).

import { h } from './dom.js';

/** @typedef {import('./protocol.js').Participant} Participant */

/**
 * Orders raised hands: by `hand_seq`, then (for an older server without it) by arrival here.
 * @param {{seq: number | null, arrival: number}} a
 * @param {{seq: number | null, arrival: number}} b
 */
export function handOrder(a, b) {
  if (a.seq !== null && b.seq !== null && a.seq !== b.seq) return a.seq - b.seq;
  if (a.seq !== null && b.seq === null) return -1;
  if (a.seq === null && b.seq !== null) return 1;
  return a.arrival - b.arrival;
}

export class HandQueue {
  constructor() {
    /** @type {Map<string, {name: string, local: boolean, seq: number | null, arrival: number}>} */
    this.raised = new Map();
    this.arrivals = 0;
    this.list = h('ol', { class: 'hand-queue', 'aria-label': 'Raised hands' });
    this.none = h('p', { class: 'hint hand-none', text: 'Nobody has raised their hand.' });
    this.el = h(
      'section',
      { class: 'hands-section', 'aria-labelledby': 'hands-heading' },
      h('h3', { id: 'hands-heading', text: 'Raised hands' }),
      this.none,
      this.list,
    );
    this.#render();
  }

  /**
   * Follows one person's hand.
   * @param {Participant} p
   * @param {boolean} isLocal
   */
  update(p, isLocal) {
    const was = this.raised.get(p.id);
    if (!p.hand_raised) {
      if (was) {
        this.raised.delete(p.id);
        this.#render();
      }
      return;
    }
    const seq = typeof p.hand_seq === 'number' ? p.hand_seq : null;
    const next = { name: p.name, local: isLocal, seq, arrival: was && was.seq === seq ? was.arrival : ++this.arrivals };
    if (was && was.name === next.name && was.seq === next.seq) return;
    this.raised.set(p.id, next);
    this.#render();
  }

  /** @param {string} id */
  remove(id) {
    if (this.raised.delete(id)) this.#render();
  }

  /** Ids in queue order. */
  order() {
    return [...this.raised].sort((a, b) => handOrder(a[1], b[1])).map(([id]) => id);
  }

  #render() {
    const items = [...this.raised].sort((a, b) => handOrder(a[1], b[1]));
    this.list.replaceChildren(
      ...items.map(([id, e]) => {
        const name = e.local ? `${e.name} (you)` : e.name;
        return h('li', { 'data-participant-id': id, 'aria-label': name }, h('span', { class: 'person-name', text: name }));
      }),
    );
    this.list.hidden = items.length === 0;
    this.none.hidden = items.length > 0;
  }
}
