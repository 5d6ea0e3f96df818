import { Entity, Enum, Index, OptionalProps, PrimaryKey, Property } from '@mikro-orm/postgresql';
import { randomUUID } from 'node:crypto';
import type { Role } from '@shop/kernel';

@Entity({ tableName: 'users' })
export class UserEntity {
  [OptionalProps]?: 'id' | 'createdAt' | 'updatedAt' | 'role' | 'firstName' | 'lastName' | 'emailVerifiedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  /** Stored lower-cased and trimmed; unique. */
  @Property({ type: 'text', unique: true })
  email!: string;

  @Property({ type: 'text', hidden: true })
  passwordHash!: string;

  @Property({ type: 'text', nullable: true })
  firstName: string | null = null;

  @Property({ type: 'text', nullable: true })
  lastName: string | null = null;

  @Enum({ items: ['ADMIN', 'USER'], type: 'text' })
  role: Role = 'USER';

  @Property({ type: 'timestamptz', nullable: true })
  emailVerifiedAt: Date | null = null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}

/**
 * One refresh token. Tokens issued by rotation share the family of the login that started it; presenting a
 * token that was already spent revokes the whole family (RFC 6819 §5.2.2.3 / OAuth 2.1 refresh token rotation).
 */
@Entity({ tableName: 'refresh_tokens' })
@Index({ properties: ['familyId'] })
@Index({ properties: ['userId'] })
export class RefreshTokenEntity {
  [OptionalProps]?: 'id' | 'createdAt' | 'usedAt' | 'revokedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  /** SHA-256 of the token; the token itself is never stored. */
  @Property({ type: 'text', unique: true })
  tokenHash!: string;

  @Property({ type: 'uuid' })
  userId!: string;

  @Property({ type: 'uuid' })
  familyId!: string;

  @Property({ type: 'timestamptz' })
  expiresAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  usedAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null = null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}

export type EmailTokenPurpose = 'VERIFY_EMAIL' | 'RESET_PASSWORD';

/** Single-use email link token (verification 24 h, password reset 1 h); only its hash is stored. */
@Entity({ tableName: 'email_tokens' })
@Index({ properties: ['userId', 'purpose'] })
export class EmailTokenEntity {
  [OptionalProps]?: 'id' | 'createdAt' | 'usedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text', unique: true })
  tokenHash!: string;

  @Property({ type: 'uuid' })
  userId!: string;

  @Enum({ items: ['VERIFY_EMAIL', 'RESET_PASSWORD'], type: 'text' })
  purpose!: EmailTokenPurpose;

  @Property({ type: 'timestamptz' })
  expiresAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  usedAt: Date | null = null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}

export const USER_ENTITIES = [UserEntity, RefreshTokenEntity, EmailTokenEntity];
