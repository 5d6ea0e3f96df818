import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import sharp from 'sharp';
import type { Rendition, VariantName } from '../store/types';

/** Largest upload accepted, in bytes (checked on Content-Length and again while streaming). */
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
/** Largest decoded image (pixels): refuses decompression bombs long before they exhaust memory. */
export const MAX_PIXELS = 50_000_000;

export const ACCEPTED_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;
export type ImageType = (typeof ACCEPTED_TYPES)[number];

/**
 * The renditions made of every upload. Widths are maxima: an image is never enlarged, so a small original yields
 * variants at its own size (and a thumbnail of its shorter side). Variants are WebP (smaller than JPEG/PNG,
 * alpha kept, every current browser); the original keeps its own format and bytes. Variants of an animated
 * GIF/WebP show its first frame; the original keeps the animation.
 */
export const VARIANT_SPECS: Record<VariantName, { width: number; height?: number }> = {
  thumb: { width: 150, height: 150 },
  small: { width: 300 },
  medium: { width: 600 },
  large: { width: 1200 },
};
export const VARIANT_CONTENT_TYPE = 'image/webp';

/** Failure of an upload, with the HTTP status and code the upload route answers with. */
export class UploadError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'UploadError';
  }
}

/** The real type of an image from its first bytes (magic numbers); null when it is none of the accepted ones. */
export function sniffImageType(head: Buffer): ImageType | null {
  if (head.length >= 8 && head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    return 'image/png';
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image/jpeg';
  if (head.length >= 6 && /^GIF8[79]a$/.test(head.subarray(0, 6).toString('latin1'))) return 'image/gif';
  if (
    head.length >= 12 &&
    head.subarray(0, 4).toString('latin1') === 'RIFF' &&
    head.subarray(8, 12).toString('latin1') === 'WEBP'
  )
    return 'image/webp';
  return null;
}
const SNIFF_BYTES = 12;

export interface ReceivedFile {
  type: ImageType;
  bytes: number;
  hash: string;
}

/**
 * Streams a request body into `file`, counting and hashing as it goes. The type is decided from the first
 * bytes before anything touches the disk; more than `maxBytes` aborts with 413 (chunked bodies included).
 * On failure the partial file is removed. The body is paused, not destroyed, so the caller can still answer.
 */
export function receiveFile(body: Readable, file: string, maxBytes = MAX_UPLOAD_BYTES): Promise<ReceivedFile> {
  return new Promise<ReceivedFile>((resolve, reject) => {
    const hash = createHash('sha256');
    let head: Buffer[] = [];
    let headLength = 0;
    let type: ImageType | null = null;
    let out: fs.WriteStream | undefined;
    let total = 0;
    let settled = false;

    const cleanup = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('aborted', onAborted);
      body.off('close', onAborted);
    };
    const fail = (err: UploadError | Error) => {
      if (settled) return;
      settled = true;
      cleanup();
      body.pause();
      const remove = () =>
        fs.promises.rm(file, { force: true }).then(
          () => reject(err),
          () => reject(err),
        );
      if (out) out.destroy();
      if (out) out.once('close', remove);
      else void remove(); // settles the upload through reject() either way
    };
    const write = (chunk: Buffer) => {
      hash.update(chunk);
      if (!out!.write(chunk)) {
        body.pause();
        out!.once('drain', () => !settled && body.resume());
      }
    };
    const startWriting = (): boolean => {
      const all = Buffer.concat(head);
      head = [];
      type = sniffImageType(all);
      if (!type) {
        fail(new UploadError(415, 'UNSUPPORTED_MEDIA_TYPE', 'The bytes are not a PNG, JPEG, WebP or GIF image'));
        return false;
      }
      out = fs.createWriteStream(file, { flags: 'wx', mode: 0o644 });
      out.on('error', (err) => fail(err));
      write(all);
      return true;
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        fail(new UploadError(413, 'PAYLOAD_TOO_LARGE', `Uploads are limited to ${maxBytes} bytes`));
        return;
      }
      if (!out) {
        head.push(chunk);
        headLength += chunk.length;
        if (headLength >= SNIFF_BYTES) startWriting();
        return;
      }
      write(chunk);
    };
    const onEnd = () => {
      if (settled) return;
      if (!out && !startWriting()) return;
      cleanup();
      out!.end(() => {
        if (settled) return;
        settled = true;
        resolve({ type: type!, bytes: total, hash: hash.digest('hex') });
      });
    };
    const onError = (err: Error) => fail(err);
    const onAborted = () => fail(new UploadError(400, 'UPLOAD_ABORTED', 'The upload was interrupted'));

    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('aborted', onAborted);
    // A body that closes before 'end' was cut off (client gone).
    body.on('close', onAborted);
  });
}

export interface ProcessedImage {
  width: number;
  height: number;
  variants: { name: VariantName; data: Buffer; rendition: Rendition }[];
}

const SHARP_FORMAT: Record<ImageType, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/webp': 'webp',
  'image/gif': 'gif',
};

/** The dimension a variant of `width` × `height` gets: never larger than the original. */
export function variantSize(name: VariantName, width: number, height: number): { width: number; height: number } {
  const spec = VARIANT_SPECS[name];
  if (spec.height) {
    const side = Math.min(spec.width, spec.height, width, height);
    return { width: side, height: side };
  }
  const w = Math.min(spec.width, width);
  return { width: w, height: Math.max(1, Math.round((height * w) / width)) };
}

/**
 * Decodes the received file with sharp (its format must match the sniffed one), reads the dimensions (EXIF
 * orientation applied) and renders the variants in memory (each at most 1200 px wide).
 */
export async function processImage(file: string, type: ImageType): Promise<ProcessedImage> {
  let meta: sharp.Metadata;
  try {
    meta = await sharp(file, { limitInputPixels: MAX_PIXELS }).metadata();
  } catch {
    throw new UploadError(415, 'UNSUPPORTED_MEDIA_TYPE', 'The image could not be decoded');
  }
  if (meta.format !== SHARP_FORMAT[type] || !meta.width || !meta.height) {
    throw new UploadError(415, 'UNSUPPORTED_MEDIA_TYPE', 'The image could not be decoded');
  }
  if (meta.width * meta.height > MAX_PIXELS) {
    throw new UploadError(413, 'PAYLOAD_TOO_LARGE', `Images are limited to ${MAX_PIXELS} pixels`);
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  const variants: ProcessedImage['variants'] = [];
  for (const name of Object.keys(VARIANT_SPECS) as VariantName[]) {
    const size = variantSize(name, width, height);
    let out: { data: Buffer; info: sharp.OutputInfo };
    try {
      out = await sharp(file, { limitInputPixels: MAX_PIXELS, autoOrient: true })
        .resize(size.width, size.height, { fit: 'cover', position: 'attention', withoutEnlargement: true })
        .webp({ quality: 82 })
        .toBuffer({ resolveWithObject: true });
    } catch {
      throw new UploadError(415, 'UNSUPPORTED_MEDIA_TYPE', 'The image could not be decoded');
    }
    variants.push({
      name,
      data: out.data,
      rendition: {
        name,
        contentType: VARIANT_CONTENT_TYPE,
        width: out.info.width,
        height: out.info.height,
        bytes: out.data.length,
        hash: createHash('sha256').update(out.data).digest('hex'),
      },
    });
  }
  return { width, height, variants };
}
