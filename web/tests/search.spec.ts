// The search page against a real server with real data: rows and histogram, zoom by drag, a
// filter from the field sidebar, context, a shared URL, a pipe query, a syntax error.
import { expect, runQuery, test } from './fixtures';

test('a browser asking for / lands on the UI; a search shows rows and the histogram by level', async ({ page, sawmill, shot }) => {
  await page.goto(sawmill.url + '/');
  await expect(page).toHaveURL(/\/ui\/(\?since=1h)?$/);
  await runQuery(page, 'service=Hadoop');
  await expect(page).toHaveURL(/q=service%3DHadoop/);
  const expected = await sawmill.search('service=Hadoop | count by level');
  const total = expected.rows.reduce((n: number, r: any) => n + r.count, 0);
  expect(total).toBe(2000);
  // Rows: the newest 1,000 of 2,000, newest first, all of Hadoop.
  await expect(page.locator('.results-head .count')).toHaveText('1,000 lines (the newest 1,000)');
  const rows = page.locator('.result .row-summary');
  await expect(rows.first()).toBeVisible();
  // The landing query's rows may still be in the page under the same count text ("1,000 lines
  // (the newest 1,000)"): wait for this query's rows to replace them.
  await expect.poll(async () => [...new Set(await page.locator('.result .svc').allTextContents())])
    .toEqual(['Hadoop']);
  const services = await page.locator('.result .svc').allTextContents();
  expect(services.length).toBeGreaterThan(10);
  expect(services.length).toBeLessThan(100);  // virtualised: only the rows in view are in the page
  expect(new Set(services)).toEqual(new Set(['Hadoop']));
  // The histogram has one series per level the server counted, with the server's counts.
  const legend = page.locator('.histogram .u-legend .u-series .u-label');
  const levels = expected.rows.map((r: any) => r.level || 'no level').sort();
  await expect(legend).toHaveCount(levels.length + 1);
  const labels = (await legend.allTextContents()).slice(1).sort();
  expect(labels).toEqual(levels);
  await expect(page.locator('.histogram canvas')).toBeVisible();
  // Matched words are highlighted and the stats line is there.
  await expect(page.locator('.results-head .stats')).toContainText('rows scanned');
  await runQuery(page, 'service=Hadoop error');
  await expect(page.locator('.result mark').first()).toHaveText(/^error$/i);
  await shot('search-rows-histogram');
});

test('dragging across the histogram zooms into that time range', async ({ page, sawmill, shot }) => {
  // On the source timestamps (tf=ts) Hadoop's 2,000 lines span ten minutes of 2015-10-18.
  const span = await sawmill.search('service=Hadoop | count by bucket(1m)', { time_field: 'ts' });
  const first = Date.parse(span.rows[0].bucket);
  const last = Date.parse(span.rows[span.rows.length - 1].bucket) + 60e3;
  const url = `${sawmill.url}/ui/?q=service%3DHadoop&from=${new Date(first).toISOString()}&to=${new Date(last).toISOString()}&tf=ts`;
  await page.goto(url);
  await expect(page.locator('.results-head .count')).toContainText('lines');
  const over = page.locator('.histogram .u-over');
  await expect(over).toBeVisible();
  const box = (await over.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 8 });
  await page.mouse.up();
  await expect(page).not.toHaveURL(url);
  const zoomed = new URL(page.url());
  const from = Date.parse(zoomed.searchParams.get('from')!);
  const to = Date.parse(zoomed.searchParams.get('to')!);
  expect(from).toBeGreaterThan(first);
  expect(to).toBeLessThan(last);
  expect(to - from).toBeLessThan((last - first) * 0.3);
  await expect(page.locator('[data-testid=range-label]')).toContainText(new Date(from).toISOString().slice(0, 10));
  // Every row shown is inside the zoomed range.
  const want = await sawmill.search('service=Hadoop | count', { time_field: 'ts', from: String(from), to: String(to), all_time: '0' });
  expect(want.rows[0].count).toBeGreaterThan(0);
  await expect(page.locator('.results-head .count')).toHaveText(
    want.rows[0].count >= 1000 ? '1,000 lines (the newest 1,000)' : `${want.rows[0].count.toLocaleString('en-US')} lines`);
  const times = await page.locator('.result .time').allTextContents();
  for (const t of times) {
    const ms = Date.parse(t.replace(' ', 'T') + 'Z');
    expect(ms).toBeGreaterThanOrEqual(from);
    expect(ms).toBeLessThan(to);
  }
  await shot('search-zoomed');
  // A click on a bar zooms into that bar's bucket.
  const before = to - from;
  const bars = (await over.boundingBox())!;
  await page.mouse.click(bars.x + bars.width * 0.5, bars.y + bars.height - 3);
  await expect.poll(() => { const u = new URL(page.url()); return Date.parse(u.searchParams.get('to')!) - Date.parse(u.searchParams.get('from')!); })
    .toBeLessThan(before / 5);
});

