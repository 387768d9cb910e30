// Files the gateway kept for later (docs/chat.md, "Files kept"): fetched over REST with this
// session's resume token, which reads what this member may read, and saved as a download.
import { savedFileUrl } from './saved-file.js';

export type KeptFile = { ok: true; url: string } | { ok: false; code: string; message: string };

/** Fetches a kept file; on success a blob: URL of its bytes (octet-stream) to save and then revoke. */
export async function fetchKeptFile(id: number, token: string | null): Promise<KeptFile> {
  let response: Response;
  try {
    response = await fetch(`/api/files/${id}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  } catch {
    return { ok: false, code: 'NOT_CONNECTED', message: 'The gateway could not be reached.' };
  }
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { code?: string; message?: string } | null;
    return { ok: false, code: body?.code ?? `HTTP_${response.status}`, message: body?.message ?? response.statusText };
  }
  return { ok: true, url: savedFileUrl([await response.blob()]) };
}

/** Hands a blob: URL to the browser as a download under `name`, and lets the URL go afterwards. */
export function saveAs(url: string, name: string): void {
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.rel = 'noopener';
  document.body.append(link);
  link.click();
  link.remove();
  // The download has its bytes by then; a minute is generous on a loaded machine.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
