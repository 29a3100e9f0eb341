// What moderation means on this page: my role (the moderator controls follow it), the lobby,
// the room settings (announced when they change), a moderator muting me, and the server
// refusing to let me turn media back on. The controls themselves are the Participants panel
// and the Security dialog; the server decides everything (docs/protocol.md, "Roles and
// moderation").

import { announce } from './dom.js';
import { confirmDialog } from './dialog.js';
import { DEFAULT_SETTINGS } from './protocol.js';

/** @typedef {import('./protocol.js').Participant} Participant */
/** @typedef {import('./protocol.js').RoomSettings} RoomSettings */
/** @typedef {import('./protocol.js').LobbyEntry} LobbyEntry */
/** @typedef {import('./protocol.js').TrackKind} TrackKind */

/**
 * @typedef {{
 *   roster: import('./roster.js').Roster,
 *   panel: import('./participants.js').ParticipantsPanel,
 *   security: import('./security.js').SecurityDialog,
 *   recording: import('./recording.js').Recording,
 *   invite: import('./invite.js').InviteDialog,
 *   remove: (id: string) => void,
 *   turnOff: (kind: TrackKind) => Promise<void>,
 *   isOn: (kind: TrackKind) => boolean,
 *   openPanel: () => void,
 *   toast: (text: string) => void,
 *   showError: (message: string) => void,
 *   settingsChanged: () => void,
 * }} ModerationWiring
 * `turnOff` turns my microphone or camera off (toggle, sender, `media_state`); `isOn` says
 * whether it is on; `settingsChanged` lets others follow the settings (the E2EE indicator).
 */

export class Moderation {
  /** @param {ModerationWiring} wiring */
  constructor(wiring) {
    this.wiring = wiring;
    /** @type {RoomSettings} */
    this.settings = { ...DEFAULT_SETTINGS };
    /** @type {LobbyEntry[]} */
    this.lobby = [];
    /** Media kinds turned on while a moderator's mute holds: a `not_allowed` turns them off again. */
    this.pendingUnmute = { audio: false, video: false };
  }

  get isModerator() {
    return !!this.wiring.roster.me?.moderator;
  }

  /** The moderator controls follow my role. */
  roleChanged() {
    const mod = this.isModerator;
    this.wiring.panel.setModerator(mod);
    this.wiring.security.update(this.settings, mod);
    this.wiring.recording.update(this.settings, mod);
    if (!mod) this.wiring.panel.setLobby([]);
  }

  /**
   * I asked to turn `kind` on while a moderator's mute holds: the server may refuse.
   * @param {TrackKind} kind
   */
  askingToUnmute(kind) {
    if (kind === 'audio' ? this.wiring.roster.me?.audio_blocked : this.wiring.roster.me?.video_blocked) this.pendingUnmute[kind] = true;
  }

  /**
   * `participant_updated` about me, already in the roster: what a moderator changed.
   * @param {Participant} me
   * @param {Participant} was
   */
  meUpdated(me, was) {
    if (!me.audio_blocked) this.pendingUnmute.audio = false;
    if (!me.video_blocked) this.pendingUnmute.video = false;
    if (was.moderator !== me.moderator) {
      this.roleChanged();
      announce(me.moderator ? 'You are now a moderator' : 'You are no longer a moderator');
    }
    if ((was.audio_blocked && !me.audio_blocked) || (was.video_blocked && !me.video_blocked)) {
      announce('A moderator allowed you to turn your microphone and camera back on');
      this.wiring.toast('You may turn your microphone and camera back on');
    }
  }

  /** @param {LobbyEntry[]} waiting */
  lobbyChanged(waiting) {
    const known = new Set(this.lobby.map((e) => e.id));
    this.lobby = waiting;
    if (!this.isModerator) return;
    this.wiring.panel.setLobby(waiting);
    const fresh = waiting.filter((e) => !known.has(e.id));
    for (const e of fresh) announce(`${e.name} is waiting in the lobby`);
    if (fresh.length > 0) {
      this.wiring.toast(fresh.length === 1 ? `${fresh[0].name} is waiting in the lobby` : `${fresh.length} people are waiting in the lobby`);
      this.wiring.openPanel();
    }
  }