test('a value in the field sidebar adds a filter; a row expands to every field', async ({ page, sawmill, shot }) => {
  await page.goto(`${sawmill.url}/ui/?q=service%3Dwindows+OR+service%3DHDFS&since=1h&limit=10000`);
  await expect(page.locator('.results-head .count')).toHaveText('3,907 lines');
  const service = page.locator('.sidebar details[data-field=service]');
  await expect(service.locator('.value-filter')).toHaveText(['HDFS2,000', 'windows1,907']);
  await service.locator('button.value-filter', { hasText: 'windows' }).click();
  // The OR is parenthesised so that the new term applies to all of it.
  await expect(page.locator('#query')).toHaveText('(service=windows OR service=HDFS) service=windows');
  await expect(page.locator('.results-head .count')).toHaveText('1,907 lines');
  const services = await page.locator('.result .svc').allTextContents();
  expect(new Set(services)).toEqual(new Set(['windows']));
  // The dynamic fields of the JSON lines are in the sidebar too, with their top values.
  await expect(page.locator('.sidebar details[data-field=Channel]')).toHaveCount(1);
  // Keyboard: in the list, Enter expands the active (first) line to every field; exclude a value.
  await page.locator('.result-list').focus();
  await page.keyboard.press('Enter');
  const details = page.locator('.result.open .fields-table');
  await expect(details).toBeVisible();
  await expect(details.locator('th', { hasText: 'Channel' })).toHaveCount(1);
  await shot('search-sidebar-filter');
  await details.locator('button[aria-label^="Exclude host="]').click();
  await expect(page).toHaveURL(/NOT\+host%3Dwec/);
  await expect(page.locator('.empty')).toContainText('No lines match');
});

test('context shows the lines around a hit from the same host and service, and loads more', async ({ page, sawmill, shot }) => {
  await page.goto(`${sawmill.url}/ui/?q=service%3DZookeeper&since=1h`);
  const rows = page.locator('.result .row-summary');
  await expect(rows.first()).toBeVisible();
  await rows.nth(5).click();
  await page.locator('.result.open button', { hasText: 'Context' }).click();
  const dialog = page.locator('dialog.context-dialog');
  await expect(dialog).toBeVisible();
  await expect(dialog.locator('.ctx-hit')).toHaveCount(1);
  // The sixth newest line: 25 before it, and the 5 newer ones after it.
  await expect(dialog.locator('.ctx-line')).toHaveCount(31);
  await expect(dialog.locator('footer')).toContainText('25 before · 5 after');
  await expect(dialog.locator('button', { hasText: 'No later lines' })).toBeDisabled();
  const hitText = await dialog.locator('.ctx-hit .msg').textContent();
  expect(hitText).toBe(await page.locator('.result.open .row-summary .msg').textContent());
  await dialog.locator('button', { hasText: 'Load 50 earlier lines' }).click();
  await expect(dialog.locator('.ctx-line')).toHaveCount(81);
  await expect(dialog.locator('footer')).toContainText('75 before · 5 after');
  const want = await sawmill.search('service=Zookeeper', { limit: '6' });
  const context = await (await fetch(`${sawmill.url}/api/v1/context?id=${want.hits[5].id}&before=75&after=25`)).json();
  await expect(dialog.locator('.ctx-line .msg').first()).toHaveText(context.before[0].message);
  await shot('search-context');
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
});

test('a shared URL opens the same view; a pipe query shows a table and a chart', async ({ page, browser, sawmill, shot }) => {
  const url = `${sawmill.url}/ui/?q=service%3DOpenStack+level%3E%3DWARN&since=24h&limit=100`;
  const other = await browser.newContext();  // another person's browser: no history, no state
  const page2 = await other.newPage();
  await page2.goto(url);
  await expect(page2.locator('#query')).toHaveText('service=OpenStack level>=WARN');
  await expect(page2.locator('.chip.active')).toHaveText('24h');
  const want = await sawmill.search('service=OpenStack level>=WARN | count');
  await expect(page2.locator('.results-head .count')).toHaveText(
    want.rows[0].count >= 100 ? '100 lines (the newest 100)' : `${want.rows[0].count} lines`);
  // "link to these times" fixes the relative range to absolute times for the channel.
  await page2.locator('.permalink').click();
  await expect(page2).toHaveURL(/from=.*&to=/);
  await expect(page2.locator('[data-testid=range-label]')).toContainText('→');
  await expect(page2.locator('#query')).toHaveText('service=OpenStack level>=WARN');
  await other.close();

  await page.goto(`${sawmill.url}/ui/`);
  await runQuery(page, '| count by service', 'Control+Enter');
  const table = page.locator('.pipe-table');
  await expect(table).toBeVisible();
  await expect(table.locator('thead th')).toHaveText(['service', 'count']);
  const counts = await sawmill.search('| count by service', { since: '1h', all_time: '0' });
  await expect(table.locator('tbody tr')).toHaveCount(counts.rows.length);
  await expect(table.locator('tbody tr').first()).toContainText(counts.rows[0].service);
  await runQuery(page, 'service=Hadoop | count by bucket(1m), level');
  await expect(page.locator('.pipe-view canvas')).toBeVisible();
  await expect(page.locator('.pipe-table thead th')).toHaveText(['bucket', 'level', 'count']);
  await shot('search-pipe');
});

test('a syntax error is shown with its position, in the text and in the box', async ({ page, sawmill, shot }) => {
  await page.goto(`${sawmill.url}/ui/`);
  await runQuery(page, 'service=Hadoop AND (level=ERROR');
  const error = page.locator('.query-error');
  await expect(error).toBeVisible();
  await expect(error.locator('.error-message')).toContainText("missing ')'");
  // The caret points at the '(' (offset 19), as the server's position says.
  await expect(error.locator('.error-caret')).toHaveText('service=Hadoop AND (level=ERROR\n' + ' '.repeat(19) + '^');
  await expect(page.locator('.cm-lintRange-error')).toHaveText('(');
  await shot('search-syntax-error');
});
