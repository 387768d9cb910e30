import { fileURLToPath } from 'node:url';
import { test as base } from '@playwright/test';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { expect, joinAs } from './fixtures.js';

const test = base.extend<{ gateway: RunningGateway }>({
  gateway: async ({}, use) => {
    const gateway = await startGateway({
      webRoot: fileURLToPath(new URL('../../apps/web/dist', import.meta.url)),
      security: { adminToken: 'open-sesame' },
    });
    await use(gateway);
    await gateway.close();
  },
});

test('with an admin token configured, the admin panel asks for it and then acts', async ({ page, gateway }) => {
  await joinAs(page, gateway, 'chief');
  await page.getByTestId('admin-toggle').click();
  await page.getByTestId('admin-nav-listeners').click();
  await page.getByTestId('listener-stop').click();
  // 401: the panel asks for the token; a wrong one is refused again.
  await page.getByTestId('admin-token-input').fill('guess');
  await page.getByTestId('admin-token-save').click();
  await page.getByTestId('listener-stop').click();
  await expect(page.getByTestId('admin-token-input')).toBeVisible();
  await page.getByTestId('admin-token-input').fill('open-sesame');
  await page.getByTestId('admin-token-save').click();
  await page.getByTestId('listener-stop').click();
  await expect(page.getByTestId('listener-controls')).toHaveAttribute('data-listening', 'false');
});
