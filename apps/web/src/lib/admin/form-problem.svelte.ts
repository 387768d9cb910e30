// What an admin form shows under its fields: the page's own objection to one field (a
// FormError: the field is marked), or the gateway's refusal with its code.
import { FormError } from '../device-forms.js';
import type { AdminFailure } from './admin-api.svelte.js';

export type Problem = { field: string; message: string } | AdminFailure;

export class FormProblem {
  #problem = $state.raw<Problem | null>(null);

  get current(): Problem | null {
    return this.#problem;
  }

  /** Whether the page objected to this field (aria-invalid). */
  invalid(field: string): boolean {
    return this.#problem !== null && 'field' in this.#problem && this.#problem.field === field;
  }

  clear(): void {
    this.#problem = null;
  }

  /**
   * Sends what the fields make (a FormError thrown while making it is the page's objection);
   * the gateway's refusal stays shown. Whether it went through.
   */
  async send(run: () => Promise<AdminFailure | null>): Promise<boolean> {
    try {
      this.#problem = await run();
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      this.#problem = { field: error.field, message: error.message };
    }
    return this.#problem === null;
  }
}
