// The Moot signaling client (docs/protocol.md, version 1). No DOM code here: it only needs
// WebSocket, EventTarget and JSON, so it can run in a worker or a test harness too.

export const PROTOCOL_VERSION = 1;

/**
 * Someone in the room. `moderator`, `hand_raised`, `audio_blocked` and `video_blocked` default
 * to false when an older server leaves them out; `hand_seq` orders the raised hands (null when
 * lowered).
 * @typedef {{id: string, name: string, audio: boolean, video: boolean, moderator: boolean,
 *   hand_raised: boolean, audio_blocked: boolean, video_blocked: boolean, screen: boolean, hand_seq?: number | null, e2ee_public_key?: string | null}} Participant
 */
/** The six reactions the server accepts (docs/protocol.md), in menu order. */
export const REACTIONS = /** @type {const} */ (['👍', '👏', '😂', '😮', '❤️', '🎉']);
/** Chat text limit in characters (Unicode scalar values, after trimming). */
export const MAX_CHAT_CHARS = 2000;
/** A chat message: `to` is null for everyone, else the recipient's id (private). */
/** @typedef {{seq: number, from: string, name: string, text: string, to: string | null}} ChatEntry */
/** @typedef {{type: 'chat', message: ChatEntry}} ChatServerMessage */
/** @typedef {{type: 'chat_history', messages: ChatEntry[]}} ChatHistoryMessage */
/** @typedef {{type: 'reaction', id: string, emoji: string}} ReactionMessage */
/** @typedef {'audio' | 'video'} TrackKind */
/** @typedef {'microphone' | 'camera' | 'screen' | 'screen_audio'} TrackSource */
/** @typedef {{mid: string, participant: string, kind: TrackKind, source: TrackSource}} TrackInfo */
/** @typedef {'high' | 'standard' | 'low' | 'audio_only'} Quality */
/** @typedef {{lobby: boolean, locked: boolean, password: boolean, allow_unmute: boolean, chat_history: boolean, e2ee: boolean, recording: boolean}} RoomSettings */
/** @typedef {{id: string, name: string, knock: string | null}} LobbyEntry */
/** @typedef {'left' | 'removed' | 'disconnected'} LeaveReason */

/** @typedef {{type: 'welcome', version: number, you: Participant, room: string, participants: Participant[], settings: RoomSettings, host_key: string | null, resume_token: string | null, resumed: boolean, ice_servers: IceServer[]}} WelcomeMessage */
/** @typedef {{urls: string[], username: string, credential: string}} IceServer */
/** @typedef {{type: 'dominant_speaker', id: string | null}} DominantSpeakerMessage */
/** @typedef {{type: 'waiting'}} WaitingMessage */
/** @typedef {{type: 'lobby', waiting: LobbyEntry[]}} LobbyMessage */
/** @typedef {{type: 'settings', settings: RoomSettings}} SettingsMessage */
/** @typedef {{type: 'muted', kind: TrackKind}} MutedMessage */
/** @typedef {{type: 'answer', sdp: string}} AnswerMessage */
/** `slots`: the audio slots' mids (docs/protocol.md, "Audio slots"), empty when none. */
/** @typedef {{type: 'offer', sdp: string, tracks: TrackInfo[], slots: string[]}} OfferMessage */
/** @typedef {{type: 'slot', mid: string, participant: string}} SlotMessage */
/** @typedef {{type: 'participant_joined', participant: Participant}} ParticipantJoinedMessage */
/** @typedef {{type: 'participant_left', id: string, reason: LeaveReason}} ParticipantLeftMessage */
/** @typedef {{type: 'participant_updated', participant: Participant}} ParticipantUpdatedMessage */
/** @typedef {{type: 'error', code: string, message: string, fatal: boolean}} ErrorMessage */
/** @typedef {{type: 'e2ee', from: string, payload: string}} E2eeMessage */
/** @typedef {{type: 'layers', mid: string, active: string[]}} LayersMessage */

