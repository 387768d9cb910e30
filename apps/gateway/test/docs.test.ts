import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GatewayError, HttpErrorCodes, helpText } from '@switchboard/gateway';

const docsDir = new URL('../../../docs/', import.meta.url);
/** The API's error codes are documented with the REST API. */
const restApi = readFileSync(new URL('rest-api.md', docsDir), 'utf8');
/** The README and every page of docs/: where an option may be documented. */
const manual = [
  new URL('../../../README.md', import.meta.url),
  ...readdirSync(docsDir)
    .filter((f) => f.endsWith('.md'))
    .map((f) => new URL(f, docsDir)),
]
  .map((file) => readFileSync(file, 'utf8'))
  .join('\n');

describe('the docs agree with the code', () => {
  it('list exactly the HTTP error codes, with their statuses and texts (docs/rest-api.md)', () => {
    const table = restApi.split('<!-- http-error-table:start -->')[1]!.split('<!-- http-error-table:end -->')[0]!;
    const rows = [...table.matchAll(/^\| `([A-Z_]+)` \| (\d+) \| (.+) \|$/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
    const expected = Object.entries(HttpErrorCodes).map(([code, text]) => [code, new GatewayError(code as keyof typeof HttpErrorCodes).statusCode, text]);
    expect(rows).toEqual(expected);
  });

  it('mention every command-line flag (README.md or docs/)', () => {
    const flags = [...helpText().matchAll(/--(?:\[no-\])?([a-z-]+)/g)].map((m) => m[1]!).filter((f) => f !== 'help');
    const missing = [...new Set(flags)].filter((flag) => !manual.includes(`--${flag}`) && !manual.includes(`--[no-]${flag}`));
    expect(missing).toEqual([]);
  });
});
