import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GatewayError, HttpErrorCodes, helpText } from '@switchboard/gateway';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

describe('README agrees with the code', () => {
  it('lists exactly the HTTP error codes, with their statuses and texts', () => {
    const table = readme.split('<!-- http-error-table:start -->')[1]!.split('<!-- http-error-table:end -->')[0]!;
    const rows = [...table.matchAll(/^\| `([A-Z_]+)` \| (\d+) \| (.+) \|$/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
    const expected = Object.entries(HttpErrorCodes).map(([code, text]) => [code, new GatewayError(code as keyof typeof HttpErrorCodes).statusCode, text]);
    expect(rows).toEqual(expected);
  });

  it('mentions every command-line flag', () => {
    const flags = [...helpText().matchAll(/--(?:\[no-\])?([a-z-]+)/g)].map((m) => m[1]!).filter((f) => f !== 'help');
    const missing = [...new Set(flags)].filter((flag) => !readme.includes(`--${flag}`) && !readme.includes(`--[no-]${flag}`));
    expect(missing).toEqual([]);
  });
});
