import DataLoader from 'dataloader';
import type { BaseContext } from '@shop/kernel';
import type { OrderService } from '../service/order.service';
import type { OrderEntity, OrderItemEntity, PaymentEntity } from '../store/entities';

/** Per-request loaders: every list or entity lookup of one tick is ONE statement. */
export interface OrderContext extends BaseContext {
  loaders: {
    order: DataLoader<string, OrderEntity | null>;
    items: DataLoader<string, OrderItemEntity[]>;
    payment: DataLoader<string, PaymentEntity | null>;
    /** Key: JSON [userId, first, after]; batched per (first, after) with a LATERAL join. */
    userOrders: DataLoader<string, OrderEntity[]>;
    userOrderCount: DataLoader<string, number>;
  };
}

export function makeContext(base: BaseContext, orders: OrderService): OrderContext {
  return {
    ...base,
    loaders: {
      order: new DataLoader(async (ids) => {
        const byId = new Map((await orders.findByIds(ids)).map((o) => [o.id, o]));
        return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
      }),
      items: new DataLoader(async (ids) => {
        const rows = await orders.itemsByOrderIds(ids);
        return ids.map((id) => rows.filter((r) => r.orderId === id));
      }),
      payment: new DataLoader(async (ids) => {
        const rows = await orders.paymentsByOrderIds(ids);
        return ids.map((id) => rows.filter((r) => r.orderId === id).pop() ?? null);
      }),
      userOrders: new DataLoader(async (keys) => {
        const parsed = keys.map((k) => JSON.parse(k) as [string, number, [string, string] | null]);
        const groups = new Map<string, string[]>();
        for (const [userId, first, after] of parsed) {
          const g = JSON.stringify([first, after]);
          groups.set(g, [...(groups.get(g) ?? []), userId]);
        }
        const results = new Map<string, OrderEntity[]>();
        for (const [g, userIds] of groups) {
          const [first, after] = JSON.parse(g) as [number, [string, string] | null];
          const byUser = await orders.listForUsers(userIds, first, after ?? undefined);
          for (const u of userIds) results.set(JSON.stringify([u, first, after]), byUser.get(u) ?? []);
        }
        return keys.map((k) => results.get(k) ?? []);
      }),
      userOrderCount: new DataLoader(async (userIds) => {
        const counts = await orders.countForUsers(userIds);
        return userIds.map((u) => counts.get(u) ?? 0);
      }),
    },
  };
}
