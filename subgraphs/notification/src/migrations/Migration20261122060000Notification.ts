import { Migration } from '@mikro-orm/migrations';

/** Email queue and audit log. Timestamps are written by the service with millisecond precision so keyset cursors round-trip exactly. */
export class Migration20261122060000Notification extends Migration {
  override async up(): Promise<void> {
    this.addSql(`CREATE TABLE emails (
      id uuid PRIMARY KEY,
      event_id text NOT NULL,
      template text NOT NULL,
      to_address text NOT NULL,
      subject text NOT NULL,
      body_html text,
      body_text text,
      status text NOT NULL DEFAULT 'QUEUED' CHECK (status IN ('QUEUED', 'SENT', 'FAILED', 'DEAD')),
      attempts int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
      last_error text,
      next_attempt_at timestamptz NOT NULL,
      claim_id uuid,
      created_at timestamptz NOT NULL,
      sent_at timestamptz,
      CONSTRAINT emails_event_template_unique UNIQUE (event_id, template)
    )`);
    // The sender's claim query only ever looks at pending rows.
    this.addSql(`CREATE INDEX emails_due_idx ON emails (next_attempt_at) WHERE status IN ('QUEUED', 'FAILED')`);
    this.addSql(`CREATE INDEX emails_created_idx ON emails (created_at DESC, id DESC)`);
    this.addSql(`CREATE INDEX emails_to_created_idx ON emails (to_address, created_at DESC, id DESC)`);
    this.addSql(`CREATE INDEX emails_status_created_idx ON emails (status, created_at DESC, id DESC)`);

    this.addSql(`CREATE TABLE audit_events (
      id text PRIMARY KEY,
      type text NOT NULL,
      subject text NOT NULL,
      payload text NOT NULL,
      occurred_at timestamptz NOT NULL,
      recorded_at timestamptz NOT NULL
    )`);
    this.addSql(`CREATE INDEX audit_events_occurred_idx ON audit_events (occurred_at DESC, id DESC)`);
    this.addSql(`CREATE INDEX audit_events_type_occurred_idx ON audit_events (type, occurred_at DESC, id DESC)`);
  }

  override async down(): Promise<void> {
    this.addSql('DROP TABLE audit_events');
    this.addSql('DROP TABLE emails');
  }
}
