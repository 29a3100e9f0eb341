// The chat panel: group and private messages (Send to), an unread count on the Chat toggle,
// errors in the panel, and polite announcements of new messages while the panel is closed.
//
// Messages are rendered strictly as text: every piece of a message goes in through a text node;
// only http(s) addresses become links (built with the DOM API, never from HTML), opening in a new
// tab with rel="noopener noreferrer".

import { h, announce, toggleButton, setPressed } from './dom.js';
import { chatIcon } from './icons.js';
import { MAX_CHAT_CHARS } from './protocol.js';
import { MAX_E2EE_CHAT_BYTES, utf8Length } from './e2ee.js';

/** @typedef {import('./protocol.js').ChatEntry} ChatEntry */
/**
 * A message as the panel shows it: `text` is what to show (the plaintext once decrypted), and
 * in an end-to-end encrypted meeting `e2ee` says whether it was encrypted, could not be
 * decrypted (`text` is then UNDECRYPTABLE, never the ciphertext) or came in clear.
 * @typedef {ChatEntry & {e2ee?: 'encrypted' | 'undecryptable' | 'clear'}} ShownChat
 */

/** What a message that could not be decrypted shows instead of its text. */
export const UNDECRYPTABLE = '(could not decrypt this message)';

/** Messages kept on the page (the oldest go first). */
const KEEP_MESSAGES = 500;
/** How much of a message an announcement reads out. */
const ANNOUNCE_CHARS = 140;

/** Candidate addresses: http:// or https:// up to white space or a character that ends one. */
const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
/** Punctuation that ends a sentence rather than an address. */
const TRAILING = /[.,;:!?)\]}»”’]+$/;

/**
 * Splits chat text into text pieces and safe links. Only absolute http: and https: addresses
 * become links; everything else (including `javascript:` or `data:` addresses) stays text.
 * @param {string} text
 * @returns {(string | HTMLAnchorElement)[]}
 */
