// The meeting view: signaling + media session + tiles + toolbar.

import { h, showView, announce, toggleButton, setPressed, focusQuietly } from './dom.js';
import { micIcon, cameraIcon, linkIcon, leaveIcon, peopleIcon, handIcon, shieldIcon } from './icons.js';
import { SignalingClient, signalingUrl, DEFAULT_SETTINGS, ENTRY_ERRORS } from './protocol.js';
import { MediaSession } from './media-session.js';
import { SpeakingDetector } from './speaking.js';
import { TileGrid, screenKey } from './tiles.js';
import { ParticipantsPanel } from './participants.js';
import { SecurityDialog } from './security.js';
import { InviteDialog } from './invite.js';
import { confirmDialog } from './dialog.js';
import { Layout } from './layout.js';
import { ScreenShare } from './screenshare.js';
import { SettingsDialog, applySpeaker, preferredSpeaker } from './settings.js';
import { Reconnector, ICE_DISCONNECTED_MS } from './reconnect.js';
import { rememberDevice } from './media.js';
import { gearIcon } from './icons.js';
import { exposeForTests } from './debug.js';
import { ChatPanel, UNDECRYPTABLE } from './chat.js';
import { HandQueue } from './hands.js';
import { ReactionsMenu, showReaction, announceReaction } from './reactions.js';
import { Shortcuts } from './shortcuts.js';
import { E2eeKeys, e2eeSupported, isEncryptedChat } from './e2ee.js';
import { ViewSizeReporter } from './viewsizes.js';
import { SlotAudio } from './slots.js';

/** @typedef {import('./protocol.js').Participant} Participant */
/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */
/** @typedef {import('./protocol.js').RoomSettings} RoomSettings */
/** @typedef {import('./protocol.js').LobbyEntry} LobbyEntry */
/** @typedef {import('./protocol.js').TrackKind} TrackKind */
/** @typedef {import('./protocol.js').HelloExtras} HelloExtras */
/** @typedef {import('./media.js').LocalMedia} LocalMedia */
/** @typedef {import('./media.js').MediaChoice} MediaChoice */

/**
 * Before `welcome` the pre-join page is still shown: `onWaiting` (in the lobby) and
 * `onRefused` (an entry refusal such as `password_required`, or no connection; the devices are
 * kept for the next try) report there. `onHostKey` keeps (or, with null, forgets) this room's
 * host key.
 * @typedef {{
 *   onWaiting: () => void,
 *   onRefused: (code: string, message: string) => void,
 *   onHostKey: (key: string | null) => void,
 *   onLeft: (choice: MediaChoice) => void,
 *   onRejoin: (choice: MediaChoice) => void,
 *   onFatal: (code: string, message: string, choice: MediaChoice) => void,
 * }} MeetingCallbacks
 */

