// Bans, accounts and the audit log (docs/identity-and-security.md).
import type { Account, AccountList, AuditEntry, AuditLog, Ban, BanList, NewBan } from '@switchboard/gateway/api-types';
import type { AdminFailure } from './admin-api.svelte.js';
import { AdminList, byName, newestFirst, type ListSource } from './admin-list.svelte.js';

export type { Account, AuditEntry, Ban, NewBan } from '@switchboard/gateway/api-types';

export class AuditAdmin extends AdminList<AuditLog, AuditEntry> {
  // The gateway answers oldest first; the page reads the newest 100 from the top.
  protected readonly source: ListSource<AuditLog, AuditEntry> = { path: '/api/audit?limit=100', rows: (b) => b.entries, order: newestFirst, key: 'id' };
}

export class BansAdmin extends AdminList<BanList, Ban> {
  protected readonly source: ListSource<BanList, Ban> = { path: '/api/bans', rows: (b) => b.bans, order: newestFirst, key: 'id' };

  /** Bans an address, block, name or account. The failure is the form's to show. */
  async add(body: NewBan): Promise<AdminFailure | null> {
    const failure = await this.create('Add ban', body, (added) => `Banned ${added.kind} ${added.value}; matching members were disconnected.`);
    if (failure === null) this.changed();
    return failure;
  }

  async lift(ban: Ban): Promise<boolean> {
    const lifted = await this.delete(ban, 'Lift ban', `/api/bans/${ban.id}`, `Lifted the ban on ${ban.kind} ${ban.value}.`);
    if (lifted) this.changed();
    return lifted;
  }
}

export class AccountsAdmin extends AdminList<AccountList, Account> {
  protected readonly source: ListSource<AccountList, Account> = { path: '/api/accounts', rows: (b) => b.accounts, order: byName, key: 'name' };

  /** Sets a new password; the account's sessions end. The failure is the form's to show. */
  async resetPassword(account: Account, password: string): Promise<AdminFailure | null> {
    const outcome = await this.api.run<undefined>('Reset password', 'POST', `/api/accounts/${encodeURIComponent(account.name)}/password`, { password });
    if (!outcome.ok) return outcome.failure;
    this.api.done(`New password set for ${account.name}; its sessions were ended.`);
    this.changed();
    return null;
  }

  async remove(account: Account): Promise<boolean> {
    const path = `/api/accounts/${encodeURIComponent(account.name)}`;
    const removed = await this.delete(account, 'Delete account', path, `Account ${account.name} deleted; its sessions were ended.`);
    if (removed) this.changed();
    return removed;
  }
}
