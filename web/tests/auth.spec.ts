// The UI on a server with API tokens (docs/security.md): no token -> the page asks for one; a
// wrong token -> the server's reason as text; the right one -> search and live tail work (the
// tail stream carries the token too); a token without a page's right -> the server's 403 text.
// The Tokens page: created once and shown once (with Copy), revoked -> gone and refused.
import type { Page } from '@playwright/test';
import { bearer, expect, start, test } from './fixtures';
import type { Sawmill } from './fixtures';

let sawmill: Sawmill;
let stop: () => Promise<void>;
let admin: string;   // platform-admin
let reader: string;  // reader of the default tenant

async function createToken(as: string | undefined, params: Record<string, string>): Promise<string> {
  const r = await fetch(`${sawmill.url}/api/v1/admin/tokens?${new URLSearchParams(params)}`, { method: 'POST', headers: bearer(as) });
  const body = await r.json();
  if (r.status !== 201) throw new Error(`token create: ${r.status} ${JSON.stringify(body)}`);
  return body.token;
}

test.beforeAll(async () => {
  ({ sawmill, stop } = await start());  // real data, loaded before the first token exists
  // The first token is made from loopback without one (the bootstrap); from then on every API
  // call needs a token.
  admin = await createToken(undefined, { name: 'ui-admin', role: 'platform-admin' });
  reader = await createToken(admin, { name: 'ui-reader', role: 'reader', tenant: 'default' });
  sawmill.token = admin;
  expect((await fetch(`${sawmill.url}/api/v1/search?q=&all_time=1`)).status).toBe(401);
});

test.afterAll(async () => { await stop(); });

// The token as the prompt takes it: typed, "Use token", the page reloads with it.
async function enterToken(page: Page, token: string) {
  const field = page.getByLabel('API token');
  await field.fill(token);
  await field.press('Enter');
}

test('no token: the UI asks for one; a wrong one is refused with the reason; the right one searches and tails', async ({ page, shot }) => {
  await page.goto(`${sawmill.url}/ui/?since=1h`);
  const bar = page.locator('.token-bar');
  await expect(bar).toContainText('This server needs an API token');
  // The search's own error is the server's text, not a blank page.
  await expect(page.locator('.query-error .error-message')).toContainText('needs an API token');
  await shot('auth-no-token');

  // Well formed, as a mistyped or foreign token would be, but not one of this server's.
  const wrong = `sawmill_0123456789abcdef_${'5e'.repeat(32)}`;
  await enterToken(page, wrong);
  await expect(bar).toContainText('The server refused the token:');
  await expect(page.locator('.query-error .error-message')).toBeVisible();
  const refusal = await (await fetch(`${sawmill.url}/api/v1/search?q=&all_time=1`,
    { headers: bearer(wrong) })).json();
  expect(refusal.error).toContain('the token is not valid');
  await expect(bar).toContainText(refusal.error);
  await shot('auth-wrong-token');

  await page.getByRole('button', { name: 'Forget token' }).click();
  await expect(bar).toContainText('This server needs an API token');
  await enterToken(page, reader);
  await expect(bar).toHaveCount(0);
  await expect(page.locator('.results-head .count')).toHaveText('1,000 lines (the newest 1,000)');
  await expect(page.locator('.histogram .uplot')).toBeVisible();
  // Kept for the tab: another page of the same tab needs no new prompt.
  await page.goto(`${sawmill.url}/ui/tail?service=auth-tail`);
  await expect(page.locator('[data-testid=tail-status]')).toHaveText('live');
  await expect(bar).toHaveCount(0);
  await sawmill.ingest('{"level":"warn","msg":"a line for the tail behind a token"}\n', { service: 'auth-tail' });
  await expect(page.locator('.tail-row .msg')).toHaveText(['a line for the tail behind a token']);
  await shot('auth-tail');

  // A reader may not see the server's stats: the 403 is shown as the server's text.
  await page.goto(`${sawmill.url}/ui/admin`);
  await expect(page.locator('.query-error .error-message')).toContainText("token 'ui-reader' (role reader) may not use GET");
  await shot('auth-forbidden');
});