export class Meeting {
  /**
   * @param {HTMLElement} root
   * @param {{room: string, name: string, media: LocalMedia, hello?: HelloExtras, hostKey?: string | null}} opts
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
    this.client = new SignalingClient({ url: signalingUrl(location), room: this.room, name: this.name, hello: opts.hello });
    /** The room's host key held by this browser (shown in Invite), if any. */
    this.hostKey = opts.hostKey ?? null;
    this.sentHostKey = !!opts.hello?.host_key;
    /** Set by `welcome`: until then the pre-join page is shown. */
    this.welcomed = false;
    /** @type {RoomSettings} */
    this.settings = { ...DEFAULT_SETTINGS };
    /** @type {LobbyEntry[]} */
    this.lobby = [];
    /** Media kinds turned on while a moderator's mute holds: a `not_allowed` turns them off again. */
    this.pendingUnmute = { audio: false, video: false };
    /** @type {MediaSession | null} */
    this.session = null;
    this.speaking = new SpeakingDetector();
    this.grid = new TileGrid();
    /** Large rooms: the others' microphones on audio slots, played apart from the tiles. */
    this.slotAudio = new SlotAudio({ speaking: this.speaking, ring: (id, on) => this.grid.get(id)?.setSpeaking(on), sinkId: () => this.sinkId });
    /** Tells the server the size of each remote camera tile (simulcast layer choice). */
    this.viewSizes = new ViewSizeReporter(this.grid, (sizes) => this.client.sendViewSizes(sizes));
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
    this.panel = new ParticipantsPanel({
      mute: (p, kind) => this.client.mute(p.id, kind),
      allowUnmute: (p) => this.client.allowUnmute(p.id),
      remove: (p) => void this.#confirmRemove(p),
      makeModerator: (p) => this.client.makeModerator(p.id),
      muteAll: (kind) => this.client.muteAll(kind),
      admit: (e) => this.client.admit(e.id),
      reject: (e) => this.client.reject(e.id),
      verify: (p) => void this.e2ee?.markVerified(p.id),
    });
    this.security = new SecurityDialog({
      setLobby: (on) => this.client.setLobby(on),
      setPassword: (pw) => this.client.setPassword(pw),
      removePassword: () => this.client.removePassword(),
      setLock: (on) => this.client.setLock(on),
      setAllowUnmute: (on) => this.client.setAllowUnmute(on),
      setChatHistory: (on) => this.client.setChatHistory(on),
      setE2ee: (on) => this.client.setE2ee(on),
    });
    /** End-to-end encryption keys; null when this browser cannot encrypt frames. */
    /** @type {E2eeKeys | null} */
    this.e2ee = null;
    this.e2eeCapable = e2eeSupported();
    this.security.e2eeSupported = this.e2eeCapable;
    /** Frames seen by the encryption layer, kept only with `?debug` (tests). */
    /** @type {Record<string, {kind: string, owner: string | undefined, bytes: Uint8Array}[]> | null} */
    this.captured = new URLSearchParams(location.search).has('debug') ? {} : null;
    this.e2eeState = h('p', { id: 'e2ee-state', class: 'e2ee-state', role: 'status', 'data-e2ee': 'off', text: 'Not end-to-end encrypted' });
    this.inviteDialog = new InviteDialog(this.room);
    /** What this page last sent that the server may refuse (chat, reaction), and when. */
    this.lastSent = { kind: '', at: 0 };
    this.chat = new ChatPanel({ send: (text, to) => void this.#sendChat(text, to) });
    /** Incoming chat, in order, apart from the main queue: a message may wait there for its key. */
    this.chatQueue = Promise.resolve();
    this.hands = new HandQueue();
    this.panel.list.before(this.hands.el);
    this.reactions = new ReactionsMenu({ send: (emoji) => { this.lastSent = { kind: 'react', at: Date.now() }; this.client.react(emoji); } });
    this.micButton = toggleButton({ label: 'Microphone', class: 'device', icon: micIcon, pressed: this.media.audioOn, onclick: () => this.toggleMic() });
    this.camButton = toggleButton({ label: 'Camera', class: 'device', icon: cameraIcon, pressed: this.media.videoOn, onclick: () => void this.toggleCamera() });
    this.micButton.disabled = !this.media.hasAudio;
    this.camButton.disabled = !this.media.canVideo;
    if (this.media.audioProblem) this.micButton.title = this.media.audioProblem;
    if (this.media.videoProblem) this.camButton.title = this.media.videoProblem;
    this.peopleButton = toggleButton({ label: 'Participants', icon: peopleIcon, pressed: false, onclick: () => this.togglePanel() });
    this.handButton = toggleButton({ label: 'Raise hand', icon: handIcon, pressed: false, onclick: () => this.toggleHand() });
    this.securityButton = h('button', { type: 'button', class: 'tool', 'aria-haspopup': 'dialog', onclick: () => this.security.open() }, h('span', { class: 'icon', 'aria-hidden': 'true' }, shieldIcon()), h('span', { class: 'label', text: 'Security' }));
    this.toolbar = h(
      'div',
      { role: 'toolbar', 'aria-label': 'Meeting controls', class: 'toolbar' },
      this.micButton,
      this.camButton,
      this.chat.toggle,
      this.handButton,
      this.reactions.button,
      this.peopleButton,
      this.securityButton,
      h('button', { type: 'button', class: 'tool', 'aria-haspopup': 'dialog', onclick: () => this.invite() }, h('span', { class: 'icon', 'aria-hidden': 'true' }, linkIcon()), h('span', { class: 'label', text: 'Invite' })),
      h('button', { type: 'button', class: 'tool danger', onclick: () => this.leave() }, h('span', { class: 'icon', 'aria-hidden': 'true' }, leaveIcon()), h('span', { class: 'label', text: 'Leave meeting' })),
    );
    // Screen share, views, devices and settings, reconnection.
    this.layout = new Layout(this.grid);
    this.screenShare = new ScreenShare({
      started: (video, audio) => this.#screenStarted(video, audio),
      stopped: () => this.#screenStopped(),
      failed: (message) => this.#showError(message),
    });
    /** What this person receives (`set_quality`). */
    /** @type {import('./protocol.js').Quality} */
    this.quality = 'high';
    this.uploadLimited = false;
    this.sinkId = preferredSpeaker();
    this.settingsDialog = new SettingsDialog({
      chooseCamera: (id) => this.#chooseCamera(id),
      chooseMicrophone: (id) => this.#chooseMicrophone(id),
      chooseSpeaker: (id) => this.#chooseSpeaker(id),
      current: () => ({ camera: this.media.cameraId, microphone: this.media.microphoneId, speaker: this.sinkId }),
      setName: (name) => this.client.setName(name),
      setQuality: (q) => {
        this.quality = q;
        this.client.setQuality(q);
      },
      setUploadLimit: (on) => {
        this.uploadLimited = on;
        void this.session?.setUploadLimit(on);
      },
      name: () => this.me?.name ?? this.name,
    });
    this.settingsButton = h('button', { type: 'button', class: 'tool', 'aria-haspopup': 'dialog', onclick: () => this.settingsDialog.open() }, h('span', { class: 'icon', 'aria-hidden': 'true' }, gearIcon()), h('span', { class: 'label', text: 'Settings' }));
    /** The last `welcome.resume_token`. */
    /** @type {string | null} */
    this.resumeToken = null;
    /** The last `welcome.ice_servers` (TURN), for every media session of this meeting. */
    /** @type {RTCIceServer[]} */
    this.iceServers = [];
    this.reconnector = new Reconnector({
      attempt: () => {
        if (!this.ended && this.resumeToken) this.client.reconnect(this.resumeToken);
      },
      abandon: () => this.client.drop(),
      giveUp: () => this.#connectionLost('Connection lost.'),
    });
    this.iceTimer = 0;
    this.alerts.append(this.reconnector.banner);
    this.camButton.after(this.screenShare.button);
    this.toolbar.querySelector('.danger')?.before(this.layout.button, this.settingsButton);
    this.toolbar.addEventListener('keydown', (ev) => this.#toolbarKeys(ev));
    this.shortcuts = new Shortcuts(this.toolbar);
    this.heading = h('h1', { class: 'meeting-title', text: this.room });
    this.status = h('p', { class: 'meeting-status', text: 'Connecting…' });
  }

  /** Connects; the meeting view replaces the pre-join page once the server lets us in. */
  start() {
    if (this.e2eeCapable) {
      // The identity key must be in `hello`: make it first (a few milliseconds).
      E2eeKeys.create().then(
        (keys) => this.#startWith(keys),
        (err) => {
          console.warn('moot: no end-to-end encryption keys:', err);
          this.e2eeCapable = false;
          this.security.e2eeSupported = false;
          this.#startWith(null);
        },
      );
    } else {
      this.#startWith(null);
    }
  }

  /** @param {E2eeKeys | null} keys */
  #startWith(keys) {
    if (this.ended) return;
    if (keys) {
      this.e2ee = keys;
      this.client.hello.e2ee_public_key = keys.publicKey;
      keys.send = (to, payload) => void this.client.sendE2ee(to, payload);
      this.slotAudio.follow(keys); // a slot's speaker: whose key opens its frames
      keys.addEventListener('verified', (ev) => {
        const id = /** @type {CustomEvent<string>} */ (ev).detail;
        this.#showVerification(id);
        const p = this.others.get(id);
        const peer = keys.peers.get(id);
        if (p && peer?.verifiedByMe && peer.verifiedByThem) announce(`You and ${p.name} verified the encryption`);
      });
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
      if (!this.welcomed) {
        this.#end(true);
        this.callbacks.onRefused('connection', info.opened ? 'The connection to the server was lost before you got in. Try again.' : 'Could not connect to the server.');
        return;
      }
      if (this.#reconnectOnClose()) return;
      this.#connectionLost(info.opened ? 'Connection lost.' : 'Could not connect to the server.');
    });
    this.client.connect();
  }

  /** Stops waiting in the lobby (the devices stay on for the pre-join page). */
  cancel() {
    if (this.ended) return;
    this.client.leave();
    this.#end(true);
  }

  /** Shows the meeting view (on `welcome`). */
  #render() {
    setPressed(this.micButton, this.media.audioOn, micIcon);
    setPressed(this.camButton, this.media.videoOn, cameraIcon);
    this.micButton.disabled = !this.media.hasAudio;
    this.camButton.disabled = !this.media.canVideo;
    showView(
      this.root,
      `${this.room} · Moot`,
      h(
        'div',
        { class: 'meeting' },
        h('header', { class: 'meeting-header' }, h('span', { class: 'brand', text: 'Moot' }), this.heading, this.status, this.e2eeState, this.shortcuts.helpButton),
        this.alerts,
        h('div', { class: 'meeting-body' }, h('section', { class: 'stage', 'aria-label': 'Participants’ video' }, this.grid.el), this.panel.el, this.chat.el, this.reactions.menu),
        this.toolbar,
        this.slotAudio.el,
      ),
    );
    this.shortcuts.install();
    focusQuietly(this.heading);
    for (const problem of [this.media.audioProblem, this.media.videoProblem]) {
      if (problem) this.alerts.append(h('p', { class: 'device-note', text: problem }));
    }
  }

