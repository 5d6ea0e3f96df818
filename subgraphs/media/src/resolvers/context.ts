import type DataLoader from 'dataloader';
import { BaseContext, keyedLoader } from '@shop/kernel';
import type { MediaService } from '../service/media.service';
import type { ImageRecord } from '../store/types';

/** Per-request loaders: one store query per batch of ids, whoever asks (entity references, `Product.images` of a whole `_entities` call). */
export interface MediaContext extends BaseContext {
  loaders: {
    /** READY images by id. */
    image: DataLoader<string, ImageRecord | null>;
    /** READY images of a product, in gallery order. */
    productImages: DataLoader<string, ImageRecord[]>;
  };
}

export function makeContext(base: BaseContext, media: MediaService): MediaContext {
  return {
    ...base,
    loaders: {
      image: keyedLoader(
        (ids) => media.imagesByIds(ids),
        () => null,
      ),
      productImages: keyedLoader(
        (productIds) => media.imagesOfProducts(productIds),
        () => [],
      ),
    },
  };
}
