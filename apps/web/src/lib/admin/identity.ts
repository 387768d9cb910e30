// Bans, accounts and the audit log (docs/identity-and-security.md).
import type { Account, AccountList, AuditEntry, AuditLog, Ban, BanList, NewBan } from '@switchboard/gateway/api-types';
import type { AdminApi, AdminFailure } from './admin-api.svelte.js';
import { AdminList, byName, type ListSource } from './admin-list.svelte.js';

export type { Account, AuditEntry, Ban, NewBan } from '@switchboard/gateway/api-types';

const newestFirst = (a: { id: number }, b: { id: number }): number => b.id - a.id;
// The gateway answers oldest first; the page reads from the top (the newest 100).
const AUDIT: ListSource<AuditLog, AuditEntry> = {
  label: 'Read the audit log',
  path: '/api/audit?limit=100',
  rows: (body) => body.entries,
  order: newestFirst,
  key: 'id',
  adminOnly: true,
};
const BANS: ListSource<BanList, Ban> = { label: 'List bans', path: '/api/bans', rows: (body) => body.bans, order: newestFirst, key: 'id', adminOnly: true };
const ACCOUNTS: ListSource<AccountList, Account> = {
  label: 'List accounts',
  path: '/api/accounts',
  rows: (body) => body.accounts,
  order: byName,
  key: 'name',
  adminOnly: true,
};

export class AuditAdmin {
  constructor(
    api: AdminApi,
    readonly list = new AdminList(api, AUDIT),
  ) {}
}

export class BansAdmin {
  constructor(
    api: AdminApi,
    /** The audit log and the members a ban disconnects. */
    private readonly changed: () => void,
    readonly list = new AdminList(api, BANS),
  ) {}

  /** Bans an address, block, name or account. The failure is the form's to show. */
  async add(body: NewBan): Promise<AdminFailure | null> {
    const failure = await this.list.add('Add ban', body, (added) => `Banned ${added.kind} ${added.value}; matching members were disconnected.`);
    if (failure === null) this.changed();
    return failure;
  }

  async lift(ban: Ban): Promise<boolean> {
    const lifted = await this.list.remove(ban, 'Lift ban', `/api/bans/${ban.id}`, `Lifted the ban on ${ban.kind} ${ban.value}.`);
    if (lifted) this.changed();
    return lifted;
  }
}

export class AccountsAdmin {
  constructor(
    private readonly api: AdminApi,
    /** The audit log and the sessions a change ends. */
    private readonly changed: () => void,
    readonly list = new AdminList(api, ACCOUNTS),
  ) {}

  /** Sets a new password; the account's sessions end. The failure is the form's to show. */
  async resetPassword(account: Account, password: string): Promise<AdminFailure | null> {
    const outcome = await this.api.run<undefined>('Reset password', 'POST', `/api/accounts/${encodeURIComponent(account.name)}/password`, { password });
    if (!outcome.ok) return outcome.failure;
    this.api.done(`New password set for ${account.name}; its sessions were ended.`);
    this.changed();
    return null;
  }

  async remove(account: Account): Promise<boolean> {
    const removed = await this.list.remove(
      account,
      'Delete account',
      `/api/accounts/${encodeURIComponent(account.name)}`,
      `Account ${account.name} deleted; its sessions were ended.`,
    );
    if (removed) this.changed();
    return removed;
  }
}
