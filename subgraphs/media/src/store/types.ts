import type { Bus, EventEnvelope, Logger } from '@shop/kernel';

/**
 * Storage contract of the media subgraph's metadata: one document per image. Implemented for PostgreSQL
 * (default) and MongoDB (when MONGO_URL is set); both pass the same contract suite (test/store.contract.ts).
 */

/** PENDING: upload URL issued, no bytes yet. PROCESSING: an upload claimed the URL. READY: served. FAILED: rejected upload. */
export type ImageStatus = 'PENDING' | 'PROCESSING' | 'READY' | 'FAILED';

export const VARIANT_NAMES = ['thumb', 'small', 'medium', 'large'] as const;
export type VariantName = (typeof VARIANT_NAMES)[number];
/** Every file stored for an image: the original bytes and the resized renditions. */
export type RenditionName = 'original' | VariantName;
export const RENDITION_NAMES: RenditionName[] = ['original', ...VARIANT_NAMES];

/** One stored file of an image. `hash` (SHA-256 of the bytes, hex) is its ETag. */
export interface Rendition {
  name: RenditionName;
  contentType: string;
  width: number;
  height: number;
  bytes: number;
  hash: string;
}

export interface ImageRecord {
  id: string;
  status: ImageStatus;
  /** The name the uploader gave (display only; never used as a path). */
  filename: string;
  /** Declared by createImageUpload until READY; then the type found in the bytes. */
  contentType: string;
  /** Set when READY: size and hash of the original. */
  width: number | null;
  height: number | null;
  bytes: number | null;
  /** Every stored file, original first; empty until READY. */
  renditions: Rendition[];
  productId: string | null;
  /** Order among the product's images (0-based, gaps allowed after deletes). */
  position: number | null;
  alt: string | null;
  /** Why an upload was rejected (FAILED only). */
  failure: string | null;
  uploadExpiresAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewImage {
  id: string;
  filename: string;
  contentType: string;
  uploadExpiresAt: Date;
  createdAt: Date;
}

export interface ReadyImage {
  contentType: string;
  width: number;
  height: number;
  bytes: number;
  renditions: Rendition[];
}

/**
 * Builds the event announcing a change from the record as it is after the change; the store writes it to its
 * outbox in the same transaction as the change (nothing is lost between a row and its event).
 */
export type Announce = (image: ImageRecord) => { type: string; data: object };

/** Publishes committed events (outbox relay); the kernel's OutboxRelay has this shape. */
export interface EventRelay {
  start(): void;
  /** Relay now, without waiting for the next poll. */
  kick(): void;
  /** Publishes every pending event; resolves with how many. */
  flush(): Promise<number>;
  stop(): Promise<void>;
}

export interface ImageStore {
  readonly kind: 'postgres' | 'mongo';
  /** Creates tables/indexes; idempotent. */
  migrate(): Promise<string[]>;

  create(image: NewImage): Promise<ImageRecord>;
  findById(id: string): Promise<ImageRecord | null>;
  findByIds(ids: readonly string[]): Promise<ImageRecord[]>;
  /** READY images of these products, ordered by product then position, in one round trip. */
  findReadyByProducts(productIds: readonly string[]): Promise<ImageRecord[]>;

  /**
   * Atomic PENDING → PROCESSING when the upload window is still open at `now`: of two concurrent uploads to
   * one URL exactly one gets the record, the other gets null.
   */
  claimUpload(id: string, now: Date): Promise<ImageRecord | null>;
  /** PROCESSING → READY with the stored files; null when the image is no longer PROCESSING (e.g. deleted meanwhile). */
  markReady(id: string, ready: ReadyImage, announce?: Announce): Promise<ImageRecord | null>;
  /** PROCESSING → FAILED with a reason. */
  markFailed(id: string, failure: string): Promise<void>;

  /**
   * Attaches a READY image to a product at the product's next position (or updates `alt` when it is already
   * attached to that product). Returns `not_ready` / `other_product` without changing anything.
   */
  attach(id: string, productId: string, alt: string | null, announce?: Announce): Promise<AttachResult>;
  /** Deletes the record; returns it as it was (null when unknown). */
  delete(id: string, announce?: Announce): Promise<ImageRecord | null>;
  /** Deletes records whose upload never completed: PENDING/FAILED/PROCESSING with upload windows closed before `before`. */
  purgeAbandoned(before: Date): Promise<ImageRecord[]>;

  /** Events written but not yet published (oldest first). */
  pendingEvents(limit?: number): Promise<EventEnvelope[]>;
  createRelay(bus: Bus, logger?: Logger): EventRelay;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export type AttachResult =
  { ok: true; image: ImageRecord } | { ok: false; reason: 'not_found' | 'not_ready' | 'other_product' };
