// The meeting view: signaling + media session + tiles + toolbar.

import { h, showView, announce, toggleButton, setPressed, focusQuietly } from './dom.js';
import { micIcon, cameraIcon, linkIcon, leaveIcon, peopleIcon } from './icons.js';
import { SignalingClient, signalingUrl } from './protocol.js';
import { MediaSession } from './session.js';
import { SpeakingDetector } from './speaking.js';
import { TileGrid } from './tiles.js';
import { ParticipantsPanel } from './participants.js';

/** @typedef {import('./protocol.js').Participant} Participant */
/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */
/** @typedef {import('./media.js').LocalMedia} LocalMedia */
/** @typedef {import('./media.js').MediaChoice} MediaChoice */

/**
 * @typedef {{
 *   onLeft: (choice: MediaChoice) => void,
 *   onRejoin: (choice: MediaChoice) => void,
 *   onFatal: (code: string, message: string, choice: MediaChoice) => void,
 * }} MeetingCallbacks
 */

export class Meeting {
  /**
   * @param {HTMLElement} root
   * @param {{room: string, name: string, media: LocalMedia}} opts
   * @param {MeetingCallbacks} callbacks
   */
  constructor(root, opts, callbacks) {
    this.root = root;
    this.room = opts.room;
    this.name = opts.name;
    this.media = opts.media;
    this.callbacks = callbacks;
    /** Media choices to restore on rejoin (the tracks themselves are stopped on leave). */
    this.choice = this.media.choice();
    this.client = new SignalingClient({ url: signalingUrl(location), room: this.room, name: this.name });
    /** @type {MediaSession | null} */
    this.session = null;
    this.speaking = new SpeakingDetector();
    this.grid = new TileGrid();
    /** @type {Participant | null} */
    this.me = null;
    /** Everyone else, by id. */
    /** @type {Map<string, Participant>} */
    this.others = new Map();
    /** Server messages are handled strictly one after another. */
    /** @type {Promise<void>} */
    this.queue = Promise.resolve();
    this.ended = false;
    this.onPageHide = () => this.client.leave();

    this.alerts = h('div', { class: 'alerts' });
    this.panel = new ParticipantsPanel();
    this.micButton = toggleButton({ label: 'Microphone', class: 'device', icon: micIcon, pressed: this.media.audioOn, onclick: () => this.toggleMic() });
    this.camButton = toggleButton({ label: 'Camera', class: 'device', icon: cameraIcon, pressed: this.media.videoOn, onclick: () => void this.toggleCamera() });
    this.micButton.disabled = !this.media.hasAudio;
    this.camButton.disabled = !this.media.canVideo;
    if (this.media.audioProblem) this.micButton.title = this.media.audioProblem;
    if (this.media.videoProblem) this.camButton.title = this.media.videoProblem;
    this.peopleButton = toggleButton({ label: 'Participants', icon: peopleIcon, pressed: false, onclick: () => this.togglePanel() });
    this.inviteArea = h('div', { class: 'invite-fallback', hidden: true });
    this.toolbar = h(
      'div',
      { role: 'toolbar', 'aria-label': 'Meeting controls', class: 'toolbar' },
      this.micButton,
      this.camButton,
      this.peopleButton,
      h('button', { type: 'button', class: 'tool', onclick: () => void this.invite() }, h('span', { class: 'icon', 'aria-hidden': 'true' }, linkIcon()), h('span', { class: 'label', text: 'Invite' })),
      h('button', { type: 'button', class: 'tool danger', onclick: () => this.leave() }, h('span', { class: 'icon', 'aria-hidden': 'true' }, leaveIcon()), h('span', { class: 'label', text: 'Leave meeting' })),
    );
    this.toolbar.addEventListener('keydown', (ev) => this.#toolbarKeys(ev));
    this.heading = h('h1', { class: 'meeting-title', text: this.room });
    this.status = h('p', { class: 'meeting-status', text: 'Connecting…' });
  }

  /** Shows the view and connects. */
  start() {
    showView(
      this.root,
      `${this.room} · Moot`,
      h(
        'div',
        { class: 'meeting' },
        h('header', { class: 'meeting-header' }, h('span', { class: 'brand', text: 'Moot' }), this.heading, this.status),
        this.alerts,
        h('div', { class: 'meeting-body' }, h('section', { class: 'stage', 'aria-label': 'Participants’ video' }, this.grid.el), this.panel.el),
        this.inviteArea,
        this.toolbar,
      ),
    );
    focusQuietly(this.heading);
    for (const problem of [this.media.audioProblem, this.media.videoProblem]) {
      if (problem) this.alerts.append(h('p', { class: 'device-note', text: problem }));
    }
    window.addEventListener('pagehide', this.onPageHide);
    this.client.onMessage((msg) => {
      this.queue = this.queue.then(() => this.#handle(msg)).catch((err) => this.#showError(`Something went wrong: ${errorText(err)}`));
    });
    this.client.addEventListener('protocol-error', (ev) => {
      console.warn('moot: ignored a malformed server message:', /** @type {CustomEvent<Error>} */ (ev).detail.message);
    });
    this.client.addEventListener('close', (ev) => {
      const info = /** @type {CustomEvent<import('./protocol.js').CloseInfo>} */ (ev).detail;
      if (info.expected || this.ended) return;
      this.#connectionLost(info.opened ? 'Connection lost.' : 'Could not connect to the server.');
    });
    this.client.connect();
  }

  /** @param {ServerMessage} msg */
  async #handle(msg) {
    if (this.ended) return;
    switch (msg.type) {
      case 'welcome':
        return this.#welcome(msg.you, msg.participants);
      case 'answer':
        await this.session?.acceptAnswer(msg.sdp);
        return;
      case 'offer': {
        if (!this.session) return;
        const sdp = await this.session.answerOffer(msg.sdp, msg.tracks);
        this.client.sendAnswer(sdp);
        this.#bindRemoteMedia();
        return;
      }
      case 'participant_joined':
        if (msg.participant.id === this.me?.id) return;
        this.#addOther(msg.participant);
        announce(`${msg.participant.name} joined`);
        this.#updateStatus();
        return;
      case 'participant_left': {
        const p = this.others.get(msg.id);
        if (!p) return;
        this.others.delete(msg.id);
        this.speaking.unwatch(msg.id);
        this.grid.remove(msg.id);
        this.panel.remove(msg.id);
        announce(`${p.name} left`);
        this.#updateStatus();
        return;
      }
      case 'participant_updated': {
        const p = msg.participant;
        if (p.id === this.me?.id) {
          this.me = { ...this.me, name: p.name };
          this.#refreshMe();
          return;
        }
        if (!this.others.has(p.id)) return;
        this.others.set(p.id, p);
        this.grid.get(p.id)?.update(p);
        this.panel.upsert(p, false);
        return;
      }
      case 'error':
        if (msg.fatal) {
          this.#end();
          this.callbacks.onFatal(msg.code, msg.message, this.choice);
        } else {
          this.#showError(msg.message);
        }
        return;
    }
  }

  /**
   * @param {Participant} you
   * @param {Participant[]} participants
   */
  async #welcome(you, participants) {
    this.me = { ...you, audio: this.media.audioOn, video: this.media.videoOn };
    const mine = this.grid.add(this.me, true);
    this.panel.upsert(this.me, true);
    mine.setVideoTrack(this.media.videoTrack);
    this.speaking.watch('local', this.media.audioTrack, (s) => mine.setSpeaking(s));
    for (const p of participants) this.#addOther(p);
    this.#updateStatus();

    this.session = new MediaSession({ stream: this.media.stream, audioTrack: this.media.audioTrack, videoTrack: this.media.videoTrack });
    this.session.addEventListener('connectionstatechange', (ev) => {
      const state = /** @type {CustomEvent<RTCPeerConnectionState>} */ (ev).detail;
      if (state === 'failed' && !this.ended) this.#connectionLost('The media connection failed.');
    });
    const offer = await this.session.createPublishOffer();
    this.client.sendOffer(offer);
    this.client.sendMediaState(this.media.audioOn, this.media.videoOn);
  }

