import mongoose, { ClientSession, Connection, Model, Schema } from 'mongoose';
import {
  Bus,
  Config,
  currentOrigin,
  EventEnvelope,
  isUuid,
  Logger,
  makeEvent,
  MessageOrigin,
  PollingRelay,
} from '@shop/kernel';
import type {
  Announce,
  AttachResult,
  EventRelay,
  ImageRecord,
  ImageStatus,
  ImageStore,
  NewImage,
  ReadyImage,
  Rendition,
} from './types';

/**
 * ImageStore on MongoDB (used when MONGO_URL is set), database `<prefix>_media`. A state change and its event
 * are written in one multi-document transaction, so MONGO_URL must point at a replica set (any production
 * MongoDB, Atlas included; a single dev server can run as a one-member replica set: `mongod --replSet rs0`).
 */

interface ImageDoc {
  _id: string;
  status: ImageStatus;
  filename: string;
  contentType: string;
  width: number | null;
  height: number | null;
  bytes: number | null;
  renditions: Rendition[];
  productId: string | null;
  position: number | null;
  alt: string | null;
  failure: string | null;
  uploadExpiresAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

interface OutboxDoc {
  _id: string;
  subject: string;
  payload: EventEnvelope;
  createdAt: Date;
  publishedAt: Date | null;
  /** The request that wrote it (trace context, request id): the relay publishes the event as part of it. */
  origin?: MessageOrigin;
}

const renditionSchema = new Schema<Rendition>(
  {
    name: { type: String, required: true },
    contentType: { type: String, required: true },
    width: { type: Number, required: true },
    height: { type: Number, required: true },
    bytes: { type: Number, required: true },
    hash: { type: String, required: true },
  },
  { _id: false },
);

const imageSchema = new Schema<ImageDoc>(
  {
    _id: { type: String, required: true },
    status: { type: String, required: true, enum: ['PENDING', 'PROCESSING', 'READY', 'FAILED'] },
    filename: { type: String, required: true },
    contentType: { type: String, required: true },
    width: { type: Number, default: null },
    height: { type: Number, default: null },
    bytes: { type: Number, default: null },
    renditions: { type: [renditionSchema], default: [] },
    productId: { type: String, default: null },
    position: { type: Number, default: null },
    alt: { type: String, default: null },
    failure: { type: String, default: null },
    uploadExpiresAt: { type: Date, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'images', versionKey: false },
);
// A product's gallery in order, and no two images at one position of a product (like the Postgres partial index).
imageSchema.index(
  { productId: 1, position: 1 },
  { unique: true, partialFilterExpression: { productId: { $type: 'string' } } },
);
imageSchema.index({ status: 1, uploadExpiresAt: 1 });

const outboxSchema = new Schema<OutboxDoc>(
  {
    _id: { type: String, required: true },
    subject: { type: String, required: true },
    payload: { type: Schema.Types.Mixed, required: true },
    createdAt: { type: Date, required: true },
    publishedAt: { type: Date, default: null },
    origin: { type: Schema.Types.Mixed, default: undefined },
  },
  { collection: 'outbox', versionKey: false, minimize: false },
);
outboxSchema.index({ publishedAt: 1, createdAt: 1, _id: 1 });

const toRecord = (d: ImageDoc): ImageRecord => ({
  id: d._id,
  status: d.status,
  filename: d.filename,
  contentType: d.contentType,
  width: d.width ?? null,
  height: d.height ?? null,
  bytes: d.bytes ?? null,
  renditions: (d.renditions ?? []).map((r) => ({
    name: r.name,
    contentType: r.contentType,
    width: r.width,
    height: r.height,
    bytes: r.bytes,
    hash: r.hash,
  })),
  productId: d.productId ?? null,
  position: d.position ?? null,
  alt: d.alt ?? null,
  failure: d.failure ?? null,
  uploadExpiresAt: new Date(d.uploadExpiresAt),
  createdAt: new Date(d.createdAt),
  updatedAt: new Date(d.updatedAt),
});

const isDuplicateKey = (err: unknown) => (err as { code?: number })?.code === 11000;

export class MongoImageStore implements ImageStore {
  readonly kind = 'mongo' as const;
  private readonly images: Model<ImageDoc>;
  private readonly outbox: Model<OutboxDoc>;

  constructor(
    readonly connection: Connection,
    private readonly logger?: Logger,
  ) {
    this.images = connection.model<ImageDoc>('Image', imageSchema);
    this.outbox = connection.model<OutboxDoc>('OutboxEvent', outboxSchema);
  }

  private async announce(session: ClientSession, announce: Announce | undefined, image: ImageRecord): Promise<void> {
    if (!announce) return;
    const { type, data } = announce(image);
    const event = makeEvent(type, data);
    await this.outbox.create(
      [
        {
          _id: event.id,
          subject: type,
          payload: event as EventEnvelope,
          createdAt: new Date(event.occurredAt),
          publishedAt: null,
          origin: currentOrigin(),
        },
      ],
      { session },
    );
  }

  async migrate(): Promise<string[]> {
    await this.images.createCollection().catch(() => undefined);
    await this.outbox.createCollection().catch(() => undefined);
    await this.images.syncIndexes();
    await this.outbox.syncIndexes();
    return [];
  }

  async create(image: NewImage): Promise<ImageRecord> {
    const doc: ImageDoc = {
      _id: image.id,
      status: 'PENDING',
      filename: image.filename,
      contentType: image.contentType,
      width: null,
      height: null,
      bytes: null,
      renditions: [],
      productId: null,
      position: null,
      alt: null,
      failure: null,
      uploadExpiresAt: image.uploadExpiresAt,
      createdAt: image.createdAt,
      updatedAt: image.createdAt,
    };
    await this.images.create(doc);
    return toRecord(doc);
  }

  async findById(id: string): Promise<ImageRecord | null> {
    if (!isUuid(id)) return null;
    const d = await this.images.findById(id).lean<ImageDoc>();
    return d ? toRecord(d) : null;
  }

  async findByIds(ids: readonly string[]): Promise<ImageRecord[]> {
    const valid = ids.filter(isUuid);
    if (!valid.length) return [];
    return (await this.images.find({ _id: { $in: valid } }).lean<ImageDoc[]>()).map(toRecord);
  }

  async findReadyByProducts(productIds: readonly string[]): Promise<ImageRecord[]> {
    const valid = [...new Set(productIds.filter(isUuid))];
    if (!valid.length) return [];
    const docs = await this.images
      .find({ productId: { $in: valid }, status: 'READY' })
      .sort({ productId: 1, position: 1 })
      .lean<ImageDoc[]>();
    return docs.map(toRecord);
  }

  async claimUpload(id: string, now: Date): Promise<ImageRecord | null> {
    if (!isUuid(id)) return null;
    // Single-document update: atomic, so of two concurrent claims only one matches PENDING.
    const d = await this.images
      .findOneAndUpdate(
        { _id: id, status: 'PENDING', uploadExpiresAt: { $gt: now } },
        { $set: { status: 'PROCESSING', updatedAt: new Date() } },
        { new: true },
      )
      .lean<ImageDoc>();
    return d ? toRecord(d) : null;
  }

  async markReady(id: string, ready: ReadyImage, announce?: Announce): Promise<ImageRecord | null> {
    return this.connection.transaction(async (session) => {
      const d = await this.images
        .findOneAndUpdate(
          { _id: id, status: 'PROCESSING' },
          { $set: { ...ready, status: 'READY', failure: null, updatedAt: new Date() } },
          { new: true, session },
        )
        .lean<ImageDoc>();
      if (!d) return null;
      const record = toRecord(d);
      await this.announce(session, announce, record);
      return record;
    });
  }

  async markFailed(id: string, failure: string): Promise<void> {
    await this.images.updateOne(
      { _id: id, status: 'PROCESSING' },
      { $set: { status: 'FAILED', failure: failure.slice(0, 500), updatedAt: new Date() } },
    );
  }

  async attach(id: string, productId: string, alt: string | null, announce?: Announce): Promise<AttachResult> {
    if (!isUuid(id)) return { ok: false, reason: 'not_found' };
    // Two concurrent appends may pick the same position: the unique index rejects one, which retries.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.connection.transaction(async (session): Promise<AttachResult> => {
          const d = await this.images.findById(id).session(session).lean<ImageDoc>();
          if (!d) return { ok: false, reason: 'not_found' };
          if (d.status !== 'READY') return { ok: false, reason: 'not_ready' };
          if (d.productId && d.productId !== productId) return { ok: false, reason: 'other_product' };
          const set: Partial<ImageDoc> = { alt, updatedAt: new Date() };
          if (!d.productId) {
            const last = await this.images
              .findOne({ productId })
              .sort({ position: -1 })
              .session(session)
              .lean<ImageDoc>();
            set.productId = productId;
            set.position = last?.position != null ? last.position + 1 : 0;
          }
          // Matching on the state we read makes a concurrent change abort this transaction (write conflict → retried).
          const updated = await this.images
            .findOneAndUpdate(
              { _id: id, status: 'READY', productId: d.productId ?? null },
              { $set: set },
              { new: true, session },
            )
            .lean<ImageDoc>();
          if (!updated) throw Object.assign(new Error('image changed during attach'), { code: 11000 });
          const record = toRecord(updated);
          await this.announce(session, announce, record);
          return { ok: true, image: record };
        });
      } catch (err) {
        if (!isDuplicateKey(err) || attempt >= 5) throw err;
      }
    }
  }

  async delete(id: string, announce?: Announce): Promise<ImageRecord | null> {
    if (!isUuid(id)) return null;
    return this.connection.transaction(async (session) => {
      const d = await this.images.findOneAndDelete({ _id: id }, { session }).lean<ImageDoc>();
      if (!d) return null;
      const record = toRecord(d);
      await this.announce(session, announce, record);
      return record;
    });
  }

  async purgeAbandoned(before: Date): Promise<ImageRecord[]> {
    const filter = { status: { $ne: 'READY' as ImageStatus }, uploadExpiresAt: { $lt: before } };
    const docs = await this.images.find(filter).lean<ImageDoc[]>();
    if (!docs.length) return [];
    await this.images.deleteMany({ ...filter, _id: { $in: docs.map((d) => d._id) } });
    return docs.map(toRecord);
  }

  async pendingEvents(limit = 100): Promise<EventEnvelope[]> {
    const docs = await this.outbox
      .find({ publishedAt: null })
      .sort({ createdAt: 1, _id: 1 })
      .limit(limit)
      .lean<OutboxDoc[]>();
    return docs.map((d) => d.payload);
  }

  createRelay(bus: Bus, logger?: Logger): EventRelay {
    return new MongoOutboxRelay(this.outbox, bus, logger ?? this.logger);
  }

  async ping(): Promise<void> {
    await this.connection.db!.command({ ping: 1 });
  }

  async close(): Promise<void> {
    await this.connection.getClient().close();
  }

  /** Drops this deployment's media database (tests). */
  async dropDatabase(): Promise<void> {
    await this.connection.dropDatabase();
  }
}

