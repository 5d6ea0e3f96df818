import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { badInput, ErrorCode, isUuid, Logger, notFound } from '@shop/kernel';
import { mediaEvent } from '../events/payloads';
import type { ProductPort } from '../ports';
import type { FileStorage } from '../store/files';
import {
  ImageRecord,
  ImageStore,
  Rendition,
  RENDITION_NAMES,
  RenditionName,
  VARIANT_NAMES,
  VariantName,
} from '../store/types';
import { ACCEPTED_TYPES, MAX_UPLOAD_BYTES, processImage, receiveFile, sniffImageType, UploadError } from './processing';
import type { UploadSigner } from './signing';

/** How long an upload URL stays valid. */
export const UPLOAD_TTL_SECONDS = 15 * 60;
export const MAX_ALT_LENGTH = 300;
export const MAX_FILENAME_LENGTH = 255;
/** Unfinished uploads are purged this long after their URL expired. */
export const ABANDONED_AFTER_MS = 60 * 60 * 1000;

export interface MediaServiceOptions {
  /** Local directory where uploads are staged while they are checked and processed. */
  scratchDir: string;
  publicUrl: string;
  /** Called after a commit that wrote events (kicks the outbox relay). */
  onCommit?: () => void;
  now?: () => number;
}

export interface ImageUploadTicket {
  imageId: string;
  uploadUrl: string;
  expiresAt: Date;
}

export interface ImageVariantView {
  name: VariantName;
  url: string;
  width: number;
  height: number;
  contentType: string;
}

export interface RenditionFile {
  stream: Readable;
  size: number;
  contentType: string;
  etag: string;
}

const fileKey = (imageId: string, rendition: RenditionName) => `images/${imageId}/${rendition}`;

/** The media rules: upload tickets, verification and processing of uploads, product galleries, deletion. */
export class MediaService {
  private readonly now: () => number;

