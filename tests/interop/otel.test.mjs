// The OpenTelemetry JavaScript SDK (sdk-logs) exports through the OTLP/HTTP exporters, JSON and
// protobuf, to Sawmill's /v1/logs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { context, diag, DiagLogLevel, trace, TraceFlags } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as JsonExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';

import { nonce, search, startServer, tsMillis } from './lib/harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { if (server) await server.stop(); });

const warnings = [];
diag.setLogger({
  error: (...a) => warnings.push(a.join(' ')),
  warn: (...a) => warnings.push(a.join(' ')),
  info: () => {},
  debug: () => {},
  verbose: () => {},
}, DiagLogLevel.WARN);

function provider(Exporter, service) {
  return new LoggerProvider({
    resource: resourceFromAttributes({
      'service.name': service, 'host.name': 'otel-host-1', 'deployment.environment': 'test',
    }),
    processors: [new SimpleLogRecordProcessor(new Exporter({ url: `${server.url}/v1/logs` }))],
  });
}

for (const [encoding, Exporter] of [['json', JsonExporter], ['protobuf', ProtoExporter]]) {
  test(`OTLP/HTTP ${encoding} export`, async () => {
    const word = nonce('otel');
    const service = `checkout-${encoding}`;
    const logs = provider(Exporter, service);
    const logger = logs.getLogger('interop.scope', '1.0.0');
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const spanId = '00f067aa0ba902b7';
    const ctx = trace.setSpanContext(context.active(),
      { traceId, spanId, traceFlags: TraceFlags.SAMPLED });
    const when = new Date(Date.now() - 60000);  // a minute ago: ts must be the record's own time
    logger.emit({
      severityNumber: SeverityNumber.ERROR, severityText: 'ERROR', body: `card declined ${word}`,
      attributes: { 'http.status_code': 402, 'user.id': 'u-17', retry: false },
      timestamp: when, context: ctx,
    });
    logger.emit({
      severityNumber: SeverityNumber.WARN, body: { msg: `structured ${word}`, order: { id: 991 } },
    });
    await logs.forceFlush();
    await logs.shutdown();

    const hits = await search(server.url, word, { expect: 2 });
    assert.equal(hits.length, 2, JSON.stringify(hits));
    const error = hits.find((h) => h.level === 'ERROR');
    assert.ok(error, JSON.stringify(hits));
    assert.equal(error.service, service);
    assert.equal(error.host, 'otel-host-1');
    assert.equal(error.message, `card declined ${word}`);
    assert.equal(error.trace_id, traceId);
    assert.equal(error.span_id, spanId);
    assert.equal(error.user_id, 'u-17');
    assert.equal(error.fields['http.status_code'], '402');
    assert.equal(error.fields.retry, 'false');
    assert.equal(error.fields['deployment.environment'], 'test');
    assert.equal(error.fields['scope.name'], 'interop.scope');
    assert.equal(tsMillis(error), when.getTime());
    const warn = hits.find((h) => h.level === 'WARN');
    assert.equal(warn.message, `structured ${word}`);
    assert.equal(warn.fields['order.id'], '991');

    const found = await search(server.url, `service=${service} trace_id=${traceId}`);
    assert.equal(found.length, 1);
  });
}

test('OTLP/JSON partial success is reported to the SDK', async () => {
  warnings.length = 0;
  const word = nonce('partial');
  const logs = provider(JsonExporter, 'partial-svc');
  const logger = logs.getLogger('x');
  logger.emit({ severityNumber: 99, body: `rejected ${word}` });  // no such SeverityNumber
  logger.emit({ severityNumber: SeverityNumber.INFO, body: `kept ${word}` });
  await logs.forceFlush();
  await logs.shutdown();
  const hits = await search(server.url, word);
  assert.deepEqual(hits.map((h) => h.message), [`kept ${word}`]);
  assert.ok(warnings.some((w) => w.includes('Partial Success') && w.includes('severityNumber')),
    `SDK diagnostics: ${JSON.stringify(warnings)}`);
});

test('a malformed OTLP request gets a google.rpc.Status in its own encoding', async () => {
  const json = await fetch(`${server.url}/v1/logs`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceLogs":',
  });
  assert.equal(json.status, 400);
  const status = await json.json();
  assert.equal(status.code, 3);
  assert.match(status.message, /JSON/);

  const proto = await fetch(`${server.url}/v1/logs`, {
    method: 'POST', headers: { 'content-type': 'application/x-protobuf' },
    body: Buffer.from([0x0a, 0xff, 0xff, 0xff]),
  });
  assert.equal(proto.status, 400);
  assert.equal(proto.headers.get('content-type'), 'application/x-protobuf');
  const bytes = Buffer.from(await proto.arrayBuffer());
  assert.equal(bytes[0], 0x08);  // google.rpc.Status field 1 (code), varint
  assert.equal(bytes[1], 3);     // INVALID_ARGUMENT
});