/**
 * Publishes unpublished outbox documents in order with `Nats-Msg-Id` = event id. Several instances may publish
 * a row twice at once; JetStream's duplicate window drops the second copy.
 */
class MongoOutboxRelay extends PollingRelay implements EventRelay {
  constructor(
    private readonly outbox: Model<OutboxDoc>,
    private readonly bus: Bus,
    logger?: Logger,
    pollMs = 250,
  ) {
    super(logger, pollMs);
  }

  override async flush(batch = 100): Promise<number> {
    let total = 0;
    for (;;) {
      const docs = await this.outbox
        .find({ publishedAt: null })
        .sort({ createdAt: 1, _id: 1 })
        .limit(batch)
        .lean<OutboxDoc[]>();
      for (const d of docs) await this.bus.publish(d.payload, { timeoutMs: 3000, origin: d.origin ?? {} });
      if (docs.length)
        await this.outbox.updateMany({ _id: { $in: docs.map((d) => d._id) } }, { $set: { publishedAt: new Date() } });
      total += docs.length;
      if (docs.length < batch) return total;
    }
  }
}

export async function openMongoImageStore(config: Config, opts: { logger?: Logger } = {}): Promise<MongoImageStore> {
  if (!config.mongoUrl) throw new Error('MONGO_URL is not set');
  const client = await mongoose.createConnection(config.mongoUrl, { serverSelectionTimeoutMS: 5000 }).asPromise();
  // Each subgraph owns its database, named like the PostgreSQL one.
  const db = client.useDb(`${config.dbPrefix}_media`, { useCache: true });
  return new MongoImageStore(db, opts.logger);
}
