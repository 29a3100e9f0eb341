// The home page: pick (or accept) a room name and start a meeting.

import { h, showView } from './dom.js';
import { isGuessable } from './guessable.js';
import { generateRoomName, roomNameProblem } from './names.js';

export const GUESSABLE_WARNING =
  'This name is easy to guess: anyone could join. Use the suggested random name or a longer one.';

/** @param {HTMLElement} root */
export function renderHome(root) {
  const suggested = generateRoomName();
  const input = h('input', {
    id: 'room-name',
    type: 'text',
    name: 'room',
    value: suggested,
    autocomplete: 'off',
    autocapitalize: 'none',
    spellcheck: 'false',
    maxlength: '128',
    required: true,
    'aria-describedby': 'room-hint room-guess room-error',
  });
  const guess = h('p', { id: 'room-guess', role: 'status', class: 'warning' });
  const error = h('p', { id: 'room-error', class: 'error-slot' });

  const refreshWarning = () => {
    const name = input.value.trim();
    guess.textContent = name !== '' && roomNameProblem(name) === null && isGuessable(name) ? GUESSABLE_WARNING : '';
  };
  input.addEventListener('input', () => {
    error.replaceChildren();
    input.removeAttribute('aria-invalid');
    refreshWarning();
  });

  const form = h(
    'form',
    { class: 'card home-form', novalidate: true },
    h('label', { for: 'room-name', text: 'Room name' }),
    h('div', { class: 'row' }, input, h('button', { type: 'button', class: 'secondary', text: 'New random name', onclick: () => {
      input.value = generateRoomName();
      input.dispatchEvent(new Event('input'));
      input.focus();
    } })),
    h('p', { id: 'room-hint', class: 'hint', text: 'Anyone with the link can join, so a random name keeps strangers out. Letters, digits, "-" and "_".' }),
    guess,
    error,
    h('button', { type: 'submit', class: 'primary', text: 'Start meeting' }),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = input.value.trim();
    const problem = roomNameProblem(name);
    if (problem) {
      error.replaceChildren(h('span', { role: 'alert', text: problem }));
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    location.assign(`/${name}`);
  });

  showView(
    root,
    'Moot',
    h(
      'div',
      { class: 'home' },
      h('h1', {}, h('span', { class: 'brand', text: 'Moot' })),
      h('p', { class: 'tagline', text: 'Video meetings in your browser. No account, no download, no tracking.' }),
      form,
    ),
  );
  refreshWarning();
}
