import { Directive, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { connectionTypes, Money } from '@shop/kernel';

export enum ProductSort {
  RELEVANCE = 'RELEVANCE',
  PRICE_ASC = 'PRICE_ASC',
  PRICE_DESC = 'PRICE_DESC',
  NEWEST = 'NEWEST',
  NAME = 'NAME',
}
registerEnumType(ProductSort, {
  name: 'ProductSort',
  description: 'Order of a product list. Default: RELEVANCE when searching, otherwise NEWEST.',
  valuesConfig: {
    RELEVANCE: {
      description: 'Best text match first; only with `filter.search` (BAD_USER_INPUT on `sort` otherwise).',
    },
    PRICE_ASC: { description: 'Cheapest first.' },
    PRICE_DESC: { description: 'Most expensive first.' },
    NEWEST: { description: 'Most recently added first.' },
    NAME: { description: 'By name, A to Z (case-insensitive).' },
  },
});

@Directive('@key(fields: "slug")')
@ObjectType('Category', { description: 'A group of products, e.g. "Audio".' })
export class Category {
  @Field(() => ID, { description: 'Stable URL-friendly id, e.g. "audio".' })
  slug!: string;

  @Field({ description: 'Display name.' })
  name!: string;

  @Field(() => Int, {
    description:
      'Number of products in the catalog in this category (archived ones excluded, out-of-stock ones included).',
  })
  productCount!: number;
}

@Directive('@key(fields: "id")')
@ObjectType('Product', { description: 'Something the shop sells.' })
export class Product {
  @Field(() => ID, { description: 'Opaque unique id.' })
  id!: string;

  @Field({ description: 'Stock keeping unit: unique, letters, digits, ".", "_" and "-".' })
  sku!: string;

  @Field({ description: 'Display name.' })
  name!: string;

  @Field({ description: 'Long description (plain text, may contain line breaks).' })
  description!: string;

  @Field(() => Category, { description: 'The category the product belongs to.' })
  category!: Category;

  @Field(() => Money, { description: 'Regular price.' })
  price!: Money;

  @Field(() => Int, { description: 'Available to sell now: on hand minus active holds (carts) — never negative.' })
  stock!: number;

  @Field({ description: 'True when at least one unit can be sold now.' })
  inStock!: boolean;

  @Field(() => Deal, {
    nullable: true,
    description: "The current deal for this product; null unless it is on today's deal list.",
  })
  deal!: Deal | null;

  @Field(() => Date, { description: 'When the product was added to the catalog.' })
  createdAt!: Date;

  @Field(() => Date, {
    description: 'When name, description, category or price last changed (stock changes are in the stock history).',
  })
  updatedAt!: Date;

  @Field(() => Date, {
    nullable: true,
    description: 'When the product was removed from the catalog (deleteProduct); null while it is listed.',
  })
  archivedAt!: Date | null;
}

@ObjectType({ description: 'A product on offer at a discount for a limited time.' })
export class Deal {
  @Field(() => Product, { description: 'The discounted product.' })
  product!: Product;

  @Field(() => Int, { description: 'Percentage taken off the regular price, e.g. 20.' })
  discountPercent!: number;

  @Field(() => Money, {
    description: 'Price after the discount: the regular price minus the discount rounded half up to the minor unit.',
  })
  price!: Money;

  @Field(() => Date, { description: 'When this deal list expires and a new one is drawn.' })
  expiresAt!: Date;
}

@InputType({ description: 'Narrows a product list; all given conditions must hold.' })
export class ProductFilter {
  @Field(() => String, {
    nullable: true,
    description:
      'Words to find in name, description or sku; every word must match, each as a prefix ("head" finds "headphones"). At most 200 characters; blank means no text filter.',
  })
  search?: string | null;

  @Field(() => ID, { nullable: true, description: 'Only products of this category (slug).' })
  category?: string | null;

  @Field(() => Int, { nullable: true, description: 'Lowest price, in minor units, inclusive.' })
  minPrice?: number | null;

  @Field(() => Int, { nullable: true, description: 'Highest price, in minor units, inclusive; not below minPrice.' })
  maxPrice?: number | null;

  @Field(() => Boolean, {
    nullable: true,
    description: 'true: only products that can be bought now; false: only those that cannot.',
  })
  inStock?: boolean | null;
}

@ObjectType({ description: 'How many products of the current filter fall in one category.' })
export class CategoryFacet {
  @Field(() => ID, { description: 'Category slug (use it as `filter.category`).' })
  slug!: string;

  @Field({ description: 'Category display name.' })
  name!: string;

  @Field(() => Int, { description: 'Matching products in this category.' })
  count!: number;
}

@ObjectType({ description: 'Counts that help narrow a product list.' })
export class ProductFacets {
  @Field(() => [CategoryFacet], {
    description:
      'Categories with matching products under the current filter, most populated first. The category filter itself is ignored here, so the other categories stay visible.',
  })
  categories!: CategoryFacet[];
}

export const { Edge: ProductEdge, Connection: ProductConnection } = connectionTypes(Product, {
  one: 'product',
  many: 'products',
});

@InputType({ description: 'A new product.' })
export class CreateProductInput {
  @Field({ description: 'Unique stock keeping unit: 1–64 letters, digits, ".", "_" or "-".' })
  sku!: string;

  @Field({ description: 'Display name, 1–200 characters.' })
  name!: string;

  @Field({ description: 'Description, up to 5000 characters (may be empty).' })
  description!: string;

  @Field(() => ID, { description: 'Slug of an existing category.' })
  category!: string;

  @Field(() => Int, { description: 'Price in minor units, 1 to 100000000.' })
  price!: number;

  @Field(() => String, { nullable: true, description: 'ISO-4217 currency code; default USD.' })
  currency?: string | null;

  @Field(() => Int, { description: 'Units on hand, 0 or more; recorded as the first stock movement.' })
  stock!: number;
}

@InputType({
  description: 'Product changes; omitted or null fields stay as they are. Stock changes go through adjustStock.',
})
export class UpdateProductInput {
  @Field(() => String, { nullable: true, description: 'New display name, 1–200 characters.' })
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'New description, up to 5000 characters.' })
  description?: string | null;

  @Field(() => ID, { nullable: true, description: 'Slug of an existing category to move the product to.' })
  category?: string | null;

  @Field(() => Int, { nullable: true, description: 'New price in minor units, 1 to 100000000.' })
  price?: number | null;
}

@ObjectType({ description: "One change of a product's on-hand stock." })
export class StockMovement {
  @Field(() => ID, { description: 'Opaque unique id.' })
  id!: string;

  @Field(() => Int, {
    description: 'Units added (positive) or removed (negative); the first movement is the opening stock.',
  })
  delta!: number;

  @Field({
    description:
      'Why the stock changed, as given by the admin who changed it; SALE when an order bought the units, RETURN when an order gave them back (cancelled, or not completed).',
  })
  reason!: string;

  @Field(() => Int, { description: 'Units on hand right after this movement (holds not subtracted).' })
  resultingStock!: number;

  @Field(() => ID, {
    nullable: true,
    description: 'Id of the user who made the change; null for system changes (e.g. seeding).',
  })
  actorId!: string | null;

  @Field(() => ID, {
    nullable: true,
    description: 'The order that bought (SALE) or gave back (RETURN) these units; null for admin changes.',
  })
  orderId!: string | null;

  @Field(() => Date, { description: 'When the change was made.' })
  createdAt!: Date;
}

export const { Edge: StockMovementEdge, Connection: StockMovementConnection } = connectionTypes(StockMovement, {
  one: 'stock movement',
  many: 'stock movements',
  order: 'newest first',
});
