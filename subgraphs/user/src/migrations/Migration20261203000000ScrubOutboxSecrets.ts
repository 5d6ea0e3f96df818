import { Migration } from '@mikro-orm/migrations';

/**
 * Before link tokens moved to `secret.email_link`, the public `user.*` link events carried `data.token`, and published
 * outbox rows kept it. Published rows need no secret (the relay now drops them on publishing): remove the old ones.
 */
export class Migration20261203000000ScrubOutboxSecrets extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `UPDATE outbox SET payload = payload #- '{data,token}' WHERE published_at IS NOT NULL AND payload->'data'->'token' IS NOT NULL`,
    );
  }

  override async down(): Promise<void> {
    // Nothing to restore: the secrets are gone on purpose.
  }
}
