// Starts the real `moot` binary on ephemeral ports and tells where it listens.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(here, '..', '..', '..');
export const MOOT_BIN = process.env.MOOT_BIN ?? join(REPO_ROOT, 'target', 'debug', 'moot');

const URL_RE = /https?:\/\/[^\s]+/;
const MAX_LOG = 256 * 1024;

/**
 * @typedef {object} MootServer
 * @property {string} url        base URL, always ending in "/"
 * @property {import('node:child_process').ChildProcess} process
 * @property {() => string} output  everything the server printed so far (stdout + stderr)
 * @property {() => ({code: number|null, signal: string|null} | null)} exited
 * @property {() => Promise<void>} stop
 */

/**
 * Spawns `moot --listen 127.0.0.1:0 --media-port 0` and waits for the line that names its URL.
 * @param {{ args?: string[], timeoutMs?: number, env?: Record<string, string> }} [opts]
 * @returns {Promise<MootServer>}
 */
export async function startServer(opts = {}) {
  if (!existsSync(MOOT_BIN)) {
    throw new Error(`${MOOT_BIN} does not exist: run \`cargo build -p moot-server --bin moot\` first`);
  }
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const args = ['--listen', '127.0.0.1:0', '--media-port', '0', ...(opts.args ?? [])];
  const child = spawn(MOOT_BIN, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...(opts.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Never leave a server behind, even when the test runner exits early (a test timed out).
  const killOnExit = () => {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  };
  process.on('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  let log = '';
  const append = (prefix) => (chunk) => {
    const text = chunk.toString();
    log += text
      .split(/(?<=\n)/)
      .map((line) => prefix + line)
      .join('');
    if (log.length > MAX_LOG) log = log.slice(-MAX_LOG);
  };
  child.stderr.on('data', append('[moot stderr] '));

  let exited = null;
  const exitPromise = new Promise((res) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      res(exited);
    });
  });

  const url = await new Promise((res, rej) => {
    let pending = '';
    let found = false;
    const timer = setTimeout(() => {
      rej(new Error(`moot printed no URL within ${timeoutMs} ms. Output:\n${log}`));
    }, timeoutMs);
    const onData = (chunk) => {
      append('[moot stdout] ')(chunk);
      if (found) return;
      pending += chunk.toString();
      const m = pending.match(URL_RE);
      if (m) {
        found = true;
        clearTimeout(timer);
        res(m[0].endsWith('/') ? m[0] : `${m[0]}/`);
      }
    };
    child.stdout.on('data', onData);
    child.once('error', (e) => {
      clearTimeout(timer);
      rej(new Error(`cannot start ${MOOT_BIN}: ${e.message}`));
    });
    exitPromise.then((e) => {
      clearTimeout(timer);
      rej(new Error(`moot exited (${JSON.stringify(e)}) before printing its URL. Output:\n${log}`));
    });
  });

  return {
    url,
    process: child,
    output: () => log,
    exited: () => exited,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exitPromise;
      clearTimeout(t);
    },
  };
}

/** VmRSS of a process in KiB, from /proc (Linux only). */
export async function rssKiB(pid) {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}