  /** @param {ServerMessage} msg */
  async #handle(msg) {
    if (this.ended) return;
    switch (msg.type) {
      case 'waiting':
        if (this.reconnector.active) return this.#connectionLost('Connection lost.');
        if (!this.welcomed) this.callbacks.onWaiting();
        return;
      case 'welcome':
        return this.#welcome(msg);
      case 'lobby':
        return this.#lobbyChanged(msg.waiting);
      case 'settings':
        return this.#settingsChanged(msg.settings);
      case 'muted':
        return this.#mutedByModerator(msg.kind);
      case 'answer':
        await this.session?.acceptAnswer(msg.sdp);
        return;
      case 'offer': {
        if (!this.session) return;
        const sdp = await this.session.answerOffer(msg.sdp, msg.tracks, msg.slots);
        this.client.sendAnswer(sdp);
        this.#bindRemoteMedia();
        this.slotAudio.update(this.session);
        return;
      }
      case 'slot':
        if (this.session?.setSlotOwner(msg.mid, msg.participant)) this.slotAudio.setOwner(msg.mid, msg.participant);
        else console.warn(`moot: a slot message for ${msg.mid}, which is no audio slot`);
        return;
      case 'layers':
        await this.session?.setActiveLayers(msg.mid, msg.active);
        return;
      case 'e2ee':
        try {
          await this.e2ee?.receive(msg.from, msg.payload);
        } catch (err) {
          console.warn('moot: ignored a key exchange message that did not open:', err);
        }
        return;
      case 'participant_joined':
        if (msg.participant.id === this.me?.id) return;
        this.#addOther(msg.participant);
        if (this.e2ee?.peers.has(msg.participant.id)) await this.e2ee.joined(msg.participant.id);
        announce(`${msg.participant.name} joined`);
        this.#updateStatus();
        return;
      case 'participant_left': {
        const p = this.others.get(msg.id);
        if (!p) return;
        this.others.delete(msg.id);
        this.speaking.unwatch(msg.id);
        this.grid.remove(msg.id);
        this.#screenGone(msg.id);
        this.panel.remove(msg.id);
        this.chat.removePerson(msg.id);
        this.hands.remove(msg.id);
        if (this.e2ee) {
          // Whoever left must not read what follows: a fresh key for everyone still here.
          this.e2ee.removePeer(msg.id);
          await this.e2ee.left();
        }
        announce(msg.reason === 'removed' ? `${p.name} was removed` : msg.reason === 'disconnected' ? `${p.name} lost the connection` : `${p.name} left`);
        this.#updateStatus();
        return;
      }
      case 'chat': {
        const m = msg.message;
        this.chatQueue = this.chatQueue.then(async () => this.chat.receive(await this.#openChat(m, true))).catch((err) => console.warn('moot: a chat message:', err));
        return;
      }
      case 'chat_history': {
        const fresh = msg.messages.filter((m) => !this.chat.seen.has(m.seq));
        this.chatQueue = this.chatQueue
          .then(async () => {
            const opened = await Promise.all(fresh.map((m) => this.#openChat(m, false)));
            // Encrypted before we joined, under keys we never get: one note, not a list of failures.
            const readable = opened.filter((m) => m.e2ee !== 'undecryptable');
            this.chat.history(readable, opened.length - readable.length);
          })
          .catch((err) => console.warn('moot: chat history:', err));
        return;
      }
      case 'reaction':
        this.#reaction(msg.id, msg.emoji);
        return;
      case 'dominant_speaker':
        this.layout.setDominant(msg.id);
        return;
      case 'participant_updated':
        return this.#participantUpdated(msg.participant);
      case 'error':
        if (msg.fatal && this.reconnector.active) {
          this.reconnector.stop();
          this.#connectionLost(`Connection lost: ${msg.message}`);
        } else if (msg.fatal && msg.code === 'server_error' && this.welcomed && this.resumeToken) {
          // The server lost our media connection (ICE failed on its side) and closes: it keeps
          // us for the resume grace period, so reconnect as after a dropped socket.
          this.#reconnectOnClose();
        } else if (msg.fatal) {
          const entry = !this.welcomed && /** @type {readonly string[]} */ (ENTRY_ERRORS).includes(msg.code);
          this.#end(entry);
          if (entry) this.callbacks.onRefused(msg.code, msg.message);
          else this.callbacks.onFatal(msg.code, msg.message, this.choice);
        } else if (msg.code === 'not_allowed' && (this.pendingUnmute.audio || this.pendingUnmute.video)) {
          await this.#unmuteRefused();
        } else if (this.#refusedChatOrReaction(msg.code, msg.message)) {
          // shown in the chat panel or the reactions bar
        } else if (this.settingsDialog.isOpen && msg.code === 'bad_display_name') {
          this.settingsDialog.showError(msg.message);
        } else if (this.security.isOpen) {
          this.security.showError(msg.message);
        } else {
          this.#showError(msg.message);
        }
        return;
    }
  }

  /** @param {Participant} p */
  #participantUpdated(p) {
    this.hands.update(p, p.id === this.me?.id);
    if (p.id !== this.me?.id && this.others.has(p.id)) this.chat.upsertPerson(p.id, p.name);
    if (p.id === this.me?.id) {
      const was = this.me;
      this.me = { ...this.me, name: p.name, moderator: p.moderator, hand_raised: p.hand_raised, audio_blocked: p.audio_blocked, video_blocked: p.video_blocked };
      if (!p.audio_blocked) this.pendingUnmute.audio = false;
      if (!p.video_blocked) this.pendingUnmute.video = false;
      setPressed(this.handButton, p.hand_raised, handIcon);
      if (was.moderator !== p.moderator) {
        this.#roleChanged();
        announce(p.moderator ? 'You are now a moderator' : 'You are no longer a moderator');
      }
      if ((was.audio_blocked && !p.audio_blocked) || (was.video_blocked && !p.video_blocked)) {
        announce('A moderator allowed you to turn your microphone and camera back on');
        this.#toast('You may turn your microphone and camera back on');
      }
      this.#refreshMe();
      return;
    }
    const before = this.others.get(p.id);
    if (!before) return;
    this.others.set(p.id, p);
    this.grid.get(p.id)?.update(p);
    this.#screenChanged(p);
    this.panel.upsert(p, false);
    if (!before.moderator && p.moderator) announce(`${p.name} is now a moderator`);
    if (!before.hand_raised && p.hand_raised) announce(`${p.name} raised their hand`);
  }

  /** The moderator controls follow my role. */
  #roleChanged() {
    const mod = !!this.me?.moderator;
    this.panel.setModerator(mod);
    this.security.update(this.settings, mod);
    if (!mod) this.panel.setLobby([]);
  }

  /** @param {LobbyEntry[]} waiting */
  #lobbyChanged(waiting) {
    const known = new Set(this.lobby.map((e) => e.id));
    this.lobby = waiting;
    if (!this.me?.moderator) return;
    this.panel.setLobby(waiting);
    const fresh = waiting.filter((e) => !known.has(e.id));
    for (const e of fresh) announce(`${e.name} is waiting in the lobby`);
    if (fresh.length > 0) {
      this.#toast(fresh.length === 1 ? `${fresh[0].name} is waiting in the lobby` : `${fresh.length} people are waiting in the lobby`);
      if (!this.panel.shown) this.togglePanel();
    }
  }