/**
 * @typedef {WelcomeMessage | WaitingMessage | LobbyMessage | SettingsMessage | MutedMessage
 *   | AnswerMessage | OfferMessage | SlotMessage | ParticipantJoinedMessage
 *   | ParticipantLeftMessage | ParticipantUpdatedMessage | ErrorMessage
 *   | ChatServerMessage | ChatHistoryMessage | ReactionMessage
 *   | DominantSpeakerMessage | E2eeMessage | LayersMessage} ServerMessage
 */

/**
 * Server message types to their shapes, for typed subscriptions with {@link SignalingClient#on}.
 * @typedef {{
 *   welcome: WelcomeMessage,
 *   waiting: WaitingMessage,
 *   lobby: LobbyMessage,
 *   settings: SettingsMessage,
 *   muted: MutedMessage,
 *   answer: AnswerMessage,
 *   offer: OfferMessage,
 *   slot: SlotMessage,
 *   participant_joined: ParticipantJoinedMessage,
 *   participant_left: ParticipantLeftMessage,
 *   participant_updated: ParticipantUpdatedMessage,
 *   error: ErrorMessage,
 *   chat: ChatServerMessage,
 *   chat_history: ChatHistoryMessage,
 *   reaction: ReactionMessage,
 *   dominant_speaker: DominantSpeakerMessage,
 *   e2ee: E2eeMessage,
 *   layers: LayersMessage,
 * }} ServerMessageMap
 */

/**
 * What `hello` may carry besides version, room and name (each left out when absent).
 * `e2ee_public_key` (base64) also says the client can do end-to-end encryption (`e2ee: true`).
 * @typedef {{identity?: string, password?: string, host_key?: string, knock?: string, resume?: string, e2ee_public_key?: string}} HelloExtras
 */

/**
 * @typedef {{type: 'hello', version: number, room: string, name: string, e2ee?: boolean} & HelloExtras
 *   | {type: 'offer', sdp: string, sources?: Record<string, TrackSource>, audio_slots?: boolean}
 *   | {type: 'answer', sdp: string}
 *   | {type: 'media_state', audio: boolean, video: boolean, screen?: boolean}
 *   | {type: 'set_quality', quality: Quality}
 *   | {type: 'set_name', name: string}
 *   | {type: 'leave'}
 *   | {type: 'raise_hand', raised: boolean}
 *   | {type: 'set_lobby', enabled: boolean}
 *   | {type: 'set_password', password: string}
 *   | {type: 'remove_password'}
 *   | {type: 'set_lock', locked: boolean}
 *   | {type: 'set_allow_unmute', allowed: boolean}
 *   | {type: 'admit' | 'reject' | 'remove' | 'allow_unmute' | 'make_moderator', id: string}
 *   | {type: 'mute', id: string, kind: TrackKind}
 *   | {type: 'chat', text: string, to: string | null}
 *   | {type: 'react', emoji: string}
 *   | {type: 'set_chat_history', enabled: boolean}
 *   | {type: 'set_e2ee', enabled: boolean}
 *   | {type: 'set_recording', enabled: boolean}
 *   | {type: 'e2ee', to: string, payload: string}
 *   | {type: 'view_sizes', sizes: Record<string, number>}
 *   | {type: 'mute_all', kind: TrackKind}} ClientMessage
 */

/** Fatal error codes that refuse entry to the room (the pre-join page can try again). */
export const ENTRY_ERRORS = /** @type {const} */ (['password_required', 'wrong_password', 'too_many_attempts', 'room_locked', 'declined']);

/**
 * How the socket ended. `expected` is true when this side closed it (leave, close()) or the
 * server announced it with a fatal error; `opened` tells a refused connection from a lost one.
 * @typedef {{code: number, reason: string, expected: boolean, opened: boolean}} CloseInfo
 */

/** A server message that does not follow the protocol. */
export class ProtocolError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** @param {unknown} v @returns {v is Record<string, unknown>} */
const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * @param {Record<string, unknown>} o
 * @param {string} field
 * @param {string} what
 * @returns {boolean}
 */
