// The meeting view: the lifecycle of one meeting (connect, render, leave, end) and the wiring
// of its parts, each with one job:
//
//   roster.js        who is here (the one place people are added, updated, removed)
//   stage.js         tiles, screen shares, speaker view, speaking rings, remote tracks
//   meeting-e2ee.js  keys, rekeying on the roster's joins and leaves, indicator, chat encryption
//   moderation.js    my role, lobby, settings, moderator mutes
//   connection.js    the media session and reconnection
//   my-media.js      what this page sends: microphone, camera, screen share, device choices
//   conversation.js  chat and reactions, in and out, and their refusals
//   toolbar.js, alerts.js, and the panels and dialogs of their own modules
//
// Server messages are handled strictly one after another: each type has its handler
// (`SignalingClient.on`), and every handler runs on one promise queue, in arrival order.

import { h, showView, announce, focusQuietly } from './dom.js';
import { SignalingClient, signalingUrl, ENTRY_ERRORS } from './protocol.js';
import { ParticipantsPanel } from './participants.js';
import { SecurityDialog } from './security.js';
import { InviteDialog } from './invite.js';
import { ScreenShare } from './screenshare.js';
import { SettingsDialog } from './settings.js';
import { exposeForTests } from './debug.js';
import { HandQueue } from './hands.js';
import { Shortcuts } from './shortcuts.js';
import { ViewSizeReporter } from './viewsizes.js';
import { Roster } from './roster.js';
import { Stage } from './stage.js';
import { MeetingE2ee } from './meeting-e2ee.js';
import { Moderation } from './moderation.js';
import { Connection } from './connection.js';
import { Toolbar } from './toolbar.js';
import { Alerts } from './alerts.js';
import { MyMedia } from './my-media.js';
import { Conversation } from './conversation.js';
import { Recording } from './recording.js';

