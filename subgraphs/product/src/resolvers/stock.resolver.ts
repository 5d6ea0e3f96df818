import { Arg, Authorized, ID, Int, Query, Resolver } from 'type-graphql';
import { StockMovementConnection } from '../schema/types';
import type { CatalogService, StockMovementPage } from '../service/catalog.service';

@Resolver()
export class StockResolver {
  constructor(private readonly catalog: CatalogService) {}

  @Authorized('ADMIN')
  @Query(() => StockMovementConnection, {
    description: "Every change of a product's stock, newest first (admins only). Error: NOT_FOUND.",
  })
  stockHistory(
    @Arg('productId', () => ID, { description: 'Product id.' }) productId: string,
    @Arg('first', () => Int, { nullable: true, description: 'Page size (default 20, max 100).' }) first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'Cursor to continue after.' }) after: string | null,
  ): Promise<StockMovementPage> {
    return this.catalog.stockHistory(productId, first, after);
  }
}