  /** @param {Participant} p */
  #addOther(p) {
    this.others.set(p.id, p);
    this.grid.add(p);
    this.panel.upsert(p, false);
    if (this.session) {
      // Their tracks, if any, arrive with the next server offer.
      const tile = this.grid.get(p.id);
      const media = this.session.remoteMedia(p.id);
      tile?.setVideoTrack(media.video);
      tile?.setAudioTrack(media.audio);
    }
  }

  /** Puts each remote track from the last server offer on its participant's tile. */
  #bindRemoteMedia() {
    if (!this.session) return;
    for (const id of this.others.keys()) {
      const tile = this.grid.get(id);
      if (!tile) continue;
      const media = this.session.remoteMedia(id);
      tile.setVideoTrack(media.video);
      tile.setAudioTrack(media.audio);
      this.speaking.watch(id, media.audio, (s) => tile.setSpeaking(s));
    }
  }

  /** Re-renders my own tile and panel entry from the local media state. */
  #refreshMe() {
    if (!this.me) return;
    this.me = { ...this.me, audio: this.media.audioOn, video: this.media.videoOn };
    const tile = this.grid.get(this.me.id);
    tile?.setVideoTrack(this.media.videoTrack);
    tile?.update(this.me);
    this.panel.upsert(this.me, true);
  }

  toggleMic() {
    if (!this.media.hasAudio) return;
    this.speaking.resume();
    this.media.setAudio(!this.media.audioOn);
    setPressed(this.micButton, this.media.audioOn, micIcon);
    this.#mediaChanged();
  }

  async toggleCamera() {
    this.speaking.resume();
    this.camButton.disabled = true;
    try {
      if (this.media.videoOn) {
        await this.session?.replaceVideoTrack(null);
        await this.media.setVideo(false);
      } else {
        const track = await this.media.setVideo(true);
        await this.session?.replaceVideoTrack(track);
      }
    } catch (err) {
      this.#showError(`The camera could not be turned on: ${errorText(err)}`);
    } finally {
      this.camButton.disabled = false;
    }
    setPressed(this.camButton, this.media.videoOn, cameraIcon);
    this.#mediaChanged();
  }

  #mediaChanged() {
    this.choice = this.media.choice();
    this.#refreshMe();
    if (this.me) this.client.sendMediaState(this.media.audioOn, this.media.videoOn);
  }

  togglePanel() {
    const open = this.panel.toggle();
    setPressed(this.peopleButton, open, peopleIcon);
  }

  /** Copies the meeting link; without clipboard access, shows it selected in a textbox. */
  async invite() {
    const link = `${location.origin}/${this.room}`;
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(link);
      this.inviteArea.hidden = true;
      announce('Meeting link copied');
      this.#toast('Meeting link copied');
    } catch {
      const box = h('input', { type: 'text', readonly: true, value: link, 'aria-label': 'Meeting link', class: 'invite-link' });
      this.inviteArea.replaceChildren(
        h('label', { class: 'invite-label', text: 'Copy this link and send it to the people you invite:' }),
        box,
        h('button', { type: 'button', text: 'Close', onclick: () => { this.inviteArea.hidden = true; } }),
      );
      this.inviteArea.hidden = false;
      box.focus();
      box.select();
      announce('Meeting link selected: press Control+C to copy it');
    }
  }

  /** @param {string} text */
  #toast(text) {
    const t = h('p', { class: 'toast', text });
    this.alerts.append(t);
    window.setTimeout(() => t.remove(), 3000);
  }

  /** @param {string} message */
  #showError(message) {
    const alert = h(
      'div',
      { role: 'alert', class: 'alert' },
      h('p', { text: message }),
      h('button', { type: 'button', text: 'Dismiss', onclick: () => alert.remove() }),
    );
    this.alerts.querySelectorAll('.alert:not(.alert-lost)').forEach((a) => a.remove());
    this.alerts.append(alert);
  }

  /** @param {string} message */
  #connectionLost(message) {
    if (this.ended) return;
    this.#end();
    const rejoin = h('button', { type: 'button', class: 'primary', text: 'Rejoin', onclick: () => this.callbacks.onRejoin(this.choice) });
    this.alerts.replaceChildren(h('div', { role: 'alert', class: 'alert alert-lost' }, h('p', { text: message }), rejoin));
    this.status.textContent = 'Disconnected';
    for (const b of this.toolbar.querySelectorAll('button')) if (!b.classList.contains('danger')) b.disabled = true;
  }

  /** Leaves on purpose: tells the server, releases everything, shows the "left" page. */
  leave() {
    if (!this.ended) this.client.leave();
    this.#end();
    this.callbacks.onLeft(this.choice);
  }

  /** Releases the socket, the peer connection, the tracks and the audio graph (idempotent). */
  #end() {
    if (this.ended) return;
    this.ended = true;
    window.removeEventListener('pagehide', this.onPageHide);
    this.client.close();
    this.session?.close();
    this.speaking.close();
    this.media.stop();
    for (const tile of this.grid.tiles.values()) {
      tile.setVideoTrack(null);
      tile.setAudioTrack(null);
    }
  }

  #updateStatus() {
    const n = this.others.size + 1;
    this.status.textContent = n === 1 ? 'Only you so far' : `${n} people`;
    this.panel.setCount(n);
  }

  /**
   * Arrow keys move between toolbar buttons (the WAI-ARIA toolbar pattern); Tab still works.
   * @param {KeyboardEvent} ev
   */
  #toolbarKeys(ev) {
    if (!['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(ev.key)) return;
    const buttons = /** @type {HTMLButtonElement[]} */ ([...this.toolbar.querySelectorAll('button:not([disabled])')]);
    const i = buttons.indexOf(/** @type {HTMLButtonElement} */ (document.activeElement));
    if (i < 0 || buttons.length === 0) return;
    ev.preventDefault();
    const next = ev.key === 'Home' ? 0 : ev.key === 'End' ? buttons.length - 1 : (i + (ev.key === 'ArrowRight' ? 1 : -1) + buttons.length) % buttons.length;
    buttons[next].focus();
  }
}

/** @param {unknown} err */
function errorText(err) {
  return err instanceof Error ? err.message : String(err);
}
