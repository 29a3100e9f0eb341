// Devices and settings. The Settings dialog (toolbar button **Settings**, `role=dialog`
// **Settings**) holds comboboxes **Camera**, **Microphone** and **Speaker** (Speaker only where
// the browser can choose the audio output: HTMLMediaElement.setSinkId), textbox **Display
// name** with button **Save**, the radio group **Video quality** (High, Standard, Low, Audio
// only: what this person receives, `set_quality`) and the switch **Limit my upload** (caps what
// this person sends, for slow uplinks). The pre-join page uses the same device comboboxes.
// Switching devices never renegotiates: the meeting sends the new track with replaceTrack.

import { h, switchButton, setChecked } from './dom.js';
import { ModalDialog } from './dialog.js';
import { listDevices, canChooseSpeaker, preferredDevice } from './media.js';
import { displayNameProblem } from './names.js';

/** @typedef {import('./protocol.js').Quality} Quality */

/** @type {[Quality, string, string][]} */
export const QUALITIES = [
  ['high', 'High', 'Everyone’s video.'],
  ['standard', 'Standard', 'Video of up to 9 people, the latest speakers first.'],
  ['low', 'Low', 'Only the current speaker’s video and screen shares.'],
  ['audio_only', 'Audio only', 'No video at all: saves the most data.'],
];

let nextId = 0;

/**
 * One labelled device combobox (a native single <select>).
 * @param {string} label
 * @param {(deviceId: string) => void} onchange
 */
function deviceSelect(label, onchange) {
  const id = `device-${++nextId}`;
  const select = h('select', { id });
  select.addEventListener('change', () => onchange(select.value));
  const box = h('div', { class: 'setting device-select' }, h('label', { for: id, text: label }), select);
  return { box, select };
}

/**
 * Fills a select with devices, selecting `current` (or the first).
 * @param {HTMLSelectElement} select
 * @param {MediaDeviceInfo[]} devices
 * @param {string} current
 * @param {string} noun
 */
function fill(select, devices, current, noun) {
  select.replaceChildren(
    ...devices.map((d, i) => h('option', { value: d.deviceId, text: d.label || `${noun} ${i + 1}` })),
  );
  if (devices.length === 0) select.append(h('option', { value: '', text: `No ${noun.toLowerCase()} found` }));
  if (devices.some((d) => d.deviceId === current)) select.value = current;
  select.disabled = devices.length === 0;
}

/**
 * The device comboboxes: Camera, Microphone and (where supported) Speaker.
 * @typedef {{
 *   chooseCamera: (id: string) => void | Promise<void>,
 *   chooseMicrophone: (id: string) => void | Promise<void>,
 *   chooseSpeaker: (id: string) => void | Promise<void>,
 *   current: () => {camera: string, microphone: string, speaker: string},
 * }} DeviceActions
 */
export class DeviceChoices {
  /** @param {DeviceActions} actions */
  constructor(actions) {
    this.actions = actions;
    this.camera = deviceSelect('Camera', (id) => void actions.chooseCamera(id));
    this.microphone = deviceSelect('Microphone', (id) => void actions.chooseMicrophone(id));
    this.speaker = deviceSelect('Speaker', (id) => void actions.chooseSpeaker(id));
    this.speaker.box.hidden = !canChooseSpeaker();
    this.el = h('div', { class: 'device-choices' }, this.camera.box, this.microphone.box, this.speaker.box);
    this.onDeviceChange = () => void this.refresh();
    navigator.mediaDevices?.addEventListener?.('devicechange', this.onDeviceChange);
  }

  /** Lists the devices again (labels appear once the camera or microphone was allowed). */
  async refresh() {
    const { cameras, microphones, speakers } = await listDevices();
    const now = this.actions.current();
    fill(this.camera.select, cameras, now.camera, 'Camera');
    fill(this.microphone.select, microphones, now.microphone, 'Microphone');
    fill(this.speaker.select, speakers, now.speaker, 'Speaker');
    this.speaker.box.hidden = !canChooseSpeaker() || speakers.length === 0;
  }

  destroy() {
    navigator.mediaDevices?.removeEventListener?.('devicechange', this.onDeviceChange);
  }
}

/**
 * @typedef {DeviceActions & {
 *   setName: (name: string) => void,
 *   setQuality: (q: Quality) => void,
 *   setUploadLimit: (on: boolean) => void,
 *   name: () => string,
 * }} SettingsActions
 */

