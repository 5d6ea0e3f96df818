import { Migration } from '@mikro-orm/migrations';

/**
 * The absolute lifetime of a cart's holds: `held_since` = when the cart's current run of holds began (its first hold
 * since it last held nothing). Every hold of a cart carries the same value; the stock commands clamp `expires_at` to
 * `held_since + CART_HOLD_MAX_SECONDS_USER`, so no activity keeps units held beyond it (StockHoldsService).
 * Rows that existed before get the migration's time: their lifetime starts now.
 */
export class Migration20261210000000HoldLifetime extends Migration {
  override async up(): Promise<void> {
    this.addSql(`ALTER TABLE stock_hold ADD COLUMN held_since timestamptz NOT NULL DEFAULT now()`);
  }

  override async down(): Promise<void> {
    this.addSql(`ALTER TABLE stock_hold DROP COLUMN held_since`);
  }
}
