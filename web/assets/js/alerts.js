// The meeting's alert area, under its header: short notes (toasts), non-fatal errors (a
// `role=alert` with **Dismiss**), and the one "Connection lost." alert with **Rejoin**. The
// reconnection banner (`role=status` "Reconnecting…") lives here too.

import { h } from './dom.js';

export class Alerts {
  constructor() {
    this.el = h('div', { class: 'alerts' });
  }

  /** @param {HTMLElement} node kept at the top (the reconnection banner) */
  pin(node) {
    this.el.append(node);
  }

  /** @param {string} text a note that goes away by itself */
  toast(text) {
    const t = h('p', { class: 'toast', text });
    this.el.append(t);
    // At most two at a time, so that a burst (several knocks) does not push the tiles away.
    const toasts = this.el.querySelectorAll('.toast');
    for (let i = 0; i < toasts.length - 2; i++) toasts[i].remove();
    window.setTimeout(() => t.remove(), 3000);
  }

  /** @param {string} message a non-fatal error; replaces the previous one */
  error(message) {
    const alert = h(
      'div',
      { role: 'alert', class: 'alert' },
      h('p', { text: message }),
      h('button', { type: 'button', text: 'Dismiss', onclick: () => alert.remove() }),
    );
    this.el.querySelectorAll('.alert:not(.alert-lost)').forEach((a) => a.remove());
    this.el.append(alert);
  }

  /**
   * The meeting is over for this page: everything else goes, one alert with **Rejoin** stays.
   * @param {string} message
   * @param {() => void} rejoin
   */
  lost(message, rejoin) {
    const button = h('button', { type: 'button', class: 'primary', text: 'Rejoin', onclick: rejoin });
    this.el.replaceChildren(h('div', { role: 'alert', class: 'alert alert-lost' }, h('p', { text: message }), button));
  }

  /** @param {string} text a note about the devices, shown once the meeting view is up */
  note(text) {
    this.el.append(h('p', { class: 'device-note', text }));
  }
}
