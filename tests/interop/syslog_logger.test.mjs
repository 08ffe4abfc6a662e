// util-linux `logger` sends RFC 5424 and RFC 3164 over TCP (newline and octet-counting framing)
// and UDP to `sawmill server --syslog`; the records must be searchable with the right service,
// host, level, timestamp and fields. A malformed message is stored raw and flagged.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { after, before, test } from 'node:test';

import { nonce, search, startServer, tsMillis } from './lib/harness.mjs';

let server;
before(async () => { server = await startServer({ syslog: true }); });
after(async () => { if (server) await server.stop(); });

function logger(args, message) {
  execFileSync('logger', ['-n', '127.0.0.1', '-P', String(server.syslogPort), ...args, message]);
}

const cases = [
  { name: 'rfc5424 tcp', args: ['-T', '--rfc5424'], rfc5424: true },
  { name: 'rfc5424 tcp octet-counting', args: ['-T', '--octet-count', '--rfc5424'], rfc5424: true },
  { name: 'rfc5424 udp', args: ['-d', '--rfc5424'], rfc5424: true },
  { name: 'rfc3164 tcp', args: ['-T', '--rfc3164'], rfc5424: false },
  { name: 'rfc3164 udp', args: ['-d', '--rfc3164'], rfc5424: false },
];

for (const c of cases) {
  test(`logger ${c.name}`, async () => {
    const word = nonce('lg');
    const tag = `app${c.rfc5424 ? '5424' : '3164'}${c.args.includes('-d') ? 'udp' : 'tcp'}`;
    const sd = c.rfc5424
      ? ['--sd-id', 'ctx@32473', '--sd-param', 'trace_id="4bf92f3577b34da6a3ce929d0e0e4736"',
        '--sd-param', 'region="eu-1"', '--msgid', 'ORDER']
      : [];
    const sentAt = Date.now();
    logger([...c.args, '-t', tag, '-p', 'local3.err', '--id=4242', ...sd], `payment failed ${word}`);
    const hits = await search(server.url, word);
    assert.equal(hits.length, 1, JSON.stringify(hits));
    const hit = hits[0];
    assert.equal(hit.service, tag);
    assert.equal(hit.host, os.hostname());
    assert.equal(hit.level, 'ERROR');
    assert.equal(hit.message, `payment failed ${word}`);
    assert.equal(hit.fields.facility, 'local3');
    assert.equal(hit.fields.severity, 'err');
    assert.equal(hit.fields.proc_id, '4242');
    assert.equal(hit.flags, undefined);
    // RFC 3164 has whole seconds and no year; both must land within seconds of sending.
    assert.ok(Math.abs(tsMillis(hit) - sentAt) < 5000, `ts ${hit.ts} vs sent ${sentAt}`);
    if (c.rfc5424) {
      assert.equal(hit.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal(hit.fields['ctx@32473.region'], 'eu-1');
      assert.equal(hit.fields.msg_id, 'ORDER');
    }
    const byService = await search(server.url, `service=${tag} level=ERROR ${word}`);
    assert.equal(byService.length, 1);
  });
}

test('a malformed syslog message is stored raw and flagged', async () => {
  const word = nonce('bad');
  await new Promise((resolve, reject) => {
    const socket = net.connect(server.syslogPort, '127.0.0.1', () => {
      socket.end(`this is not syslog ${word}\n`, resolve);
    });
    socket.on('error', reject);
  });
  const hits = await search(server.url, word);
  assert.equal(hits.length, 1);
  assert.equal(hits[0].message, `this is not syslog ${word}`);
  assert.deepEqual(hits[0].flags, ['parse_failed']);
  assert.equal(hits[0].host, '127.0.0.1');
});
