// A test-only window into a meeting, and only when the page's address has `?debug`
// (e.g. `/my-room?debug`): `window.__mootDebug` gives the current RTCPeerConnection (for
// getStats), the current screen share track, `dropSocket()`, which drops the signaling
// socket as a network failure would (to test reconnection), `sendRawChat()` (chat text sent as
// is, unencrypted), what the last server offer said (`lastOffer`: tracks and audio slots) and
// who is on each audio slot now (`slots`, and `setSlotOwner` to make the page believe a stale
// owner), and the end-to-end encryption
// keys and captured frames (to test what travels through the server). It changes nothing by itself and
// reveals nothing a page's own scripts could not already reach.

/**
 * @param {{
 *   pc: () => import('./media-session.js').MediaSession | null,
 *   signaling: import('./protocol.js').SignalingClient,
 *   screenShare: import('./screenshare.js').ScreenShare,
 *   keys: () => import('./e2ee.js').E2eeKeys | null,
 *   captured: Record<string, {kind: string, owner: string | undefined, bytes: Uint8Array}[]> | null,
 *   slotAudio: import('./slots.js').SlotAudio,
 * }} meeting `pc` is the current media session, `keys` the page's end-to-end encryption keys
 */
export function exposeForTests(meeting) {
  if (typeof location === 'undefined' || !new URLSearchParams(location.search).has('debug')) return;
  /** @type {any} */ (window).__mootDebug = {
    get pc() {
      return meeting.pc()?.pc ?? null; // the media session's RTCPeerConnection
    },
    get screenTrack() {
      return meeting.screenShare.video;
    },
    get lastOffer() {
      return meeting.pc()?.lastOffer ?? null;
    },
    get slots() {
      return Object.fromEntries(meeting.pc()?.slots ?? []);
    },
    // As if a `slot` message had said so (whose key is tried first; without E2EE also whose
    // tile the slot rings, with E2EE the ring stays with whoever's key opens the frames): a
    // stale owner, as when the media of a new owner outruns the message, or a lying server.
    setSlotOwner(/** @type {string} */ mid, /** @type {string} */ participant) {
      if (!meeting.pc()?.setSlotOwner(mid, participant)) return false;
      meeting.slotAudio.setOwner(mid, participant);
      return true;
    },
    dropSocket() {
      meeting.signaling.drop();
    },
    // Sends a chat text exactly as given, past the page's encryption: how a client that does
    // not encrypt (or a forger) would, to test that an encrypted meeting marks it.
    sendRawChat(/** @type {string} */ text, /** @type {string | null} */ to = null) {
      meeting.signaling.sendChat(text, to);
    },
    // End-to-end encryption: the frames the encryption layer saw (video, the last 60 of each:
    // sent-plain, sent-wire, received-wire, received-plain), counters, and key hooks for the
    // "wrong key" and "removed participant's old key" tests.
    get e2ee() {
      return meeting.keys();
    },
    get captured() {
      return meeting.captured;
    },
  };
}
