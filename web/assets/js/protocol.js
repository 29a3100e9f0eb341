// The Moot signaling client (docs/protocol.md, version 1). No DOM code here: it only needs
// WebSocket, EventTarget and JSON, so it can run in a worker or a test harness too.

export const PROTOCOL_VERSION = 1;

/** @typedef {{id: string, name: string, audio: boolean, video: boolean}} Participant */
/** @typedef {'audio' | 'video'} TrackKind */
/** @typedef {{mid: string, participant: string, kind: TrackKind}} TrackInfo */

/** @typedef {{type: 'welcome', version: number, you: Participant, room: string, participants: Participant[]}} WelcomeMessage */
/** @typedef {{type: 'answer', sdp: string}} AnswerMessage */
/** @typedef {{type: 'offer', sdp: string, tracks: TrackInfo[]}} OfferMessage */
/** @typedef {{type: 'participant_joined', participant: Participant}} ParticipantJoinedMessage */
/** @typedef {{type: 'participant_left', id: string}} ParticipantLeftMessage */
/** @typedef {{type: 'participant_updated', participant: Participant}} ParticipantUpdatedMessage */
/** @typedef {{type: 'error', code: string, message: string, fatal: boolean}} ErrorMessage */

/**
 * @typedef {WelcomeMessage | AnswerMessage | OfferMessage | ParticipantJoinedMessage
 *   | ParticipantLeftMessage | ParticipantUpdatedMessage | ErrorMessage} ServerMessage
 */

/**
 * Server message types to their shapes, for typed subscriptions with {@link SignalingClient#on}.
 * @typedef {{
 *   welcome: WelcomeMessage,
 *   answer: AnswerMessage,
 *   offer: OfferMessage,
 *   participant_joined: ParticipantJoinedMessage,
 *   participant_left: ParticipantLeftMessage,
 *   participant_updated: ParticipantUpdatedMessage,
 *   error: ErrorMessage,
 * }} ServerMessageMap
 */

/**
 * @typedef {{type: 'hello', version: number, room: string, name: string}
 *   | {type: 'offer', sdp: string}
 *   | {type: 'answer', sdp: string}
 *   | {type: 'media_state', audio: boolean, video: boolean}
 *   | {type: 'leave'}} ClientMessage
 */

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
  return { id: v.id, name: v.name, audio: v.audio, video: v.video };
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
      };
    }
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
        return /** @type {TrackInfo} */ ({ mid: t.mid, participant: t.participant, kind: t.kind });
      });
      return { type: 'offer', sdp: str(o, 'sdp'), tracks };
    }
    case 'participant_joined':
      return { type: 'participant_joined', participant: participant(o.participant, 'participant_joined.participant') };
    case 'participant_left':
      return { type: 'participant_left', id: str(o, 'id') };
    case 'participant_updated':
      return { type: 'participant_updated', participant: participant(o.participant, 'participant_updated.participant') };
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
   * @param {{url: string, room: string, name: string, WebSocketImpl?: typeof WebSocket}} options
   */
  constructor(options) {
    super();
    this.url = options.url;
    this.room = options.room;
    this.name = options.name;
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
    this.state = 'connecting';
    const ws = new this.WebSocketImpl(this.url);
    this.socket = ws;
    ws.addEventListener('open', () => {
      this.state = 'open';
      this.opened = true;
      this.send({ type: 'hello', version: PROTOCOL_VERSION, room: this.room, name: this.name });
      this.dispatchEvent(new Event('open'));
    });
    ws.addEventListener('message', (ev) => this.#receive(ev.data));
    ws.addEventListener('close', (ev) => this.#closed(ev.code, ev.reason));
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

  /** @param {string} sdp */
  sendOffer(sdp) {
    return this.send({ type: 'offer', sdp });
  }

  /** @param {string} sdp */
  sendAnswer(sdp) {
    return this.send({ type: 'answer', sdp });
  }

  /** @param {boolean} audio @param {boolean} video */
  sendMediaState(audio, video) {
    return this.send({ type: 'media_state', audio, video });
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
