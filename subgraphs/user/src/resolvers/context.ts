import type DataLoader from 'dataloader';
import type http from 'node:http';
import { BaseContext, keyedLoader } from '@shop/kernel';
import type { AccountService } from '../service/account.service';
import type { UserEntity } from '../store/entities';
import { SessionChannel } from './session';

/**
 * Per-request state: the loaders (one query per batch of user ids, whoever asks: entity references, `me`) and the
 * browser-session channel with the gateway (cookie mode, the refresh cookie, the outcome it turns into cookies).
 */
export interface UserContext extends BaseContext {
  loaders: { user: DataLoader<string, UserEntity | null> };
  session: SessionChannel;
}

export function makeContext(base: BaseContext, accounts: AccountService, req?: http.IncomingMessage): UserContext {
  return {
    ...base,
    session: SessionChannel.fromRequest(req),
    loaders: {
      user: keyedLoader(
        async (ids) => new Map((await accounts.findByIds(ids)).map((u) => [u.id, u])),
        () => null,
      ),
    },
  };
}
