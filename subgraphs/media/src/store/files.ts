import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Bytes to store: a buffer, a stream, or a local file that the storage may move into place (it is consumed). */
export type FileSource = Buffer | Readable | { path: string };

export interface StoredFile {
  stream: Readable;
  size: number;
}

/**
 * Where image bytes live, by key (`images/<id>/<rendition>`). The disk implementation is the default; an object
 * store (S3 and the like) implements the same four calls.
 */
export interface FileStorage {
  /** Stores atomically: a reader sees the whole file or nothing. Replaces an existing key. */
  put(key: string, source: FileSource): Promise<void>;
  /** null when the key does not exist. */
  get(key: string): Promise<StoredFile | null>;
  /** Deleting a missing key is not an error. */
  delete(keys: string | string[]): Promise<void>;
  /** Throws unless the storage accepts writes right now (readiness). */
  ping(): Promise<void>;
}

const KEY = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

function checkKey(key: string): string {
  // Keys are built from validated UUIDs; this is defence in depth against path traversal.
  if (!KEY.test(key) || key.split('/').some((p) => p === '..' || p === '.'))
    throw new Error(`invalid storage key "${key}"`);
  return key;
}

/**
 * Files under a root directory (MEDIA_DIR). Writes go to `<root>/.tmp` first and are renamed into place, so a
 * crash never leaves a half-written file under a real key (rename is atomic within one filesystem).
 */
export class DiskFileStorage implements FileStorage {
  readonly root: string;
  readonly tempDir: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.tempDir = path.join(this.root, '.tmp');
  }

  private file(key: string): string {
    return path.join(this.root, ...checkKey(key).split('/'));
  }

  /** A fresh path in the temp directory (same filesystem as the final files). */
  async tempPath(): Promise<string> {
    await fs.promises.mkdir(this.tempDir, { recursive: true });
    return path.join(this.tempDir, randomUUID());
  }

  async put(key: string, source: FileSource): Promise<void> {
    const target = this.file(key);
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    if (!Buffer.isBuffer(source) && !(source instanceof Readable)) {
      try {
        await fs.promises.rename(source.path, target);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        // Another filesystem: copy through the temp directory, then drop the source.
        await this.put(key, fs.createReadStream(source.path));
        await fs.promises.rm(source.path, { force: true });
        return;
      }
    }
    const tmp = await this.tempPath();
    try {
      if (Buffer.isBuffer(source)) await fs.promises.writeFile(tmp, source, { mode: 0o644 });
      else await pipeline(source, fs.createWriteStream(tmp, { mode: 0o644 }));
      await fs.promises.rename(tmp, target);
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      throw err;
    }
  }

  async get(key: string): Promise<StoredFile | null> {
    let handle: fs.promises.FileHandle;
    try {
      // Open first, then stat the handle: a concurrent delete cannot slip in between.
      handle = await fs.promises.open(this.file(key), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      const { size } = await handle.stat();
      return { stream: handle.createReadStream(), size };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async delete(keys: string | string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const key of Array.isArray(keys) ? keys : [keys]) {
      const file = this.file(key);
      await fs.promises.rm(file, { force: true });
      dirs.add(path.dirname(file));
    }
    // Remove directories left empty (images/<id>/), never the root.
    for (const dir of dirs) {
      for (let d = dir; d.startsWith(this.root + path.sep); d = path.dirname(d)) {
        try {
          await fs.promises.rmdir(d);
        } catch {
          break;
        }
      }
    }
  }

  async ping(): Promise<void> {
    const probe = await this.tempPath();
    await fs.promises.writeFile(probe, 'ok');
    await fs.promises.rm(probe, { force: true });
  }
}