function optBool(o, field, what) {
  const v = o[field];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new ProtocolError(`${what}.${field} must be a boolean`);
  return v;
}

/**
 * @param {unknown} v
 * @param {string} what
 * @returns {Participant}
 */
function participant(v, what) {
  if (
    !isObject(v) ||
    typeof v.id !== 'string' ||
    typeof v.name !== 'string' ||
    typeof v.audio !== 'boolean' ||
    typeof v.video !== 'boolean'
  ) {
    throw new ProtocolError(`${what} is not a participant {id, name, audio, video}`);
  }
  return {
    id: v.id,
    name: v.name,
    audio: v.audio,
    video: v.video,
    moderator: optBool(v, 'moderator', what),
    hand_raised: optBool(v, 'hand_raised', what),
    audio_blocked: optBool(v, 'audio_blocked', what),
    video_blocked: optBool(v, 'video_blocked', what),
    hand_seq: typeof v.hand_seq === 'number' ? v.hand_seq : null,
    screen: optBool(v, 'screen', what),
    e2ee_public_key: typeof v.e2ee_public_key === 'string' && v.e2ee_public_key !== '' ? v.e2ee_public_key : null,
  };
}

/** Settings of a room before any moderator changed them. */
export const DEFAULT_SETTINGS = /** @type {RoomSettings} */ (Object.freeze({ lobby: false, locked: false, password: false, allow_unmute: true, chat_history: false, e2ee: false, recording: false }));

/**
 * @param {unknown} v
 * @param {string} what
 * @returns {RoomSettings}
 */
function settings(v, what) {
  if (v === undefined) return { ...DEFAULT_SETTINGS };
  if (!isObject(v)) throw new ProtocolError(`${what} is not room settings {lobby, locked, password, allow_unmute}`);
  /** @param {keyof RoomSettings} f */
  const b = (f) => {
    const x = v[f];
    if (x === undefined) return DEFAULT_SETTINGS[f];
    if (typeof x !== 'boolean') throw new ProtocolError(`${what}.${f} must be a boolean`);
    return x;
  };
  return { lobby: b('lobby'), locked: b('locked'), password: b('password'), allow_unmute: b('allow_unmute'), chat_history: b('chat_history'), e2ee: b('e2ee'), recording: b('recording') };
}

/**
 * @param {unknown} v
 * @param {string} what
 * @returns {TrackKind}
 */
function kind(v, what) {
  if (v !== 'audio' && v !== 'video') throw new ProtocolError(`${what} must be "audio" or "video"`);
  return v;
}

/**
 * @param {Record<string, unknown>} o
 * @param {string} field
 * @returns {string}
 */
function str(o, field) {
  const v = o[field];
  if (typeof v !== 'string') throw new ProtocolError(`${o.type}.${field} must be a string`);
  return v;
}

/**
 * @param {unknown} v
 * @param {string} what
 * @returns {ChatEntry}
 */
function chatEntry(v, what) {
  if (!isObject(v) || typeof v.seq !== 'number' || typeof v.from !== 'string' || typeof v.name !== 'string' || typeof v.text !== 'string' || (v.to != null && typeof v.to !== 'string')) {
    throw new ProtocolError(`${what} is not a chat message {seq, from, name, text, to}`);
  }
  return { seq: v.seq, from: v.from, name: v.name, text: v.text, to: typeof v.to === 'string' ? v.to : null };
}

/**
 * Decodes one text frame from the server. Returns null for a message type this version does not
 * know (a newer server may add some); throws ProtocolError for malformed known messages.
 * @param {string} text
 * @returns {ServerMessage | null}
 */
