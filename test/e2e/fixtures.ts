import { fileURLToPath } from 'node:url';
import { test as base, expect, type Page } from '@playwright/test';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

const webRoot = fileURLToPath(new URL('../../apps/web/dist', import.meta.url));

/** Every test gets its own real gateway (ephemeral ports) serving the built page. */
export const test = base.extend<{ gateway: RunningGateway }>({
  gateway: async ({}, use) => {
    const gateway = await startGateway({ webRoot });
    await use(gateway);
    await gateway.close();
  },
});

export { expect };

/** Opens the page and joins under a name; resolves when the connection badge says open. */
export async function joinAs(page: Page, gateway: RunningGateway, name: string): Promise<void> {
  await page.goto(gateway.httpUrl + '/');
  await page.getByTestId('join-name-input').fill(name);
  await page.getByTestId('join-submit').click();
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'open');
  await expect(page.getByTestId('my-name')).toHaveText(name);
}

export async function say(page: Page, text: string): Promise<void> {
  await page.getByTestId('composer-input').fill(text);
  await page.getByTestId('composer-send').click();
}