test('a token is shown once with a copy button; revoked, it is gone and refused', async ({ page, context, shot }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.addInitScript((t) => sessionStorage.setItem('sawmill.token', t), admin);
  await page.goto(`${sawmill.url}/ui/tokens`);
  const tokens = page.locator('[data-testid=tokens] tbody tr');
  await expect(tokens).toHaveCount(2);  // ui-admin, ui-reader

  // Keyboard only: the form's fields in tab order, Enter submits.
  await page.getByLabel('Name').focus();
  await page.keyboard.type('ci-pipeline');
  await page.keyboard.press('Tab');
  await page.getByLabel('Role').selectOption('reader');
  await page.getByLabel('Tenants').focus();
  await page.keyboard.type('default');
  await page.keyboard.press('Enter');
  const box = page.locator('[data-testid=new-token]');
  await expect(box).toContainText('you will not see this token again');
  const secret = await page.getByLabel('The new token').inputValue();
  expect(secret).toMatch(/^sawmill_[0-9a-z]+_[0-9A-Za-z]+$/);
  await page.getByRole('button', { name: 'Copy' }).click();
  await expect(box).toContainText('Copied to the clipboard.');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  await expect(tokens).toHaveCount(3);
  const row = tokens.filter({ hasText: 'ci-pipeline' });
  await expect(row).toContainText('reader');
  await shot('tokens-created');
  // The token works...
  expect((await fetch(`${sawmill.url}/api/v1/search?q=&since=1h`, { headers: bearer(secret) })).status).toBe(200);
  // ...and is never shown again: not after "stored", not after a reload.
  await page.getByRole('button', { name: 'I have stored it' }).click();
  await expect(box).toHaveCount(0);
  await page.reload();
  await expect(tokens).toHaveCount(3);
  expect(await page.content()).not.toContain(secret.split('_')[2]);

  // Revoke (with a confirmation): gone from the list, refused by the server at once.
  // By keyboard: Enter on "Revoke…" focuses Cancel (the safe choice); Shift+Tab, Enter revokes.
  await page.getByRole('button', { name: 'Revoke token ci-pipeline' }).focus();
  await page.keyboard.press('Enter');
  await expect(row.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.keyboard.press('Shift+Tab');
  await expect(row.getByRole('button', { name: 'Revoke', exact: true })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(tokens).toHaveCount(2);
  await expect(tokens.filter({ hasText: 'ci-pipeline' })).toHaveCount(0);
  const refused = await fetch(`${sawmill.url}/api/v1/search?q=&since=1h`, { headers: bearer(secret) });
  expect(refused.status).toBe(401);
  expect((await refused.json()).error).toContain('revoked');
  // Still listed among the revoked ones, on request.
  await page.getByLabel(/Show revoked and expired/).check();
  await expect(tokens.filter({ hasText: 'ci-pipeline' })).toContainText('revoked');
  await shot('tokens-revoked');
});

test('the audit page shows who searched what, and the chain verifies', async ({ page, shot }) => {
  // A search by the reader, then the audit log as a platform-admin sees it.
  const q = 'service=Spark level=ERROR';
  const r = await fetch(`${sawmill.url}/api/v1/search?${new URLSearchParams({ q, since: '1h' })}`, { headers: bearer(reader) });
  expect(r.status).toBe(200);
  await page.addInitScript((t) => sessionStorage.setItem('sawmill.token', t), admin);
  await page.goto(`${sawmill.url}/ui/audit`);
  const entries = page.locator('[data-testid=audit] tbody tr');
  await page.getByLabel('Who').fill('ui-reader');
  await page.getByLabel('Action').fill('GET /api/v1/search');
  await page.getByRole('button', { name: 'Show' }).click();
  const api = await (await fetch(`${sawmill.url}/api/v1/audit?${new URLSearchParams({ since: '24h', who: 'ui-reader', action: 'GET /api/v1/search' })}`,
    { headers: bearer(admin) })).json();
  expect(api.entries.length).toBeGreaterThan(0);
  await expect(entries).toHaveCount(api.entries.length);
  // Newest first: the search above is the first row, with its query and status.
  await expect(entries.first()).toContainText(q);
  await expect(entries.first()).toContainText('ui-reader');
  await expect(entries.first().locator('td').nth(7)).toHaveText('200');
  await page.getByRole('button', { name: 'Verify the chain' }).click();
  await expect(page.locator('[data-testid=audit-verify]')).toContainText('The chain is intact');
  await shot('audit');
});

test('the first token made in the UI turns tokens on, and the tab goes on with it', async ({ page, shot }) => {
  const fresh = await start([], false);
  try {
    await page.goto(`${fresh.sawmill.url}/ui/tokens`);
    await expect(page.locator('.empty')).toContainText('No tokens yet');
    await page.getByLabel('Name').fill('first-admin');
    await page.getByLabel('Role').selectOption('platform-admin');
    await page.getByRole('button', { name: 'Create token' }).click();
    const box = page.locator('[data-testid=new-token]');
    await expect(box).toContainText("It is the server's first token");
    const secret = await page.getByLabel('The new token').inputValue();
    // The server now wants a token; the tab has this one, so the list and the search still work.
    expect((await fetch(`${fresh.sawmill.url}/api/v1/admin/tokens`)).status).toBe(401);
    await expect(page.locator('[data-testid=tokens] tbody tr')).toHaveCount(1);
    await expect(page.locator('.token-bar')).toHaveCount(0);
    expect(await page.evaluate(() => sessionStorage.getItem('sawmill.token'))).toBe(secret);
    await shot('tokens-first');
    await page.goto(`${fresh.sawmill.url}/ui/?since=1h`);
    await expect(page.locator('.results-head .count')).toHaveText('0 lines');
    await expect(page.locator('.token-bar')).toHaveCount(0);
  } finally {
    await fresh.stop();
  }
});
