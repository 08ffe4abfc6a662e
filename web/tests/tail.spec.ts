// Live tail in the browser: a line ingested during the test appears; pause holds new lines
// without losing them; a query error is shown as the server's text.
import { expect, start, test } from './fixtures';

test('live tail shows a line ingested during the test; pause and resume keep every line', async ({ page, sawmill, shot }) => {
  await page.goto(`${sawmill.url}/ui/tail?service=checkout`);
  await expect(page.locator('[data-testid=tail-status]')).toHaveText('live');
  await expect(page.locator('.tail-q')).toHaveText('service=checkout');
  await sawmill.ingest('{"level":"error","msg":"card declined for order 4711"}\n{"level":"info","msg":"retrying order 4711"}\n',
    { service: 'checkout', host: 'web-1' });
  await sawmill.ingest('{"level":"error","msg":"not for this filter"}\n', { service: 'billing' });
  const rows = page.locator('.tail-row .msg');
  await expect(rows).toHaveText(['card declined for order 4711', 'retrying order 4711']);
  await expect(page.locator('.tail-row .level').first()).toHaveText('ERROR');
  await expect(page.locator('[data-testid=tail-rate]')).not.toHaveText('0.0 lines/s');

  // Paused: new lines wait (counted), the list does not move; resume appends them in order.
  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(page.locator('[data-testid=tail-status]')).toHaveText('paused');
  await sawmill.ingest('line three\nline four\n', { service: 'checkout' });
  await expect(page.locator('.waiting')).toHaveText('2 new lines waiting');
  await expect(rows).toHaveCount(2);
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(rows).toHaveText(['card declined for order 4711', 'retrying order 4711', 'line three', 'line four']);
  await shot('tail-live');
});

test('live tail filters like sawmill tail and shows a query error as text', async ({ page, sawmill, shot }) => {
  await page.goto(`${sawmill.url}/ui/tail`);
  await expect(page.locator('[data-testid=tail-status]')).toHaveText('live');
  await page.getByLabel('level ≥').selectOption('WARN');
  await page.getByLabel('host').fill('db-2');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page.locator('.tail-q')).toHaveText('level>=WARN host=db-2');
  await expect(page).toHaveURL(/level=WARN/);
  await expect(page.locator('[data-testid=tail-status]')).toHaveText('live');
  await sawmill.ingest('{"level":"info","msg":"quiet"}\n{"level":"warn","msg":"disk 91% full"}\n', { service: 'pg', host: 'db-2' });
  await sawmill.ingest('{"level":"error","msg":"other host"}\n', { service: 'pg', host: 'db-3' });
  await expect(page.locator('.tail-row .msg')).toHaveText(['disk 91% full']);

  await page.locator('#tail-query').click();
  await page.keyboard.insertText('status>=');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Enter');
  await expect(page.locator('[data-testid=tail-status]')).toHaveText('error');
  await expect(page.locator('.query-error')).toContainText('expected a value');
  await shot('tail-error');
});

test('lines the server dropped for this session are announced at the gap', async ({ page, shot }) => {
  // A server whose tail sessions queue one line: a batch of 50 overflows it at once.
  const { sawmill, stop } = await start(['--tail-queue', '1'], false);
  try {
    await page.goto(`${sawmill.url}/ui/tail?service=burst`);
    await expect(page.locator('[data-testid=tail-status]')).toHaveText('live');
    const lines = Array.from({ length: 50 }, (_, i) => `burst line ${i}`).join('\n') + '\n';
    await sawmill.ingest(lines, { service: 'burst' });
    await expect(page.locator('.dropped-total')).toHaveText(/^\d+ lines dropped by the server$/);
    // Every line is either shown or counted as dropped, once the session's queued line (it may
    // arrive after the drop notice) is there too.
    const dropped = async () =>
      Number((await page.locator('.dropped-total').textContent())!.split(' ')[0]);
    await expect.poll(async () => (await page.locator('.tail-row .msg').count()) + (await dropped()))
      .toBe(50);
    const total = await dropped();
    expect(total).toBeGreaterThan(0);
    await expect(page.locator('.tail-row.dropped').first()).toContainText(`${total} lines dropped by the server around here`);
    // The stream goes on after the gap.
    await sawmill.ingest('after the gap\n', { service: 'burst' });
    await expect(page.locator('.tail-row .msg').last()).toHaveText('after the gap');
    await shot('tail-dropped');
  } finally {
    await stop();
  }
});