/** @typedef {import('./protocol.js').Participant} Participant */
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
   * @param {{room: string, name: string, devices: LocalMedia, hello?: HelloExtras, hostKey?: string | null}} opts
   * @param {MeetingCallbacks} callbacks
   */
  constructor(root, opts, callbacks) {
    this.root = root;
    this.room = opts.room;
    this.name = opts.name;
    /** This page's camera and microphone. */
    this.devices = opts.devices;
    this.callbacks = callbacks;
    this.signaling = new SignalingClient({ url: signalingUrl(location), room: this.room, name: this.name, hello: opts.hello });
    /** The room's host key held by this browser (shown in Invite), if any. */
    this.hostKey = opts.hostKey ?? null;
    this.sentHostKey = !!opts.hello?.host_key;
    /** Set by `welcome`: until then the pre-join page is shown. */
    this.welcomed = false;
    this.ended = false;
    /** Server messages are handled strictly one after another. @type {Promise<void>} */
    this.queue = Promise.resolve();
    this.onPageHide = () => this.signaling.leave();
    /** What this person receives (`set_quality`). @type {import('./protocol.js').Quality} */
    this.quality = 'high';
    this.uploadLimited = false;

    this.roster = new Roster();
    this.alerts = new Alerts();
    this.screenShare = new ScreenShare({
      started: (video, audio) => this.myMedia.screenStarted(video, audio),
      stopped: () => this.myMedia.screenStopped(),
      failed: (message) => this.alerts.error(message),
    });
    // The roster's listeners run in the order they are made here: the stage and the panels
    // first, the encryption last (its verification codes go on the panel's entries).
    this.stage = new Stage({ roster: this.roster, devices: this.devices, screenShare: this.screenShare, sinkId: () => this.myMedia.sinkId, pc: () => this.connection.pc });
    this.myMedia = new MyMedia({
      devices: this.devices,
      screenShare: () => this.screenShare,
      toolbar: () => this.toolbar,
      pc: () => this.connection.pc,
      signaling: this.signaling,
      roster: this.roster,
      stage: this.stage,
      askingToUnmute: (kind) => this.moderation.askingToUnmute(kind),
      say: (text) => this.settingsDialog.say(text),
      failed: (message) => this.settingsDialog.showError(message),
      showError: (message) => this.alerts.error(message),
    });
    /** Tells the server the size of each remote camera tile (simulcast layer choice). */
    this.viewSizes = new ViewSizeReporter(this.stage.grid, (sizes) => this.signaling.sendViewSizes(sizes));
    this.panel = new ParticipantsPanel({
      mute: (p, kind) => this.signaling.mute(p.id, kind),
      allowUnmute: (p) => this.signaling.allowUnmute(p.id),
      remove: (p) => void this.moderation.confirmRemove(p),
      makeModerator: (p) => this.signaling.makeModerator(p.id),
      muteAll: (kind) => this.signaling.muteAll(kind),
      admit: (e) => this.signaling.admit(e.id),
      reject: (e) => this.signaling.reject(e.id),
      verify: (p) => this.encryption.verify(p.id),
    });
    this.security = new SecurityDialog({
      setLobby: (on) => this.signaling.setLobby(on),
      setPassword: (pw) => this.signaling.setPassword(pw),
      removePassword: () => this.signaling.removePassword(),
      setLock: (on) => this.signaling.setLock(on),
      setAllowUnmute: (on) => this.signaling.setAllowUnmute(on),
      setChatHistory: (on) => this.signaling.setChatHistory(on),
      setE2ee: (on) => this.signaling.setE2ee(on),
    });
    this.inviteDialog = new InviteDialog(this.room);
    this.conversation = new Conversation({ signaling: this.signaling, roster: this.roster, encryption: () => this.encryption, grid: this.stage.grid });
    this.hands = new HandQueue();
    this.panel.list.before(this.hands.el);
    this.roster.listen({
      me: (me, before) => {
        if (before && before.id !== me.id) this.panel.remove(before.id);
        this.panel.upsert(me, true);
        this.signaling.name = me.name;
      },
      joined: (p) => {
        this.hands.update(p, false);
        this.panel.upsert(p, false);
      },
      updated: (p) => {
        this.hands.update(p, false);
        this.panel.upsert(p, false);
      },
      left: (p) => {
        this.panel.remove(p.id);
        this.hands.remove(p.id);
      },
    });
    this.recording = new Recording({ setRecording: (on) => this.signaling.setRecording(on) });
    this.moderation = new Moderation({
      roster: this.roster,
      panel: this.panel,
      security: this.security,
      recording: this.recording,
      invite: this.inviteDialog,
      remove: (id) => this.signaling.remove(id),
      turnOff: (kind) => this.myMedia.turnOff(kind),
      isOn: (kind) => this.myMedia.isOn(kind),
      openPanel: () => {
        if (!this.panel.shown) this.togglePanel();
      },
      toast: (text) => this.alerts.toast(text),
      showError: (message) => this.alerts.error(message),
      settingsChanged: () => this.encryption.show(this.connection.pc),
    });
    this.encryption = new MeetingE2ee({
      roster: this.roster,
      sendE2ee: (to, payload) => void this.signaling.sendE2ee(to, payload),
      sendChat: (text, to) => this.signaling.sendChat(text, to),
      settings: () => this.moderation.settings,
      panel: this.panel,
      chat: this.conversation.chat,
    });
    this.security.e2eeSupported = this.encryption.capable;
    this.settingsDialog = new SettingsDialog({
      chooseCamera: (id) => this.myMedia.chooseCamera(id),
      chooseMicrophone: (id) => this.myMedia.chooseMicrophone(id),
      chooseSpeaker: (id) => this.myMedia.chooseSpeaker(id),
      current: () => ({ camera: this.devices.cameraId, microphone: this.devices.microphoneId, speaker: this.myMedia.sinkId }),
      setName: (name) => this.signaling.setName(name),
      setQuality: (q) => {
        this.quality = q;
        this.signaling.setQuality(q);
      },
      setUploadLimit: (on) => {
        this.uploadLimited = on;
        void this.connection.pc?.setUploadLimit(on);
      },
      name: () => this.roster.me?.name ?? this.name,
    });
    this.connection = new Connection({
      signaling: this.signaling,
      devices: this.devices,
      screenShare: this.screenShare,
      frameCrypto: () => this.encryption.frameCrypto(),
      uploadLimited: () => this.uploadLimited,
      live: () => this.welcomed && !this.ended,
      lost: (message) => this.#connectionLost(message),
      reconnecting: () => {
        this.status.textContent = 'Reconnecting…';
      },
      newSession: () =>
        exposeForTests({
          pc: () => this.connection.pc,
          signaling: this.signaling,
          screenShare: this.screenShare,
          keys: () => this.encryption.keys,
          captured: this.encryption.captured,
          slotAudio: this.stage.slotAudio,
        }),
    });
    this.alerts.pin(this.connection.reconnector.banner);
    this.toolbar = new Toolbar(
      {
        toggleMic: () => this.myMedia.toggleMic(),
        toggleCamera: () => void this.myMedia.toggleCamera(),
        toggleHand: () => this.toggleHand(),
        togglePanel: () => this.togglePanel(),
        openSecurity: () => this.security.open(),
        openRecording: () => this.recording.open(),
        invite: () => this.invite(),
        openSettings: () => this.settingsDialog.open(),
        leave: () => this.leave(),
      },
      { chat: this.conversation.chat.toggle, reactions: this.conversation.reactions.button, screen: this.screenShare.button, layout: this.stage.layout.button },
    );
    this.toolbar.showDevices(this.devices);
    this.shortcuts = new Shortcuts(this.toolbar.el);
    this.heading = h('h1', { class: 'meeting-title', text: this.room });
    this.status = h('p', { class: 'meeting-status', text: 'Connecting…' });
  }

  /** Connects; the meeting view replaces the pre-join page once the server lets us in. */
  start() {
    // The identity key must be in `hello`: make it first (a few milliseconds).
    void this.encryption.create().then(() => this.#connect());
  }

  #connect() {
    if (this.ended) return;
    this.security.e2eeSupported = this.encryption.capable;
    const keys = this.encryption.keys;
    if (keys) {
      this.signaling.hello.e2ee_public_key = keys.publicKey;
      this.stage.slotAudio.follow(keys); // a slot's speaker: whose key opens its frames
    }
    window.addEventListener('pagehide', this.onPageHide);
    this.#subscribe();
    this.signaling.addEventListener('protocol-error', (ev) => {
      console.warn('moot: ignored a malformed server message:', /** @type {CustomEvent<Error>} */ (ev).detail.message);
    });
    this.signaling.addEventListener('close', (ev) => {
      const info = /** @type {CustomEvent<import('./protocol.js').CloseInfo>} */ (ev).detail;
      if (info.expected || this.ended) return;
      if (!this.welcomed) {
        this.#end(true);
        this.callbacks.onRefused('connection', info.opened ? 'The connection to the server was lost before you got in. Try again.' : 'Could not connect to the server.');
        return;
      }
      if (this.connection.reconnectOnClose()) return;
      this.#connectionLost(info.opened ? 'Connection lost.' : 'Could not connect to the server.');
    });
    this.signaling.connect();
  }

  /** One handler per server message type, each run in arrival order on one queue. */
  #subscribe() {
    /** @type {<T>(handle: (msg: T) => unknown) => (msg: T) => void} */
    const inOrder = (handle) => (msg) => {
      this.queue = this.queue
        .then(async () => {
          if (!this.ended) await handle(msg);
        })
        .catch((err) => this.alerts.error(`Something went wrong: ${errorText(err)}`));
    };
    const s = this.signaling;
    const { moderation, encryption, stage } = this;
    s.on('waiting', inOrder(() => this.#waiting()));
    s.on('welcome', inOrder((m) => this.#welcome(m)));
    s.on('participant_joined', inOrder((m) => this.#joined(m.participant)));
    s.on('participant_updated', inOrder((m) => this.#updated(m.participant)));
    s.on('participant_left', inOrder((m) => this.#left(m.id, m.reason)));
    s.on('lobby', inOrder((m) => moderation.lobbyChanged(m.waiting)));
    s.on('settings', inOrder((m) => moderation.settingsChanged(m.settings)));
    s.on('muted', inOrder((m) => moderation.mutedByModerator(m.kind)));
    s.on('e2ee', inOrder((m) => encryption.receive(m)));
    s.on('answer', inOrder((m) => this.connection.pc?.acceptAnswer(m.sdp)));
    s.on('offer', inOrder((m) => this.#offer(m)));
    s.on('slot', inOrder((m) => this.#slot(m)));
    s.on('layers', inOrder((m) => this.connection.pc?.setActiveLayers(m.mid, m.active)));
    s.on('dominant_speaker', inOrder((m) => stage.layout.setDominant(m.id)));
    s.on('chat', inOrder((m) => this.conversation.receive(m.message)));
    s.on('chat_history', inOrder((m) => this.conversation.history(m.messages)));
    s.on('reaction', inOrder((m) => this.conversation.reaction(m.id, m.emoji)));
    s.on('error', inOrder((m) => this.#error(m)));
  }

  /** Stops waiting in the lobby (the devices stay on for the pre-join page). */
  cancel() {
    if (this.ended) return;
    this.signaling.leave();
    this.#end(true);
  }

  /** Shows the meeting view (on `welcome`). */
  #render() {
    this.toolbar.showDevices(this.devices);
    showView(
      this.root,
      `${this.room} · Moot`,
      h(
        'div',
        { class: 'meeting' },
        h('header', { class: 'meeting-header' }, h('span', { class: 'brand', text: 'Moot' }), this.heading, this.status, this.recording.indicator, this.encryption.indicator, this.shortcuts.helpButton),
        this.alerts.el,
        h('div', { class: 'meeting-body' }, h('section', { class: 'stage', 'aria-label': 'Participants’ video' }, this.stage.grid.el), this.panel.el, this.conversation.chat.el, this.conversation.reactions.menu),
        this.toolbar.el,
        this.stage.slotAudio.el,
      ),
    );
    this.shortcuts.install();
    focusQuietly(this.heading);
    for (const problem of [this.devices.audioProblem, this.devices.videoProblem]) if (problem) this.alerts.note(problem);
  }

  // ---- Who is here ---------------------------------------------------------------------------

  #waiting() {
    if (this.connection.reconnecting) return this.#connectionLost('Connection lost.');
    if (!this.welcomed) this.callbacks.onWaiting();
  }

  /** @param {import('./protocol.js').WelcomeMessage} msg */
  async #welcome(msg) {
    const { you } = msg;
    this.connection.welcome(msg);
    if (this.roster.me) return this.#welcomeAgain(msg);
    this.welcomed = true;
    this.myMedia.rejoinChoice = this.devices.choice();
    if (msg.host_key) {
      this.hostKey = msg.host_key;
      this.callbacks.onHostKey(msg.host_key);
    } else if (this.sentHostKey && !you.moderator) {
      // The key was for an earlier meeting under this name: it is worth nothing now.
      this.hostKey = null;
      this.callbacks.onHostKey(null);
    }
    this.#render();
    await this.roster.setMe({ ...you, audio: this.devices.audioOn, video: this.devices.videoOn });
    this.moderation.welcome(msg.settings);
    this.toolbar.setHand(you.hand_raised);
    this.hands.update(you, true);
    await this.roster.sync(msg.participants, 'welcome');
    this.#updateStatus();
    this.encryption.show(this.connection.pc);
    await this.encryption.welcome(you.id);
    await this.connection.startSession();
  }

  /**
   * A `welcome` while already in the meeting: a reconnection. With `resumed` the server kept
   * us (same id, name, role, state); otherwise our grace period had run out and we are in again
   * as a new participant. Either way the roster catches up with the room as it is now, through
   * the same listeners as live joins and leaves (so the encryption rekeys as it would have),
   * and a new media session starts.
   * @param {import('./protocol.js').WelcomeMessage} msg
   */
  async #welcomeAgain(msg) {
    const me = /** @type {Participant} */ (this.roster.me);
    const { you } = msg;
    const next = you.id !== me.id ? { ...you, audio: this.devices.audioOn, video: this.devices.videoOn } : { ...me, ...you };
    await this.roster.setMe(next);
    this.moderation.welcome(msg.settings);
    await this.roster.sync(msg.participants, 'resync');
    await this.myMedia.refreshMe();
    this.#updateStatus();
    this.encryption.show(this.connection.pc);
    await this.encryption.welcome(next.id);
    await this.connection.startSession();
    if (!msg.resumed && this.quality !== 'high') this.signaling.setQuality(this.quality);
    this.viewSizes.reset();
    announce('Reconnected');
  }

  /** @param {Participant} p */
  async #joined(p) {
    if (this.roster.isMe(p.id)) return;
    await this.roster.upsert(p, { cause: 'live' });
    announce(`${p.name} joined`);
    this.#updateStatus();
  }

  /** @param {Participant} p */
  async #updated(p) {
    const me = this.roster.me;
    if (me && p.id === me.id) {
      this.hands.update(p, true);
      await this.roster.setMe({ ...me, name: p.name, moderator: p.moderator, hand_raised: p.hand_raised, audio_blocked: p.audio_blocked, video_blocked: p.video_blocked });
      this.toolbar.setHand(p.hand_raised);
      this.moderation.meUpdated(/** @type {Participant} */ (this.roster.me), me);
      await this.myMedia.refreshMe();
      return;
    }
    const before = this.roster.others.get(p.id);
    if (!before) return;
    await this.roster.upsert(p, { cause: 'live' });
    if (!before.moderator && p.moderator) announce(`${p.name} is now a moderator`);
    if (!before.hand_raised && p.hand_raised) announce(`${p.name} raised their hand`);
  }

  /**
   * @param {string} id
   * @param {import('./protocol.js').LeaveReason} reason
   */
  async #left(id, reason) {
    const p = await this.roster.remove(id, { cause: 'live', reason });
    if (!p) return;
    announce(reason === 'removed' ? `${p.name} was removed` : reason === 'disconnected' ? `${p.name} lost the connection` : `${p.name} left`);
    this.#updateStatus();
  }

  #updateStatus() {
    const n = this.roster.count;
    this.status.textContent = n === 1 ? 'Only you so far' : `${n} people`;
    this.panel.setCount(n);
  }

  // ---- Media from the server -----------------------------------------------------------------

  /** @param {import('./protocol.js').OfferMessage} msg */
  async #offer(msg) {
    const pc = this.connection.pc;
    if (!pc) return;
    const sdp = await pc.answerOffer(msg.sdp, msg.tracks, msg.slots);
    this.signaling.sendAnswer(sdp);
    this.stage.bindRemoteMedia();
  }

  /** @param {import('./protocol.js').SlotMessage} msg */
  #slot(msg) {
    if (this.connection.pc?.setSlotOwner(msg.mid, msg.participant)) this.stage.slotAudio.setOwner(msg.mid, msg.participant);
    else console.warn(`moot: a slot message for ${msg.mid}, which is no audio slot`);
  }

  toggleHand() {
    if (!this.roster.me) return;
    const raised = !this.toolbar.handRaised;
    this.toolbar.setHand(raised);
    this.signaling.raiseHand(raised);
  }

  // ---- Errors ----------------------------------------------------------------------------------

  /**
   * Where an `error` goes: the reconnection, the end of the meeting, the moderation (a refused
   * unmute), the chat or reactions, the open dialog, or an alert.
   * @param {import('./protocol.js').ErrorMessage} msg
   */
  async #error(msg) {
    if (msg.fatal && this.connection.reconnecting) {
      this.connection.stopReconnecting();
      this.#connectionLost(`Connection lost: ${msg.message}`);
    } else if (msg.fatal && msg.code === 'server_error' && this.welcomed && this.connection.resumeToken) {
      // The server lost our media connection (ICE failed on its side) and closes: it keeps
      // us for the resume grace period, so reconnect as after a dropped socket.
      this.connection.reconnectOnClose();
    } else if (msg.fatal) {
      const entry = !this.welcomed && /** @type {readonly string[]} */ (ENTRY_ERRORS).includes(msg.code);
      this.#end(entry);
      if (entry) this.callbacks.onRefused(msg.code, msg.message);
      else this.callbacks.onFatal(msg.code, msg.message, this.myMedia.rejoinChoice);
    } else if (msg.code === 'not_allowed' && this.moderation.unmutePending) {
      await this.moderation.unmuteRefused();
    } else if (this.conversation.refused(msg.code, msg.message)) {
      // shown in the chat panel or the reactions bar
    } else if (this.settingsDialog.isOpen && msg.code === 'bad_display_name') {
      this.settingsDialog.showError(msg.message);
    } else if (this.recording.isOpen && msg.code.startsWith('recording_')) {
      this.recording.showError(msg.message);
    } else if (this.security.isOpen) {
      this.security.showError(msg.message);
    } else {
      this.alerts.error(msg.message);
    }
  }

  // ---- Panels, dialogs, lifecycle --------------------------------------------------------------

  togglePanel() {
    this.toolbar.setPeople(this.panel.toggle());
  }

  /** Opens the Invite dialog (with the host link for the holder of the host key). */
  invite() {
    this.inviteDialog.open(this.hostKey, this.moderation.settings.password);
  }

  /** @param {string} message */
  #connectionLost(message) {
    if (this.ended) return;
    this.#end();
    this.alerts.lost(message, () => this.callbacks.onRejoin(this.myMedia.rejoinChoice));
    this.status.textContent = 'Disconnected';
    this.toolbar.disable();
  }

  /** Leaves on purpose: tells the server, releases everything, shows the "left" page. */
  leave() {
    if (!this.ended) this.signaling.leave();
    // The tracks stop at once; the peer connection a bit later (after the server read `leave`).
    this.connection.closeSoon();
    this.#end();
    this.callbacks.onLeft(this.myMedia.rejoinChoice);
  }

  /**
   * Releases the socket, the peer connection, the tracks and the audio graph (idempotent).
   * @param {boolean} [keepMedia] keep the camera and microphone (back to the pre-join page)
   */
  #end(keepMedia = false) {
    if (this.ended) return;
    this.ended = true;
    window.removeEventListener('pagehide', this.onPageHide);
    this.signaling.close();
    this.connection.close();
    this.viewSizes.close();
    this.stage.close();
    this.security.destroy();
    this.inviteDialog.destroy();
    this.screenShare.release();
    this.settingsDialog.destroy();
    this.recording.destroy();
    this.shortcuts.uninstall();
    this.conversation.reactions.setOpen(false, false);
    if (!keepMedia) this.devices.stop();
  }
}

/** @param {unknown} err */
function errorText(err) {
  return err instanceof Error ? err.message : String(err);
}
