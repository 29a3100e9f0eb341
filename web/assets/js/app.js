// Entry point: picks the view from the address (`/` is home, `/<room>` a meeting).

import { renderHome } from './home.js';
import { renderPrejoin } from './prejoin.js';
import { Meeting } from './meeting.js';
import { LocalMedia } from './media.js';
import { roomNameProblem } from './names.js';
import { renderLeft, renderFatal, renderBadRoom } from './views.js';

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

/**
 * @param {HTMLElement} root
 * @param {string} room
 * @param {string} name
 * @param {LocalMedia} media
 */
function startMeeting(root, room, name, media) {
  const meeting = new Meeting(root, { room, name, media }, {
    onLeft: (choice) => renderLeft(root, room, () => void rejoin(root, room, name, choice)),
    onRejoin: (choice) => void rejoin(root, room, name, choice),
    onFatal: (code, message, choice) =>
      renderFatal(root, room, message, RETRYABLE.has(code) ? () => void rejoin(root, room, name, choice) : null),
  });
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
  startMeeting(root, room, name, media);
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
  renderPrejoin(root, room, (name, media) => startMeeting(root, room, name, media));
}

main();
