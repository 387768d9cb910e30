// Web addresses in a message become links (docs/chat.md, "The web page"): only http: and https:
// (never javascript:, data: or anything else a click could run), rendered by the component as
// <a rel="noopener noreferrer"> with the text as text, never HTML.

export type LinkPart = { text: string; href?: undefined } | { text: string; href: string };

const URL_LIKE = /\bhttps?:\/\/[^\s<>"'`]+/giu;
// Punctuation that ends a sentence rather than the address.
const TRAILING = /[.,;:!?]+$/u;

/** Trims what follows an address in prose: a full stop, or a `)` that closes text around it. */
function trimmed(candidate: string): string {
  let url = candidate.replace(TRAILING, '');
  while (url.endsWith(')') && (url.match(/\(/g)?.length ?? 0) < (url.match(/\)/g)?.length ?? 0)) url = url.slice(0, -1).replace(TRAILING, '');
  return url;
}

/** The text cut into plain parts and links (http/https addresses that parse). */
export function linkParts(text: string): LinkPart[] {
  const parts: LinkPart[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_LIKE)) {
    const url = trimmed(match[0]);
    let href: string;
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') continue;
      href = parsed.href;
    } catch {
      continue;
    }
    if (match.index > last) parts.push({ text: text.slice(last, match.index) });
    parts.push({ text: url, href });
    last = match.index + url.length;
  }
  if (last < text.length || parts.length === 0) parts.push({ text: text.slice(last) });
  return parts;
}
