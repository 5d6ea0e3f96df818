import { Arg, Authorized, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Ctx } from 'type-graphql';
import { Category } from '../schema/types';
import type { CatalogService } from '../service/catalog.service';
import type { CategoryRecord } from '../store/catalog.store';
import type { ProductContext } from './context';

@Resolver(() => Category)
export class CategoryResolver {
  constructor(private readonly catalog: CatalogService) {}

  @Query(() => [Category], { description: 'Every category with its product count, by name.' })
  categories(): Promise<CategoryRecord[]> {
    return this.catalog.categories();
  }

  @Query(() => Category, { nullable: true, description: 'A category by slug; null when unknown.' })
  category(
    @Arg('slug', () => ID, { description: 'Category slug.' }) slug: string,
    @Ctx() ctx: ProductContext,
  ): Promise<CategoryRecord | null> {
    return ctx.loaders.category.load(slug);
  }

  @Authorized('ADMIN')
  @Mutation(() => Category, {
    description: 'Adds a category (admins only). Errors: BAD_USER_INPUT on slug (format, already taken) or name.',
  })
  createCategory(
    @Arg('slug', () => ID, {
      description: 'Lower-case letters, digits and single hyphens, at most 64, e.g. "home-audio".',
    })
    slug: string,
    @Arg('name', () => String, { description: 'Display name, 1–100 characters.' }) name: string,
  ): Promise<CategoryRecord> {
    return this.catalog.createCategory(slug, name);
  }

  /** Filled in by `categories` (one grouped query); otherwise batched per request by the productCount loader. */
  @FieldResolver(() => Int)
  productCount(@Root() c: CategoryRecord, @Ctx() ctx: ProductContext): number | Promise<number> {
    return c.productCount ?? ctx.loaders.productCount.load(c.slug);
  }
}
