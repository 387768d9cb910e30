import { resolveObjectURL } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SAVED_FILE_TYPE, savedFileUrl } from '../src/lib/saved-file.js';

// Issue 22 #21: a received HTML file opened from the page must never run as the gateway's origin.
describe('files the page saves', () => {
  it('are octet-stream blobs whatever the sender declared, so opening one downloads it instead of running it', async () => {
    const html = '<script>localStorage.setItem("stolen", document.cookie)</script>';
    const url = savedFileUrl([new Blob([html], { type: 'text/html' })]);
    const blob = resolveObjectURL(url)!;
    expect(blob.type).toBe(SAVED_FILE_TYPE);
    expect(await blob.text()).toBe(html);
    URL.revokeObjectURL(url);
  });

  it('every blob URL the file code makes goes through savedFileUrl, and every link to one carries `download`', () => {
    const files = readFileSync(new URL('../src/lib/files.svelte.ts', import.meta.url), 'utf8');
    expect(files).not.toMatch(/URL\.createObjectURL/);
    expect(files.match(/savedFileUrl\(/g)?.length).toBe(2);
    const progress = readFileSync(new URL('../src/components/TransferProgress.svelte', import.meta.url), 'utf8');
    const links = progress.match(/<a [^>]*href=\{transfer\.url\}[^>]*>/g) ?? [];
    expect(links.length).toBeGreaterThan(0);
    for (const link of links) expect(link).toMatch(/\bdownload=/);
  });
});