export function decodeServerMessage(text) {
  /** @type {unknown} */
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError('server sent text that is not JSON');
  }
  if (!isObject(value) || typeof value.type !== 'string') {
    throw new ProtocolError('server message is not an object with a string "type"');
  }
  const o = value;
  switch (o.type) {
    case 'welcome': {
      if (!Array.isArray(o.participants)) throw new ProtocolError('welcome.participants must be an array');
      if (typeof o.version !== 'number') throw new ProtocolError('welcome.version must be a number');
      return {
        type: 'welcome',
        version: o.version,
        you: participant(o.you, 'welcome.you'),
        room: str(o, 'room'),
        participants: o.participants.map((p, i) => participant(p, `welcome.participants[${i}]`)),
        settings: settings(o.settings, 'welcome.settings'),
        host_key: typeof o.host_key === 'string' && o.host_key !== '' ? o.host_key : null,
        resume_token: typeof o.resume_token === 'string' && o.resume_token !== '' ? o.resume_token : null,
        resumed: o.resumed === true,
        // TURN relays with short-lived credentials; empty (no third party contacted) without.
        ice_servers: Array.isArray(o.ice_servers) ? o.ice_servers.filter(isObject).map((s) => ({
          urls: Array.isArray(s.urls) ? s.urls.filter((u) => typeof u === 'string') : [],
          username: typeof s.username === 'string' ? s.username : '',
          credential: typeof s.credential === 'string' ? s.credential : '',
        })).filter((s) => s.urls.length > 0) : [],
      };
    }
    case 'waiting':
      return { type: 'waiting' };
    case 'lobby': {
      if (!Array.isArray(o.waiting)) throw new ProtocolError('lobby.waiting must be an array');
      const waiting = o.waiting.map((e, i) => {
        if (!isObject(e) || typeof e.id !== 'string' || typeof e.name !== 'string' || (e.knock != null && typeof e.knock !== 'string')) {
          throw new ProtocolError(`lobby.waiting[${i}] is not {id, name, knock}`);
        }
        return { id: e.id, name: e.name, knock: typeof e.knock === 'string' && e.knock !== '' ? e.knock : null };
      });
      return { type: 'lobby', waiting };
    }
    case 'settings':
      return { type: 'settings', settings: settings(o.settings ?? null, 'settings.settings') };
    case 'muted':
      return { type: 'muted', kind: kind(o.kind, 'muted.kind') };
    case 'answer':
      return { type: 'answer', sdp: str(o, 'sdp') };
    case 'offer': {
      if (!Array.isArray(o.tracks)) throw new ProtocolError('offer.tracks must be an array');
      const tracks = o.tracks.map((t, i) => {
        if (
          !isObject(t) ||
          typeof t.mid !== 'string' ||
          typeof t.participant !== 'string' ||
          (t.kind !== 'audio' && t.kind !== 'video')
        ) {
          throw new ProtocolError(`offer.tracks[${i}] is not {mid, participant, kind}`);
        }
        // An older server names no source: the first track of each kind is the person's own.
        const source = t.source === 'microphone' || t.source === 'camera' || t.source === 'screen' || t.source === 'screen_audio' ? t.source : t.kind === 'audio' ? 'microphone' : 'camera';
        return /** @type {TrackInfo} */ ({ mid: t.mid, participant: t.participant, kind: t.kind, source });
      });
      // Absent when the room has no audio slots (or the server knows none).
      if (o.slots != null && (!Array.isArray(o.slots) || !o.slots.every((m) => typeof m === 'string'))) {
        throw new ProtocolError('offer.slots must be an array of mids');
      }
      const slots = /** @type {string[]} */ (o.slots ?? []);
      return { type: 'offer', sdp: str(o, 'sdp'), tracks, slots };
    }
    case 'slot':
      return { type: 'slot', mid: str(o, 'mid'), participant: str(o, 'participant') };
    case 'participant_joined':
      return { type: 'participant_joined', participant: participant(o.participant, 'participant_joined.participant') };
    case 'participant_left':
      return {
        type: 'participant_left',
        id: str(o, 'id'),
        reason: o.reason === 'removed' || o.reason === 'disconnected' ? o.reason : 'left',
      };
    case 'participant_updated':
      return { type: 'participant_updated', participant: participant(o.participant, 'participant_updated.participant') };
    case 'dominant_speaker':
      if (o.id !== null && o.id !== undefined && typeof o.id !== 'string') throw new ProtocolError('dominant_speaker.id must be a string or null');
      return { type: 'dominant_speaker', id: typeof o.id === 'string' ? o.id : null };
    case 'chat':
      return { type: 'chat', message: chatEntry(o.message, 'chat.message') };
    case 'chat_history': {
      if (!Array.isArray(o.messages)) throw new ProtocolError('chat_history.messages must be an array');
      return { type: 'chat_history', messages: o.messages.map((m, i) => chatEntry(m, `chat_history.messages[${i}]`)) };
    }
    case 'reaction':
      return { type: 'reaction', id: str(o, 'id'), emoji: str(o, 'emoji') };
    case 'e2ee':
      return { type: 'e2ee', from: str(o, 'from'), payload: str(o, 'payload') };
    case 'layers': {
      if (!Array.isArray(o.active) || !o.active.every((r) => typeof r === 'string')) throw new ProtocolError('layers.active must be an array of strings');
      return { type: 'layers', mid: str(o, 'mid'), active: o.active };
    }
    case 'error':
      if (typeof o.fatal !== 'boolean') throw new ProtocolError('error.fatal must be a boolean');
      return { type: 'error', code: str(o, 'code'), message: str(o, 'message'), fatal: o.fatal };
    default:
      return null;
  }
}