  /**
   * The settings as a `welcome` says they are (nothing announced).
   * @param {RoomSettings} settings
   */
  welcome(settings) {
    this.settings = settings;
    this.wiring.security.update(settings, this.isModerator);
    this.wiring.recording.update(settings, this.isModerator);
    this.wiring.panel.setModerator(this.isModerator);
    if (settings.recording) announce('This meeting is being recorded');
  }

  /** @param {RoomSettings} next */
  settingsChanged(next) {
    const prev = this.settings;
    this.settings = next;
    this.wiring.settingsChanged();
    const security = this.wiring.security;
    security.update(next, this.isModerator);
    this.wiring.recording.update(next, this.isModerator);
    /** @type {string[]} */
    const said = [];
    if (prev.lobby !== next.lobby) said.push(next.lobby ? 'The lobby is on: newcomers wait to be let in' : 'The lobby is off');
    if (prev.locked !== next.locked) said.push(next.locked ? 'The meeting is locked' : 'The meeting is unlocked');
    if (prev.password !== next.password) said.push(next.password ? 'A meeting password is set' : 'The meeting password was removed');
    if (prev.e2ee !== next.e2ee) said.push(next.e2ee ? 'The meeting is now end-to-end encrypted' : 'The meeting is no longer end-to-end encrypted');
    if (prev.recording !== next.recording) said.push(next.recording ? 'Recording started: this meeting is being recorded' : 'Recording stopped');
    if (prev.chat_history !== next.chat_history) said.push(next.chat_history ? 'People who join later will see earlier chat messages' : 'People who join later will not see earlier chat messages');
    this.wiring.invite.setPassword(next.password);
    if (prev.allow_unmute !== next.allow_unmute) said.push(next.allow_unmute ? 'Participants may unmute themselves' : 'Participants muted by a moderator may not unmute themselves');
    for (const t of said) {
      announce(t);
      if (security.isOpen) security.say(t);
    }
  }

  /** @param {TrackKind} kind */
  async mutedByModerator(kind) {
    const me = this.wiring.roster.me;
    if (!me) return;
    const block = kind === 'audio' ? { audio_blocked: true } : { video_blocked: true };
    await this.wiring.roster.setMe({ ...me, ...block });
    this.pendingUnmute[kind] = false;
    if (this.wiring.isOn(kind)) await this.wiring.turnOff(kind);
    const what = kind === 'audio' ? 'A moderator muted your microphone' : 'A moderator stopped your video';
    announce(what);
    this.wiring.toast(what);
  }

  /** Whether a `not_allowed` error answers my asking to turn media back on. */
  get unmutePending() {
    return this.pendingUnmute.audio || this.pendingUnmute.video;
  }

  /** The server refused to let me turn media back on: put the toggles back off. */
  async unmuteRefused() {
    const { audio, video } = this.pendingUnmute;
    this.pendingUnmute = { audio: false, video: false };
    if (audio && this.wiring.isOn('audio')) await this.wiring.turnOff('audio');
    if (video && this.wiring.isOn('video')) await this.wiring.turnOff('video');
    const what = audio && video ? 'microphone and camera' : audio ? 'microphone' : 'camera';
    this.wiring.showError(`A moderator turned your ${what} off and has not allowed you to turn it back on. You can raise your hand to ask to speak.`);
    announce('You can raise your hand to ask to speak');
  }

  /** @param {Participant} p */
  async confirmRemove(p) {
    const yes = await confirmDialog({
      title: `Remove ${p.name}?`,
      text: `${p.name} leaves the meeting at once and cannot come back into it from the same browser.`,
      confirm: 'Remove',
      danger: true,
    });
    if (yes && this.wiring.roster.others.has(p.id)) this.wiring.remove(p.id);
  }
}
