import type { IdentityDb } from './identity-db.js';
import type { BanRow } from './shared-identity.js';

export type BanKind = 'ip' | 'cidr' | 'name' | 'account';

export interface Ban {
  id: number;
  kind: BanKind;
  value: string;
  reason: string;
  createdAt: string;
  expiresAt: string | null;
}

interface BanSqlRow {
  id: number;
  kind: BanKind;
  value: string;
  reason: string;
  created_at: number;
  expires_at: number | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Bans by address, address block, name or account; each id names one ban forever. */
export class Bans {
  constructor(private readonly store: IdentityDb) {}

  add(kind: BanKind, value: string, reason: string, expiresAt: number | null): Ban {
    this.store.checkShared();
    const createdAt = Date.now();
    // In a cluster two gateways may add a ban at once: the id is the time with random low digits,
    // not a local counter, and above every id this gateway has seen (its own and the others'), so
    // a clock set back does not bring an old id round again.
    const seen = (this.store.sql("SELECT seq FROM sqlite_sequence WHERE name = 'bans'").get() as { seq: number } | undefined)?.seq ?? 0;
    const chosen = this.store.shared === undefined ? null : Math.max(createdAt * 1000 + Math.floor(Math.random() * 1000), seen + 1);
    const id = Number(
      this.store
        .sql('INSERT INTO bans (id, kind, value, reason, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(chosen, kind, value, reason, createdAt, expiresAt).lastInsertRowid,
    );
    this.store.share({ kind: 'ban', ban: { id, kind, value, reason, createdAt, expiresAt } });
    return { id, kind, value, reason, createdAt: new Date(createdAt).toISOString(), expiresAt: iso(expiresAt) };
  }

  /** Bans in force (an expired ban lifts by itself). */
  list(): Ban[] {
    const rows = this.store
      .sql('SELECT id, kind, value, reason, created_at, expires_at FROM bans WHERE expires_at IS NULL OR expires_at > ? ORDER BY id')
      .all(Date.now()) as BanSqlRow[];
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      value: r.value,
      reason: r.reason,
      createdAt: new Date(r.created_at).toISOString(),
      expiresAt: iso(r.expires_at),
    }));
  }

  remove(id: number): boolean {
    this.store.checkShared();
    const removed = this.store.sql('DELETE FROM bans WHERE id = ?').run(id).changes === 1;
    if (removed) this.store.share({ kind: 'ban-lifted', id });
    return removed;
  }

  /** A ban lifted on another gateway. */
  lifted(id: number): void {
    this.store.sql('DELETE FROM bans WHERE id = ?').run(id);
  }

  /** A ban as another gateway has it. */
  put(b: BanRow): void {
    this.store
      .sql('INSERT OR REPLACE INTO bans (id, kind, value, reason, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(b.id, b.kind, b.value, b.reason, b.createdAt, b.expiresAt);
  }

  /** Every ban, expired ones too, as other gateways get them. */
  rows(): BanRow[] {
    return (this.store.sql('SELECT id, kind, value, reason, created_at, expires_at FROM bans').all() as BanSqlRow[]).map((b) => ({
      id: b.id,
      kind: b.kind,
      value: b.value,
      reason: b.reason,
      createdAt: b.created_at,
      expiresAt: b.expires_at,
    }));
  }
}
