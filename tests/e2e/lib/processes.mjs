// Helper programs a test runs beside Moot (coturn, Pebble, a second moot) and free loopback
// ports to give them.

import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** How much of a process's output is kept (the end of it). */
const MAX_OUTPUT = 512 * 1024;
/** How long `stop()` waits after SIGTERM before SIGKILL. */
const KILL_AFTER_MS = 5_000;

/**
 * @typedef {object} RunningProcess
 * @property {import('node:child_process').ChildProcess} child
 * @property {() => string} output  the last 512 KiB of stdout + stderr, each line prefixed `[name] `
 * @property {() => ({code: number|null, signal: string|null} | null)} exited  null while it runs
 * @property {() => Promise<void>} stop  SIGTERM, SIGKILL after 5 s; resolves once it has exited
 */

/**
 * Spawns `bin args` with stdin closed and its output captured. The process is killed when the
 * test runner exits, whatever happens to the test.
 * @param {string} name  prefix for its output lines
 * @param {string} bin
 * @param {string[]} args
 * @param {{env?: Record<string, string>, cwd?: string}} [opts]  env is added to process.env
 * @returns {RunningProcess}
 */
export function startProcess(name, bin, args, { env, cwd } = {}) {
  const child = spawn(bin, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = () => {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  };
  process.on('exit', kill);
  let log = '';
  /** @type {{code: number|null, signal: string|null} | null} */
  let exited = null;
  /** @param {Buffer|string} chunk */
  const append = (chunk) => {
    log += chunk.toString();
    if (log.length > MAX_OUTPUT) log = log.slice(-MAX_OUTPUT);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  /** @type {Promise<unknown>} */
  const exitPromise = new Promise((res) => {
    /** @param {number|null} code @param {string|null} signal */
    const done = (code, signal) => {
      if (exited) return;
      exited = { code, signal };
      process.off('exit', kill);
      res(exited);
    };
    child.once('exit', done);
    child.once('error', (e) => {
      append(`cannot start ${bin}: ${e.message}\n`);
      // A process that never started emits no 'exit'.
      if (child.pid === undefined) done(null, null);
    });
  });
  return {
    child,
    output: () =>
      log
        .split('\n')
        .map((l) => `[${name}] ${l}`)
        .join('\n'),
    exited: () => exited,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(kill, KILL_AFTER_MS);
      await exitPromise;
      clearTimeout(timer);
    },
  };
}

/**
 * A UDP port free right now on 127.0.0.1.
 * @returns {Promise<number>}
 */
export function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}

/**
 * `n` different TCP ports free right now on 127.0.0.1 (all are held until each is known).
 * @param {number} n
 * @returns {Promise<number[]>}
 */
export async function freeTcpPorts(n) {
  const servers = Array.from({ length: n }, () => createServer());
  const listening = await Promise.allSettled(
    servers.map(
      (s) =>
        /** @type {Promise<number>} */ (
          new Promise((resolve, reject) => {
            s.once('error', reject);
            s.listen(0, '127.0.0.1', () => resolve(/** @type {import('node:net').AddressInfo} */ (s.address()).port));
          })
        ),
    ),
  );
  await Promise.all(servers.map((s) => new Promise((res) => (s.listening ? s.close(res) : res(undefined)))));
  return listening.map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
}
