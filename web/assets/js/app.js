// Entry point: picks the view from the address (`/` is home, `/<room>` a meeting).

import { renderHome } from './home.js';
import { renderPrejoin } from './prejoin.js';
import { Meeting } from './meeting.js';
import { LocalMedia } from './media.js';
import { roomNameProblem } from './names.js';
import { renderLeft, renderFatal, renderBadRoom } from './views.js';
import { browserIdentity, hostKeyFor, hostKeyFromHash, rememberHostKey } from './identity.js';

/** @typedef {import('./media.js').MediaChoice} MediaChoice */

/** Fatal error codes after which trying again may work. */
const RETRYABLE = new Set(['room_full', 'server_error']);

/**
 * The room named by a path, or null for the home page. A single trailing slash is tolerated.
 * @param {string} pathname
 * @returns {string | null}
 */
export function roomFromPath(pathname) {
  let path = pathname.replace(/^\/+/, '');
  if (path.endsWith('/')) path = path.slice(0, -1);
  if (path === '') return null;
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** The page's storage, or null when the browser refuses it. */
function store() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** Shown for a removal, whatever the server's words (they must say "removed"). */
const REMOVED_TEXT = 'A moderator removed you from this meeting. You cannot join it again.';

/**
 * The room password typed on this page (kept in memory only, for Rejoin), or ''.
 * @type {Map<string, string>}
 */
const passwords = new Map();

/**
 * Shows the pre-join page; joining goes through {@link enter}.
 * @param {HTMLElement} root
 * @param {string} room
 * @param {{media?: LocalMedia | null, askPassword?: boolean}} [opts]
 * @returns {import('./prejoin.js').PrejoinControl}
 */
function showPrejoin(root, room, opts = {}) {
  const pre = renderPrejoin(
    root,
    room,
    (name, media, entry) => {
      if (entry.password !== null) passwords.set(room, entry.password);
      enter(root, room, name, media, pre, entry.knock);
    },
    opts,
  );
  return pre;
}

/**
 * Connects to the room. The pre-join page (if still shown) stays until the server lets us in:
 * it shows the lobby wait and refusals (password, lock, declined) and joins again from there.
 * @param {HTMLElement} root
 * @param {string} room
 * @param {string} name
 * @param {LocalMedia} media
 * @param {import('./prejoin.js').PrejoinControl | null} pre null on a rejoin from the meeting
 * @param {string} [knock]
 */
function enter(root, room, name, media, pre, knock = '') {
  const storage = store();
  const hostKey = hostKeyFor(storage, room);
  /** Pre-join page to report to: shown again (with the same devices) when it is gone. */
  const prejoin = (askPassword = false) => (pre ??= showPrejoin(root, room, { media, askPassword }));
  const meeting = new Meeting(
    root,
    {
      room,
      name,
      devices: media,
      hello: { identity: browserIdentity(storage), password: passwords.get(room) ?? '', host_key: hostKey ?? '', knock },
      hostKey,
    },
    {
      onWaiting: () => prejoin().waiting(() => meeting.cancel()),
      onRefused: (code, message) => {
        if (code === 'wrong_password' || code === 'password_required') passwords.delete(room);
        prejoin(code === 'password_required' || code === 'wrong_password').refused(code, message);
      },
      onHostKey: (key) => rememberHostKey(storage, room, key),
      onLeft: (choice) => renderLeft(root, room, () => void rejoin(root, room, name, choice)),
      onRejoin: (choice) => void rejoin(root, room, name, choice),
      onFatal: (code, message, choice) =>
        renderFatal(
          root,
          room,
          code === 'removed' ? REMOVED_TEXT : message,
          RETRYABLE.has(code) ? () => void rejoin(root, room, name, choice) : null,
        ),
    },
  );
  meeting.start();
}

/**
 * Joins again with the same name and the same microphone/camera choices.
 * @param {HTMLElement} root
 * @param {string} room
 * @param {string} name
 * @param {MediaChoice} choice
 */
async function rejoin(root, room, name, choice) {
  const media = await LocalMedia.acquire(choice);
  enter(root, room, name, media, null);
}

function main() {
  const root = document.getElementById('app');
  if (!root) throw new Error('index.html has no #app element');
  const room = roomFromPath(location.pathname);
  if (room === null) {
    renderHome(root);
    return;
  }
  const problem = roomNameProblem(room);
  if (problem) {
    renderBadRoom(root, problem);
    return;
  }
  // A host link (`/<room>#host=KEY`): keep the key for this room, then drop it from the
  // address so that it is not copied along with the ordinary link.
  const key = hostKeyFromHash(location.hash);
  if (key) {
    rememberHostKey(store(), room, key);
    history.replaceState(null, '', location.pathname + location.search);
  }
  showPrejoin(root, room);
}

main();
