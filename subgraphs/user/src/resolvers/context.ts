import DataLoader from 'dataloader';
import type { BaseContext } from '@shop/kernel';
import type { AccountService } from '../service/account.service';
import type { UserEntity } from '../store/entities';

/** Per-request state: the loaders (one query per batch of user ids, whoever asks: entity references, `me`). */
export interface UserContext extends BaseContext {
  loaders: { user: DataLoader<string, UserEntity | null> };
}

export function makeContext(base: BaseContext, accounts: AccountService): UserContext {
  return {
    ...base,
    loaders: {
      user: new DataLoader(async (ids) => {
        const rows = await accounts.findByIds(ids);
        const byId = new Map(rows.map((u) => [u.id, u]));
        return ids.map((id) => byId.get(id) ?? null);
      }),
    },
  };
}
