// What a page's RTCPeerConnection says about itself (getStats): which candidate pair ICE chose
// and how much video was decoded. Every function here runs in the page (page.addInitScript,
// page.evaluate), so each one is self-contained: no imports, no module variables.

/**
 * The selected candidate pair of a page's connection, with its local and remote candidates.
 * @typedef {object} SelectedPair
 * @property {string} state                 the pair's state ("succeeded" once ICE is done)
 * @property {number} bytesReceived         bytes received over the pair
 * @property {string|undefined} localType   candidateType: "host", "srflx", "prflx", "relay"
 * @property {string|undefined} localRelayProtocol  for a relay candidate: "udp", "tcp", "tls"
 * @property {string|undefined} localProtocol       "udp" or "tcp"
 * @property {string|undefined} localTcpType        for a TCP candidate: "active", "passive", "so"
 * @property {string} localAddress          "address:port"
 * @property {string|undefined} remoteType
 * @property {string|undefined} remoteProtocol
 * @property {string} remoteAddress         "address:port"
 * @property {string[]} localTypes          candidateType of every local candidate gathered
 */

/**
 * Init script (page.addInitScript), run before the page's own scripts: keeps each
 * RTCPeerConnection in `window.__mootPcs` and a JSON copy of its config in
 * `window.__mootPcConfigs`.
 */
export function recordPeerConnections() {
  const Native = window.RTCPeerConnection;
  window.__mootPcs = [];
  window.__mootPcConfigs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(config, ...rest) {
      super(config, ...rest);
      window.__mootPcs.push(this);
      window.__mootPcConfigs.push(JSON.parse(JSON.stringify(config ?? {})));
    }
  };
}

/**
 * In the page (page.evaluate), after {@link recordPeerConnections}: the selected candidate pair
 * of the last (only) connection, or null while there is none.
 * @returns {Promise<SelectedPair|null>}
 */
export async function selectedPair() {
  const pc = window.__mootPcs.at(-1);
  if (!pc) return null;
  const stats = await pc.getStats();
  let pairId = null;
  const localTypes = [];
  stats.forEach((r) => {
    if (r.type === 'transport' && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
    if (r.type === 'local-candidate') localTypes.push(r.candidateType);
  });
  const pair = pairId ? stats.get(pairId) : null;
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId);
  const remote = stats.get(pair.remoteCandidateId);
  return {
    state: pair.state,
    bytesReceived: pair.bytesReceived,
    localType: local?.candidateType,
    localRelayProtocol: local?.relayProtocol,
    localProtocol: local?.protocol,
    localTcpType: local?.tcpType,
    localAddress: `${local?.address}:${local?.port}`,
    remoteType: remote?.candidateType,
    remoteProtocol: remote?.protocol,
    remoteAddress: `${remote?.address}:${remote?.port}`,
    localTypes,
  };
}

/**
 * In the page (page.evaluate), after {@link recordPeerConnections}: video frames decoded over
 * all inbound video streams of the last (only) connection.
 * @returns {Promise<number>}
 */
export async function framesDecoded() {
  const pc = window.__mootPcs.at(-1);
  const stats = await pc.getStats();
  let n = 0;
  stats.forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded ?? 0;
  });
  return n;
}
