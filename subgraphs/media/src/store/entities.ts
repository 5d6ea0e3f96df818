import { Entity, OptionalProps, PrimaryKey, Property } from '@mikro-orm/postgresql';
import type { ImageStatus, Rendition } from './types';

/**
 * One image (PostgreSQL adapter of ImageStore): metadata only, the bytes live in FileStorage. Table, checks and
 * indexes are defined by the hand-written migration.
 */
@Entity({ tableName: 'images' })
export class ImageEntity {
  [OptionalProps]?:
    'status' | 'width' | 'height' | 'bytes' | 'renditions' | 'productId' | 'position' | 'alt' | 'failure' | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'text' })
  status: ImageStatus = 'PENDING';

  @Property({ type: 'text' })
  filename!: string;

  @Property({ type: 'text' })
  contentType!: string;

  @Property({ type: 'integer', nullable: true })
  width: number | null = null;

  @Property({ type: 'integer', nullable: true })
  height: number | null = null;

  @Property({ type: 'integer', nullable: true })
  bytes: number | null = null;

  @Property({ type: 'jsonb' })
  renditions: Rendition[] = [];

  @Property({ type: 'uuid', nullable: true })
  productId: string | null = null;

  @Property({ type: 'integer', nullable: true })
  position: number | null = null;

  @Property({ type: 'text', nullable: true })
  alt: string | null = null;

  @Property({ type: 'text', nullable: true })
  failure: string | null = null;

  @Property({ type: 'timestamptz' })
  uploadExpiresAt!: Date;

  @Property({ type: 'timestamptz' })
  createdAt!: Date;

  /** Set explicitly by each change (not by an onUpdate hook) so the record returned equals the one stored. */
  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}

export const MEDIA_ENTITIES = [ImageEntity];
