import { Migration } from '@mikro-orm/migrations';

/**
 * The buyer directory: each user's contact (email, first name) as the user subgraph's events last gave it, so a
 * checkout reads it here instead of asking that subgraph (`user.get`) every time. A copy, never the authority: a
 * user missing here is asked for once and written (service/buyers.ts).
 */
export class Migration20261206120000Buyers extends Migration {
  override async up(): Promise<void> {
    this.addSql(`CREATE TABLE buyers (
      user_id uuid PRIMARY KEY,
      email text NOT NULL,
      first_name text,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
  }

  override async down(): Promise<void> {
    this.addSql(`DROP TABLE buyers`);
  }
}
