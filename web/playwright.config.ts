// Browser tests of the UI (docs/ui.md): Playwright drives Debian's chromium (never a downloaded
// browser) against a real `sawmill server` started by tests/fixtures.ts. CTest runs one spec
// file per test (web/CMakeLists.txt, label `ui`).
import { defineConfig } from '@playwright/test';
import path from 'node:path';

const out = process.env.SAWMILL_UI_SCREENSHOTS ?? path.resolve('test-results');

export default defineConfig({
  testDir: './tests',
  timeout: 120_000,
  expect: { timeout: 20_000 },
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: path.join(out, 'playwright'),
  use: {
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 720 },
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.SAWMILL_CHROMIUM || '/usr/bin/chromium',
      // This machine's network is closed: keep chromium from calling home (its connections to
      // Google hosts would fail and stall). Playwright gives each launch a fresh profile dir.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--disable-dev-shm-usage'],
    },
  },
});