/**
 * The signaling endpoint on the page's own origin (ws: for http:, wss: for https:).
 * @param {{protocol: string, host: string}} location
 * @returns {string}
 */
export function signalingUrl(location) {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/api/ws`;
}

/**
 * One signaling connection. Sends `hello` as soon as the socket opens, then reports every
 * server message, in arrival order, as:
 * - a `message` CustomEvent whose detail is the {@link ServerMessage};
 * - a CustomEvent named after the message type (`welcome`, `offer`, ...), same detail;
 * - `protocol-error` (detail: ProtocolError) for a malformed server message (which is dropped);
 * - `close` (detail: {@link CloseInfo}) once, when the socket is gone.
 */
export class SignalingClient extends EventTarget {
  /**
   * @param {{url: string, room: string, name: string, hello?: HelloExtras, WebSocketImpl?: typeof WebSocket}} options
   */
  constructor(options) {
    super();
    this.url = options.url;
    this.room = options.room;
    this.name = options.name;
    /** Optional hello fields; empty strings are left out. */
    /** @type {HelloExtras} */
    this.hello = {};
    for (const [k, v] of Object.entries(options.hello ?? {})) {
      if (typeof v === 'string' && v !== '') this.hello[/** @type {keyof HelloExtras} */ (k)] = v;
    }
    this.WebSocketImpl = options.WebSocketImpl ?? WebSocket;
    /** @type {WebSocket | null} */
    this.socket = null;
    /** @type {'idle' | 'connecting' | 'open' | 'closed'} */
    this.state = 'idle';
    /** Set once this side (or a fatal server error) ends the session. */
    this.closing = false;
    this.opened = false;
  }

  /** Opens the socket; `hello` goes out when it is open. */
  connect() {
    if (this.state !== 'idle') throw new Error('SignalingClient.connect() called twice');
    this.#open();
  }

  /**
   * Opens a new socket for the same session after the old one dropped (reconnect.js): its
   * `hello` carries `resume` (the last `welcome.resume_token`). Subscriptions stay; the old
   * socket, if still there, is dropped without `leave` and reports nothing more.
   * @param {string} resume
   */
  reconnect(resume) {
    const old = this.socket;
    this.socket = null;
    if (old && old.readyState <= 1) old.close(4000, 'reconnecting');
    this.hello = { ...this.hello, resume };
    this.closing = false;
    this.opened = false;
    this.#open();
  }

  /**
   * Drops the socket as a network failure would: no `leave`, and a `close` event that is not
   * `expected` (for the reconnection logic and its tests).
   */
  drop() {
    const ws = this.socket;
    if (!ws) return;
    this.socket = null;
    ws.close(4001, 'dropped');
    this.#closed(4001, 'dropped');
  }

  #open() {
    this.state = 'connecting';
    const ws = new this.WebSocketImpl(this.url);
    this.socket = ws;
    ws.addEventListener('open', () => {
      if (this.socket !== ws) return;
      this.state = 'open';
      this.opened = true;
      const e2ee = this.hello.e2ee_public_key ? { e2ee: true } : {};
      this.send(/** @type {ClientMessage} */ ({ type: 'hello', version: PROTOCOL_VERSION, room: this.room, name: this.name, ...this.hello, ...e2ee }));
      this.dispatchEvent(new Event('open'));
    });
    ws.addEventListener('message', (ev) => {
      if (this.socket === ws) this.#receive(ev.data);
    });
    ws.addEventListener('close', (ev) => {
      if (this.socket === ws) this.#closed(ev.code, ev.reason);
    });
    // An 'error' event is always followed by 'close', which does the reporting.
  }

  /** @param {unknown} data */
  #receive(data) {
    if (typeof data !== 'string') {
      this.dispatchEvent(new CustomEvent('protocol-error', { detail: new ProtocolError('server sent a binary frame') }));
      return;
    }
    /** @type {ServerMessage | null} */
    let msg;
    try {
      msg = decodeServerMessage(data);
    } catch (err) {
      const e = err instanceof ProtocolError ? err : new ProtocolError(String(err));
      this.dispatchEvent(new CustomEvent('protocol-error', { detail: e }));
      return;
    }
    if (msg === null) return; // a type from a newer protocol: ignore
    if (msg.type === 'error' && msg.fatal) this.closing = true;
    this.dispatchEvent(new CustomEvent('message', { detail: msg }));
    this.dispatchEvent(new CustomEvent(msg.type, { detail: msg }));
  }

  /** @param {number} code @param {string} reason */
  #closed(code, reason) {
    if (this.state === 'closed') return;
    this.state = 'closed';
    /** @type {CloseInfo} */
    const info = { code, reason, expected: this.closing, opened: this.opened };
    this.dispatchEvent(new CustomEvent('close', { detail: info }));
  }

  /**
   * Subscribes to one server message type, typed; returns the unsubscribe function.
   * @template {keyof ServerMessageMap} K
   * @param {K} type
   * @param {(msg: ServerMessageMap[K]) => void} handler
   * @returns {() => void}
   */
  on(type, handler) {
    /** @param {Event} ev */
    const listener = (ev) => handler(/** @type {CustomEvent<ServerMessageMap[K]>} */ (ev).detail);
    this.addEventListener(type, listener);
    return () => this.removeEventListener(type, listener);
  }

  /**
   * Subscribes to every server message, in order; returns the unsubscribe function.
   * @param {(msg: ServerMessage) => void} handler
   * @returns {() => void}
   */
  onMessage(handler) {
    /** @param {Event} ev */
    const listener = (ev) => handler(/** @type {CustomEvent<ServerMessage>} */ (ev).detail);
    this.addEventListener('message', listener);
    return () => this.removeEventListener('message', listener);
  }

  /**
   * Sends one message; returns false when the socket is not open.
   * @param {ClientMessage} msg
   * @returns {boolean}
   */
  send(msg) {
    if (!this.socket || this.socket.readyState !== 1 /* OPEN */) return false;
    this.socket.send(JSON.stringify(msg));
    return true;
  }

  /**
   * @param {string} sdp
   * @param {Record<string, TrackSource>} [sources] what each of our mids carries
   * @param {boolean} [audioSlots] we can receive others' microphones on audio slots
   */
  sendOffer(sdp, sources, audioSlots = false) {
    return this.send({ type: 'offer', sdp, ...(sources ? { sources } : {}), ...(audioSlots ? { audio_slots: true } : {}) });
  }

  /** @param {string} sdp */
  sendAnswer(sdp) {
    return this.send({ type: 'answer', sdp });
  }

  /** @param {boolean} audio @param {boolean} video @param {boolean} [screen] */
  sendMediaState(audio, video, screen = false) {
    return this.send({ type: 'media_state', audio, video, screen });
  }

  /** @param {Quality} quality what this person receives */
  setQuality(quality) {
    return this.send({ type: 'set_quality', quality });
  }

  /**
   * The heights (CSS pixels × devicePixelRatio, whole numbers; 0 when hidden) at which we
   * show each other participant's camera, so the server sends a layer that fits.
   * @param {Record<string, number>} sizes participant id → height
   */
  sendViewSizes(sizes) {
    return this.send({ type: 'view_sizes', sizes });
  }

  /** @param {string} name a new display name (also used by a later hello) */
  setName(name) {
    this.name = name;
    return this.send({ type: 'set_name', name });
  }

  /** @param {boolean} raised */
  raiseHand(raised) {
    return this.send({ type: 'raise_hand', raised });
  }

  /** @param {boolean} enabled */
  setLobby(enabled) {
    return this.send({ type: 'set_lobby', enabled });
  }

  /** @param {string} password */
  setPassword(password) {
    return this.send({ type: 'set_password', password });
  }

  removePassword() {
    return this.send({ type: 'remove_password' });
  }

  /** @param {boolean} locked */
  setLock(locked) {
    return this.send({ type: 'set_lock', locked });
  }

  /** @param {boolean} allowed */
  setAllowUnmute(allowed) {
    return this.send({ type: 'set_allow_unmute', allowed });
  }

  /** @param {string} id */
  admit(id) {
    return this.send({ type: 'admit', id });
  }

  /** @param {string} id */
  reject(id) {
    return this.send({ type: 'reject', id });
  }

  /** @param {string} id */
  remove(id) {
    return this.send({ type: 'remove', id });
  }

  /** @param {string} id @param {TrackKind} kind */
  mute(id, kind) {
    return this.send({ type: 'mute', id, kind });
  }

  /** @param {TrackKind} kind */
  muteAll(kind) {
    return this.send({ type: 'mute_all', kind });
  }

  /** @param {string} id */
  allowUnmute(id) {
    return this.send({ type: 'allow_unmute', id });
  }

  /** @param {string} id */
  makeModerator(id) {
    return this.send({ type: 'make_moderator', id });
  }

  /**
   * A chat message to everyone (`to` null) or privately to one participant.
   * @param {string} text
   * @param {string | null} to
   */
  sendChat(text, to) {
    return this.send({ type: 'chat', text, to });
  }

  /** @param {string} emoji one of {@link REACTIONS} */
  react(emoji) {
    return this.send({ type: 'react', emoji });
  }

  /** @param {boolean} enabled (moderators) share the last group messages with newcomers */
  setChatHistory(enabled) {
    return this.send({ type: 'set_chat_history', enabled });
  }

  /** @param {boolean} enabled (moderators) end-to-end encryption on (it cannot be turned off) */
  setE2ee(enabled) {
    return this.send({ type: 'set_e2ee', enabled });
  }

  /** @param {boolean} enabled (moderators) start or stop recording on the server */
  setRecording(enabled) {
    return this.send({ type: 'set_recording', enabled });
  }

  /**
   * An opaque key exchange message for one participant (docs/e2ee.md).
   * @param {string} to
   * @param {string} payload base64
   */
  sendE2ee(to, payload) {
    return this.send({ type: 'e2ee', to, payload });
  }

  /** Says goodbye and closes the socket. */
  leave() {
    this.send({ type: 'leave' });
    this.close();
  }

  /** Closes the socket without a `leave` (the server treats it the same way). */
  close() {
    this.closing = true;
    if (this.socket && this.socket.readyState <= 1 /* CONNECTING or OPEN */) {
      this.socket.close(1000, 'bye');
    }
    if (this.state === 'idle') this.state = 'closed';
  }
}
