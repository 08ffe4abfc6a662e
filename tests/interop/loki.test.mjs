// winston-loki pushes to Sawmill's Loki endpoint in protobuf + snappy (its default) and in
// JSON; labels become fields, app becomes the service, level comes from the level label.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import winston from 'winston';
import LokiTransport from 'winston-loki';

import { nonce, search, startServer, tsMillis } from './lib/harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { if (server) await server.stop(); });

for (const json of [false, true]) {
  const encoding = json ? 'json' : 'protobuf';
  test(`winston-loki ${encoding}`, async () => {
    const word = nonce('loki');
    const errors = [];
    const transport = new LokiTransport({
      host: server.url, json, batching: false, gracefulShutdown: false,
      labels: { app: `winston-${encoding}`, host: 'loki-host-2', env: 'interop' },
      onConnectionError: (e) => errors.push(e),
    });
    const logger = winston.createLogger({ transports: [transport] });
    const sentAt = Date.now();
    logger.error(`db timeout ${word}`);
    logger.warn(`slow query ${word}`);
    logger.info(`request served ${word}`);
    await transport.flush();
    transport.close?.();

    const hits = await search(server.url, word, { expect: 3 });
    assert.equal(hits.length, 3, JSON.stringify({ hits, errors }));
    const byLevel = Object.fromEntries(hits.map((h) => [h.level, h]));
    assert.deepEqual(Object.keys(byLevel).sort(), ['ERROR', 'INFO', 'WARN']);
    const error = byLevel.ERROR;
    assert.equal(error.service, `winston-${encoding}`);
    assert.equal(error.host, 'loki-host-2');
    assert.equal(error.fields.env, 'interop');
    assert.equal(error.fields.level, 'error');
    // winston-loki writes the line as `${message} ${JSON.stringify(meta)}`.
    assert.equal(error.message, `db timeout ${word} {"level":"error"}`);
    assert.ok(Math.abs(tsMillis(error) - sentAt) < 5000, `ts ${error.ts} vs ${sentAt}`);
    assert.deepEqual(errors, []);
  });
}

test('a malformed push gets a Loki-style plain text 400', async () => {
  const response = await fetch(`${server.url}/loki/api/v1/push`, {
    method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: 'not snappy',
  });
  assert.equal(response.status, 400);
  assert.match(response.headers.get('content-type'), /^text\/plain/);
  assert.match(await response.text(), /snappy/);

  const badLabels = await fetch(`${server.url}/loki/api/v1/push`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: '{"streams":[{"stream":{"app":"x"},"values":[["yesterday","line"]]}]}',
  });
  assert.equal(badLabels.status, 400);
  assert.match(await badLabels.text(), /streams\[0\]\.values\[0\]/);
});