export function linkify(text) {
  /** @type {(string | HTMLAnchorElement)[]} */
  const out = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    const start = m.index ?? 0;
    let raw = m[0];
    const tail = TRAILING.exec(raw);
    if (tail) raw = raw.slice(0, raw.length - tail[0].length);
    const href = safeHref(raw);
    if (!href) continue;
    if (start > last) out.push(text.slice(last, start));
    out.push(h('a', { href, target: '_blank', rel: 'noopener noreferrer', text: raw }));
    last = start + raw.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/**
 * The normalised address if `raw` is an absolute http(s) URL, else null.
 * @param {string} raw
 * @returns {string | null}
 */
export function safeHref(raw) {
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * Length as the server counts it: Unicode scalar values after trimming.
 * @param {string} text
 */
export function chatLength(text) {
  return [...text.trim()].length;
}

/**
 * @typedef {{
 *   send: (text: string, to: string | null) => void,
 * }} ChatActions
 */

export class ChatPanel {
  /** @param {ChatActions} actions */
  constructor(actions) {
    this.actions = actions;
    /** My participant id (set on welcome). */
    this.me = '';
    /** Everyone else, by id → name (the Send to choices). */
    /** @type {Map<string, string>} */
    this.people = new Map();
    /** @type {Set<number>} */
    this.seen = new Set();
    this.unread = 0;
    /** Text sent and not yet echoed by the server (put back if the server refuses it). */
    /** @type {string | null} */
    this.pending = null;
    /** End-to-end encrypted meeting: the limit is in UTF-8 bytes of the plaintext. */
    this.encrypted = false;

    this.unreadText = h('span', { id: 'chat-unread', class: 'visually-hidden' });
    this.badge = h('span', { class: 'unread-badge', 'aria-hidden': 'true', hidden: true });
    this.toggle = toggleButton({ label: 'Chat', icon: chatIcon, pressed: false, onclick: () => this.setOpen(!this.shown) });
    this.toggle.setAttribute('aria-controls', 'chat-panel');
    this.toggle.setAttribute('aria-describedby', 'chat-unread');
    // The count is the toggle's description (outside it, so that its name stays "Chat").
    this.toggle.append(this.badge);

    this.log = h('div', { role: 'log', 'aria-label': 'Messages', class: 'chat-log', tabindex: '0' });
    this.empty = h('p', { class: 'hint chat-empty', text: 'No messages yet. Messages are not kept after the meeting.' });
    this.error = h('div', { class: 'error-slot chat-error' });
    this.to = h('select', { id: 'chat-to' });
    this.to.addEventListener('change', () => this.#renderPrivacy());
    this.input = h('textarea', { id: 'chat-input', rows: '3', 'aria-describedby': 'chat-count chat-privacy', autocomplete: 'off' });
    this.count = h('p', { id: 'chat-count', class: 'chat-count' });
    this.privacy = h('p', { id: 'chat-privacy', class: 'hint chat-privacy' });
    this.sendButton = h('button', { type: 'submit', class: 'primary', text: 'Send' });
    this.input.addEventListener('input', () => this.#renderCount());
    this.input.addEventListener('keydown', (ev) => {
      // Enter sends, Shift+Enter makes a new line.
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this.#submit();
      }
    });
    this.form = h(
      'form',
      { class: 'chat-form', onsubmit: (/** @type {SubmitEvent} */ ev) => { ev.preventDefault(); this.#submit(); } },
      h('div', { class: 'chat-to-row' }, h('label', { for: 'chat-to', text: 'Send to' }), this.to),
      h('label', { for: 'chat-input', text: 'Message' }),
      this.input,
      h('div', { class: 'chat-send-row' }, this.count, this.sendButton),
      this.privacy,
    );
    this.el = h(
      'aside',
      { id: 'chat-panel', class: 'panel chat-panel', hidden: true, 'aria-labelledby': 'chat-heading' },
      h('h2', { id: 'chat-heading', text: 'Chat' }),
      this.unreadText,
      this.empty,
      this.log,
      this.error,
      this.form,
    );
    // Escape in the panel closes it and gives focus back to the Chat toggle.
    this.el.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Escape' || ev.defaultPrevented) return;
      ev.preventDefault();
      this.setOpen(false);
      this.toggle.focus();
    });
    this.#renderChoices();
    this.#renderCount();
  }

  get shown() {
    return !this.el.hidden;
  }

  /**
   * Opens (focusing the Message box) or closes the panel.
   * @param {boolean} open
   */
  setOpen(open) {
    this.el.hidden = !open;
    setPressed(this.toggle, open, chatIcon);
    if (open) {
      this.#setUnread(0);
      this.log.scrollTop = this.log.scrollHeight;
      this.input.focus();
    }
  }

  /** @param {string} id */
  setMe(id) {
    this.me = id;
  }

  /**
   * Someone is here (or changed their name): a Send to choice.
   * @param {string} id
   * @param {string} name
   */
  upsertPerson(id, name) {
    if (id === this.me) return;
    if (this.people.get(id) === name) return;
    this.people.set(id, name);
    this.#renderChoices();
  }

  /** @param {string} id */
  removePerson(id) {
    if (!this.people.delete(id)) return;
    const wasChosen = this.to.value === id;
    this.#renderChoices();
    if (wasChosen) this.showError('The person you were writing to left the meeting: your next message goes to everyone.');
  }

  /** Offers "Everyone" and each other person, keeping the current choice if still there. */
  #renderChoices() {
    const chosen = this.to.value;
    const options = [h('option', { value: '', text: 'Everyone' })];
    const sorted = [...this.people].sort((a, b) => a[1].localeCompare(b[1]));
    for (const [id, name] of sorted) options.push(h('option', { value: id, text: name }));
    this.to.replaceChildren(...options);
    this.to.value = this.people.has(chosen) ? chosen : '';
    this.#renderPrivacy();
  }

  #renderPrivacy() {
    const id = this.to.value;
    this.privacy.textContent = id ? `Private: only ${this.people.get(id) ?? 'they'} and you see this message.` : '';
    this.form.classList.toggle('chat-form-private', !!id);
  }

  /**
   * The meeting is (or is not) end-to-end encrypted: an encrypted message takes more room than
   * its text, so its limit is MAX_E2EE_CHAT_BYTES bytes of UTF-8 (docs/e2ee.md).
   * @param {boolean} on
   */
  setEncrypted(on) {
    if (this.encrypted === on) return;
    this.encrypted = on;
    this.#renderCount();
  }

  /** @param {string} text @returns {{n: number, max: number, unit: string}} */
  #measure(text) {
    return this.encrypted
      ? { n: utf8Length(text.trim()), max: MAX_E2EE_CHAT_BYTES, unit: 'bytes' }
      : { n: chatLength(text), max: MAX_CHAT_CHARS, unit: 'characters' };
  }

  #renderCount() {
    const { n, max, unit } = this.#measure(this.input.value);
    const over = n > max;
    const suffix = this.encrypted ? ' bytes' : '';
    this.count.textContent = over ? `${n} / ${max} ${unit}: too long` : `${n} / ${max}${suffix}`;
    this.count.classList.toggle('over', over);
    if (over) this.input.setAttribute('aria-invalid', 'true');
    else this.input.removeAttribute('aria-invalid');
  }

  #submit() {
    const text = this.input.value.trim();
    const { n, max } = this.#measure(text);
    if (n === 0) {
      this.showError('Type a message first.');
      this.input.focus();
      return;
    }
    if (n > max) {
      this.showError(
        this.encrypted
          ? `An end-to-end encrypted message may have at most ${max} bytes (a letter without accent counts 1, most others 2 or 3, an emoji 4); this one has ${n}.`
          : `A message may have at most ${max} characters; this one has ${n}.`,
      );
      this.input.focus();
      return;
    }
    this.error.replaceChildren();
    this.pending = text;
    this.actions.send(text, this.to.value || null);
    this.input.value = '';
    this.#renderCount();
    this.input.focus();
  }

  /**
   * The server refused something the panel sent: say why, and give the text back.
   * @param {string} message
   */
  refused(message) {
    if (this.pending !== null && this.input.value.trim() === '') {
      this.input.value = this.pending;
      this.#renderCount();
    }
    this.pending = null;
    this.showError(message);
    if (!this.shown) {
      this.setOpen(true);
    }
  }

  /** @param {string} message */
  showError(message) {
    this.error.replaceChildren(h('p', { role: 'alert', text: message }));
  }

  /**
   * Shows earlier group messages (sent right after `welcome` when the room shares them). In an
   * end-to-end encrypted meeting, `unreadable` earlier messages (encrypted before we joined, so
   * under keys we never get) are not shown one by one: one note says how many there were.
   * @param {ShownChat[]} messages
   * @param {number} [unreadable]
   */
  history(messages, unreadable = 0) {
    const fresh = messages.filter((m) => !this.seen.has(m.seq));
    if (fresh.length === 0 && unreadable === 0) return;
    this.log.append(h('p', { class: 'chat-separator', text: 'Earlier messages' }));
    if (unreadable > 0) {
      const what = unreadable === 1 ? '1 earlier message was' : `${unreadable} earlier messages were`;
      this.log.append(h('p', { class: 'hint chat-note', text: `${what} end-to-end encrypted before you joined: you cannot read ${unreadable === 1 ? 'it' : 'them'}.` }));
      this.empty.hidden = true;
    }
    for (const m of fresh) this.#add(m);
  }

  /**
   * A new message: shown, counted as unread while the panel is closed, and announced then.
   * @param {ShownChat} m
   */
  receive(m) {
    if (this.seen.has(m.seq)) return;
    const mine = m.from === this.me;
    if (mine && this.pending !== null && this.pending === m.text) {
      this.pending = null;
      this.error.replaceChildren();
    }
    this.#add(m);
    if (mine || this.shown) return;
    this.#setUnread(this.unread + 1);
    const short = [...m.text].length > ANNOUNCE_CHARS ? `${[...m.text].slice(0, ANNOUNCE_CHARS).join('')}…` : m.text;
    const clear = m.e2ee === 'clear' ? ' (not encrypted)' : '';
    announce(m.to ? `Private message from ${m.name}${clear}: ${short}` : `Message from ${m.name}${clear}: ${short}`);
  }

  /** @param {ShownChat} m */
  #add(m) {
    this.seen.add(m.seq);
    const mine = m.from === this.me;
    const isPrivate = m.to !== null;
    const stick = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    const who = mine ? 'You' : m.name;
    /** @type {import('./dom.js').Child[]} */
    const meta = [h('span', { class: 'chat-from', text: who })];
    if (isPrivate) {
      const other = mine ? this.people.get(m.to ?? '') ?? 'someone who left' : 'you';
      meta.push(h('span', { class: 'chat-private-label', text: `private, to ${other}` }));
    }
    // In an encrypted meeting a message in clear is never shown silently as if it were encrypted.
    if (m.e2ee === 'clear') meta.push(h('span', { class: 'chat-clear-label', text: 'not encrypted' }));
    meta.push(h('time', { class: 'chat-time', text: new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) }));
    const item = h(
      'div',
      { class: `chat-msg${mine ? ' chat-mine' : ''}${isPrivate ? ' chat-private' : ''}`, 'data-seq': String(m.seq), 'data-private': String(isPrivate), 'data-e2ee': m.e2ee ?? 'off' },
      h('p', { class: 'chat-meta' }, ...meta),
      m.e2ee === 'undecryptable'
        ? h('p', { class: 'chat-text chat-undecryptable', text: UNDECRYPTABLE })
        : h('p', { class: 'chat-text' }, ...linkify(m.text)),
    );
    this.log.append(item);
    this.empty.hidden = true;
    const items = this.log.querySelectorAll('.chat-msg');
    for (let i = 0; i < items.length - KEEP_MESSAGES; i++) items[i].remove();
    if (stick || mine) this.log.scrollTop = this.log.scrollHeight;
  }

  /** @param {number} n */
  #setUnread(n) {
    this.unread = n;
    this.badge.hidden = n === 0;
    this.badge.textContent = n > 99 ? '99+' : String(n);
    this.unreadText.textContent = n === 0 ? '' : n === 1 ? '1 unread message' : `${n} unread messages`;
  }
}
