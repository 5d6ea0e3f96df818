import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Image, ImageUpload, ImageVariant, Product } from '../schema/types';
import type { MediaService } from '../service/media.service';
import type { ImageRecord } from '../store/types';
import type { MediaContext } from './context';

@Resolver(() => Image)
export class ImageResolver {
  constructor(private readonly media: MediaService) {}

  @Query(() => Image, { nullable: true, description: 'An image by id; null when unknown or not yet processed.' })
  image(
    @Arg('id', () => ID, { description: 'Id of the image.' }) id: string,
    @Ctx() ctx: MediaContext,
  ): Promise<ImageRecord | null> {
    return ctx.loaders.image.load(id);
  }

  @FieldResolver(() => String)
  url(@Root() image: ImageRecord): string {
    return this.media.urlOf(image.id, 'original');
  }

  @FieldResolver(() => [ImageVariant])
  variants(@Root() image: ImageRecord): ImageVariant[] {
    return this.media.variantsOf(image);
  }

  @Authorized('ADMIN')
  @Mutation(() => ImageUpload, {
    description:
      'Starts an image upload (admins only): returns a signed URL to PUT the bytes to within 15 minutes. Error: BAD_USER_INPUT (contentType, filename).',
  })
  createImageUpload(
    @Arg('contentType', () => String, {
      description:
        'MIME type of the file: image/png, image/jpeg, image/webp or image/gif (the bytes are checked on upload).',
    })
    contentType: string,
    @Arg('filename', () => String, { description: 'Original file name, 1 to 255 characters, no path separators.' })
    filename: string,
  ): Promise<ImageUpload> {
    return this.media.createUpload(contentType, filename);
  }

  @Authorized('ADMIN')
  @Mutation(() => Image, {
    description:
      "Appends an uploaded image to a product's gallery, or updates its alt text (admins only). Errors: NOT_FOUND (product, image), BAD_USER_INPUT (image not processed yet or attached elsewhere; alt too long).",
  })
  attachProductImage(
    @Arg('productId', () => ID, { description: 'Id of the product.' }) productId: string,
    @Arg('imageId', () => ID, { description: 'Id of a processed image (from createImageUpload).' }) imageId: string,
    @Arg('alt', () => String, { nullable: true, description: 'Text alternative, at most 300 characters.' })
    alt: string | null,
  ): Promise<ImageRecord> {
    return this.media.attachProductImage(productId, imageId, alt);
  }

  @Authorized('ADMIN')
  @Mutation(() => Boolean, {
    description: 'Deletes an image, its product link and its files (admins only). Error: NOT_FOUND.',
  })
  deleteImage(@Arg('id', () => ID, { description: 'Id of the image.' }) id: string): Promise<boolean> {
    return this.media.deleteImage(id);
  }
}

@Resolver(() => Product)
export class ProductImagesResolver {
  @FieldResolver(() => [Image], { description: "The product's images in gallery order (processed images only)." })
  images(@Root() product: Product, @Ctx() ctx: MediaContext): Promise<ImageRecord[]> {
    return ctx.loaders.productImages.load(product.id);
  }
}

/** Federation entry points: a Product reference needs no lookup here; Image references are batched. */
export const mediaReferenceResolvers = {
  Product: {
    __resolveReference(ref: { id: string }) {
      return { id: ref.id };
    },
  },
  Image: {
    __resolveReference(ref: { id: string }, ctx: MediaContext) {
      return ctx.loaders.image.load(ref.id);
    },
  },
};
