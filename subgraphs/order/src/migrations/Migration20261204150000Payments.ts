import { Migration } from '@mikro-orm/migrations';

/**
 * Asynchronous payments (a provider with webhooks, e.g. Stripe): a payment may be PENDING (the buyer has to act, or
 * the provider is still processing) or FAILED; what the client needs to continue a PENDING one; refunds recorded on
 * the payment; the webhook events already processed (by the provider's event id: a redelivered event does nothing).
 */
export class Migration20261204150000Payments extends Migration {
  override async up(): Promise<void> {
    this.addSql(`ALTER TABLE payments DROP CONSTRAINT payments_status_check`);
    this.addSql(
      `ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ('PENDING', 'CAPTURED', 'FAILED', 'REFUNDED', 'VOIDED'))`,
    );
    // Only while PENDING (cleared when it settles): the provider's client secret and next-action type.
    this.addSql(`ALTER TABLE payments ADD COLUMN client_secret text`);
    this.addSql(`ALTER TABLE payments ADD COLUMN next_action text`);
    this.addSql(`ALTER TABLE payments ADD COLUMN failure_reason text`);
    // Refunds: the amount given back so far (only ever grows) and the provider's reference of the latest refund.
    this.addSql(
      `ALTER TABLE payments ADD COLUMN refunded_amount integer NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= amount)`,
    );
    this.addSql(`ALTER TABLE payments ADD COLUMN refund_reference text`);
    this.addSql(`ALTER TABLE payments ADD COLUMN refunded_at timestamptz`);
    // Webhooks find the payment by the provider's reference.
    this.addSql(`CREATE UNIQUE INDEX payments_provider_reference_idx ON payments (provider, reference)`);

    this.addSql(`CREATE TABLE payment_webhook_events (
      id text PRIMARY KEY,
      provider text NOT NULL,
      type text NOT NULL,
      order_id uuid,
      received_at timestamptz NOT NULL DEFAULT now()
    )`);
    this.addSql(`CREATE INDEX payment_webhook_events_received_idx ON payment_webhook_events (received_at)`);
    // The sweep returns the stock of orders whose payment failed, as it does for cancelled ones.
    this.addSql(
      `CREATE INDEX orders_failed_stock_pending_idx ON orders (updated_at) WHERE status = 'PAYMENT_FAILED' AND stock_returned_at IS NULL`,
    );
  }

  override async down(): Promise<void> {
    this.addSql('DROP INDEX orders_failed_stock_pending_idx');
    this.addSql('DROP TABLE payment_webhook_events');
    this.addSql('DROP INDEX payments_provider_reference_idx');
    this.addSql(
      'ALTER TABLE payments DROP COLUMN refunded_at, DROP COLUMN refund_reference, DROP COLUMN refunded_amount, DROP COLUMN failure_reason, DROP COLUMN next_action, DROP COLUMN client_secret',
    );
    this.addSql(`ALTER TABLE payments DROP CONSTRAINT payments_status_check`);
    this.addSql(
      `ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ('CAPTURED', 'REFUNDED', 'VOIDED'))`,
    );
  }
}
