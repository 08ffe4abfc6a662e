// A partial answer in the browser: a server with --query-timeout 1s and a search that takes
// seconds (nested-quantifier regexes over 200 KB lines of random text, as in
// tests/e2e/e2e_query_limits_test.py) answers partial=true with a warning naming the limit; the
// page says so prominently, in view, above the results.
import { expect, start, test } from './fixtures';
import type { Sawmill } from './fixtures';
import crypto from 'node:crypto';

let sawmill: Sawmill;
let stop: () => Promise<void>;

const LINES = 40;
const LINE_BYTES = 200 * 1024;
// Never matched (no 'd' in the lines); each regex keeps RE2 off its fast path on these lines.
const ALTERNATIVES = Array.from({ length: 300 }, (_, i) => `(a${i}(b+c*)+)+d`).join('|');
const SLOW = `service=slow AND (message~"${ALTERNATIVES}" OR message~"x${ALTERNATIVES}")`;

test.beforeAll(async () => {
  ({ sawmill, stop } = await start(['--query-timeout', '1s'], false));
  const alphabet = 'abc0123456789 ab';
  const lines: string[] = [];
  for (let i = 0; i < LINES; i++) {
    const bytes = crypto.randomBytes(LINE_BYTES);
    lines.push(Array.from(bytes, (b) => alphabet[b % 16]).join(''));
  }
  for (let i = 0; i < LINES; i += 10) {
    await sawmill.ingest(lines.slice(i, i + 10).join('\n') + '\n', { service: 'slow' });
  }
  await sawmill.ingest('a quick line\n', { service: 'fast' });
});

test.afterAll(async () => { await stop(); });

test('a search stopped by the time limit shows the partial-answer warning prominently', async ({ page, shot }) => {
  const api = await sawmill.search(SLOW, { since: '1h', all_time: '0' });
  expect(api.partial).toBe(true);
  await page.goto(`${sawmill.url}/ui/?${new URLSearchParams({ q: SLOW, since: '1h' })}`);
  const warning = page.locator('.partial[role=alert]');
  await expect(warning).toContainText('Partial answer');
  await expect(warning).toContainText('time limit (query_timeout): the answer is partial');
  await expect(warning).toBeInViewport();
  // No line was found before the stop: the page does not claim that none match.
  await expect(page.locator('.results .empty')).toContainText('before the search stopped');
  await shot('search-partial');
  // A search that finishes is not marked partial.
  await page.goto(`${sawmill.url}/ui/?${new URLSearchParams({ q: 'service=fast', since: '1h' })}`);
  await expect(page.locator('.results-head .count')).toHaveText('1 line');
  await expect(warning).toHaveCount(0);
});
