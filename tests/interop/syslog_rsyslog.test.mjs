// rsyslog (Debian's rsyslogd, unprivileged, in the foreground with its own configuration)
// follows a file with imfile and forwards it to Sawmill with omfwd: RFC 5424 over TCP with
// octet-counted framing, and the traditional (RFC 3164) format over UDP and over TCP.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { nonce, search, startServer, tsMillis } from './lib/harness.mjs';

let server;
let rsyslog;
let work;
let rsyslogLog = '';
const routes = [
  { file: 'tcp5424.log', tag: 'rstcp5424', protocol: 'tcp',
    extra: 'TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"' },
  { file: 'udp3164.log', tag: 'rsudp3164', protocol: 'udp',
    extra: 'template="RSYSLOG_TraditionalForwardFormat"' },
  { file: 'tcp3164.log', tag: 'rstcp3164', protocol: 'tcp',
    extra: 'template="RSYSLOG_ForwardFormat"' },
];

before(async () => {
  server = await startServer({ syslog: true });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'sawmill-rsyslog-'));
  let conf = `global(workDirectory="${work}")\n`
    + 'module(load="imfile" mode="inotify")\n';
  for (const r of routes) {
    fs.writeFileSync(path.join(work, r.file), '');
    conf += `input(type="imfile" File="${path.join(work, r.file)}" Tag="${r.tag}:" `
      + `Severity="warning" Facility="local5" Ruleset="${r.tag}")\n`
      + `ruleset(name="${r.tag}") { action(type="omfwd" target="127.0.0.1" `
      + `port="${server.syslogPort}" protocol="${r.protocol}" ${r.extra}) }\n`;
  }
  fs.writeFileSync(path.join(work, 'rsyslog.conf'), conf);
  rsyslog = spawn('rsyslogd', ['-n', '-f', path.join(work, 'rsyslog.conf'),
    '-i', path.join(work, 'rsyslog.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  rsyslog.stdout.on('data', (d) => { rsyslogLog += d; });
  rsyslog.stderr.on('data', (d) => { rsyslogLog += d; });
  await new Promise((resolve) => setTimeout(resolve, 1500));
});

after(async () => {
  if (rsyslog) {
    rsyslog.kill('SIGTERM');
    await new Promise((resolve) => { rsyslog.once('exit', resolve); setTimeout(resolve, 5000); });
  }
  if (work) fs.rmSync(work, { recursive: true, force: true });
  if (server) await server.stop();
});

for (const r of routes) {
  test(`rsyslog omfwd ${r.tag}`, async () => {
    const word = nonce('rs');
    const sentAt = Date.now();
    fs.appendFileSync(path.join(work, r.file), `disk almost full ${word}\nsecond line ${word}\n`);
    const hits = await search(server.url, word, { expect: 2, timeoutMs: 20000 });
    assert.equal(hits.length, 2, `rsyslog output:\n${rsyslogLog}`);
    for (const hit of hits) {
      assert.equal(hit.service, r.tag);
      assert.equal(hit.host, os.hostname());
      assert.equal(hit.level, 'WARN');
      assert.equal(hit.fields.facility, 'local5');
      assert.equal(hit.flags, undefined);
      assert.ok(Math.abs(tsMillis(hit) - sentAt) < 10000, `ts ${hit.ts} vs ${sentAt}`);
    }
    const messages = hits.map((h) => h.message).sort();
    assert.deepEqual(messages, [`disk almost full ${word}`, `second line ${word}`]);
  });
}