  constructor(
    readonly store: ImageStore,
    private readonly files: FileStorage,
    private readonly signer: UploadSigner,
    private readonly products: ProductPort,
    private readonly logger: Logger,
    private readonly opts: MediaServiceOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Public URL of one rendition, on the gateway's origin. */
  urlOf(imageId: string, rendition: RenditionName): string {
    return `${this.opts.publicUrl}/media/${imageId}/${rendition}`;
  }

  /** The resized renditions of an image with their public URLs, smallest first. */
  variantsOf(image: ImageRecord): ImageVariantView[] {
    return VARIANT_NAMES.flatMap((name) => {
      const r = image.renditions.find((x) => x.name === name);
      return r
        ? [{ name, url: this.urlOf(image.id, name), width: r.width, height: r.height, contentType: r.contentType }]
        : [];
    });
  }

  /** The JSON answer of a finished upload (same shape as the GraphQL Image). */
  view(image: ImageRecord) {
    return {
      id: image.id,
      url: this.urlOf(image.id, 'original'),
      contentType: image.contentType,
      width: image.width,
      height: image.height,
      bytes: image.bytes,
      alt: image.alt,
      variants: this.variantsOf(image),
    };
  }

  /** Validates the announced file and creates a PENDING image with a signed, expiring, single-use upload URL. */
  async createUpload(contentType: string, filename: string): Promise<ImageUploadTicket> {
    const type = contentType.trim().toLowerCase();
    if (!(ACCEPTED_TYPES as readonly string[]).includes(type)) {
      throw badInput('contentType', `contentType must be one of ${ACCEPTED_TYPES.join(', ')}`);
    }
    checkFilename(filename);
    const now = this.now();
    const expires = Math.floor(now / 1000) + UPLOAD_TTL_SECONDS;
    const image = await this.store.create({
      id: randomUUID(),
      filename,
      contentType: type,
      uploadExpiresAt: new Date(expires * 1000),
      createdAt: new Date(now),
    });
    return {
      imageId: image.id,
      uploadUrl: this.signer.url(this.opts.publicUrl, image.id, expires),
      expiresAt: image.uploadExpiresAt,
    };
  }

  /**
   * `PUT /media/uploads/:id`: signature, expiry and declared size are checked before anything is read; then the
   * URL is spent (PENDING → PROCESSING, atomically) and the body is received and processed.
   */
  async receiveUpload(
    imageId: string,
    query: { expires?: unknown; sig?: unknown },
    contentLength: string | undefined,
    body: Readable,
  ): Promise<ImageRecord> {
    const check = this.signer.verify(imageId, query.expires, query.sig, this.now());
    if (check === 'invalid') throw new UploadError(403, ErrorCode.INVALID_TOKEN, 'The upload URL signature is invalid');
    if (check === 'expired') throw new UploadError(403, ErrorCode.INVALID_TOKEN, 'The upload URL has expired');
    if (contentLength !== undefined && Number(contentLength) > MAX_UPLOAD_BYTES) {
      throw new UploadError(413, 'PAYLOAD_TOO_LARGE', `Uploads are limited to ${MAX_UPLOAD_BYTES} bytes`);
    }
    const claimed = await this.store.claimUpload(imageId, new Date(this.now()));
    if (!claimed) {
      const image = await this.store.findById(imageId);
      if (!image) throw new UploadError(404, ErrorCode.NOT_FOUND, 'Image not found');
      if (image.status === 'PENDING') throw new UploadError(403, ErrorCode.INVALID_TOKEN, 'The upload URL has expired');
      throw new UploadError(409, ErrorCode.INVALID_TOKEN, 'This upload URL was already used');
    }
    return this.ingest(claimed.id, body);
  }

  /**
   * Receives, checks and processes the bytes of a claimed (PROCESSING) image, stores the original and its
   * variants and marks it READY. Any failure marks it FAILED and removes every file written for it.
   */
  async ingest(imageId: string, body: Readable): Promise<ImageRecord> {
    await fs.promises.mkdir(this.opts.scratchDir, { recursive: true });
    const scratch = path.join(this.opts.scratchDir, `upload-${randomUUID()}`);
    const written: string[] = [];
    try {
      const received = await receiveFile(body, scratch);
      const processed = await processImage(scratch, received.type);
      const original: Rendition = {
        name: 'original',
        contentType: received.type,
        width: processed.width,
        height: processed.height,
        bytes: received.bytes,
        hash: received.hash,
      };
      for (const v of processed.variants) {
        written.push(fileKey(imageId, v.name));
        await this.files.put(fileKey(imageId, v.name), v.data);
      }
      written.push(fileKey(imageId, 'original'));
      await this.files.put(fileKey(imageId, 'original'), { path: scratch });
      const ready = await this.store.markReady(
        imageId,
        {
          contentType: received.type,
          width: processed.width,
          height: processed.height,
          bytes: received.bytes,
          renditions: [original, ...processed.variants.map((v) => v.rendition)],
        },
        (img) =>
          mediaEvent('media.image_ready', {
            imageId: img.id,
            contentType: img.contentType,
            width: img.width!,
            height: img.height!,
            bytes: img.bytes!,
            renditions: img.renditions.map((r) => r.name),
          }),
      );
      if (!ready) throw new UploadError(404, ErrorCode.NOT_FOUND, 'The image was deleted during the upload');
      this.opts.onCommit?.();
      return ready;
    } catch (err) {
      await this.files
        .delete(written)
        .catch((e) => this.logger.error({ err: e, imageId }, 'could not remove files of a failed upload'));
      await this.store
        .markFailed(imageId, (err as Error).message)
        .catch((e) => this.logger.error({ err: e, imageId }, 'could not mark upload failed'));
      if (!(err instanceof UploadError)) this.logger.error({ err, imageId }, 'image processing failed');
      throw err;
    } finally {
      await fs.promises.rm(scratch, { force: true });
    }
  }

  /**
   * Stores an image from bytes in hand (seeding, imports): the same record life cycle and processing as an
   * HTTP upload, without the URL.
   */
  async importImage(data: Buffer, filename: string): Promise<ImageRecord> {
    checkFilename(filename);
    const type = sniffImageType(data.subarray(0, 12));
    const { imageId } = await this.createUpload(type ?? 'image/png', filename);
    const claimed = await this.store.claimUpload(imageId, new Date(this.now()));
    if (!claimed) throw new Error('could not claim a fresh upload');
    return this.ingest(imageId, Readable.from([data]));
  }

  /** A servable (READY) image, or null. */
  async getImage(id: string): Promise<ImageRecord | null> {
    if (!isUuid(id)) return null;
    const image = await this.store.findById(id);
    return image?.status === 'READY' ? image : null;
  }

  /** READY images by id, in one round trip (entity references). */
  async imagesByIds(ids: readonly string[]): Promise<Map<string, ImageRecord>> {
    const rows = await this.store.findByIds(ids);
    return new Map(rows.filter((i) => i.status === 'READY').map((i) => [i.id, i]));
  }

  /** Each product's READY images in gallery order, for a whole batch of products in one round trip. */
  async imagesOfProducts(productIds: readonly string[]): Promise<Map<string, ImageRecord[]>> {
    const byProduct = new Map<string, ImageRecord[]>();
    for (const image of await this.store.findReadyByProducts(productIds)) {
      const list = byProduct.get(image.productId!) ?? [];
      list.push(image);
      byProduct.set(image.productId!, list);
    }
    return byProduct;
  }

  /** Appends a READY image to a product's gallery (the product must exist in the product subgraph). */
  async attachProductImage(productId: string, imageId: string, alt: string | null | undefined): Promise<ImageRecord> {
    const text = alt?.trim() || null;
    if (text && text.length > MAX_ALT_LENGTH) throw badInput('alt', `alt must be at most ${MAX_ALT_LENGTH} characters`);
    const image = isUuid(imageId) ? await this.store.findById(imageId) : null;
    if (!image) throw notFound('Image');
    if (image.status !== 'READY') throw badInput('imageId', 'The image has not been uploaded and processed yet');
    if (!isUuid(productId) || !(await this.products.existing([productId])).has(productId)) throw notFound('Product');
    const result = await this.store.attach(imageId, productId, text, (img) =>
      mediaEvent('media.image_attached', {
        imageId: img.id,
        productId: img.productId!,
        position: img.position!,
        alt: img.alt,
      }),
    );
    if (!result.ok) {
      if (result.reason === 'not_found') throw notFound('Image');
      if (result.reason === 'not_ready') throw badInput('imageId', 'The image has not been uploaded and processed yet');
      throw badInput('imageId', 'The image is attached to another product');
    }
    this.opts.onCommit?.();
    return result.image;
  }

  /** Deletes the image's metadata (and with it its product link), then its files. */
  async deleteImage(id: string): Promise<boolean> {
    const deleted = await this.store.delete(id, (img) =>
      mediaEvent('media.image_deleted', { imageId: img.id, productId: img.productId }),
    );
    if (!deleted) throw notFound('Image');
    this.opts.onCommit?.();
    // After the commit: a crash here leaves unreachable files (never served: no record), not a broken record.
    await this.removeFiles(deleted.id);
    return true;
  }

  /** The stored file of one rendition of a READY image, or null (unknown id or rendition, not READY). */
  async openRendition(id: string, rendition: string): Promise<RenditionFile | null> {
    if (!isUuid(id) || !(RENDITION_NAMES as string[]).includes(rendition)) return null;
    const image = await this.getImage(id);
    const meta = image?.renditions.find((r) => r.name === rendition);
    if (!meta) return null;
    const file = await this.files.get(fileKey(id, meta.name));
    if (!file) {
      this.logger.warn({ imageId: id, rendition }, 'file of a READY image is missing');
      return null;
    }
    return { stream: file.stream, size: file.size, contentType: meta.contentType, etag: `"${meta.hash}"` };
  }

  /** Removes records (and any files) of uploads that were never completed. */
  async purgeAbandoned(): Promise<number> {
    const purged = await this.store.purgeAbandoned(new Date(this.now() - ABANDONED_AFTER_MS));
    for (const image of purged) await this.removeFiles(image.id);
    return purged.length;
  }

  private removeFiles(imageId: string): Promise<void> {
    return this.files
      .delete(RENDITION_NAMES.map((r) => fileKey(imageId, r)))
      .catch((err) => this.logger.error({ err, imageId }, 'could not remove image files'));
  }
}

function checkFilename(filename: string): void {
  if (filename.length < 1 || filename.length > MAX_FILENAME_LENGTH) {
    throw badInput('filename', `filename must be 1 to ${MAX_FILENAME_LENGTH} characters`);
  }
  if (/[/\\\u0000-\u001f\u007f]/.test(filename) || filename === '.' || filename === '..') {
    throw badInput('filename', 'filename must be a plain file name (no path separators or control characters)');
  }
}