  /** @param {RoomSettings} next */
  #settingsChanged(next) {
    const prev = this.settings;
    this.settings = next;
    this.#showE2ee();
    this.security.update(next, !!this.me?.moderator);
    /** @type {string[]} */
    const said = [];
    if (prev.lobby !== next.lobby) said.push(next.lobby ? 'The lobby is on: newcomers wait to be let in' : 'The lobby is off');
    if (prev.locked !== next.locked) said.push(next.locked ? 'The meeting is locked' : 'The meeting is unlocked');
    if (prev.password !== next.password) said.push(next.password ? 'A meeting password is set' : 'The meeting password was removed');
    if (prev.e2ee !== next.e2ee) said.push(next.e2ee ? 'The meeting is now end-to-end encrypted' : 'The meeting is no longer end-to-end encrypted');
    if (prev.chat_history !== next.chat_history) said.push(next.chat_history ? 'People who join later will see earlier chat messages' : 'People who join later will not see earlier chat messages');
    this.inviteDialog.setPassword(next.password);
    if (prev.allow_unmute !== next.allow_unmute) said.push(next.allow_unmute ? 'Participants may unmute themselves' : 'Participants muted by a moderator may not unmute themselves');
    for (const t of said) {
      announce(t);
      if (this.security.isOpen) this.security.say(t);
    }
  }

  /** @param {TrackKind} kind */
  async #mutedByModerator(kind) {
    if (!this.me) return;
    if (kind === 'audio') {
      this.me = { ...this.me, audio_blocked: true };
      this.pendingUnmute.audio = false;
      if (this.media.audioOn) {
        this.media.setAudio(false);
        setPressed(this.micButton, false, micIcon);
        this.#mediaChanged();
      }
      announce('A moderator muted your microphone');
      this.#toast('A moderator muted your microphone');
    } else {
      this.me = { ...this.me, video_blocked: true };
      this.pendingUnmute.video = false;
      if (this.media.videoOn) await this.#setCamera(false);
      announce('A moderator stopped your video');
      this.#toast('A moderator stopped your video');
    }
  }

  /** The server refused to let me turn media back on: put the toggles back off. */
  async #unmuteRefused() {
    const { audio, video } = this.pendingUnmute;
    this.pendingUnmute = { audio: false, video: false };
    if (audio && this.media.audioOn) {
      this.media.setAudio(false);
      setPressed(this.micButton, false, micIcon);
    }
    if (video && this.media.videoOn) {
      await this.session?.replaceVideoTrack(null);
      await this.media.setVideo(false);
      setPressed(this.camButton, false, cameraIcon);
    }
    this.choice = this.media.choice();
    this.#refreshMe();
    const what = audio && video ? 'microphone and camera' : audio ? 'microphone' : 'camera';
    this.#showError(`A moderator turned your ${what} off and has not allowed you to turn it back on. You can raise your hand to ask to speak.`);
    announce('You can raise your hand to ask to speak');
  }

  /** @param {Participant} p */
  async #confirmRemove(p) {
    const yes = await confirmDialog({
      title: `Remove ${p.name}?`,
      text: `${p.name} leaves the meeting at once and cannot come back into it from the same browser.`,
      confirm: 'Remove',
      danger: true,
    });
    if (yes && this.others.has(p.id)) this.client.remove(p.id);
  }

  /** @param {import('./protocol.js').WelcomeMessage} msg */
  async #welcome(msg) {
    const { you, participants } = msg;
    this.resumeToken = msg.resume_token;
    this.iceServers = msg.ice_servers;
    if (this.me) return this.#welcomeAgain(msg);
    this.welcomed = true;
    this.choice = this.media.choice();
    this.settings = msg.settings;
    if (msg.host_key) {
      this.hostKey = msg.host_key;
      this.callbacks.onHostKey(msg.host_key);
    } else if (this.sentHostKey && !you.moderator) {
      // The key was for an earlier meeting under this name: it is worth nothing now.
      this.hostKey = null;
      this.callbacks.onHostKey(null);
    }
    this.#render();
    this.me = { ...you, audio: this.media.audioOn, video: this.media.videoOn };
    this.panel.setModerator(you.moderator);
    this.security.update(this.settings, you.moderator);
    setPressed(this.handButton, you.hand_raised, handIcon);
    this.chat.setMe(you.id);
    this.hands.update(you, true);
    const mine = this.grid.add(this.me, true);
    this.panel.upsert(this.me, true);
    mine.setVideoTrack(this.media.videoTrack);
    this.speaking.watch('local', this.media.audioTrack, (s) => mine.setSpeaking(s));
    for (const p of participants) this.#addOther(p);
    this.#updateStatus();
    this.#showE2ee();
    await this.#e2eeWelcome(you.id);

    await this.#startSession();
  }

  /** @param {Participant} p */
  #addOther(p) {
    this.others.set(p.id, p);
    if (this.e2ee && p.e2ee_public_key) {
      try {
        this.e2ee.addPeer(p.id, p.e2ee_public_key);
      } catch (err) {
        console.warn('moot: a participant has an unusable encryption key:', err);
      }
    }
    this.chat.upsertPerson(p.id, p.name);
    this.hands.update(p, false);
    this.grid.add(p);
    this.slotAudio.refresh(p.id);
    this.#screenChanged(p);
    this.panel.upsert(p, false);
    this.#showVerification(p.id);
    if (this.session) {
      // Their tracks, if any, arrive with the next server offer.
      const tile = this.grid.get(p.id);
      const media = this.session.remoteMedia(p.id);
      tile?.setVideoTrack(media.video);
      tile?.setAudioTrack(media.audio);
    }
  }

  /**
   * After `welcome`: our id, and our current sender key to everyone already here.
   * @param {string} me
   */
  async #e2eeWelcome(me) {
    const keys = this.e2ee;
    if (!keys) return;
    keys.me = me;
    for (const id of [...keys.peers.keys()]) if (!this.others.has(id)) keys.removePeer(id);
    await Promise.all([...keys.peers.keys()].map((id) => keys.sendKey(id).catch((err) => console.warn('moot: could not send a key:', err))));
    for (const id of keys.peers.keys()) this.#showVerification(id);
  }

  /**
   * Sends a chat message; in an end-to-end encrypted meeting only encrypted (docs/e2ee.md,
   * "Chat"): to everyone under our sender key, privately under the pairwise key.
   * @param {string} text
   * @param {string | null} to
   */
  async #sendChat(text, to) {
    this.lastSent = { kind: 'chat', at: Date.now() };
    if (!this.settings.e2ee) {
      this.client.sendChat(text, to);
      return;
    }
    if (!this.e2ee) {
      this.chat.refused('This meeting is end-to-end encrypted and this browser cannot encrypt: the message was not sent.');
      return;
    }
    try {
      const sealed = await this.e2ee.encryptChat(text, to);
      this.lastSent = { kind: 'chat', at: Date.now() };
      this.client.sendChat(sealed, to);
    } catch (err) {
      this.chat.refused(`The message could not be encrypted, so it was not sent: ${errorText(err)}`);
    }
  }

  /**
   * A chat message as the server relayed it → as the panel shows it. In an encrypted meeting:
   * decrypted (waiting briefly for the sender's key when `wait`), or marked undecryptable (never
   * shown as text), or, if it came in clear, marked so.
   * @param {import('./protocol.js').ChatEntry} m
   * @param {boolean} wait
   * @returns {Promise<import('./chat.js').ShownChat>}
   */
  async #openChat(m, wait) {
    if (!this.settings.e2ee) return m;
    if (!isEncryptedChat(m.text)) return { ...m, e2ee: 'clear' };
    const keys = this.e2ee;
    const opened = keys ? await (wait ? keys.decryptChatWaiting(m.from, m.to, m.text) : keys.decryptChat(m.from, m.to, m.text)) : null;
    if (!opened?.ok) return { ...m, text: UNDECRYPTABLE, e2ee: 'undecryptable' };
    // The server's rule for text in clear, kept for text it cannot see: no control characters
    // but newline and tab (rendering is text-only anyway).
    const text = opened.text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\ufffd');
    return { ...m, text, e2ee: 'encrypted' };
  }

  /** The always-visible encryption indicator: it says what is true for this page's media. */
  #showE2ee() {
    const on = this.settings.e2ee && !!this.e2ee;
    this.session?.refreshE2ee();
    this.chat.setEncrypted(this.settings.e2ee);
    this.e2eeState.dataset.e2ee = on ? 'on' : 'off';
    this.e2eeState.textContent = on ? 'End-to-end encrypted' : 'Not end-to-end encrypted';
    this.e2eeState.title = on
      ? 'Audio, video and chat are encrypted so that only the people in this meeting can read them. Compare verification codes in Participants to be sure nobody is in between.'
      : 'The server can see this meeting’s audio and video.';
  }

  /** @param {string} id */
  #showVerification(id) {
    const peer = this.e2ee?.peers.get(id);
    if (!peer) return;
    peer.code.then(
      (code) => this.panel.setVerification(id, { code, byMe: peer.verifiedByMe, byThem: peer.verifiedByThem }),
      () => this.panel.setVerification(id, null),
    );
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
    this.#bindScreens();
  }

  /** Re-renders my own tile and panel entry from the local media state. */
  #refreshMe() {
    if (!this.me) return;
    this.me = { ...this.me, audio: this.media.audioOn, video: this.media.videoOn, screen: this.screenShare.active };
    this.client.name = this.me.name;
    const tile = this.grid.get(this.me.id);
    tile?.setVideoTrack(this.media.videoTrack);
    tile?.update(this.me);
    this.panel.upsert(this.me, true);
    this.#refreshMyScreen();
  }

  toggleMic() {
    if (!this.media.hasAudio) return;
    this.speaking.resume();
    const on = !this.media.audioOn;
    // Asking is all the client does: the server decides (and drops the audio meanwhile).
    if (on && this.me?.audio_blocked) this.pendingUnmute.audio = true;
    this.media.setAudio(on);
    setPressed(this.micButton, this.media.audioOn, micIcon);
    this.#mediaChanged();
  }

  async toggleCamera() {
    this.speaking.resume();
    const on = !this.media.videoOn;
    if (on && this.me?.video_blocked) this.pendingUnmute.video = true;
    await this.#setCamera(on);
  }

  /** @param {boolean} on */
  async #setCamera(on) {
    this.camButton.disabled = true;
    try {
      if (!on) {
        await this.session?.replaceVideoTrack(null);
        await this.media.setVideo(false);
      } else {
        const track = await this.media.setVideo(true);
        await this.session?.replaceVideoTrack(track);
      }
    } catch (err) {
      this.#showError(`The camera could not be turned on: ${errorText(err)}`);
    } finally {
      this.camButton.disabled = !this.media.canVideo;
    }
    setPressed(this.camButton, this.media.videoOn, cameraIcon);
    this.#mediaChanged();
  }

  toggleHand() {
    if (!this.me) return;
    const raised = this.handButton.getAttribute('aria-pressed') !== 'true';
    setPressed(this.handButton, raised, handIcon);
    this.client.raiseHand(raised);
  }

  #mediaChanged() {
    this.choice = this.media.choice();
    this.#refreshMe();
    if (this.me) this.client.sendMediaState(this.media.audioOn, this.media.videoOn, this.screenShare.active);
  }

  /**
   * Shows a non-fatal refusal of a chat message or a reaction where it was sent from.
   * @param {string} code
   * @param {string} message
   * @returns {boolean} whether it was one
   */
  #refusedChatOrReaction(code, message) {
    const recent = Date.now() - this.lastSent.at < 5000;
    if (code === 'bad_chat' || (recent && this.lastSent.kind === 'chat' && (code === 'rate_limited' || code === 'unknown_participant'))) {
      this.chat.refused(message);
      return true;
    }
    if (code === 'bad_reaction' || (recent && this.lastSent.kind === 'react' && code === 'rate_limited')) {
      this.reactions.refused(message);
      return true;
    }
    return false;
  }

  /**
   * Shows a reaction briefly over the sender's tile (or over the stage when that tile is not
   * shown) and says it.
   * @param {string} id
   * @param {string} emoji
   */
  #reaction(id, emoji) {
    const mine = id === this.me?.id;
    const name = mine ? this.me?.name : this.others.get(id)?.name;
    if (name === undefined) return;
    const tile = this.grid.get(id);
    if (tile && tile.el.isConnected && tile.el.offsetParent !== null) showReaction(tile.el, emoji);
    else showReaction(this.grid.el, emoji, mine ? 'You' : name);
    announceReaction(name, emoji, mine);
  }

  togglePanel() {
    const open = this.panel.toggle();
    setPressed(this.peopleButton, open, peopleIcon);
  }

  /** Opens the Invite dialog (with the host link for the holder of the host key). */
  invite() {
    this.inviteDialog.open(this.hostKey, this.settings.password);
  }

  /** @param {string} text */
  #toast(text) {
    const t = h('p', { class: 'toast', text });
    this.alerts.append(t);
    // At most two at a time, so that a burst (several knocks) does not push the tiles away.
    const toasts = this.alerts.querySelectorAll('.toast');
    for (let i = 0; i < toasts.length - 2; i++) toasts[i].remove();
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
    // The server must read `leave` before it sees the media connection end; otherwise it may
    // take this for a dropped connection and keep us 10 s for a reconnection (the others would
    // see "lost the connection" late). The tracks stop at once; the peer connection a bit later.
    const session = this.session;
    this.session = null;
    if (session) window.setTimeout(() => session.close(), 1000);
    this.#end();
    this.callbacks.onLeft(this.choice);
  }

  /**
   * Releases the socket, the peer connection, the tracks and the audio graph (idempotent).
   * @param {boolean} [keepMedia] keep the camera and microphone (back to the pre-join page)
   */
  #end(keepMedia = false) {
    if (this.ended) return;
    this.ended = true;
    window.removeEventListener('pagehide', this.onPageHide);
    this.client.close();
    this.session?.close();
    this.viewSizes.close();
    this.slotAudio.close();
    this.speaking.close();
    this.security.destroy();
    this.inviteDialog.destroy();
    this.screenShare.release();
    this.settingsDialog.destroy();
    this.reconnector.stop();
    window.clearTimeout(this.iceTimer);
    this.shortcuts.uninstall();
    this.reactions.setOpen(false, false);
    if (!keepMedia) this.media.stop();
    for (const tile of this.grid.tiles.values()) {
      tile.setVideoTrack(null);
      tile.setAudioTrack(null);
    }
  }

  // ---- Media session, screen share, devices, reconnection -------------------------------------

  /** A new RTCPeerConnection and its one offer (on `welcome`, and again after a reconnection). */
  async #startSession() {
    if (!this.me) return;
    this.layout.me = this.me.id;
    const session = new MediaSession({
      stream: this.media.stream, audioTrack: this.media.audioTrack, videoTrack: this.media.videoTrack,
      iceServers: this.iceServers,
      // Test/debug switch: `?relay=1` in the page URL sends media only through TURN.
      relayOnly: new URLSearchParams(location.search).get('relay') === '1',
      frameCrypto: this.#frameCrypto(),
    });
    this.session = session;
    session.limited = this.uploadLimited;
    session.addEventListener('connectionstatechange', (ev) => {
      if (session !== this.session || this.ended) return;
      const state = /** @type {CustomEvent<RTCPeerConnectionState>} */ (ev).detail;
      window.clearTimeout(this.iceTimer);
      if (state === 'failed') this.#mediaLost();
      else if (state === 'disconnected') {
        this.iceTimer = window.setTimeout(() => {
          if (session === this.session && session.pc.connectionState === 'disconnected') this.#mediaLost();
        }, ICE_DISCONNECTED_MS);
      }
    });
    exposeForTests(this);
    const offer = await session.createPublishOffer({ screen: this.screenShare.video, screenAudio: this.screenShare.audio });
    this.client.sendOffer(offer, session.sources, true);
    this.client.sendMediaState(this.media.audioOn, this.media.videoOn, this.screenShare.active);
  }

  /** @returns {import('./media-session.js').FrameCrypto | null} */
  #frameCrypto() {
    const keys = this.e2ee;
    if (!keys) return null;
    const captured = this.captured;
    return {
      active: () => this.settings.e2ee,
      encrypt: (kind, frame) => keys.encrypt(kind, frame),
      decrypt: (kind, owner, data, slot) => keys.decrypt(kind, owner, data, slot),
      connectWorker: (post) => {
        for (const update of keys.frameKeyState()) post(update);
        /** @param {Event} ev */
        const onChange = (ev) => post(/** @type {CustomEvent<import('./e2ee.js').KeyUpdate>} */ (ev).detail);
        keys.addEventListener('framekeys', onChange);
        return () => keys.removeEventListener('framekeys', onChange);
      },
      countWorker: (delta) => {
        const stats = /** @type {Record<string, number>} */ (/** @type {unknown} */ (keys.stats));
        for (const [k, v] of Object.entries(delta)) if (k in stats) stats[k] += v;
      },
      slotOpened: (mid, from) => keys.slotOpened(mid, from),
      keepSlots: (mids) => keys.keepSlots(mids),
      capture: captured
        ? (where, kind, owner, bytes) => {
            if (kind !== 'video') return;
            const list = (captured[where] ??= []);
            list.push({ kind, owner, bytes: bytes.slice() });
            if (list.length > 60) list.shift();
          }
        : undefined,
    };
  }

  /** The media connection failed: reconnect everything (only the server makes offers). */
  #mediaLost() {
    if (!this.resumeToken) {
      this.#connectionLost('The media connection failed.');
      return;
    }
    this.client.drop(); // reported as a close: see #reconnectOnClose
  }

  /**
   * The socket closed unexpectedly: start (or go on) reconnecting. Returns false when that is
   * not possible (before `welcome`, or without a resume token).
   * @returns {boolean}
   */
  #reconnectOnClose() {
    if (!this.welcomed || !this.resumeToken || this.ended) return false;
    if (this.reconnector.active) {
      this.reconnector.failed();
      return true;
    }
    window.clearTimeout(this.iceTimer);
    this.session?.close();
    this.session = null;
    this.reconnector.start();
    this.status.textContent = 'Reconnecting…';
    return true;
  }

  /**
   * A `welcome` while already in the meeting: a reconnection. With `resumed` the server kept
   * us (same id, name, role, state); otherwise our grace period had run out and we are in again
   * as a new participant. Either way: the room as it is now, and a new media session.
   * @param {import('./protocol.js').WelcomeMessage} msg
   */
  async #welcomeAgain(msg) {
    const me = /** @type {Participant} */ (this.me);
    const { you } = msg;
    this.reconnector.succeeded();
    this.settings = msg.settings;
    if (you.id !== me.id) {
      this.speaking.unwatch('local');
      this.grid.remove(me.id);
      this.grid.remove(screenKey(me.id));
      this.panel.remove(me.id);
      this.me = { ...you, audio: this.media.audioOn, video: this.media.videoOn };
      const mine = this.grid.add(this.me, true);
      this.speaking.watch('local', this.media.audioTrack, (s) => mine.setSpeaking(s));
    } else {
      this.me = { ...me, ...you };
    }
    this.panel.setModerator(you.moderator);
    this.security.update(this.settings, you.moderator);
    const present = new Set(msg.participants.map((p) => p.id));
    for (const id of [...this.others.keys()]) {
      if (present.has(id)) continue;
      this.others.delete(id);
      this.speaking.unwatch(id);
      this.grid.remove(id);
      this.#screenGone(id);
      this.panel.remove(id);
      this.chat.removePerson(id);
      this.hands.remove(id);
    }
    for (const p of msg.participants) {
      if (!this.others.has(p.id)) {
        this.#addOther(p);
        continue;
      }
      this.others.set(p.id, p);
      this.grid.get(p.id)?.update(p);
      this.#screenChanged(p);
      this.panel.upsert(p, false);
    }
    this.#refreshMe();
    this.#updateStatus();
    this.#showE2ee();
    await this.#e2eeWelcome(this.me?.id ?? you.id);
    await this.#startSession();
    if (!msg.resumed && this.quality !== 'high') this.client.setQuality(this.quality);
    this.viewSizes.reset();
    announce('Reconnected');
  }

  /**
   * @param {MediaStreamTrack} video
   * @param {MediaStreamTrack | null} audio
   */
  async #screenStarted(video, audio) {
    await this.session?.replaceScreenTracks(video, audio);
    this.#mediaChanged();
    announce(audio ? 'You are sharing your screen and its sound' : 'You are sharing your screen');
  }

  async #screenStopped() {
    await this.session?.replaceScreenTracks(null, null);
    this.#mediaChanged();
    announce('You stopped sharing your screen');
  }

  /** My own screen share tile ("NAME (your screen)") while I share. */
  #refreshMyScreen() {
    if (!this.me) return;
    if (this.screenShare.active) this.grid.addScreen(this.me, true).setVideoTrack(this.screenShare.video);
    else this.grid.remove(screenKey(this.me.id));
    this.layout.refresh();
  }

  /**
   * Someone else's screen share tile follows their `screen` state.
   * @param {Participant} p
   */
  #screenChanged(p) {
    if (p.screen) {
      const tile = this.grid.addScreen(p);
      if (this.session) {
        const media = this.session.remoteMedia(p.id);
        tile.setVideoTrack(media.screen);
        tile.setAudioTrack(media.screenAudio);
      }
    } else {
      this.grid.remove(screenKey(p.id));
    }
    this.layout.setScreen(p.id, p.screen);
  }

  /** @param {string} id someone who left */
  #screenGone(id) {
    this.grid.remove(screenKey(id));
    this.layout.forget(id);
  }

  /** Puts the screen tracks from the last server offer on the screen tiles. */
  #bindScreens() {
    if (!this.session) return;
    for (const id of this.others.keys()) {
      const tile = this.grid.get(screenKey(id));
      if (!tile) continue;
      const media = this.session.remoteMedia(id);
      tile.setVideoTrack(media.screen);
      tile.setAudioTrack(media.screenAudio);
    }
    void applySpeaker(this.grid.el, this.sinkId);
    this.layout.refresh();
  }

  /** @param {string} id */
  async #chooseCamera(id) {
    try {
      const track = await this.media.switchCamera(id);
      if (track) {
        await this.session?.replaceVideoTrack(track);
        this.#refreshMe();
      }
      this.settingsDialog.say('Camera changed');
    } catch (err) {
      this.settingsDialog.showError(`The camera could not be changed: ${errorText(err)}`);
    }
  }

  /** @param {string} id */
  async #chooseMicrophone(id) {
    try {
      const track = await this.media.switchMicrophone(id);
      await this.session?.replaceAudioTrack(track);
      const mine = this.me ? this.grid.get(this.me.id) : undefined;
      if (mine) this.speaking.watch('local', track, (s) => mine.setSpeaking(s));
      this.micButton.disabled = false;
      setPressed(this.micButton, this.media.audioOn, micIcon);
      this.settingsDialog.say('Microphone changed');
    } catch (err) {
      this.settingsDialog.showError(`The microphone could not be changed: ${errorText(err)}`);
    }
  }

  /** @param {string} id */
  async #chooseSpeaker(id) {
    this.sinkId = id;
    rememberDevice('speaker', id);
    await applySpeaker(this.grid.el, id);
    await this.slotAudio.applySpeaker(id);
    this.settingsDialog.say('Speaker changed');
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
