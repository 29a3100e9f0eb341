// Keyboard shortcuts of the meeting view: each one presses a toolbar control by its accessible
// name (so a shortcut does exactly what the button does), and ? opens a help dialog. They are
// off while typing in a text field, while a dialog is open, and with Control, Alt or Meta held.

import { h, announce } from './dom.js';
import { ModalDialog } from './dialog.js';
import { keyboardIcon } from './icons.js';

/**
 * The shortcuts: `key` as typed (case-insensitive for letters), `control` the toolbar control's
 * accessible name it presses (null: the help dialog).
 * @type {readonly {key: string, label: string, action: string, control: string | null}[]}
 */
export const SHORTCUTS = Object.freeze([
  { key: 'm', label: 'M', action: 'Turn the microphone on or off', control: 'Microphone' },
  { key: 'v', label: 'V', action: 'Turn the camera on or off', control: 'Camera' },
  { key: 'c', label: 'C', action: 'Open or close the chat', control: 'Chat' },
  { key: 'r', label: 'R', action: 'Raise or lower your hand', control: 'Raise hand' },
  { key: 's', label: 'S', action: 'Share your screen, or stop sharing', control: 'Share screen' },
  { key: '?', label: '?', action: 'Show these keyboard shortcuts', control: null },
]);

/**
 * Whether a key press happens in a place that takes text (shortcuts stay out of its way).
 * @param {EventTarget | null} target
 */
export function isTextEntry(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (target instanceof HTMLInputElement) {
    return !['button', 'checkbox', 'radio', 'submit', 'reset', 'range', 'color', 'file', 'image'].includes(target.type);
  }
  return target.getAttribute('role') === 'textbox' || target.getAttribute('role') === 'combobox';
}

/**
 * The accessible name of a toolbar button as this client builds them (aria-label, else the
 * visible label).
 * @param {HTMLElement} b
 */
function controlName(b) {
  return (b.getAttribute('aria-label') ?? b.querySelector('.label')?.textContent ?? b.textContent ?? '').trim();
}

export class Shortcuts {
  /** @param {HTMLElement} toolbar the meeting's toolbar */
  constructor(toolbar) {
    this.toolbar = toolbar;
    this.dialog = new ModalDialog({ title: 'Keyboard shortcuts', class: 'shortcuts-dialog' });
    this.dialog.body.append(
      h('p', { class: 'hint', text: 'These work anywhere in the meeting except while you type in a text field or a dialog is open. Tab and the arrow keys reach every control.' }),
      h(
        'table',
        { class: 'shortcuts-table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Key' }), h('th', { scope: 'col', text: 'Action' }))),
        h('tbody', {}, ...SHORTCUTS.map((s) => h('tr', {}, h('td', {}, h('kbd', { text: s.label })), h('td', { text: s.action })))),
      ),
    );
    this.helpButton = h(
      'button',
      { type: 'button', class: 'small help-button', 'aria-haspopup': 'dialog', 'aria-keyshortcuts': '?', onclick: () => this.openHelp() },
      h('span', { class: 'icon', 'aria-hidden': 'true' }, keyboardIcon()),
      h('span', { class: 'label', text: 'Keyboard shortcuts' }),
    );
    /** @param {KeyboardEvent} ev */
    this.onKey = (ev) => this.#key(ev);
    this.installed = false;
  }

  /** Starts listening (meeting view shown) and marks the controls with aria-keyshortcuts. */
  install() {
    if (this.installed) return;
    this.installed = true;
    document.addEventListener('keydown', this.onKey);
    this.markControls();
  }

  /** Puts `aria-keyshortcuts` on the toolbar controls that have a shortcut (call again if the toolbar changes). */
  markControls() {
    for (const s of SHORTCUTS) {
      if (!s.control) continue;
      this.#find(s.control)?.setAttribute('aria-keyshortcuts', s.label);
    }
  }

  uninstall() {
    this.installed = false;
    document.removeEventListener('keydown', this.onKey);
    this.dialog.destroy();
  }

  openHelp() {
    this.dialog.open();
  }

  /** @param {string} name */
  #find(name) {
    return /** @type {HTMLButtonElement[]} */ ([...this.toolbar.querySelectorAll('button')]).find((b) => controlName(b) === name) ?? null;
  }

  /** @param {KeyboardEvent} ev */
  #key(ev) {
    if (ev.defaultPrevented || ev.repeat || ev.isComposing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (isTextEntry(ev.target)) return;
    if (document.querySelector('dialog[open]')) return;
    const key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    const s = SHORTCUTS.find((x) => x.key === key);
    if (!s) return;
    ev.preventDefault();
    if (!s.control) {
      this.openHelp();
      return;
    }
    const b = this.#find(s.control);
    if (!b || b.disabled || b.hidden) {
      announce(`${s.control} is not available`);
      return;
    }
    b.click();
    if (s.control === 'Chat') return; // opening the chat moves focus to the Message box
    // Focus stays where it was: say the new state in words.
    window.setTimeout(() => {
      const pressed = b.getAttribute('aria-pressed');
      if (pressed === null) return;
      const on = pressed === 'true';
      const said =
        s.control === 'Raise hand' ? (on ? 'Hand raised' : 'Hand lowered') : s.control === 'Share screen' ? (on ? 'Sharing your screen' : 'Screen sharing stopped') : `${s.control} ${on ? 'on' : 'off'}`;
      announce(said);
    }, 400);
  }
}
