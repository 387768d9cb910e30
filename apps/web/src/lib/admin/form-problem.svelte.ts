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
   * Builds the body from the fields (a FormError is the page's objection) and sends it; the
   * gateway's refusal stays shown. Whether it went through.
   */
  async submit<Body>(build: () => Body, send: (body: Body) => Promise<AdminFailure | null>): Promise<boolean> {
    let body: Body;
    try {
      body = build();
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      this.#problem = { field: error.field, message: error.message };
      return false;
    }
    this.#problem = await send(body);
    return this.#problem === null;
  }
}
