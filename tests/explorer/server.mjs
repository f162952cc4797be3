// What both browser tests need of the server: one of its own, started on a
// free port with a fresh data dir and stopped at the end, and requests signed
// in Node as the page signs them in the browser.

import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '..', '..');
const BIN = process.env.COSMONAUT_BIN || path.join(repo, 'target', 'debug', 'cosmonaut');
export const PRIMARY = 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

/** A pause that does not keep the process alive once everything else is done. */
export const delay = (ms) => new Promise((r) => setTimeout(r, ms).unref());

/**
 * Starts `cosmonaut serve` with two physical partitions (so cross-partition
 * queries are merged by the page); resolves to {endpoint, stop} once it listens.
 */
export function startServer() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cosmonaut-explorer-'));
  const server = spawn(BIN, ['serve', '--data-dir', dataDir, '--port', '0', '--partitions', '2'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = async () => {
    if (server.pid !== undefined && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await Promise.race([exited, delay(5000)]);
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const fail = (message) => {
      clearTimeout(timer);
      stop().finally(() => reject(new Error(message)));
    };
    const timer = setTimeout(() => fail(`the server did not start:\n${out}\n${err}`), 30000);
    server.stderr.on('data', (d) => (err += d));
    server.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (https:\/\/\S+?)\/?(\s|$)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ endpoint: m[1], stop });
      }
    });
    server.on('error', (e) => fail(`the server could not be started from ${BIN}: ${e.message}`));
    server.on('exit', (code) => fail(`the server exited (${code}):\n${out}\n${err}`));
  });
}

/** A REST request to `endpoint`, signed with `key` as the page signs it. */
export async function signedRequest(endpoint, method, resourcePath, type, link, { key = PRIMARY, body, headers = {} } = {}) {
  const date = new Date().toUTCString();
  const text = `${method.toLowerCase()}\n${type}\n${link}\n${date.toLowerCase()}\n\n`;
  const sig = createHmac('sha256', Buffer.from(key, 'base64')).update(text).digest('base64');
  const res = await fetch(endpoint + resourcePath, {
    method,
    headers: {
      authorization: encodeURIComponent(`type=master&ver=1.0&sig=${sig}`),
      'x-ms-date': date,
      'x-ms-version': '2020-07-15',
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}
