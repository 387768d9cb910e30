import { api } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';
import { expect, joinAs, test } from './fixtures.js';

// Search in the page (issue 27): hits from what the member may read, highlighted as text, each
// opening its message in context (its room, scrolled to it); others' private messages never.

test.use({ viewport: { width: 1280, height: 800 } });

test('a search finds a message, marks the words, and opens it in its room scrolled to it; others’ private messages stay unfound', async ({ page, gateway }) => {
  test.setTimeout(90_000);
  const bob = await Peer.tcp(gateway.tcpPort);
  await bob.hello('bob', { room: 'ops' });
  const carol = await Peer.tcp(gateway.tcpPort);
  await carol.hello('carol');
  const dave = await Peer.tcp(gateway.tcpPort);
  await dave.hello('dave');
  try {
    bob.send({ type: 'message', room: 'ops', text: 'The turbine gauge reads 77 <img src=x onerror="document.title=\'pwned\'">' });
    const target = await bob.next('message', (m) => m.text.startsWith('The turbine'));
    // Enough later messages that the target is not among those the room opens with.
    for (let i = 0; i < 70; i++) bob.send({ type: 'message', room: 'ops', text: `filler ${i}` });
    await bob.next('message', (m) => m.text === 'filler 69', 15_000);
    carol.send({ type: 'private', to: 'dave', text: 'the turbine secret is 1234' });
    await dave.next('private', (m) => m.text.startsWith('the turbine secret'));
    // A room that then admits operators only (this gateway has no admin token: loopback sets it).
    dave.send({ type: 'join', room: 'vault' });
    await dave.next('roster', (r) => r.room === 'vault');
    dave.send({ type: 'message', room: 'vault', text: 'turbine vault combination 9' });
    await dave.next('message', (m) => m.text.startsWith('turbine vault'));
    expect((await api(gateway, 'PUT', '/api/rooms/vault', { access: 'operators' })).status).toBe(200);

    await joinAs(page, gateway, 'alice');
    await page.getByTestId('search-input').fill('TURB');
    await page.getByTestId('search-submit').click();
    const hits = page.getByTestId('search-hit');
    await expect(hits).toHaveCount(1);
    const hit = hits.first();
    await expect(hit).toHaveAttribute('data-id', String(target.id));
    await expect(hit).toHaveAttribute('data-place', '/rooms/ops');
    await expect(hit.locator('mark')).toHaveText(['turb']);
    // The markup in the message is text in the hit, not an element.
    await expect(hit.getByTestId('search-hit-text')).toContainText('<img src=x onerror=');
    await expect(page.locator('[data-testid="search-hits"] img')).toHaveCount(0);

    // A private conversation between two others, a room that does not admit alice: nothing.
    for (const q of ['secret', 'combination']) {
      await page.getByTestId('search-input').fill(q);
      await page.getByTestId('search-submit').click();
      await expect(page.getByTestId('search-count')).toHaveText(`No messages found for “${q}”`);
      await expect(hits).toHaveCount(0);
    }

    // Opened in context: the room (joined), older pages loaded until the message is there, scrolled to it.
    await page.getByTestId('search-input').fill('turbine gauge');
    await page.getByTestId('search-submit').click();
    await expect(hits).toHaveCount(1);
    await hits.first().click();
    await expect.poll(() => new URL(page.url()).pathname).toBe('/rooms/ops');
    await expect(page.locator('[data-testid="message-list"]')).toHaveAttribute('data-conversation', 'ops');
    const message = page.locator(`[data-testid="message-list"] [data-testid="message-item"][data-id="${target.id}"]`);
    await expect(message).toHaveAttribute('data-found', 'true', { timeout: 15_000 });
    await expect(message).toBeInViewport();
    await expect(message.getByTestId('message-text')).toContainText('The turbine gauge reads 77 <img');
    expect(await page.title()).not.toContain('pwned');
  } finally {
    bob.end();
    carol.end();
    dave.end();
  }
});
