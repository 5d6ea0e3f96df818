import type { MikroORM } from '@mikro-orm/postgresql';
import { isUuid, notFound } from '@shop/kernel';
import { OrderEntity, OrderItemEntity, OrderStatusValue, PaymentEntity } from '../store/entities';

export interface ListArgs {
  first: number;
  /** A checked cursor position (kernel `decodeTimeCursor`): ISO time, order id. */
  after?: [string, string];
  status?: OrderStatusValue | null;
  userId?: string;
}

/** Reads of orders and their rows, each one statement for a whole batch (the resolvers' DataLoaders call them). */
export class OrderReads {
  constructor(private readonly orm: MikroORM) {}

  async mustFind(id: string): Promise<OrderEntity> {
    const [o] = await this.findByIds([id]);
    if (!o) throw notFound('Order');
    return o;
  }

  async findByIds(ids: readonly string[]): Promise<OrderEntity[]> {
    const valid = ids.filter(isUuid);
    if (!valid.length) return [];
    return this.orm.em.fork().find(OrderEntity, { id: { $in: valid } });
  }

  async itemsByOrderIds(ids: readonly string[]): Promise<OrderItemEntity[]> {
    if (!ids.length) return [];
    return this.orm.em
      .fork()
      .find(OrderItemEntity, { orderId: { $in: [...ids] } }, { orderBy: { orderId: 'asc', position: 'asc' } });
  }

  async paymentsByOrderIds(ids: readonly string[]): Promise<PaymentEntity[]> {
    if (!ids.length) return [];
    return this.orm.em.fork().find(PaymentEntity, { orderId: { $in: [...ids] } }, { orderBy: { createdAt: 'asc' } });
  }

  /** One page, newest first, keyset (created_at, id): `first + 1` rows (the extra one says there is a next page). */
  async list(args: ListArgs): Promise<OrderEntity[]> {
    const where: Record<string, unknown> = {};
    if (args.status) where.status = args.status;
    if (args.userId) where.userId = args.userId;
    if (args.after) {
      const [at, id] = args.after;
      const d = new Date(at);
      where.$or = [{ createdAt: { $lt: d } }, { createdAt: d, id: { $lt: id } }];
    }
    return this.orm.em
      .fork()
      .find(OrderEntity, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: args.first + 1 });
  }

  /**
   * The same page for many users in ONE statement (User.orders across a list of users): a LATERAL join picks
   * each user's `first + 1` newest orders after the cursor.
   */
  async listForUsers(
    userIds: readonly string[],
    first: number,
    after?: [string, string],
  ): Promise<Map<string, OrderEntity[]>> {
    const out = new Map<string, OrderEntity[]>(userIds.map((u) => [u, []]));
    const valid = [...new Set(userIds.filter(isUuid))];
    if (!valid.length) return out;
    const em = this.orm.em.fork();
    let cursorSql = '';
    const params: unknown[] = [valid];
    if (after) {
      cursorSql = 'AND (o.created_at, o.id) < (?::timestamptz, ?::uuid)';
      params.push(after[0], after[1]);
    }
    params.push(first + 1);
    const rows: Record<string, unknown>[] = await em.getConnection().execute(
      `SELECT o.* FROM unnest(ARRAY[?]::uuid[]) AS u(id)
       CROSS JOIN LATERAL (SELECT * FROM orders o WHERE o.user_id = u.id ${cursorSql} ORDER BY o.created_at DESC, o.id DESC LIMIT ?) o`,
      params,
    );
    for (const row of rows) {
      const o = em.map(OrderEntity, row);
      out.get(o.userId)?.push(o);
    }
    return out;
  }

  async count(args: { status?: OrderStatusValue | null; userId?: string }): Promise<number> {
    const where: Record<string, unknown> = {};
    if (args.status) where.status = args.status;
    if (args.userId) where.userId = args.userId;
    return this.orm.em.fork().count(OrderEntity, where);
  }

  async countForUsers(userIds: readonly string[]): Promise<Map<string, number>> {
    const valid = [...new Set(userIds.filter(isUuid))];
    const out = new Map<string, number>();
    if (!valid.length) return out;
    const rows: { user_id: string; n: string }[] = await this.orm.em
      .getConnection()
      .execute(
        `SELECT user_id, count(*)::text AS n FROM orders WHERE user_id = ANY(ARRAY[?]::uuid[]) GROUP BY user_id`,
        [valid],
      );
    for (const r of rows) out.set(r.user_id, Number(r.n));
    return out;
  }
}
