// Reactions: a toolbar button "Reactions" opens a small bar of the six emoji (each a button
// "Send 👍 reaction" …); a reaction shows briefly over the sender's tile and is announced.

import { h, announce } from './dom.js';
import { smileIcon } from './icons.js';
import { REACTIONS } from './protocol.js';

/** Words for each reaction (tooltips and announcements). */
export const REACTION_WORDS = /** @type {Record<string, string>} */ ({
  '👍': 'thumbs up',
  '👏': 'applause',
  '😂': 'laughter',
  '😮': 'surprise',
  '❤️': 'love',
  '🎉': 'celebration',
});

/** How long a reaction stays over a tile. */
export const REACTION_MS = 4000;

/** The accessible name of a reaction's button. @param {string} emoji */
export const reactionButtonName = (emoji) => `Send ${emoji} reaction`;

export class ReactionsMenu {
  /** @param {{send: (emoji: string) => void}} actions */
  constructor(actions) {
    this.button = h(
      'button',
      { type: 'button', class: 'tool', 'aria-expanded': 'false', 'aria-controls': 'reactions-menu', onclick: () => this.setOpen(!this.shown) },
      h('span', { class: 'icon', 'aria-hidden': 'true' }, smileIcon(true)),
      h('span', { class: 'label', text: 'Reactions' }),
    );
    this.buttons = REACTIONS.map((emoji) =>
      h('button', { type: 'button', class: 'reaction', 'aria-label': reactionButtonName(emoji), title: REACTION_WORDS[emoji] ?? emoji, text: emoji, onclick: () => actions.send(emoji) }),
    );
    this.status = h('div', { class: 'error-slot reactions-error' });
    this.menu = h(
      'div',
      { id: 'reactions-menu', role: 'group', 'aria-label': 'Reactions', class: 'reactions-menu', hidden: true },
      h('div', { class: 'reaction-row' }, ...this.buttons),
      this.status,
    );
    this.menu.addEventListener('keydown', (ev) => this.#keys(ev));
    this.menu.addEventListener('focusout', (ev) => {
      const next = /** @type {Node | null} */ (ev.relatedTarget);
      if (next && !this.menu.contains(next) && next !== this.button) this.setOpen(false, false);
    });
    /** @type {number} */
    this.errorTimer = 0;
  }

  get shown() {
    return !this.menu.hidden;
  }

  /**
   * @param {boolean} open
   * @param {boolean} [moveFocus] focus the first reaction (open) or the Reactions button (close)
   */
  setOpen(open, moveFocus = true) {
    this.menu.hidden = !open;
    this.button.setAttribute('aria-expanded', String(open));
    if (!moveFocus) return;
    if (open) this.buttons[0].focus();
    else this.button.focus();
  }

  /** @param {KeyboardEvent} ev */
  #keys(ev) {
    if (ev.key === 'Escape') {
      ev.preventDefault();
      ev.stopPropagation();
      this.setOpen(false);
      return;
    }
    if (!['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(ev.key)) return;
    const i = this.buttons.indexOf(/** @type {HTMLButtonElement} */ (document.activeElement));
    if (i < 0) return;
    ev.preventDefault();
    const n = this.buttons.length;
    const next = ev.key === 'Home' ? 0 : ev.key === 'End' ? n - 1 : (i + (ev.key === 'ArrowRight' ? 1 : -1) + n) % n;
    this.buttons[next].focus();
  }

  /**
   * The server refused a reaction (too fast, or not one of the six).
   * @param {string} message
   */
  refused(message) {
    this.status.replaceChildren(h('p', { role: 'alert', text: message }));
    window.clearTimeout(this.errorTimer);
    this.errorTimer = window.setTimeout(() => this.status.replaceChildren(), 5000);
  }
}

/**
 * Shows a reaction over a tile for a few seconds (hidden from assistive technology: the caller
 * announces it in words).
 * @param {HTMLElement} where a tile, or any positioned element
 * @param {string} emoji
 * @param {string} [who] a name to show with it (when not over that person's tile)
 */
export function showReaction(where, emoji, who) {
  const el = h('span', { class: `tile-reaction${who ? ' reaction-named' : ''}`, 'aria-hidden': 'true', 'data-emoji': emoji, text: who ? `${who} ${emoji}` : emoji });
  where.append(el);
  window.setTimeout(() => el.remove(), REACTION_MS);
  return el;
}

/**
 * Says a reaction in words.
 * @param {string} name
 * @param {string} emoji
 * @param {boolean} mine
 */
export function announceReaction(name, emoji, mine) {
  const word = REACTION_WORDS[emoji] ?? emoji;
  announce(mine ? `You reacted with ${word} ${emoji}` : `${name} reacted with ${word} ${emoji}`);
}
