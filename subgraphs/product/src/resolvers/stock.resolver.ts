import { Arg, Args, Authorized, ID, Query, Resolver } from 'type-graphql';
import { PageArgs } from '@shop/kernel';
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
    @Args(() => PageArgs) { first, after }: PageArgs,
  ): Promise<StockMovementPage> {
    return this.catalog.stockHistory(productId, first, after);
  }
}
