import { LockMode, type EntityManager, type MikroORM } from '@mikro-orm/postgresql';
import {
  Bus,
  Config,
  createOrm,
  enqueueEvent,
  EventEnvelope,
  isUuid,
  Logger,
  migrate,
  OutboxRelay,
} from '@shop/kernel';
import { MEDIA_MIGRATIONS } from '../migrations';
import { ImageEntity, MEDIA_ENTITIES } from './entities';
import type { Announce, AttachResult, EventRelay, ImageRecord, ImageStore, NewImage, ReadyImage } from './types';

const toRecord = (e: ImageEntity): ImageRecord => ({
  id: e.id,
  status: e.status,
  filename: e.filename,
  contentType: e.contentType,
  width: e.width,
  height: e.height,
  bytes: e.bytes,
  renditions: e.renditions ?? [],
  productId: e.productId,
  position: e.position,
  alt: e.alt,
  failure: e.failure,
  uploadExpiresAt: new Date(e.uploadExpiresAt),
  createdAt: new Date(e.createdAt),
  updatedAt: new Date(e.updatedAt),
});

function announceIn(em: EntityManager, announce: Announce | undefined, image: ImageRecord): void {
  if (!announce) return;
  const { type, data } = announce(image);
  enqueueEvent(em, type, data);
}

/** ImageStore on the subgraph's own PostgreSQL database `<prefix>_media` (MikroORM entities, kernel outbox). */
export class PostgresImageStore implements ImageStore {
  readonly kind = 'postgres' as const;

  constructor(
    readonly orm: MikroORM,
    private readonly logger?: Logger,
  ) {}

  private em(): EntityManager {
    return this.orm.em.fork() as EntityManager;
  }

  migrate(): Promise<string[]> {
    return migrate(this.orm, this.logger);
  }

  async create(image: NewImage): Promise<ImageRecord> {
    const em = this.em();
    const entity = em.create(ImageEntity, { ...image, status: 'PENDING', updatedAt: image.createdAt });
    await em.persistAndFlush(entity);
    return toRecord(entity);
  }

  async findById(id: string): Promise<ImageRecord | null> {
    if (!isUuid(id)) return null;
    const e = await this.em().findOne(ImageEntity, { id });
    return e ? toRecord(e) : null;
  }

  async findByIds(ids: readonly string[]): Promise<ImageRecord[]> {
    const valid = ids.filter(isUuid);
    if (!valid.length) return [];
    return (await this.em().find(ImageEntity, { id: { $in: valid } })).map(toRecord);
  }

  async findReadyByProducts(productIds: readonly string[]): Promise<ImageRecord[]> {
    const valid = [...new Set(productIds.filter(isUuid))];
    if (!valid.length) return [];
    const rows = await this.em().find(
      ImageEntity,
      { productId: { $in: valid }, status: 'READY' },
      { orderBy: { productId: 'asc', position: 'asc' } },
    );
    return rows.map(toRecord);
  }

  async claimUpload(id: string, now: Date): Promise<ImageRecord | null> {
    if (!isUuid(id)) return null;
    const em = this.em();
    // One conditional UPDATE: Postgres serialises concurrent claims on the row, the loser matches nothing.
    const rows = await em.getConnection().execute(
      `UPDATE images SET status = 'PROCESSING', updated_at = now()
       WHERE id = ? AND status = 'PENDING' AND upload_expires_at > ? RETURNING *`,
      [id, now],
    );
    return rows.length ? toRecord(em.map(ImageEntity, rows[0])) : null;
  }

  async markReady(id: string, ready: ReadyImage, announce?: Announce): Promise<ImageRecord | null> {
    return this.em().transactional(async (em) => {
      const e = await em.findOne(ImageEntity, { id, status: 'PROCESSING' }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!e) return null;
      em.assign(e, { ...ready, status: 'READY', failure: null, updatedAt: new Date() });
      const record = toRecord(e);
      announceIn(em, announce, record);
      return record;
    });
  }

  async markFailed(id: string, failure: string): Promise<void> {
    await this.em().nativeUpdate(
      ImageEntity,
      { id, status: 'PROCESSING' },
      { status: 'FAILED', failure: failure.slice(0, 500), updatedAt: new Date() },
    );
  }

  async attach(id: string, productId: string, alt: string | null, announce?: Announce): Promise<AttachResult> {
    if (!isUuid(id)) return { ok: false, reason: 'not_found' };
    return this.em().transactional(async (em): Promise<AttachResult> => {
      const e = await em.findOne(ImageEntity, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!e) return { ok: false, reason: 'not_found' };
      if (e.status !== 'READY') return { ok: false, reason: 'not_ready' };
      if (e.productId && e.productId !== productId) return { ok: false, reason: 'other_product' };
      if (!e.productId) {
        // Serialise appends per product so two attaches never compute the same next position.
        const conn = em.getConnection();
        const ctx = em.getTransactionContext();
        await conn.execute(
          `SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`,
          [`media:product:${productId}`],
          'all',
          ctx,
        );
        const [{ next }] = await conn.execute<{ next: number }[]>(
          `SELECT coalesce(max(position), -1) + 1 AS next FROM images WHERE product_id = ?`,
          [productId],
          'all',
          ctx,
        );
        em.assign(e, { productId, position: Number(next) });
      }
      e.alt = alt;
      e.updatedAt = new Date();
      const record = toRecord(e);
      announceIn(em, announce, record);
      return { ok: true, image: record };
    });
  }

  async delete(id: string, announce?: Announce): Promise<ImageRecord | null> {
    if (!isUuid(id)) return null;
    return this.em().transactional(async (em) => {
      const e = await em.findOne(ImageEntity, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!e) return null;
      const record = toRecord(e);
      em.remove(e);
      announceIn(em, announce, record);
      return record;
    });
  }

  async purgeAbandoned(before: Date): Promise<ImageRecord[]> {
    const em = this.em();
    const rows = await em
      .getConnection()
      .execute(`DELETE FROM images WHERE status <> 'READY' AND upload_expires_at < ? RETURNING *`, [before]);
    return rows.map((r: Record<string, unknown>) => toRecord(em.map(ImageEntity, r)));
  }

  async pendingEvents(limit = 100): Promise<EventEnvelope[]> {
    const rows = await this.em()
      .getConnection()
      .execute<{ payload: EventEnvelope }[]>(
        `SELECT payload FROM outbox WHERE published_at IS NULL ORDER BY created_at, id LIMIT ?`,
        [limit],
      );
    return rows.map((r) => r.payload);
  }

  createRelay(bus: Bus, logger?: Logger): EventRelay {
    return new OutboxRelay(this.orm, bus, logger);
  }

  async ping(): Promise<void> {
    await this.em().getConnection().execute('SELECT 1');
  }

  close(): Promise<void> {
    return this.orm.close(true);
  }
}

export interface PostgresStoreOptions {
  logger?: Logger;
  /** Called with every SQL statement (tests count round trips with it). */
  onQuery?: (sql: string) => void;
}

export async function openPostgresImageStore(
  config: Config,
  opts: PostgresStoreOptions = {},
): Promise<PostgresImageStore> {
  const orm = await createOrm({
    config,
    service: 'media',
    entities: MEDIA_ENTITIES,
    migrations: MEDIA_MIGRATIONS,
    logger: opts.logger,
    onQuery: opts.onQuery,
  });
  return new PostgresImageStore(orm, opts.logger);
}
