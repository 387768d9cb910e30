import { join } from 'node:path';
import { GatewayError } from '../errors.js';
import { SettingsFile } from './settings-file.js';

export interface NewMacro {
  name: string;
  /** `text`: text with escapes (`\r`, `\xNN`); `hex`: hex bytes. */
  mode: 'text' | 'hex';
  data: string;
  /** What the console appends: nothing, a line ending, or the device's listener delimiter. */
  append: 'none' | 'lf' | 'crlf' | 'cr' | 'listener';
}

export interface Macro extends NewMacro {
  id: string;
}

/** Named send presets for the device console, shared by everyone on the gateway (macros.json). */
export class Macros {
  readonly #macros = new Map<string, Macro>();
  readonly #file: SettingsFile<Macro>;
  #nextId = 1;

  constructor(dataDir: string | null) {
    this.#file = new SettingsFile(dataDir === null ? null : join(dataDir, 'macros.json'));
    for (const macro of this.#file.read()) this.#macros.set(macro.id, macro);
  }

  list(): Macro[] {
    return [...this.#macros.values()];
  }

  add(given: NewMacro): Macro {
    while (this.#macros.has(`k${this.#nextId}`)) this.#nextId++;
    const macro = { ...given, id: `k${this.#nextId++}` };
    this.#macros.set(macro.id, macro);
    this.#file.write(this.list());
    return macro;
  }

  remove(id: string): void {
    if (!this.#macros.delete(id)) throw new GatewayError('MACRO_NOT_FOUND', `No macro has id "${id}".`);
    this.#file.write(this.list());
  }
}
