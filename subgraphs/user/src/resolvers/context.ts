import type DataLoader from 'dataloader';
import { BaseContext, keyedLoader } from '@shop/kernel';
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
      user: keyedLoader(
        async (ids) => new Map((await accounts.findByIds(ids)).map((u) => [u.id, u])),
        () => null,
      ),
    },
  };
}
