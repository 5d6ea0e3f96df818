import { Migration } from '@mikro-orm/migrations';

export class Migration20261122010000Users extends Migration {
  override async up(): Promise<void> {
    this.addSql(`CREATE EXTENSION IF NOT EXISTS pg_trgm`);
    this.addSql(`CREATE TABLE users (
      id uuid PRIMARY KEY,
      email text NOT NULL,
      password_hash text NOT NULL,
      first_name text,
      last_name text,
      role text NOT NULL DEFAULT 'USER' CHECK (role IN ('ADMIN', 'USER')),
      email_verified_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT users_email_unique UNIQUE (email),
      CONSTRAINT users_email_lower CHECK (email = lower(email))
    )`);
    // Keyset pagination of the admin list (newest first) and its substring search.
    this.addSql(`CREATE INDEX users_created_idx ON users (created_at DESC, id DESC)`);
    this.addSql(
      `CREATE INDEX users_search_trgm_idx ON users USING gin ((email || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')) gin_trgm_ops)`,
    );
    this.addSql(`CREATE TABLE refresh_tokens (
      id uuid PRIMARY KEY,
      token_hash text NOT NULL UNIQUE,
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      family_id uuid NOT NULL,
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      revoked_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    this.addSql(`CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id)`);
    this.addSql(`CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id)`);
    this.addSql(`CREATE TABLE email_tokens (
      id uuid PRIMARY KEY,
      token_hash text NOT NULL UNIQUE,
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      purpose text NOT NULL CHECK (purpose IN ('VERIFY_EMAIL', 'RESET_PASSWORD')),
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    this.addSql(`CREATE INDEX email_tokens_user_idx ON email_tokens (user_id, purpose)`);
  }

  override async down(): Promise<void> {
    this.addSql('DROP TABLE email_tokens');
    this.addSql('DROP TABLE refresh_tokens');
    this.addSql('DROP TABLE users');
  }
}
