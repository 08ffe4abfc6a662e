// The admin page: server stats from the server's own API, against real data.
import { expect, test } from './fixtures';

test('admin shows ingest rate, queries, disk per tier from the server', async ({ page, sawmill, shot }) => {
  // Segments exist once the memtables are flushed.
  const flushed = await fetch(`${sawmill.url}/api/v1/admin/flush`, { method: 'POST' });
  expect(flushed.status).toBe(200);
  const segments = await (await fetch(`${sawmill.url}/api/v1/admin/segments`)).json();
  expect(segments.matching).toBeGreaterThan(0);
  await page.goto(`${sawmill.url}/ui/admin`);
  // Disk per tier: every tier, with what /api/v1/admin/tiers reports (and that agrees with the
  // segments' own list), oldest and newest line included; then per tier and tenant.
  const tiers = await (await fetch(`${sawmill.url}/api/v1/admin/tiers`)).json();
  expect(tiers.tiers.map((t: any) => t.tier)).toEqual(['hot', 'warm', 'cold']);
  const rows = segments.segments.filter((s: any) => s.tier === 'hot').reduce((n: number, s: any) => n + s.rows, 0);
  expect(tiers.tiers[0].rows).toBe(rows);
  await expect(page.locator('[data-testid=tiers] tbody tr')).toHaveCount(3);
  const hot = page.locator('[data-testid=tiers] tbody tr[data-tier=hot] td');
  await expect(hot.nth(1)).toHaveText(tiers.tiers[0].segments.toLocaleString('en-US'));
  await expect(hot.nth(2)).toHaveText(rows.toLocaleString('en-US'));
  await expect(hot.nth(4)).toHaveText(tiers.tiers[0].oldest.replace('T', ' ').replace(/Z$/, ''));
  await expect(hot.nth(5)).toHaveText(tiers.tiers[0].newest.replace('T', ' ').replace(/Z$/, ''));
  await expect(page.locator('[data-testid=tier-tenants] tbody tr')).toHaveCount(tiers.tenants.length);
  await expect(page.locator('[data-testid=tier-tenants] tbody tr').first()).toContainText('default');
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

test('retention and holds: set a policy, add a hold, see it listed and recorded, release it', async ({ page, sawmill, shot }) => {
  expect((await fetch(`${sawmill.url}/api/v1/admin/flush`, { method: 'POST' })).status).toBe(200);
  await page.goto(`${sawmill.url}/ui/retention`);
  // A policy for the tenant: the table shows the effective one, as the server reports it.
  const policyForm = page.getByRole('form', { name: "Set a tenant's policy" });
  await policyForm.getByLabel('Tenant').fill('default');
  await policyForm.getByLabel('Retention').fill('90d');
  await policyForm.getByLabel('Reason').fill('kept for the yearly audit');
  await policyForm.getByRole('button', { name: 'Set policy' }).click();
  await expect(page.locator('[data-testid=policies] tr[data-tenant=default]')).toContainText('90d');
  // A bad value is the server's error, as text, where it was typed.
  await policyForm.getByLabel('Retention').fill('soon');
  await policyForm.getByRole('button', { name: 'Set policy' }).click();
  await expect(policyForm.locator('.error-message')).toContainText('retention');

  // The hold by keyboard only: type, Tab from field to field, Enter submits.
  const form = page.getByRole('form', { name: 'Add a hold' });
  await form.getByLabel('From (UTC)').focus();
  await page.keyboard.type('2000-01-01 00:00');
  await page.keyboard.press('Tab');  // To: "now"
  await expect(form.getByLabel('To (UTC)')).toBeFocused();
  await page.keyboard.press('Tab');
  await page.keyboard.type('service=HDFS');
  await page.keyboard.press('Tab');
  await page.keyboard.type('INC-4211 disk failure review');
  await page.keyboard.press('Enter');
  const holds = page.locator('[data-testid=holds] tbody tr');
  await expect(holds).toHaveCount(1);
  const hold = holds.first();
  await expect(hold).toContainText('INC-4211 disk failure review');
  await expect(hold).toContainText('service=HDFS');
  // What the server says the hold keeps: the HDFS segments.
  const listed = (await (await fetch(`${sawmill.url}/api/v1/admin/holds`)).json()).holds;
  expect(listed).toHaveLength(1);
  expect(listed[0].segments).toBeGreaterThan(0);
  await expect(hold.locator('td').nth(6)).toHaveText(new RegExp(`^${listed[0].segments} \\(`));
  const record = page.locator('[data-testid=events] tbody tr');
  await expect(record.filter({ hasText: 'hold_add' })).toContainText('INC-4211 disk failure review');
  await expect(record.filter({ hasText: 'policy' }).first()).toContainText('kept for the yearly audit');
  await shot('retention-hold');

  // Release: a reason is required; then the hold leaves the active list and is recorded.
  // By keyboard: Enter on "Release…" moves the focus to the reason; Enter releases.
  await hold.getByRole('button', { name: `Release hold ${listed[0].id}` }).focus();
  await page.keyboard.press('Enter');
  await expect(hold.getByLabel(`Reason to release hold ${listed[0].id}`)).toBeFocused();
  await page.keyboard.type('INC-4211 closed');
  await page.keyboard.press('Enter');
  await expect(holds).toHaveCount(0);
  await expect(page.getByText('No active holds.')).toBeVisible();
  await expect(record.filter({ hasText: 'hold_release' })).toContainText('INC-4211 closed');
  await page.getByLabel('Show released holds').check();
  await expect(holds).toHaveCount(1);
  await expect(holds.first()).toContainText('released');
  const after = (await (await fetch(`${sawmill.url}/api/v1/admin/holds?all=true`)).json()).holds;
  expect(after[0].active).toBe(false);
  expect(after[0].release_reason).toBe('INC-4211 closed');
  await shot('retention-released');
});

// The admin pages at 1280x720 (no sideways scrolling of the page; wide tables scroll in their
// box) and in the dark theme on a 4K screen.
test('admin pages fit 1280x720 and follow the dark theme at 4K', async ({ browser, page, sawmill, shot }) => {
  const pages = ['retention', 'tokens', 'audit', 'admin'];
  for (const name of pages) {
    await page.goto(`${sawmill.url}/ui/${name}`);
    await expect(page.locator('.admin-page .card, .admin-page form').first()).toBeVisible();
    await expect(page.locator('.query-error')).toHaveCount(0);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, `${name} scrolls sideways at 1280x720`).toBeLessThanOrEqual(0);
  }
  const context = await browser.newContext({ viewport: { width: 1920, height: 1080 }, deviceScaleFactor: 2, colorScheme: 'dark' });
  const dark = await context.newPage();
  for (const name of pages) {
    await dark.goto(`${sawmill.url}/ui/${name}`);
    await expect(dark.locator('html')).toHaveAttribute('data-theme', 'dark');
    await expect(dark.locator('.admin-page .card, .admin-page form').first()).toBeVisible();
    expect(await dark.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(21, 23, 28)');
    await dark.screenshot({ path: `${process.env.SAWMILL_UI_SCREENSHOTS ?? 'test-results'}/${name}-dark-4k.png` });
  }
  await context.close();
  await shot('admin-pages-1280');
});
