// A DataTable tells the rows under it (a ConfirmRow, a LastErrorRow) how many columns to span.
import { getContext, setContext } from 'svelte';

const COLUMNS = Symbol('switchboard.data-table.columns');

export function setTableColumns(count: () => number): void {
  setContext(COLUMNS, count);
}

/** How many columns the table around a sub-row has (its colspan). */
export function tableColumns(): number {
  return getContext<(() => number) | undefined>(COLUMNS)?.() ?? 1;
}
