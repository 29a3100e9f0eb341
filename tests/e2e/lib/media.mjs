// Known test media for Chromium's fake capture devices, generated once with ffmpeg from lavfi
// sources and cached in tests/e2e/media/ (git-ignored). Chromium loops the files.
//
// Video: 640x480, 30 fps, yuv420p, four flat quadrants so a receiver can check it got *this*
// picture, the right way round: red top-left, lime top-right, blue bottom-left, white
// bottom-right. Audio: a 440 Hz sine, 48 kHz mono, so a receiver can find its frequency.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const MEDIA_DIR = join(here, '..', 'media');

export const VIDEO_WIDTH = 640;
export const VIDEO_HEIGHT = 480;
export const TONE_HZ = 440;
const SECONDS = 10;

/** Expected colour at the centre of each quadrant, as [r, g, b]. */
export const QUADRANTS = {
  topLeft: { name: 'red', rgb: [255, 0, 0], at: [0.25, 0.25] },
  topRight: { name: 'lime', rgb: [0, 255, 0], at: [0.75, 0.25] },
  bottomLeft: { name: 'blue', rgb: [0, 0, 255], at: [0.25, 0.75] },
  bottomRight: { name: 'white', rgb: [255, 255, 255], at: [0.75, 0.75] },
};

function ffmpeg(args, out) {
  const tmp = `${out}.tmp-${process.pid}${out.slice(out.lastIndexOf('.'))}`;
  try {
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args, tmp], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    renameSync(tmp, out); // atomic: a half-written file is never taken for a cached one
  } finally {
    rmSync(tmp, { force: true });
  }
}

function fresh(path) {
  return existsSync(path) && statSync(path).size > 0;
}

/**
 * Makes (once) a 1280x720 version of the quadrant clip (one second, looped by Chromium, to keep
 * the file small): Chromium sends three simulcast layers only from 960x540 up.
 * @returns {string} its absolute path
 */
export function ensureHdVideo() {
  mkdirSync(MEDIA_DIR, { recursive: true });
  const video = join(MEDIA_DIR, 'quadrants-1280x720.y4m');
  if (!fresh(video)) {
    const src = (c) => ['-f', 'lavfi', '-i', `color=c=${c}:s=640x360:r=30:d=1`];
    ffmpeg(
      [
        ...src('red'),
        ...src('lime'),
        ...src('blue'),
        ...src('white'),
        '-filter_complex',
        '[0:v][1:v][2:v][3:v]xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0,format=yuv420p[v]',
        '-map',
        '[v]',
        '-r',
        '30',
        '-t',
        '1',
        '-f',
        'yuv4mpegpipe',
      ],
      video,
    );
  }
  return video;
}

/**
 * Makes (once) and returns the absolute paths of the fake camera and microphone files.
 * @returns {{ video: string, audio: string }}
 */
export function ensureMedia() {
  mkdirSync(MEDIA_DIR, { recursive: true });
  const video = join(MEDIA_DIR, 'quadrants-640x480.y4m');
  const audio = join(MEDIA_DIR, `sine-${TONE_HZ}hz-48k.wav`);
  if (!fresh(video)) {
    const w = VIDEO_WIDTH / 2;
    const h = VIDEO_HEIGHT / 2;
    const src = (c) => ['-f', 'lavfi', '-i', `color=c=${c}:s=${w}x${h}:r=30:d=${SECONDS}`];
    ffmpeg(
      [
        ...src('red'),
        ...src('lime'),
        ...src('blue'),
        ...src('white'),
        '-filter_complex',
        '[0:v][1:v][2:v][3:v]xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0,format=yuv420p[v]',
        '-map',
        '[v]',
        '-r',
        '30',
        '-t',
        String(SECONDS),
        '-f',
        'yuv4mpegpipe',
      ],
      video,
    );
  }
  if (!fresh(audio)) {
    ffmpeg(
      [
        '-f',
        'lavfi',
        '-i',
        `sine=frequency=${TONE_HZ}:sample_rate=48000:duration=${SECONDS}`,
        '-ac',
        '1',
        '-c:a',
        'pcm_s16le',
      ],
      audio,
    );
  }
  return { video, audio };
}
