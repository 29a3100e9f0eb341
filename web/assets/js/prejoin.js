// The pre-join page: preview camera and microphone, choose a name, join.

import { h, showView, toggleButton, setPressed, focusQuietly } from './dom.js';
import { micIcon, cameraIcon } from './icons.js';
import { displayNameProblem } from './names.js';
import { isGuessable } from './guessable.js';
import { LocalMedia } from './media.js';
import { initialOf } from './tiles.js';

const NAME_KEY = 'moot.displayName';

/** The remembered display name (this browser only), or ''. */
export function rememberedName() {
  try {
    return localStorage.getItem(NAME_KEY) ?? '';
  } catch {
    return ''; // storage disabled
  }
}

/** @param {string} name */
function rememberName(name) {
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch {
    // storage disabled: nothing to remember with
  }
}

/**
 * @param {HTMLElement} root
 * @param {string} room
 * @param {(name: string, media: LocalMedia) => void} onJoin
 */
export function renderPrejoin(root, room, onJoin) {
  const preview = h('video', { class: 'preview-video mirror', autoplay: true, playsinline: true, muted: true, 'aria-label': 'Your camera preview' });
  preview.muted = true;
  const avatar = h('div', { class: 'avatar', 'aria-hidden': 'true', text: initialOf(rememberedName() || '?') });
  const previewBox = h('div', { class: 'preview' }, preview, avatar);
  const mediaStatus = h('p', { class: 'hint', text: 'Asking for your camera and microphone…' });
  const micNote = h('p', { id: 'mic-note', class: 'device-note', hidden: true });
  const camNote = h('p', { id: 'cam-note', class: 'device-note', hidden: true });

  /** @type {LocalMedia | null} */
  let media = null;

  const showPreview = () => {
    const track = media?.videoOn ? media.videoTrack : null;
    if (track) {
      // A fresh stream each time: never an empty MediaStream (it would hold up the load event).
      if (!(preview.srcObject instanceof MediaStream) || preview.srcObject.getVideoTracks()[0] !== track) {
        preview.srcObject = new MediaStream([track]);
      }
      preview.hidden = false;
      avatar.hidden = true;
    } else {
      preview.srcObject = null;
      preview.hidden = true;
      avatar.hidden = false;
    }
  };

  const micButton = toggleButton({ label: 'Microphone', class: 'device', icon: micIcon, pressed: null, onclick: () => {
    if (!media) return;
    media.setAudio(!media.audioOn);
    setPressed(micButton, media.audioOn, micIcon);
  } });
  const camButton = toggleButton({ label: 'Camera', class: 'device', icon: cameraIcon, pressed: null, onclick: async () => {
    if (!media) return;
    camButton.disabled = true;
    try {
      await media.setVideo(!media.videoOn);
    } catch (err) {
      camNote.textContent = `The camera could not be turned on: ${err instanceof Error ? err.message : String(err)}`;
      camNote.hidden = false;
    } finally {
      camButton.disabled = false;
    }
    setPressed(camButton, media.videoOn, cameraIcon);
    showPreview();
  } });
  micButton.disabled = true;
  camButton.disabled = true;
  micButton.setAttribute('aria-describedby', 'mic-note');
  camButton.setAttribute('aria-describedby', 'cam-note');

  const nameInput = h('input', { id: 'display-name', type: 'text', name: 'name', autocomplete: 'nickname', maxlength: '64', value: rememberedName(), 'aria-describedby': 'name-hint name-error' });
  nameInput.addEventListener('input', () => {
    nameError.replaceChildren();
    nameInput.removeAttribute('aria-invalid');
    avatar.textContent = initialOf(nameInput.value || '?');
  });
  const nameError = h('p', { id: 'name-error', class: 'error-slot' });
  const joinButton = h('button', { type: 'submit', class: 'primary', text: 'Join meeting' });

  const form = h(
    'form',
    { class: 'card prejoin-form', novalidate: true },
    h('label', { for: 'display-name', text: 'Your name' }),
    nameInput,
    h('p', { id: 'name-hint', class: 'hint', text: 'A pseudonym is fine. It is remembered in this browser only.' }),
    nameError,
    joinButton,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const problem = displayNameProblem(nameInput.value);
    if (problem) {
      nameError.replaceChildren(h('span', { role: 'alert', text: problem }));
      nameInput.setAttribute('aria-invalid', 'true');
      nameInput.focus();
      return;
    }
    if (!media) return; // still asking for devices; the button is disabled meanwhile
    const name = nameInput.value.trim();
    rememberName(name);
    preview.srcObject = null;
    onJoin(name, media);
  });

  const heading = h('h1', { class: 'room-heading', text: room });
  showView(
    root,
    `${room} · Moot`,
    h(
      'div',
      { class: 'prejoin' },
      h('p', { class: 'brand-line' }, h('a', { href: '/', class: 'brand', text: 'Moot' })),
      h('p', { class: 'eyebrow', text: 'You are about to join' }),
      heading,
      isGuessable(room) ? h('p', { class: 'warning', text: 'This room name is easy to guess, so people you did not invite could join.' }) : null,
      h(
        'div',
        { class: 'prejoin-grid' },
        h('div', { class: 'card' }, previewBox, h('div', { class: 'device-toggles' }, micButton, camButton), micNote, camNote, mediaStatus),
        form,
      ),
    ),
  );
  focusQuietly(heading);
  joinButton.disabled = true;

  void LocalMedia.acquire().then((m) => {
    media = m;
    mediaStatus.textContent = '';
    mediaStatus.hidden = true;
    micButton.disabled = !m.hasAudio;
    camButton.disabled = !m.canVideo;
    setPressed(micButton, m.audioOn, micIcon);
    setPressed(camButton, m.videoOn, cameraIcon);
    if (m.audioProblem) {
      micNote.textContent = m.audioProblem;
      micNote.hidden = false;
    }
    if (m.videoProblem) {
      camNote.textContent = m.videoProblem;
      camNote.hidden = false;
    }
    joinButton.disabled = false;
    showPreview();
  });
}
