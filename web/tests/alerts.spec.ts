// The alerts page against a real server with a rules file: a rule goes firing when lines
// arrive, the history shows the change, and "test over the last 24 h" replays it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, start, test } from './fixtures';

test('a rule fires, shows in the history, and its 24 h test replays it', async ({ page, shot }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sawmill-ui-alerts-'));
  const rules = path.join(dir, 'rules.yaml');
  fs.writeFileSync(rules, [
    'rules:',
    '  - name: payments-errors',
    '    filter: service=payments level=ERROR',
    '    condition: count > 2',
    '    window: 5m',
    '  - name: checkout-quiet',
    '    filter: service=checkout',
    '    condition: count > 1000',
    '    window: 1m',
    '',
  ].join('\n'));
  const { sawmill, stop } = await start(['--alert-rules', rules, '--alert-eval-interval', '1s'], false);
  try {
    await page.goto(`${sawmill.url}/ui/alerts`);
    const row = page.locator('tr[data-rule=payments-errors]');
    await expect(row.locator('.alert-state').first()).toHaveText('inactive');
    await expect(page.locator('tr[data-rule=checkout-quiet] .alert-state').first()).toHaveText('inactive');
    const errors = Array.from({ length: 5 }, (_, i) => `{"level":"error","msg":"card declined ${i}"}`).join('\n') + '\n';
    await sawmill.ingest(errors, { service: 'payments', host: 'pay-1' });
    await expect(row.locator('.alert-state').first()).toHaveText('firing', { timeout: 20_000 });
    await expect(page.locator('[data-testid=alert-history] tbody tr', { hasText: 'payments-errors' }).first()).toContainText('firing', { timeout: 10_000 });
    // The filter links to a search of the rule's lines.
    await expect(row.locator('a')).toHaveAttribute('href', /\/ui\/\?q=service%3Dpayments\+level%3DERROR&since=5m/);
    await row.getByRole('button', { name: 'Test over the last 24 h' }).click();
    const backtest = page.locator('[data-testid=backtest-payments-errors]');
    await expect(backtest).toContainText('→');
    await expect(backtest.locator('.backtest-events li').first()).toContainText('firing');
    await shot('alerts');
  } finally {
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
