import { Bus, notFound } from '@shop/kernel';
import type { AccountService } from '../service/account.service';

/** Request/reply commands other subgraphs send over NATS (they never read this subgraph's tables). */
export interface UserCommands {
  /** Who to write to about an order: the order subgraph puts it into `order.placed` for the confirmation email. */
  'user.get': {
    req: { id: string };
    res: { id: string; email: string; firstName: string | null; emailVerified: boolean };
  };
}

export function serveCommands(bus: Bus, accounts: AccountService): void {
  bus.serve<UserCommands['user.get']['req'], UserCommands['user.get']['res']>('user.get', async (req) => {
    const user = typeof req?.id === 'string' ? await accounts.contact(req.id.toLowerCase()) : null;
    if (!user) throw notFound('User');
    return user;
  });
}
