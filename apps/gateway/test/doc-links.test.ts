import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Every relative link and `#anchor` in the README, docs/ and the packages' own READMEs resolves:
 * the file exists, and an anchor names a heading of the page it points into (GitHub's slugs).
 * Web links (http, https, mailto) are not followed: no network in tests.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function markdownIn(folder: string): string[] {
  const dir = join(repoRoot, folder);
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.md'))
        .map((f) => join(folder, f))
    : [];
}

function readmesUnder(folder: string): string[] {
  const dir = join(repoRoot, folder);
  return readdirSync(dir)
    .map((name) => join(folder, name, 'README.md'))
    .filter((file) => existsSync(join(repoRoot, file)));
}

const checkedFiles = [
  'README.md',
  ...markdownIn('docs'),
  ...readmesUnder('packages'),
  ...readmesUnder('clients'),
  'apps/web/README.md',
  'bench/README.md',
  'packages/protocol/PROTOCOL.md',
];

/** GitHub's heading ids (github-slugger): lower case, punctuation dropped, each space a hyphen. */
function githubSlug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** A heading's text as GitHub renders it before slugging: code, links and emphasis reduced to their words. */
function headingText(source: string): string {
  return source
    .replace(/\s+#+\s*$/, '')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/(\*\*|__|\*|\b_|_\b)/g, '')
    .trim();
}

/** The lines outside fenced code blocks, with their 1-based line numbers. */
function proseLines(text: string): { line: string; number: number }[] {
  const out: { line: string; number: number }[] = [];
  let fence: string | undefined;
  text.split('\n').forEach((line, i) => {
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker && (fence === undefined || (marker[0] === fence[0] && marker.length >= fence.length))) {
      fence = fence === undefined ? marker : undefined;
      return;
    }
    if (fence === undefined) out.push({ line, number: i + 1 });
  });
  return out;
}

/** The ids a page's headings (and explicit `id`/`name` anchors) get, duplicates numbered as GitHub does. */
function anchorsOf(text: string): Set<string> {
  const ids = new Set<string>();
  const seen = new Map<string, number>();
  const add = (heading: string) => {
    const base = githubSlug(headingText(heading));
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    ids.add(count === 0 ? base : `${base}-${count}`);
  };
  const lines = proseLines(text);
  lines.forEach(({ line, number }, i) => {
    const atx = /^\s{0,3}#{1,6}\s+(.*)$/.exec(line);
    if (atx) add(atx[1]!);
    const next = lines[i + 1];
    if (next && next.number === number + 1 && /^\s{0,3}(=+|-+)\s*$/.test(next.line) && line.trim() !== '' && !/^\s{0,3}([#>|*+-]|\d+\.)/.test(line)) add(line);
    for (const m of line.matchAll(/<a\s+[^>]*(?:id|name)="([^"]+)"/g)) ids.add(m[1]!);
  });
  return ids;
}

/** Relative link targets on a page (inline links, images and reference definitions), outside code. */
function linksOf(text: string): { target: string; line: number }[] {
  const links: { target: string; line: number }[] = [];
  for (const { line, number } of proseLines(text)) {
    const prose = line.replace(/(`+)[\s\S]*?\1/g, 'code');
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ target: m[1]!, line: number });
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(prose);
    if (definition) links.push({ target: definition[1]!, line: number });
  }
  return links.filter(({ target }) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** Every link of `file` (relative to `root`) that does not resolve, as `file:line: target (why)`. */
function brokenLinks(root: string, file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const broken: string[] = [];
  for (const { target, line } of linksOf(text)) {
    const hash = target.indexOf('#');
    const path = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const resolved = path === '' ? join(root, file) : path.startsWith('/') ? join(root, path) : resolve(dirname(join(root, file)), path);
    const where = `${file}:${line}: ${target}`;
    if (relative(root, resolved).startsWith('..')) {
      broken.push(`${where} (outside the repository)`);
    } else if (!existsSync(resolved)) {
      broken.push(`${where} (no such file)`);
    } else if (anchor !== undefined && resolved.endsWith('.md') && statSync(resolved).isFile()) {
      if (!anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)) broken.push(`${where} (no heading with that anchor)`);
    }
  }
  return broken;
}

describe('links in the docs', () => {
  it('checks the pages it should', () => {
    for (const file of ['README.md', 'docs/devices.md', 'docs/rest-api.md', 'packages/protocol/PROTOCOL.md', 'clients/python/README.md']) {
      expect(checkedFiles).toContain(file);
    }
    for (const file of checkedFiles) expect(existsSync(join(repoRoot, file)), file).toBe(true);
  });

  it.each(checkedFiles)('every relative link and anchor in %s resolves', (file) => {
    expect(brokenLinks(repoRoot, file)).toEqual([]);
  });

  it('slugs headings as GitHub does', () => {
    expect(githubSlug(headingText('Identity: accounts, tokens, bans, audit'))).toBe('identity-accounts-tokens-bans-audit');
    expect(githubSlug(headingText("The device console's server side"))).toBe('the-device-consoles-server-side');
    expect(githubSlug(headingText('9. Errors'))).toBe('9-errors');
    expect(githubSlug(headingText('hello (`0x02`, client → server)'))).toBe('hello-0x02-client--server');
    expect([...anchorsOf('# Errors\n\n## Errors\n\n```sh\n# not a heading\n```\n')]).toEqual(['errors', 'errors-1']);
  });

  describe('on a page with broken links', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-links-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('reports a missing file, a missing anchor and a missing anchor on the same page, and nothing else', () => {
      writeFileSync(join(dir, 'other.md'), '# Other page\n\n## A section\n');
      writeFileSync(
        join(dir, 'page.md'),
        [
          '# Page',
          '',
          '[fine](other.md#a-section), [fine too](#page), [web](https://example.com/x.md), `[code](nowhere.md)`',
          '[gone](missing.md) and [no such section](other.md#no-section)',
          '[here](#nowhere)',
          '',
          '```md',
          '[in a code block](missing-too.md)',
          '```',
          '[def]: other.md#a-section',
          '',
        ].join('\n'),
      );
      expect(brokenLinks(dir, 'page.md')).toEqual([
        'page.md:4: missing.md (no such file)',
        'page.md:4: other.md#no-section (no heading with that anchor)',
        'page.md:5: #nowhere (no heading with that anchor)',
      ]);
    });
  });
});
