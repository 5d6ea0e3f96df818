import { Migration } from '@mikro-orm/migrations';

export class Migration20261122050000Media extends Migration {
  override async up(): Promise<void> {
    this.addSql(`CREATE TABLE images (
      id uuid PRIMARY KEY,
      status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'PROCESSING', 'READY', 'FAILED')),
      filename text NOT NULL,
      content_type text NOT NULL,
      width integer,
      height integer,
      bytes integer,
      renditions jsonb NOT NULL DEFAULT '[]',
      product_id uuid,
      position integer,
      alt text,
      failure text,
      upload_expires_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT images_ready_has_size CHECK (status <> 'READY' OR (width IS NOT NULL AND height IS NOT NULL AND bytes IS NOT NULL)),
      CONSTRAINT images_link_complete CHECK ((product_id IS NULL) = (position IS NULL))
    )`);
    // A product's gallery in order (Product.images), and no two images at one position of a product.
    this.addSql(
      `CREATE UNIQUE INDEX images_product_position_idx ON images (product_id, position) WHERE product_id IS NOT NULL`,
    );
    // The sweeper of abandoned uploads.
    this.addSql(`CREATE INDEX images_unfinished_idx ON images (upload_expires_at) WHERE status <> 'READY'`);
  }

  override async down(): Promise<void> {
    this.addSql('DROP TABLE images');
  }
}
