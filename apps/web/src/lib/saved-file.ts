// How the page hands a file to the user: as a download, never as a page of its own.

/**
 * The type every file's blob gets, whatever its sender declared. A blob: URL belongs to the
 * page's origin, so a `text/html` (or SVG) file opened in a new tab would run as a page of
 * this gateway: its storage, its session, its API. As octet-stream the browser only saves it.
 */
export const SAVED_FILE_TYPE = 'application/octet-stream';

/** A blob: URL that saves these bytes (the link also carries `download`). Revoke it when done. */
export function savedFileUrl(parts: BlobPart[]): string {
  return URL.createObjectURL(new Blob(parts, { type: SAVED_FILE_TYPE }));
}
