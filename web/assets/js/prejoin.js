// The pre-join page: preview camera and microphone, choose a name, join.

import { h, showView, toggleButton, setPressed, focusQuietly } from './dom.js';
import { micIcon, cameraIcon } from './icons.js';
import { displayNameProblem } from './names.js';
import { isGuessable } from './guessable.js';
import { LocalMedia, rememberDevice } from './media.js';
import { DeviceChoices, preferredSpeaker } from './settings.js';
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
 * What the person typed besides their name: a room password (only once the server asked for
 * one) and an optional message for the moderators of a lobby.
 * @typedef {{password: string | null, knock: string}} EntryDetails
 */

/**
 * What the app tells the pre-join page while entering: waiting in the lobby, or refused.
 * @typedef {{
 *   waiting: (onLeave: () => void) => void,
 *   refused: (code: string, message: string) => void,
 * }} PrejoinControl
 */

/** Shown for the entry refusals; `null` shows the server's own message. */
const REFUSALS = /** @type {Record<string, string | null>} */ ({
  room_locked: 'This meeting is locked: nobody new can join until a moderator unlocks it. You can try again later.',
  declined: 'A moderator declined to let you in.',
  wrong_password: null,
  too_many_attempts: null,
  connection: null,
});

/**
 * @param {HTMLElement} root
 * @param {string} room
 * @param {(name: string, media: LocalMedia, entry: EntryDetails) => void} onJoin
 * @param {{media?: LocalMedia | null, askPassword?: boolean}} [opts] media already acquired (a rejoin)
 * @returns {PrejoinControl}
 */
export function renderPrejoin(root, room, onJoin, opts = {}) {
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
  // Which camera, microphone and speaker (comboboxes; remembered in this browser).
  const devices = new DeviceChoices({
    chooseCamera: async (id) => {
      if (!media) return;
      try {
        await media.switchCamera(id);
      } catch (err) {
        camNote.textContent = `That camera could not be started: ${err instanceof Error ? err.message : String(err)}`;
        camNote.hidden = false;
      }
      showPreview();
    },
    chooseMicrophone: async (id) => {
      if (!media) return;
      try {
        await media.switchMicrophone(id);
        micButton.disabled = false;
        setPressed(micButton, media.audioOn, micIcon);
      } catch (err) {
        micNote.textContent = `That microphone could not be started: ${err instanceof Error ? err.message : String(err)}`;
        micNote.hidden = false;
      }
    },
    chooseSpeaker: (id) => rememberDevice('speaker', id),
    current: () => ({ camera: media?.cameraId ?? '', microphone: media?.microphoneId ?? '', speaker: preferredSpeaker() }),
  });
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

  // The room password: asked for only once the server said the room has one.
  const passwordInput = h('input', { id: 'join-password', type: 'password', name: 'password', autocomplete: 'off', maxlength: '128', 'aria-describedby': 'password-hint' });
  const passwordHint = h('p', { id: 'password-hint', class: 'hint', text: 'This meeting has a password. Ask the person who invited you.' });
  const passwordBox = h('div', { class: 'password-box', hidden: !opts.askPassword }, h('label', { for: 'join-password', text: 'Password' }), passwordInput, passwordHint);
  passwordInput.addEventListener('input', () => joinError.replaceChildren());

  // A short message shown to the moderators if the meeting has a lobby.
  const knockInput = h('input', { id: 'knock', type: 'text', name: 'knock', maxlength: '200', autocomplete: 'off', 'aria-describedby': 'knock-hint' });
  const knockBox = h(
    'div',
    { class: 'knock-box' },
    h('label', { for: 'knock', text: 'Message to the moderator' }),
    knockInput,
    h('p', { id: 'knock-hint', class: 'hint', text: 'Optional. Shown to the moderators if the meeting makes newcomers wait in a lobby.' }),
  );

  const joinError = h('div', { id: 'join-error', class: 'error-slot' });
  const joinStatus = h('p', { id: 'join-status', role: 'status', class: 'join-status' });
  const leaveLobbyButton = h('button', { type: 'button', class: 'secondary', text: 'Leave lobby', hidden: true });

  const form = h(
    'form',
    { class: 'card prejoin-form', novalidate: true },
    h('label', { for: 'display-name', text: 'Your name' }),
    nameInput,
    h('p', { id: 'name-hint', class: 'hint', text: 'A pseudonym is fine. It is remembered in this browser only.' }),
    nameError,
    passwordBox,
    knockBox,
    joinError,
    joinButton,
    joinStatus,
    leaveLobbyButton,
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
    if (!passwordBox.hidden && passwordInput.value === '') {
      joinError.replaceChildren(h('span', { role: 'alert', text: 'Enter the meeting’s password.' }));
      passwordInput.focus();
      return;
    }
    const name = nameInput.value.trim();
    rememberName(name);
    joinError.replaceChildren();
    joinStatus.textContent = 'Joining…';
    joinButton.disabled = true;
    onJoin(name, media, { password: passwordBox.hidden ? null : passwordInput.value, knock: knockInput.value.trim() });
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
        h('div', { class: 'card' }, previewBox, h('div', { class: 'device-toggles' }, micButton, camButton), micNote, camNote, mediaStatus, devices.el),
        form,
      ),
    ),
  );
  focusQuietly(heading);
  joinButton.disabled = true;

  /** @param {LocalMedia} m */
  const ready = (m) => {
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
    void devices.refresh();
  };
  if (opts.media) ready(opts.media);
  else void LocalMedia.acquire().then(ready);

  /** Back to a form that can be sent again. */
  const reset = () => {
    joinStatus.textContent = '';
    leaveLobbyButton.hidden = true;
    joinButton.hidden = false;
    joinButton.disabled = media === null;
    knockBox.hidden = false;
  };

  return {
    waiting(onLeave) {
      joinError.replaceChildren();
      joinButton.hidden = true;
      knockBox.hidden = true;
      joinStatus.textContent = 'Waiting for a moderator to let you in…';
      leaveLobbyButton.hidden = false;
      leaveLobbyButton.onclick = () => {
        onLeave();
        reset();
        joinButton.focus();
      };
    },
    refused(code, message) {
      reset();
      if (code === 'password_required' || code === 'wrong_password' || (code === 'too_many_attempts' && !passwordBox.hidden)) {
        const first = passwordBox.hidden;
        passwordBox.hidden = false;
        if (code === 'wrong_password') passwordInput.select();
        if (first || code === 'wrong_password') passwordInput.focus();
      }
      if (code === 'password_required') {
        // Not an error: the room has a password, and the field is there now.
        joinStatus.textContent = 'This meeting has a password: enter it, then join.';
        return;
      }
      const text = REFUSALS[code] ?? message;
      joinError.replaceChildren(h('span', { role: 'alert', text }));
    },
  };
}
