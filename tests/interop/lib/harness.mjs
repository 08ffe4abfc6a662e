// Starts a real `sawmill server` for one interop test file and talks to its search API.
// The binary comes from SAWMILL_BIN (set by CTest); each server gets a fresh temp directory and
// free loopback ports, so test files can run in parallel.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

// A loopback port free for both TCP and UDP (syslog listens on both).
export async function freePort() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address();
        server.close(() => resolve(port));
      });
    });
    const udpFree = await new Promise((resolve) => {
      const socket = dgram.createSocket('udp4');
      socket.once('error', () => { socket.close(); resolve(false); });
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free loopback port for TCP and UDP');
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Starts the server; resolves once /readyz answers 200. { syslog: true } adds --syslog.
export async function startServer({ syslog = false } = {}) {
  const bin = process.env.SAWMILL_BIN;
  if (!bin || !fs.existsSync(bin)) {
    throw new Error(`SAWMILL_BIN must name the sawmill binary (got "${bin}")`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sawmill-interop-'));
  const httpPort = await freePort();
  const syslogPort = syslog ? await freePort() : 0;
  const args = ['server', '--data', path.join(dir, 'data'), '--http', `127.0.0.1:${httpPort}`];
  if (syslog) args.push('--syslog', `127.0.0.1:${syslogPort}`);
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  const url = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    if (exited) throw new Error(`sawmill server exited (${JSON.stringify(exited)}):\n${log}`);
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sawmill server not ready after 30 s:\n${log}`);
    }
    await sleep(100);
  }
  return {
    url,
    syslogPort,
    dir,
    log: () => log,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const until = Date.now() + 15000;
        while (!exited && Date.now() < until) await sleep(50);
        if (!exited) child.kill('SIGKILL');
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// GET /api/v1/search, polled until at least "expect" hits arrive (or "timeoutMs" passes).
// Returns the hits (newest first).
export async function search(url, q, { expect = 1, timeoutMs = 15000, limit = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = null;
  for (;;) {
    const params = new URLSearchParams({ q, since: '1h', limit: String(limit) });
    const response = await fetch(`${url}/api/v1/search?${params}`);
    last = await response.text();
    if (response.status !== 200) throw new Error(`search ${q}: HTTP ${response.status}: ${last}`);
    const hits = JSON.parse(last).hits;
    if (hits.length >= expect || Date.now() > deadline) return hits;
    await sleep(200);
  }
}

// Milliseconds since the epoch of a hit's RFC 3339 "ts" (nanosecond digits dropped).
export function tsMillis(hit) {
  return Date.parse(hit.ts.replace(/(\.\d{3})\d*/, '$1'));
}

// A token unique to this run, to find exactly our records.
export function nonce(prefix) {
  return `${prefix}${process.pid}x${Date.now().toString(36)}`;
}
