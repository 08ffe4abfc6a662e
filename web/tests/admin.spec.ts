// The admin page: server stats from the server's own API, against real data.
import { expect, test } from './fixtures';

test('admin shows ingest rate, queries, disk per tier from the server', async ({ page, sawmill, shot }) => {
  // Segments exist once the memtables are flushed.
  const flushed = await fetch(`${sawmill.url}/api/v1/admin/flush`, { method: 'POST' });
  expect(flushed.status).toBe(200);
  const segments = await (await fetch(`${sawmill.url}/api/v1/admin/segments`)).json();
  expect(segments.matching).toBeGreaterThan(0);
  await page.goto(`${sawmill.url}/ui/admin`);
  await expect(page.locator('[data-testid=tiers] tbody tr')).toHaveCount(new Set(segments.segments.map((s: any) => s.tier)).size);
  const rows = segments.segments.filter((s: any) => s.tier === 'hot').reduce((n: number, s: any) => n + s.rows, 0);
  await expect(page.locator('[data-testid=tiers] tbody tr', { hasText: 'hot' })).toContainText(rows.toLocaleString('en-US'));
  // Lines and searches while the page watches show up as rates.
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    await sawmill.ingest('{"level":"info","msg":"load for the admin page"}\n'.repeat(200), { service: 'admin-test' });
    await sawmill.search('service=admin-test | count');
    await new Promise((r) => setTimeout(r, 200));
  }
  await expect(page.locator('[data-testid=ingest-rate]')).not.toHaveText(/^(…|0\.0 lines\/s)$/);
  await expect(page.locator('[data-testid=query-rate]')).not.toHaveText(/^(…|0\.00 queries\/s)$/);
  await shot('admin');
});
