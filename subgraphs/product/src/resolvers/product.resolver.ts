import type { GraphQLResolveInfo } from 'graphql';
import {
  Arg,
  Args,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Info,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { discountedPrice, Money, money, PageArgs } from '@shop/kernel';
import {
  Category,
  CreateProductInput,
  Deal,
  Product,
  ProductConnection,
  ProductFacets,
  ProductFilter,
  ProductSort,
  UpdateProductInput,
} from '../schema/types';
import type { CatalogService, ProductPage } from '../service/catalog.service';
import type { DealRecord } from '../service/deals.service';
import type { CategoryRecord, ProductRecord } from '../store/catalog.store';
import { ProductContext, selectedFields } from './context';

@Resolver(() => Product)
export class ProductResolver {
  constructor(private readonly catalog: CatalogService) {}

  @Query(() => ProductConnection, {
    description:
      'The catalog (archived products excluded), keyset-paginated: cursors stay valid when products are added (each belongs to the sort order it came from). Errors: BAD_USER_INPUT (first, after, sort, search, minPrice, maxPrice).',
  })
  async products(
    @Args(() => PageArgs) { first, after }: PageArgs,
    @Arg('filter', () => ProductFilter, { nullable: true, description: 'Conditions the products must meet.' })
    filter: ProductFilter | null,
    @Arg('sort', () => ProductSort, {
      nullable: true,
      description: 'Order; default RELEVANCE when searching, else NEWEST.',
    })
    sort: ProductSort | null,
    @Ctx() ctx: ProductContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<ProductPage> {
    const wanted = selectedFields(info);
    const page = await this.catalog.listProducts({
      first,
      after,
      filter,
      sort,
      selected: { totalCount: wanted.has('totalCount'), facets: wanted.has('facets') },
    });
    // Nested lookups of these products (deals, references later in the request) need no second query.
    for (const e of page.edges) ctx.loaders.product.prime(e.node.id, e.node);
    return page;
  }

  @Query(() => Product, {
    nullable: true,
    description: 'A product by id, archived ones included (orders and carts refer to them); null when unknown.',
  })
  product(
    @Arg('id', () => ID, { description: 'Product id.' }) id: string,
    @Ctx() ctx: ProductContext,
  ): Promise<ProductRecord | null> {
    return ctx.loaders.product.load(id);
  }

  @Query(() => [Deal], {
    description: `Today's deals: up to DEALS_COUNT (10) distinct in-stock products at DEALS_DISCOUNT_PERCENT (20) off, the same for everyone until they expire (DEALS_TTL_SECONDS, 24 h). Products that sell out or leave the catalog are replaced.`,
  })
  async deals(@Ctx() ctx: ProductContext): Promise<DealRecord[]> {
    return (await ctx.deals()).deals;
  }

  @FieldResolver(() => Category)
  async category(@Root() p: ProductRecord, @Ctx() ctx: ProductContext): Promise<CategoryRecord> {
    const c = await ctx.loaders.category.load(p.categorySlug);
    if (!c) throw new Error(`category ${p.categorySlug} of product ${p.id} is missing`);
    return c;
  }

  @FieldResolver(() => Money)
  price(@Root() p: ProductRecord): Money {
    return money(p.priceAmount, p.currency);
  }

  @FieldResolver(() => Int)
  stock(@Root() p: ProductRecord): number {
    return p.available;
  }

  @FieldResolver(() => Boolean)
  inStock(@Root() p: ProductRecord): boolean {
    return p.available > 0;
  }

  @FieldResolver(() => Deal, { nullable: true })
  async deal(@Root() p: ProductRecord, @Ctx() ctx: ProductContext): Promise<DealRecord | null> {
    return (await ctx.deals()).byProductId.get(p.id) ?? null;
  }

  @Authorized('ADMIN')
  @Mutation(() => Product, {
    description:
      'Adds a product (admins only); its stock becomes the first stock movement. Errors: BAD_USER_INPUT naming the field (duplicate sku, unknown category, …).',
  })
  createProduct(
    @Arg('input', () => CreateProductInput, { description: 'The new product.' }) input: CreateProductInput,
    @Ctx() ctx: ProductContext,
  ): Promise<ProductRecord> {
    return this.catalog.createProduct(ctx.identity, input);
  }

  @Authorized('ADMIN')
  @Mutation(() => Product, {
    description: "Changes a product's details (admins only). Errors: NOT_FOUND, BAD_USER_INPUT.",
  })
  updateProduct(
    @Arg('id', () => ID, { description: 'Product id.' }) id: string,
    @Arg('input', () => UpdateProductInput, { description: 'Fields to change.' }) input: UpdateProductInput,
    @Ctx() ctx: ProductContext,
  ): Promise<ProductRecord> {
    return this.catalog.updateProduct(ctx.identity, id, input);
  }

  @Authorized('ADMIN')
  @Mutation(() => Boolean, {
    description:
      'Removes a product from the catalog by archiving it (admins only): it leaves lists, search and deals but still resolves by id. Error: NOT_FOUND.',
  })
  deleteProduct(
    @Arg('id', () => ID, { description: 'Product id.' }) id: string,
    @Ctx() ctx: ProductContext,
  ): Promise<boolean> {
    return this.catalog.deleteProduct(ctx.identity, id);
  }

  @Authorized('ADMIN')
  @Mutation(() => Product, {
    description:
      "Adds (positive) or removes (negative) units on hand, recorded in the stock history (admins only). Stock never goes below zero, nor below the units held in shoppers' carts: BAD_USER_INPUT on delta. Error: NOT_FOUND.",
  })
  adjustStock(
    @Arg('productId', () => ID, { description: 'Product id.' }) productId: string,
    @Arg('delta', () => Int, { description: 'Units to add or remove; not zero.' }) delta: number,
    @Arg('reason', () => String, { description: 'Why, 1–200 characters (e.g. "Delivery #42", "Damaged").' })
    reason: string,
    @Ctx() ctx: ProductContext,
  ): Promise<ProductRecord> {
    return this.catalog.adjustStock(ctx.identity, productId, delta, reason);
  }
}

/** `facets`, the field only the product list has besides the kernel's connection fields. */
@Resolver(() => ProductConnection)
export class ProductConnectionResolver {
  @FieldResolver(() => ProductFacets, {
    description: 'Per-category counts for the current filter; computed only when asked for.',
  })
  facets(@Root() connection: ProductPage): Promise<ProductFacets> {
    return connection.facets();
  }
}

@Resolver(() => Deal)
export class DealResolver {
  /** The product's current price minus the discount rounded half up per unit (kernel rule): 1999 at 20 % → 1599. */
  @FieldResolver(() => Money)
  price(@Root() deal: DealRecord): Money {
    return money(discountedPrice(deal.product.priceAmount, deal.discountPercent), deal.product.currency);
  }
}

/** Federation entry points for references from other subgraphs (batched per request). */
export const productReferenceResolvers = {
  Product: {
    __resolveReference(ref: { id: string }, ctx: ProductContext) {
      return ctx.loaders.product.load(ref.id);
    },
  },
  Category: {
    __resolveReference(ref: { slug: string }, ctx: ProductContext) {
      return ctx.loaders.category.load(ref.slug);
    },
  },
};