export class SettingsDialog {
  /** @param {SettingsActions} actions */
  constructor(actions) {
    this.actions = actions;
    this.dialog = new ModalDialog({ title: 'Settings', class: 'settings-dialog' });
    this.devices = new DeviceChoices(actions);
    /** @type {Quality} */
    this.quality = 'high';
    this.limited = false;

    this.nameInput = h('input', { id: 'settings-name', type: 'text', autocomplete: 'nickname', maxlength: '64' });
    this.nameError = h('div', { class: 'error-slot' });
    this.saveButton = h('button', { type: 'button', text: 'Save', onclick: () => this.#saveName() });
    this.nameInput.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        this.#saveName();
      }
    });
    this.nameInput.addEventListener('input', () => {
      this.nameError.replaceChildren();
      this.nameInput.removeAttribute('aria-invalid');
    });

    const qualityLabel = `quality-label-${++nextId}`;
    /** @type {Map<Quality, HTMLInputElement>} */
    this.radios = new Map();
    const group = h('div', { role: 'radiogroup', 'aria-labelledby': qualityLabel, class: 'setting quality' }, h('p', { id: qualityLabel, class: 'setting-title', text: 'Video quality' }));
    for (const [value, label, hint] of QUALITIES) {
      const id = `quality-${value}-${nextId}`;
      const radio = h('input', { type: 'radio', name: `quality-${nextId}`, id, value, 'aria-describedby': `${id}-hint` });
      radio.addEventListener('change', () => {
        if (!radio.checked) return;
        this.quality = value;
        actions.setQuality(value);
        this.say(`Video quality: ${label}`);
      });
      this.radios.set(value, radio);
      group.append(h('label', { class: 'radio', for: id }, radio, h('span', { text: label })), h('p', { id: `${id}-hint`, class: 'hint', text: hint }));
    }
    this.limitSwitch = switchButton({
      label: 'Limit my upload',
      checked: false,
      onchange: (on) => {
        this.limited = on;
        setChecked(this.limitSwitch, on);
        actions.setUploadLimit(on);
        this.say(on ? 'Your upload is limited' : 'Your upload is not limited');
      },
    });
    this.status = h('p', { role: 'status', class: 'dialog-status' });

    this.dialog.body.append(
      h('h3', { class: 'setting-heading', text: 'Devices' }),
      this.devices.el,
      h(
        'div',
        { class: 'setting' },
        h('label', { for: 'settings-name', text: 'Display name' }),
        h('div', { class: 'row' }, this.nameInput, this.saveButton),
        this.nameError,
      ),
      group,
      h('div', { class: 'setting' }, this.limitSwitch, h('p', { class: 'hint', text: 'Sends your camera at most 300 kbps (and a shared screen at 500 kbps), for a slow connection.' })),
      this.status,
    );
    this.#renderQuality();
  }

  #saveName() {
    const value = this.nameInput.value;
    const problem = displayNameProblem(value);
    if (problem) {
      this.nameError.replaceChildren(h('p', { role: 'alert', text: problem }));
      this.nameInput.setAttribute('aria-invalid', 'true');
      this.nameInput.focus();
      return;
    }
    const name = value.trim();
    this.actions.setName(name);
    this.say(`Your name is now ${name}`);
  }

  #renderQuality() {
    for (const [value, radio] of this.radios) radio.checked = value === this.quality;
    setChecked(this.limitSwitch, this.limited);
  }

  /** @param {string} message */
  say(message) {
    this.status.textContent = message;
  }

  /** @param {string} message */
  showError(message) {
    this.nameError.replaceChildren(h('p', { role: 'alert', text: message }));
  }

  get isOpen() {
    return this.dialog.isOpen;
  }

  /** @param {HTMLElement | null} [focus] */
  open(focus = null) {
    this.nameInput.value = this.actions.name();
    this.nameError.replaceChildren();
    this.status.textContent = '';
    this.#renderQuality();
    void this.devices.refresh();
    this.dialog.open(focus);
  }

  destroy() {
    this.devices.destroy();
    this.dialog.destroy();
  }
}

/** The remembered speaker (audio output) id, or ''. */
export function preferredSpeaker() {
  return canChooseSpeaker() ? preferredDevice('speaker') : '';
}

/**
 * Plays every media element under `root` on the chosen audio output ('' = default).
 * @param {ParentNode} root
 * @param {string} sinkId
 */
export async function applySpeaker(root, sinkId) {
  if (!canChooseSpeaker()) return;
  for (const el of root.querySelectorAll('audio')) {
    const m = /** @type {HTMLMediaElement & {sinkId?: string, setSinkId?: (id: string) => Promise<void>}} */ (el);
    if (m.sinkId === sinkId || !m.setSinkId) continue;
    await m.setSinkId(sinkId).catch((err) => console.warn('moot: could not choose the speaker:', err));
  }
}
