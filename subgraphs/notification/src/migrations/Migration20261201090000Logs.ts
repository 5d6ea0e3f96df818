import { Migration } from '@mikro-orm/migrations';

/**
 * Central log store. Newest-first keyset pages by (time, id), with an index per filter that narrows a lot (service,
 * level, request id, trace id). `search` is a case-insensitive substring of the message: a trigram index makes it
 * fast where the pg_trgm extension can be created (it is a trusted extension from PostgreSQL 13); without it the
 * search still works, by scanning what the other filters left.
 */
export class Migration20261201090000Logs extends Migration {
  override async up(): Promise<void> {
    // Ids compare byte-wise (COLLATE "C"), as in MongoDB: the same keyset order in both stores.
    this.addSql(`CREATE TABLE log_entry (
      id text COLLATE "C" PRIMARY KEY,
      time timestamptz NOT NULL,
      service text NOT NULL,
      level smallint NOT NULL,
      message text NOT NULL,
      request_id text,
      trace_id text,
      fields jsonb
    )`);
    this.addSql(`CREATE INDEX log_entry_time_idx ON log_entry (time DESC, id DESC)`);
    this.addSql(`CREATE INDEX log_entry_service_time_idx ON log_entry (service, time DESC, id DESC)`);
    this.addSql(`CREATE INDEX log_entry_level_time_idx ON log_entry (level, time DESC, id DESC)`);
    this.addSql(`CREATE INDEX log_entry_request_idx ON log_entry (request_id, time DESC) WHERE request_id IS NOT NULL`);
    this.addSql(`CREATE INDEX log_entry_trace_idx ON log_entry (trace_id, time DESC) WHERE trace_id IS NOT NULL`);
    this.addSql(`DO $$
      BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX log_entry_message_trgm_idx ON log_entry USING gin (message gin_trgm_ops);
      EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'pg_trgm unavailable (%): log search will scan', SQLERRM;
      END $$`);
  }

  override async down(): Promise<void> {
    this.addSql('DROP TABLE log_entry');
  }
}
