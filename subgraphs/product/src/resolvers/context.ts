import DataLoader from 'dataloader';
import { GraphQLResolveInfo, Kind, SelectionSetNode } from 'graphql';
import type { BaseContext } from '@shop/kernel';
import type { CatalogService } from '../service/catalog.service';
import type { CurrentDeals, DealsService } from '../service/deals.service';
import type { CategoryRecord, ProductRecord } from '../store/catalog.store';

/**
 * Per-request state. Every loader turns the lookups of one tick into ONE SQL statement (`= ANY(...)`), whoever
 * asks: entity references, list fields, nested categories. `deals()` reads Redis once per request.
 */
export interface ProductContext extends BaseContext {
  loaders: {
    product: DataLoader<string, ProductRecord | null>;
    category: DataLoader<string, CategoryRecord | null>;
    productCount: DataLoader<string, number>;
  };
  deals: () => Promise<CurrentDeals>;
}

export function makeContext(base: BaseContext, catalog: CatalogService, dealsService: DealsService): ProductContext {
  const product = new DataLoader<string, ProductRecord | null>(
    async (ids) => {
      const byId = new Map((await catalog.productsByIds(ids)).map((p) => [p.id, p]));
      return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
    },
    // Ids arrive from clients in any case; the database returns them lower-cased.
    { cacheKeyFn: (id) => id.toLowerCase() },
  );
  const category = new DataLoader<string, CategoryRecord | null>(async (slugs) => {
    const bySlug = new Map((await catalog.categoriesBySlugs(slugs)).map((c) => [c.slug, c]));
    return slugs.map((s) => bySlug.get(s) ?? null);
  });
  const productCount = new DataLoader<string, number>(async (slugs) => {
    const counts = await catalog.productCounts(slugs);
    return slugs.map((s) => counts.get(s) ?? 0);
  });
  let deals: Promise<CurrentDeals> | undefined;
  return {
    ...base,
    loaders: { product, category, productCount },
    deals: () =>
      (deals ??= dealsService.current(async (ids) => {
        const found = await product.loadMany(ids);
        return found.map((p) => (p instanceof Error ? null : p));
      })),
  };
}

/** Names of the fields selected directly under the current field (through fragments too). */
export function selectedFields(info: GraphQLResolveInfo): Set<string> {
  const names = new Set<string>();
  const visit = (set: SelectionSetNode | undefined) => {
    for (const s of set?.selections ?? []) {
      if (s.kind === Kind.FIELD) names.add(s.name.value);
      else if (s.kind === Kind.INLINE_FRAGMENT) visit(s.selectionSet);
      else visit(info.fragments[s.name.value]?.selectionSet);
    }
  };
  for (const node of info.fieldNodes) visit(node.selectionSet);
  return names;
}
