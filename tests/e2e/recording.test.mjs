// Recording on the server, as a moderator and a guest see it, and what is on disk: the guest
// cannot start it (the button says why); the moderator starts it from the Recording dialog,
// both pages show the `role=status` "Recording…" line for as long as it lasts; stopping removes
// it; then ffmpeg decodes every file, the microphones hold the 440 Hz tone, the cameras the
// four quadrant colours, at the length that was recorded.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { QUADRANTS } from './lib/media.mjs';
import { COLOUR_TOLERANCE, joinMeeting, randomRoom, sleep, tile, waitFor, waitForQuadrants } from './lib/meeting.mjs';
import { toolbar } from './lib/moderation.mjs';

/** How long the meeting is recorded. */
const RECORD_MS = 10_000;

/** @param {string[]} args */
function ffprobe(args) {
  return execFileSync('ffprobe', ['-v', 'error', ...args], { encoding: 'utf8' });
}

/** @param {string} file seconds, per ffprobe */
function duration(file) {
  return Number(ffprobe(['-show_entries', 'format=duration', '-of', 'csv=p=0', file]).trim());
}

/** What ffmpeg says decoding the whole file (nothing, when it decodes cleanly). */
function decodeErrors(file) {
  const run = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' });
  assert.equal(run.status, 0, `ffmpeg decoded ${file}`);
  return run.stderr;
}

/** Mean volume (dB) of `file`'s audio around 440 Hz (ffmpeg's volumedetect, on stderr). */
function meanVolume(file) {
  const run = spawnSync('ffmpeg', ['-hide_banner', '-i', file, '-af', 'bandpass=f=440:width_type=h:w=40,volumedetect', '-f', 'null', '-'], { encoding: 'utf8' });
  assert.equal(run.status, 0, `ffmpeg read ${file}: ${run.stderr}`);
  const m = /mean_volume: (-?[\d.]+) dB/.exec(run.stderr);
  assert.ok(m, `volumedetect gave a mean volume for ${file}:\n${run.stderr}`);
  return Number(m[1]);
}

/** The colour at each quadrant's centre of the frame at `seconds`, scaled to 64x48 RGB. */
function quadrantColours(file, seconds) {
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-ss', String(seconds), '-i', file, '-frames:v', '1', '-vf', 'scale=64:48', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
    maxBuffer: 1 << 20,
  });
  assert.equal(raw.length, 64 * 48 * 3, `one 64x48 frame decoded from ${file}`);
  /** @type {Record<string, number[]>} */
  const colours = {};
  for (const [quadrant, q] of Object.entries(QUADRANTS)) {
    const x = Math.floor(q.at[0] * 64);
    const y = Math.floor(q.at[1] * 48);
    const i = (y * 64 + x) * 3;
    colours[quadrant] = [raw[i], raw[i + 1], raw[i + 2]];
  }
  return colours;
}

