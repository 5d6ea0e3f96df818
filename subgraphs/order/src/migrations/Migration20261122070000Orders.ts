import { Migration } from '@mikro-orm/migrations';

/** Orders, their items, the discount relation, payments and idempotency keys (the kernel's outbox comes first). */
export class Migration20261122070000Orders extends Migration {
  override async up(): Promise<void> {
    // Human-friendly order numbers: SH-<year>-<6+ digits>, from one sequence (gaps after rollbacks are fine).
    this.addSql(`CREATE SEQUENCE order_number_seq START 1`);
    this.addSql(`CREATE TABLE orders (
      id uuid PRIMARY KEY,
      number text NOT NULL,
      user_id uuid NOT NULL,
      status text NOT NULL CHECK (status IN ('PENDING', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'PAYMENT_FAILED')),
      currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      subtotal integer NOT NULL CHECK (subtotal >= 0),
      discount_total integer NOT NULL CHECK (discount_total >= 0 AND discount_total <= subtotal),
      total integer NOT NULL CHECK (total >= 0 AND total = subtotal - discount_total),
      buyer_email text NOT NULL,
      buyer_first_name text,
      ship_name text NOT NULL,
      ship_line1 text NOT NULL,
      ship_line2 text,
      ship_city text NOT NULL,
      ship_postal_code text NOT NULL,
      ship_country text NOT NULL CHECK (ship_country ~ '^[A-Z]{2}$'),
      cart_id text NOT NULL,
      cart_completed_at timestamptz,
      stock_returned_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT orders_number_unique UNIQUE (number)
    )`);
    // User.orders and the admin list: newest first, keyset (created_at, id).
    this.addSql(`CREATE INDEX orders_user_created_idx ON orders (user_id, created_at DESC, id DESC)`);
    this.addSql(`CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC)`);
    this.addSql(`CREATE INDEX orders_status_created_idx ON orders (status, created_at DESC, id DESC)`);
    // Background completion: carts not yet marked checked out, cancelled orders whose stock is not back yet.
    this.addSql(`CREATE INDEX orders_cart_pending_idx ON orders (created_at) WHERE cart_completed_at IS NULL`);
    this.addSql(
      `CREATE INDEX orders_stock_pending_idx ON orders (updated_at) WHERE status = 'CANCELLED' AND stock_returned_at IS NULL`,
    );

    this.addSql(`CREATE TABLE order_items (
      id uuid PRIMARY KEY,
      order_id uuid NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
      position integer NOT NULL CHECK (position >= 0),
      product_id uuid NOT NULL,
      product_name text NOT NULL,
      quantity integer NOT NULL CHECK (quantity > 0),
      unit_price integer NOT NULL CHECK (unit_price >= 0),
      discount_percent integer NOT NULL DEFAULT 0 CHECK (discount_percent BETWEEN 0 AND 100),
      line_total integer NOT NULL CHECK (line_total >= 0 AND line_total <= unit_price * quantity),
      CONSTRAINT order_items_product_unique UNIQUE (order_id, product_id)
    )`);
    this.addSql(`CREATE INDEX order_items_product_idx ON order_items (product_id)`);

    // The relation of discounted products in a purchase: which deal applied and what it saved.
    this.addSql(`CREATE TABLE order_discounts (
      order_id uuid NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
      product_id uuid NOT NULL,
      percent integer NOT NULL CHECK (percent BETWEEN 1 AND 100),
      amount_saved integer NOT NULL CHECK (amount_saved >= 0),
      PRIMARY KEY (order_id, product_id)
    )`);
    this.addSql(`CREATE INDEX order_discounts_product_idx ON order_discounts (product_id)`);

    this.addSql(`CREATE TABLE payments (
      id uuid PRIMARY KEY,
      order_id uuid NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
      provider text NOT NULL,
      status text NOT NULL CHECK (status IN ('CAPTURED', 'REFUNDED', 'VOIDED')),
      reference text,
      amount integer NOT NULL CHECK (amount >= 0),
      currency text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    this.addSql(`CREATE INDEX payments_order_idx ON payments (order_id, created_at)`);

    this.addSql(`CREATE TABLE idempotency_keys (
      user_id uuid NOT NULL,
      key text NOT NULL,
      request_hash text NOT NULL,
      order_id uuid,
      status text NOT NULL CHECK (status IN ('IN_PROGRESS', 'COMPLETED')),
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      PRIMARY KEY (user_id, key),
      CONSTRAINT idempotency_keys_ttl CHECK (expires_at >= created_at + interval '24 hours'),
      CONSTRAINT idempotency_keys_completed CHECK (status <> 'COMPLETED' OR order_id IS NOT NULL)
    )`);
    this.addSql(`CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at)`);
  }

  override async down(): Promise<void> {
    this.addSql('DROP TABLE idempotency_keys');
    this.addSql('DROP TABLE payments');
    this.addSql('DROP TABLE order_discounts');
    this.addSql('DROP TABLE order_items');
    this.addSql('DROP TABLE orders');
    this.addSql('DROP SEQUENCE order_number_seq');
  }
}
