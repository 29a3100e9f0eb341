// Small full-page views: after leaving, after a fatal error, and for a bad room address.

import { h, showView, focusQuietly } from './dom.js';

/**
 * @param {HTMLElement} root
 * @param {string} room
 * @param {() => void} onRejoin
 */
export function renderLeft(root, room, onRejoin) {
  const heading = h('h1', { text: 'You left the meeting' });
  showView(
    root,
    `${room} · Moot`,
    h(
      'div',
      { class: 'card message-page' },
      heading,
      h('p', {}, 'You left ', h('strong', { text: room }), '. Your camera and microphone are off.'),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', text: 'Rejoin', onclick: onRejoin }), h('a', { href: '/', class: 'button-link', text: 'Home' })),
    ),
  );
  focusQuietly(heading);
}

/**
 * The server ended the session with a fatal error.
 * @param {HTMLElement} root
 * @param {string} room
 * @param {string} message the server's human-readable text (shown as text only)
 * @param {(() => void) | null} onRetry offered when trying again may help
 */
export function renderFatal(root, room, message, onRetry) {
  const heading = h('h1', { text: 'You are not in the meeting' });
  showView(
    root,
    `${room} · Moot`,
    h(
      'div',
      { class: 'card message-page' },
      heading,
      h('p', { role: 'alert', class: 'alert-text', text: message }),
      h(
        'div',
        { class: 'actions' },
        onRetry ? h('button', { type: 'button', class: 'primary', text: 'Try again', onclick: onRetry }) : null,
        h('button', { type: 'button', class: onRetry ? 'secondary' : 'primary', text: 'Back to home', onclick: () => location.assign('/') }),
      ),
    ),
  );
  focusQuietly(heading);
}

/**
 * The address does not name a valid room.
 * @param {HTMLElement} root
 * @param {string} problem
 */
export function renderBadRoom(root, problem) {
  const heading = h('h1', { text: 'This is not a valid meeting address' });
  showView(
    root,
    'Moot',
    h(
      'div',
      { class: 'card message-page' },
      heading,
      h('p', { role: 'alert', class: 'alert-text', text: problem }),
      h('div', { class: 'actions' }, h('a', { href: '/', class: 'button-link primary', text: 'Back to home' })),
    ),
  );
}
