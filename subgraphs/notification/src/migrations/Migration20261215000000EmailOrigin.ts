import { Migration } from '@mikro-orm/migrations';

/** An email remembers the request whose event queued it (trace context, request id): its sending continues that trace. */
export class Migration20261215000000EmailOrigin extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `ALTER TABLE emails ADD COLUMN IF NOT EXISTS traceparent text, ADD COLUMN IF NOT EXISTS tracestate text, ADD COLUMN IF NOT EXISTS request_id text`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(
      'ALTER TABLE emails DROP COLUMN IF EXISTS traceparent, DROP COLUMN IF EXISTS tracestate, DROP COLUMN IF EXISTS request_id',
    );
  }
}
