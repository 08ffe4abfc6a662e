// The official Elasticsearch JavaScript client (8.x) and its bulk helper talk to Sawmill as if
// it were an Elasticsearch node: product check, bulk indexing, per-item and request errors.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Client, errors } from '@elastic/elasticsearch';

import { nonce, search, startServer, tsMillis } from './lib/harness.mjs';

let server;
let client;
before(async () => {
  server = await startServer();
  client = new Client({ node: server.url });
});
after(async () => {
  if (client) await client.close();
  if (server) await server.stop();
});

test('info passes the client product check', async () => {
  const info = await client.info();
  assert.match(info.version.number, /^8\./);
  assert.equal(await client.ping(), true);
});

test('bulk helper indexes ECS documents', async () => {
  const word = nonce('es');
  const when = '2026-01-15T10:20:30.456Z';
  const docs = [];
  for (let i = 0; i < 50; i++) {
    docs.push({
      '@timestamp': when, message: `order ${i} shipped ${word}`,
      log: { level: i === 7 ? 'error' : 'info' }, service: { name: 'shipping' },
      host: { name: 'es-host-3' }, trace: { id: `trace${i}` }, order: { id: i },
    });
  }
  const dropped = [];
  const result = await client.helpers.bulk({
    datasource: docs,
    onDocument: () => ({ create: { _index: 'logs-shipping' } }),
    onDrop: (d) => dropped.push(d),
    flushBytes: 2000,
  });
  assert.equal(result.failed, 0, JSON.stringify(dropped));
  assert.equal(result.successful, 50);

  const hits = await search(server.url, word, { expect: 50 });
  assert.equal(hits.length, 50);
  const seven = hits.find((h) => h.message === `order 7 shipped ${word}`);
  assert.equal(seven.level, 'ERROR');
  assert.equal(seven.service, 'shipping');
  assert.equal(seven.host, 'es-host-3');
  assert.equal(seven.trace_id, 'trace7');
  assert.equal(seven.fields['order.id'], '7');
  assert.equal(seven.fields._index, 'logs-shipping');
  assert.equal(tsMillis(seven), Date.parse(when));
  const errorsOnly = await search(server.url, `service=shipping level=ERROR ${word}`);
  assert.equal(errorsOnly.length, 1);
});

test('single-document index API', async () => {
  const word = nonce('esdoc');
  const response = await client.index({
    index: 'logs-single', id: 'doc-1',
    document: { message: `one document ${word}`, level: 'warn', service: 'single', host: 'h1' },
  });
  assert.equal(response.result, 'created');
  assert.equal(response._id, 'doc-1');
  const hits = await search(server.url, word);
  assert.equal(hits.length, 1);
  assert.equal(hits[0].level, 'WARN');
  assert.equal(hits[0].service, 'single');
  assert.equal(hits[0].fields._id, 'doc-1');
});

test('update and delete are refused per item, the way the helper reports drops', async () => {
  const dropped = [];
  const result = await client.helpers.bulk({
    datasource: [{ a: 1 }],
    onDocument: () => [{ update: { _index: 'x', _id: '1' } }, { doc_as_upsert: true }],
    onDrop: (d) => dropped.push(d),
    retries: 0,
  });
  assert.equal(result.failed, 1);
  assert.equal(dropped.length, 1);
  assert.equal(dropped[0].status, 400);
  assert.equal(dropped[0].error.type, 'illegal_argument_exception');

  const response = await client.bulk({ operations: [{ delete: { _index: 'x', _id: '2' } }] });
  assert.equal(response.errors, true);
  assert.equal(response.items[0].delete.status, 400);
});

test('a malformed bulk body is a ResponseError with an Elasticsearch error body', async () => {
  await assert.rejects(
    client.transport.request({ method: 'POST', path: '/_bulk', bulkBody: 'this is not json\n' }),
    (err) => {
      assert.ok(err instanceof errors.ResponseError, String(err));
      assert.equal(err.meta.statusCode, 400);
      assert.equal(err.body.error.type, 'illegal_argument_exception');
      assert.match(err.body.error.reason, /line \[1\]/);
      return true;
    });
});
