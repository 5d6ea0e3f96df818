import { Arg, Authorized, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { StockMovementConnection } from '../schema/types';
import type { CatalogService } from '../service/catalog.service';

@Resolver(() => StockMovementConnection)
export class StockResolver {
  constructor(private readonly catalog: CatalogService) {}

  @Authorized('ADMIN')
  @Query(() => StockMovementConnection, {
    description: "Every change of a product's stock, newest first (admins only). Error: NOT_FOUND.",
  })
  async stockHistory(
    @Arg('productId', () => ID, { description: 'Product id.' }) productId: string,
    @Arg('first', () => Int, { nullable: true, description: 'Page size (default 20, max 100).' }) first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'Cursor to continue after.' }) after: string | null,
  ): Promise<StockMovementConnection> {
    return (await this.catalog.stockHistory(productId, first, after)) as unknown as StockMovementConnection;
  }

  @FieldResolver(() => Int, {
    description: 'Number of movements of this product (all pages); counted only when asked for.',
  })
  totalCount(@Root() connection: StockMovementConnection): Promise<number> {
    return connection.count();
  }
}
