// A real `sawmill server` per spec file (worker-scoped), on a free loopback port with a fresh
// data directory, loaded with real datasets from shared/data/real before the tests run.
import { test as base, expect } from '@playwright/test';
import type { Page } from '@playwright/test';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const REAL = path.join(process.env.SAWMILL_SHARED_DIR ?? path.resolve('../../shared'), 'data/real');
export const SCREENSHOTS = process.env.SAWMILL_UI_SCREENSHOTS ?? path.resolve('test-results');

// The datasets: loghub's text logs (one service each) and Windows events as JSON (dynamic
// fields such as Channel and EventID).
export const DATASETS = [
  { service: 'Hadoop', host: 'hadoop-1', file: 'loghub_2k/Hadoop/Hadoop_2k.log' },
  { service: 'Zookeeper', host: 'zk-1', file: 'loghub_2k/Zookeeper/Zookeeper_2k.log' },
  { service: 'OpenStack', host: 'nova-1', file: 'loghub_2k/OpenStack/OpenStack_2k.log' },
  { service: 'Spark', host: 'spark-1', file: 'loghub_2k/Spark/Spark_2k.log' },
  { service: 'HDFS', host: 'dn-1', file: 'loghub_2k/HDFS/HDFS_2k.log' },
  { service: 'windows', host: 'wec', file: 'mordor_windows_events/empire_shell_net_local_users_2020-09-21192606.json' },
];

export interface Sawmill {
  url: string;
  // Set once the server has API tokens: ingest() and search() then send it as a Bearer token.
  token?: string;
  ingest(body: string, params?: Record<string, string>): Promise<{ accepted: number }>;
  search(q: string, params?: Record<string, string>): Promise<any>;
  log(): string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export const bearer = (token?: string): Record<string, string> => (token ? { Authorization: `Bearer ${token}` } : {});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Starts a server with extra flags; loads the datasets unless told not to.
export async function start(extra: string[] = [], load = true): Promise<{ sawmill: Sawmill; stop: () => Promise<void> }> {
  const bin = process.env.SAWMILL_BIN;
  if (!bin || !fs.existsSync(bin)) throw new Error(`SAWMILL_BIN must name the sawmill binary (got "${bin}")`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sawmill-ui-'));
  const port = await freePort();
  const args = ['server', '--data', path.join(dir, 'data'), '--http', `127.0.0.1:${port}`];
  // UI development: SAWMILL_UI_DIR=<a vite build> tests those files instead of the embedded ones.
  if (process.env.SAWMILL_UI_DIR) args.push('--ui-dir', process.env.SAWMILL_UI_DIR);
  args.push(...extra);
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d) => { log += d; });
  child.stderr!.on('data', (d) => { log += d; });
  let exited = false;
  child.on('exit', () => { exited = true; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`sawmill server exited:\n${log}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`server not ready:\n${log}`); }
    await sleep(50);
  }
  const sawmill: Sawmill = {
    url,
    log: () => log,
    async ingest(body, params = {}) {
      const r = await fetch(`${url}/api/v1/ingest?${new URLSearchParams(params)}`, { method: 'POST', body, headers: bearer(sawmill.token) });
      if (r.status !== 200) throw new Error(`ingest: ${r.status} ${await r.text()}`);
      return r.json();
    },
    async search(q, params = {}) {
      const r = await fetch(`${url}/api/v1/search?${new URLSearchParams({ q, all_time: '1', ...params })}`, { headers: bearer(sawmill.token) });
      const body = await r.json();
      if (r.status !== 200) throw new Error(`search ${q}: ${r.status} ${JSON.stringify(body)}`);
      return body;
    },
  };
  for (const d of load ? DATASETS : []) {
    const body = fs.readFileSync(path.join(REAL, d.file), 'utf8');
    await sawmill.ingest(body, { service: d.service, host: d.host });
  }
  return {
    sawmill,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const until = Date.now() + 15_000;
        while (!exited && Date.now() < until) await sleep(50);
        if (!exited) child.kill('SIGKILL');
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const test = base.extend<{ shot: (name: string) => Promise<void> }, { sawmill: Sawmill }>({
  sawmill: [async ({}, use) => {
    const { sawmill, stop } = await start();
    await use(sawmill);
    await stop();
  }, { scope: 'worker', timeout: 60_000 }],
  // Saves a screenshot of the page under the build folder (ui-screenshots/NAME.png).
  shot: async ({ page }, use) => {
    await use(async (name: string) => {
      fs.mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
    });
  },
});

export { expect };

// Types a query into the CodeMirror box (replacing what is there) and runs it with Enter.
export async function runQuery(page: Page, q: string, key = 'Enter') {
  const box = page.locator('#query');
  await box.click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Backspace');
  if (q) await page.keyboard.insertText(q);
  await page.keyboard.press('Escape');  // close the completion list, if open
  await page.keyboard.press(key);
}
