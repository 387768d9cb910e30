import { defineConfig } from '@playwright/test';

// Playwright's own browser download cannot work here; it drives Debian's Chromium.
export default defineConfig({
  testDir: 'test/e2e',
  testMatch: '**/*.spec.ts',
  forbidOnly: !!process.env.CI,
  fullyParallel: false,
  // Two spec files at a time, each test with its own gateway (ports 0, its own data directory):
  // on two busy cores three spec files took 127 s instead of 167.
  workers: 2,
  retries: 0,
  timeout: 30_000,
  expect: { timeout: 5_000 },
  // The html report keeps each test's attachments (the views' screenshots) in playwright-report/.
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  outputDir: 'test-results',
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    },
    // Recording a trace for every test (to keep the failed ones') cost about 30% of the run's time
    // (three spec files: 96 s with, 66 s without); a failure still leaves its screenshot. To get
    // traces: PLAYWRIGHT_TRACE=1 npx playwright test.
    trace: process.env.PLAYWRIGHT_TRACE === '1' ? 'retain-on-failure' : 'off',
    screenshot: 'only-on-failure',
  },
});
