// Modal dialogs on the native <dialog> element: the rest of the page is inert while one is
// open, Tab stays inside, Escape closes, and focus goes back to where it was.

import { h } from './dom.js';

/** @typedef {import('./dom.js').Child} Child */

let nextId = 0;

/** A modal dialog named by its heading. */
export class ModalDialog {
  /**
   * @param {{title: string, class?: string, onClose?: () => void}} o
   */
  constructor(o) {
    const id = `dialog-title-${++nextId}`;
    this.heading = h('h2', { id, class: 'dialog-title', text: o.title });
    this.body = h('div', { class: 'dialog-body' });
    this.closeButton = h('button', { type: 'button', class: 'dialog-close', text: 'Close', onclick: () => this.close() });
    this.el = h(
      'dialog',
      { class: `dialog ${o.class ?? ''}`.trim(), 'aria-labelledby': id },
      h('div', { class: 'dialog-head' }, this.heading, this.closeButton),
      this.body,
    );
    this.onClose = o.onClose ?? null;
    /** @type {HTMLElement | null} */
    this.returnFocus = null;
    this.el.addEventListener('close', () => {
      const back = this.returnFocus;
      this.returnFocus = null;
      if (back && back.isConnected) back.focus();
      this.onClose?.();
    });
    this.el.addEventListener('keydown', (ev) => this.#trapTab(ev));
    // A click on the backdrop (outside the box) closes too.
    this.el.addEventListener('click', (ev) => {
      if (ev.target === this.el) {
        const r = this.el.getBoundingClientRect();
        const inside = ev.clientX >= r.left && ev.clientX <= r.right && ev.clientY >= r.top && ev.clientY <= r.bottom;
        if (!inside) this.close();
      }
    });
  }

  get isOpen() {
    return this.el.open;
  }

  /**
   * Opens the dialog (attached to `document.body` if it is not in the page yet).
   * @param {HTMLElement | null} [focus] what gets focus inside (else the first control)
   */
  open(focus = null) {
    if (!this.el.isConnected) document.body.append(this.el);
    if (!this.el.open) {
      this.returnFocus = document.activeElement instanceof HTMLElement ? document.activeElement : null;
      this.el.showModal();
    }
    const target = focus ?? this.#focusables()[0] ?? this.closeButton;
    target.focus();
  }

  close() {
    if (this.el.open) this.el.close();
  }

  /** Removes the dialog from the page. */
  destroy() {
    this.onClose = null;
    this.close();
    this.el.remove();
  }

  /** @returns {HTMLElement[]} */
  #focusables() {
    return /** @type {HTMLElement[]} */ ([...this.el.querySelectorAll('button, input, select, textarea, a[href], [tabindex]:not([tabindex="-1"])')]).filter(
      (e) => !(/** @type {HTMLButtonElement} */ (e).disabled) && !e.closest('[hidden]') && e !== this.closeButton,
    ).concat([this.closeButton]);
  }

  /** @param {KeyboardEvent} ev */
  #trapTab(ev) {
    if (ev.key !== 'Tab') return;
    const items = this.#focusables();
    if (items.length === 0) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (ev.shiftKey && document.activeElement === first) {
      ev.preventDefault();
      last.focus();
    } else if (!ev.shiftKey && document.activeElement === last) {
      ev.preventDefault();
      first.focus();
    }
  }
}

/**
 * Asks a yes/no question in a small modal dialog.
 * @param {{title: string, text: string, confirm: string, danger?: boolean}} o
 * @returns {Promise<boolean>}
 */
export function confirmDialog(o) {
  return new Promise((resolve) => {
    let answer = false;
    const d = new ModalDialog({ title: o.title, class: 'dialog-small', onClose: () => { d.el.remove(); resolve(answer); } });
    const yes = h('button', { type: 'button', class: o.danger ? 'danger' : 'primary', text: o.confirm, onclick: () => { answer = true; d.close(); } });
    const no = h('button', { type: 'button', text: 'Cancel', onclick: () => d.close() });
    d.body.append(h('p', { text: o.text }), h('div', { class: 'actions' }, yes, no));
    d.open(no);
  });
}
