// A test-only window into a meeting, and only when the page's address has `?debug`
// (e.g. `/my-room?debug`): `window.__mootDebug` gives the current RTCPeerConnection (for
// getStats), the current screen share track, and `dropSocket()`, which drops the signaling
// socket as a network failure would (to test reconnection). It changes nothing by itself and
// reveals nothing a page's own scripts could not already reach.

/**
 * @param {{
 *   session: import('./session.js').MediaSession | null,
 *   client: import('./protocol.js').SignalingClient,
 *   screenShare: import('./screenshare.js').ScreenShare,
 * }} meeting
 */
export function exposeForTests(meeting) {
  if (typeof location === 'undefined' || !new URLSearchParams(location.search).has('debug')) return;
  /** @type {any} */ (window).__mootDebug = {
    get pc() {
      return meeting.session?.pc ?? null;
    },
    get screenTrack() {
      return meeting.screenShare.video;
    },
    dropSocket() {
      meeting.client.drop();
    },
  };
}
