import { Entity, OptionalProps, PrimaryKey, Property } from '@mikro-orm/postgresql';
import { randomUUID } from 'node:crypto';

/** A category products belong to; the slug is its id in URLs and in the API. */
@Entity({ tableName: 'categories' })
export class CategoryEntity {
  [OptionalProps]?: 'createdAt';

  @PrimaryKey({ type: 'text' })
  slug!: string;

  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}

/**
 * A product. `onHand` is the physical count; what can be sold now is `product_available(on_hand, held)` in SQL
 * (see the holds migration), never computed in TypeScript. The generated `search_vector` column is not mapped.
 */
@Entity({ tableName: 'products' })
export class ProductEntity {
  [OptionalProps]?: 'id' | 'currency' | 'archivedAt' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text', unique: true })
  sku!: string;

  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'text' })
  description!: string;

  @Property({ type: 'text', fieldName: 'category_slug' })
  categorySlug!: string;

  /** Minor units (cents); integer end to end. */
  @Property({ type: 'integer' })
  priceAmount!: number;

  @Property({ type: 'string', columnType: 'char(3)' })
  currency: string = 'USD';

  /** Changed only by atomic SQL (`on_hand = on_hand + delta`), never by assigning this property. */
  @Property({ type: 'integer' })
  onHand!: number;

  @Property({ type: 'timestamptz', nullable: true })
  archivedAt: Date | null = null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}

/** One change of a product's on-hand stock, with who did it and the level it left. `seq` (identity) is not mapped. */
@Entity({ tableName: 'stock_movements' })
export class StockMovementEntity {
  [OptionalProps]?: 'id' | 'createdAt' | 'actorId' | 'orderId';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'uuid' })
  productId!: string;

  @Property({ type: 'integer' })
  delta!: number;

  @Property({ type: 'text' })
  reason!: string;

  @Property({ type: 'integer' })
  resultingOnHand!: number;

  @Property({ type: 'uuid', nullable: true })
  actorId: string | null = null;

  /** The order of a SALE / RETURN movement. */
  @Property({ type: 'text', nullable: true })
  orderId: string | null = null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}

export const PRODUCT_ENTITIES = [CategoryEntity, ProductEntity, StockMovementEntity];