test('a moderator records the meeting: everyone sees it, and the files hold the picture and the tone', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moot-recordings-'));
  try {
    await withScenario(
      'recording',
      async (s) => {
        const room = randomRoom();
        const ana = await s.newPage('Ana');
        const ben = await s.newPage('Ben');
        await joinMeeting(ana, s.server.url, room, 'Ana'); // the first in is the moderator
        await joinMeeting(ben, s.server.url, room, 'Ben');
        await waitForQuadrants(tile(ben, 'Ana'), 'Ben sees Ana');
        await waitForQuadrants(tile(ana, 'Ben'), 'Ana sees Ben');
        assert.deepEqual(readdirSync(dir), [], 'nothing on disk before anyone records');

        // Ben is no moderator: the dialog says so and its button does nothing.
        await toolbar(ben).getByRole('button', { name: 'Recording', exact: true }).click();
        const benDialog = ben.getByRole('dialog', { name: 'Recording' });
        const benStart = benDialog.getByRole('button', { name: 'Start recording' });
        assert.ok(await benStart.isDisabled(), "Ben's Start recording is disabled");
        assert.match(await benDialog.innerText(), /Only a moderator/);
        await ben.keyboard.press('Escape');

        // Ana starts it; both pages say so.
        await toolbar(ana).getByRole('button', { name: 'Recording', exact: true }).click();
        const anaDialog = ana.getByRole('dialog', { name: 'Recording' });
        await anaDialog.getByRole('button', { name: 'Start recording' }).click();
        const indicator = (page) => page.getByRole('status').filter({ hasText: /^Recording/ });
        await indicator(ana).waitFor({ state: 'visible' });
        await indicator(ben).waitFor({ state: 'visible' });
        await anaDialog.getByRole('button', { name: 'Stop recording' }).waitFor({ state: 'visible' });
        const started = Date.now();
        // The length recorded is the test's input, not a wait for something: it checks, all
        // along, that the sign stays on for everyone.
        while (Date.now() - started < RECORD_MS) {
          assert.ok(await indicator(ben).isVisible(), "Ben's page shows the recording all along");
          await sleep(500);
        }
        await anaDialog.getByRole('button', { name: 'Stop recording' }).click();
        const recorded = (Date.now() - started) / 1000;
        await indicator(ben).waitFor({ state: 'hidden' });
        await indicator(ana).waitFor({ state: 'hidden' });

        // The files, once the workers finished them.
        const folder = await waitFor(
          'recording.json',
          () => readdirSync(dir).map((f) => join(dir, f)).find((f) => existsSync(join(f, 'recording.json'))),
          (f) => !!f,
        );
        assert.equal(statSync(folder).mode & 0o777, 0o700);
        const sidecar = JSON.parse(readFileSync(join(folder, 'recording.json'), 'utf8'));
        console.log(`recorded ${recorded.toFixed(1)} s: ${JSON.stringify(sidecar)}`);
        const files = sidecar.tracks.map((/** @type {any} */ t) => ({ ...t, path: join(folder, t.file) }));
        const people = [...new Set(files.map((/** @type {any} */ f) => f.participant))];
        assert.equal(people.length, 2, 'both people are recorded');
        for (const who of people) {
          const mine = files.filter((/** @type {any} */ f) => f.participant === who);
          const microphone = mine.find((/** @type {any} */ f) => f.source === 'microphone');
          assert.ok(microphone, `${who}'s microphone is recorded: ${JSON.stringify(mine)}`);
          // The camera's best layer: its largest file.
          const cameras = mine.filter((/** @type {any} */ f) => f.source === 'camera');
          assert.ok(cameras.length >= 1, `${who}'s camera is recorded`);
          const camera = cameras.sort((a, b) => statSync(b.path).size - statSync(a.path).size)[0];
          for (const f of [microphone, camera]) {
            assert.equal(statSync(f.path).mode & 0o777, 0o600, `${f.file} is the server's only`);
            assert.equal(decodeErrors(f.path), '', `${f.file} decodes cleanly`);
            const d = duration(f.path);
            assert.ok(Math.abs(d - recorded) <= 1.5, `${f.file} lasts ${d} s of the ${recorded.toFixed(1)} recorded`);
          }
          const volume = meanVolume(microphone.path);
          // Chromium delivers its fake tone at about -38 dB in this band; silence reads -91 dB, and a
          // 1 kHz tone as loud -67 dB: -50 tells the tone from anything else with room to spare.
          assert.ok(volume > -50, `${microphone.file} holds the 440 Hz tone: ${volume} dB`);
          const colours = quadrantColours(camera.path, recorded / 2);
          for (const [quadrant, q] of Object.entries(QUADRANTS)) {
            const got = colours[quadrant];
            const far = got.some((c, i) => Math.abs(c - q.rgb[i]) > COLOUR_TOLERANCE);
            assert.ok(!far, `${camera.file} at ${quadrant}: ${got} is ${q.name}`);
          }
          console.log(`${who}: ${microphone.file} ${volume} dB; ${camera.file} ${JSON.stringify(colours)}`);
        }
      },
      { env: { MOOT_RECORDING_DIR: dir } },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Frames ffmpeg decodes from `file`'s first stream (it reads what a crash left, errors aside). */
function framesDecoded(file) {
  const run = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', '0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file], {
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, `ffprobe read ${file}: ${run.stderr}`);
  return Number(run.stdout.trim());
}

test('a recording cut short by kill -9 of the server still plays up to its last seconds', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moot-recordings-'));
  try {
    await withScenario(
      'recording-killed',
      async (s) => {
        const ana = await s.newPage('Ana');
        await joinMeeting(ana, s.server.url, randomRoom(), 'Ana');
        await toolbar(ana).getByRole('button', { name: 'Recording', exact: true }).click();
        await ana.getByRole('dialog', { name: 'Recording' }).getByRole('button', { name: 'Start recording' }).click();
        await ana.getByRole('status').filter({ hasText: /^Recording/ }).waitFor({ state: 'visible' });
        // Four seconds in, the server dies without a chance to finish anything.
        const webm = () =>
          readdirSync(dir)
            .flatMap((f) => readdirSync(join(dir, f)).map((g) => join(dir, f, g)))
            .filter((f) => f.endsWith('.webm'));
        await waitFor('the files to be made', webm, (files) => files.length >= 2);
        const started = Date.now();
        while (Date.now() - started < 4_000) await sleep(250);
        s.server.process.kill('SIGKILL');
        await waitFor('the server to be gone', () => s.server.exited(), (gone) => gone);
        const files = webm();
        assert.ok(!readdirSync(dir).some((f) => existsSync(join(dir, f, 'recording.json'))), 'killed: nothing was finished');
        const microphone = files.find((f) => f.endsWith('-microphone.webm'));
        const camera = files.filter((f) => f.includes('-camera')).sort((a, b) => statSync(b).size - statSync(a).size)[0];
        assert.ok(microphone && camera, `a microphone and a camera file: ${files}`);
        // At least about 2 of the 4 seconds (the last second's cluster may be lost or torn).
        const audio = framesDecoded(microphone);
        const video = framesDecoded(camera);
        console.log(`after kill -9: ${audio} Opus frames in ${microphone}, ${video} VP8 frames in ${camera}`);
        assert.ok(audio >= 100, `the microphone's first seconds play: ${audio} frames of 20 ms`);
        assert.ok(video >= 40, `the camera's first seconds play: ${video} frames`);
        const colours = quadrantColours(camera, 1);
        for (const [quadrant, q] of Object.entries(QUADRANTS)) {
          const far = colours[quadrant].some((c, i) => Math.abs(c - q.rgb[i]) > COLOUR_TOLERANCE);
          assert.ok(!far, `${camera} at ${quadrant}: ${colours[quadrant]} is ${q.name}`);
        }
      },
      { env: { MOOT_RECORDING_DIR: dir } },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
