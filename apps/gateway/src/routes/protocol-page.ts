import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { Marked, type Tokens } from 'marked';

/** The wire protocol's specification, served by the gateway itself next to the API docs. */
export const PROTOCOL_URL = '/protocol.md';
/** Its byte vectors, where the page's `test/vectors.json` link points. */
export const VECTORS_URL = '/protocol/vectors.json';
const STYLESHEET_URL = '/protocol.css';
const PROTOCOL_FILE = new URL('../../../../packages/protocol/PROTOCOL.md', import.meta.url);
const VECTORS_FILE = new URL('../../../../packages/protocol/test/vectors.json', import.meta.url);

/** Links of PROTOCOL.md (relative to it in the repository) to what the gateway serves. */
const SERVED: Record<string, string> = { 'test/vectors.json': VECTORS_URL };

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** GitHub's heading ids (github-slugger), so `PROTOCOL.md#9-errors` links from docs/ work here too. */
function githubSlug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/(\*\*|__|\*|\b_|_\b)/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/**
 * PROTOCOL.md as an HTML page: headings with GitHub's ids, raw HTML in the Markdown shown as
 * text (never markup), links only to http(s), anchors on the page and what the gateway serves;
 * a link into the repository that the gateway does not serve (the client READMEs) is its text.
 */
export function renderProtocol(markdown: string): string {
  const seen = new Map<string, number>();
  const marked = new Marked({
    gfm: true,
    renderer: {
      html: ({ text }: Tokens.HTML | Tokens.Tag) => escapeHtml(text),
      heading({ tokens, depth, text }: Tokens.Heading) {
        const base = githubSlug(text);
        const count = seen.get(base) ?? 0;
        seen.set(base, count + 1);
        const id = count === 0 ? base : `${base}-${count}`;
        return `<h${depth} id="${escapeHtml(id)}">${this.parser.parseInline(tokens)}</h${depth}>\n`;
      },
      link({ href, title, tokens }: Tokens.Link) {
        const inner = this.parser.parseInline(tokens);
        const target = /^(https?:|#)/i.test(href) ? href : SERVED[href];
        if (target === undefined) return inner;
        return `<a href="${escapeHtml(target)}"${title ? ` title="${escapeHtml(title)}"` : ''}>${inner}</a>`;
      },
      image: ({ text }: Tokens.Image) => escapeHtml(text),
    },
  });
  const body = marked.parse(markdown, { async: false });
  return (
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    `<title>The Switchboard protocol</title>\n<link rel="stylesheet" href="${STYLESHEET_URL}">\n</head>\n<body>\n` +
    `<nav><a href="/">Switchboard</a> · <a href="/docs">REST API</a> · <a href="${PROTOCOL_URL}?raw=1">Markdown</a> · ` +
    `<a href="${VECTORS_URL}">byte vectors</a></nav>\n<main>\n${body}</main>\n</body>\n</html>\n`
  );
}

const STYLESHEET = `body { margin: 0; font: 16px/1.55 system-ui, sans-serif; color: #1d232a; background: #fff; }
nav { padding: 0.6rem 1rem; border-bottom: 1px solid #d8dee4; font-size: 0.9rem; }
main { max-width: 52rem; margin: 0 auto; padding: 1rem 1.25rem 4rem; }
h1, h2, h3, h4 { line-height: 1.25; margin: 1.8em 0 0.6em; }
h2 { border-bottom: 1px solid #d8dee4; padding-bottom: 0.25em; }
a { color: #0958b8; }
code, pre { font: 0.88em/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code { background: #f1f3f5; padding: 0.1em 0.3em; border-radius: 4px; }
pre { background: #f6f8fa; padding: 0.8rem 1rem; overflow-x: auto; border-radius: 6px; }
pre code { background: none; padding: 0; }
table { border-collapse: collapse; display: block; overflow-x: auto; margin: 1rem 0; }
th, td { border: 1px solid #d8dee4; padding: 0.35rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
blockquote { margin: 1rem 0; padding: 0 1rem; color: #57606a; border-left: 4px solid #d8dee4; }
@media (prefers-color-scheme: dark) {
  body { color: #e6edf3; background: #0d1117; }
  nav, h2, th, td { border-color: #30363d; }
  a { color: #58a6ff; }
  code, th { background: #161b22; }
  pre { background: #161b22; }
}
`;

/**
 * `/protocol.md`: PROTOCOL.md as a readable page (`?raw=1`: the Markdown itself), its stylesheet,
 * and `/protocol/vectors.json`, the byte vectors it links to. Read and rendered once, at start.
 */
export async function protocolPageRoutes(app: FastifyInstance): Promise<void> {
  const markdown = readFileSync(PROTOCOL_FILE, 'utf8');
  const page = renderProtocol(markdown);
  const vectors = readFileSync(VECTORS_FILE);
  const { frames } = JSON.parse(vectors.toString('utf8')) as { frames: unknown[] };

  app.get(
    PROTOCOL_URL,
    {
      schema: {
        summary: 'PROTOCOL.md: the framed protocol on TCP and WebSocket, as a page (`?raw=1`: the Markdown)',
        querystring: {
          type: 'object',
          properties: { raw: { type: 'string', enum: ['1', 'true'], description: 'The Markdown source (text/markdown) instead of the page' } },
          additionalProperties: false,
        },
        response: {
          200: {
            description: 'The specification',
            content: { 'text/html': { schema: { type: 'string' } }, 'text/markdown': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (request, reply) =>
      (request.query as { raw?: string }).raw !== undefined
        ? reply.type('text/markdown; charset=utf-8').send(markdown)
        : reply.type('text/html; charset=utf-8').send(page),
  );

  app.get(
    VECTORS_URL,
    {
      schema: {
        summary: "PROTOCOL.md §10's byte vectors: each frame as a message and as hex, and the error frames",
        response: {
          200: {
            description: 'packages/protocol/test/vectors.json, as the test suite reads it',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { frames: { type: 'array', items: { type: 'object', additionalProperties: true } } },
                  additionalProperties: true,
                },
                example: { frames: frames.slice(0, 1) },
              },
            },
          },
        },
      },
    },
    // Sent as the file's bytes: the schema documents it, the serializer never sees it.
    async (_request, reply) => reply.type('application/json; charset=utf-8').send(vectors),
  );

  app.get(STYLESHEET_URL, { schema: { hide: true } }, async (_request, reply) => reply.type('text/css; charset=utf-8').send(STYLESHEET));
}
