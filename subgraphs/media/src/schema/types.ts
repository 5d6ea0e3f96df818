import { Directive, Field, ID, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'A resized rendition of an image. Never larger than the original.' })
export class ImageVariant {
  @Field({
    description:
      'Rendition name: `thumb` (150×150 crop), `small` (300 wide), `medium` (600 wide) or `large` (1200 wide).',
  })
  name!: string;

  @Field({ description: "Absolute URL of the file (on the gateway's origin, cacheable forever)." })
  url!: string;

  @Field(() => Int, { description: 'Width in pixels.' })
  width!: number;

  @Field(() => Int, { description: 'Height in pixels.' })
  height!: number;

  @Field({ description: 'MIME type of the file (variants are `image/webp`).' })
  contentType!: string;
}

@Directive('@key(fields: "id")')
@ObjectType('Image', { description: 'An uploaded and processed image.' })
export class Image {
  @Field(() => ID, { description: 'Opaque unique id.' })
  id!: string;

  @Field({ description: 'Absolute URL of the original file, as uploaded.' })
  url!: string;

  @Field({
    description: 'MIME type of the original, from its actual bytes: image/png, image/jpeg, image/webp or image/gif.',
  })
  contentType!: string;

  @Field(() => Int, { description: 'Width of the original in pixels (EXIF orientation applied).' })
  width!: number;

  @Field(() => Int, { description: 'Height of the original in pixels (EXIF orientation applied).' })
  height!: number;

  @Field(() => Int, { description: 'Size of the original in bytes.' })
  bytes!: number;

  @Field(() => String, {
    nullable: true,
    description: 'Text alternative for screen readers, set when attached to a product.',
  })
  alt!: string | null;

  @Field(() => [ImageVariant], { description: 'The resized renditions, smallest first.' })
  variants!: ImageVariant[];
}

/** The product subgraph owns Product; this subgraph contributes its gallery. */
@Directive('@key(fields: "id")')
@ObjectType('Product', { description: 'A product of the catalog (owned by the product subgraph).' })
export class Product {
  @Field(() => ID, { description: 'Opaque unique id of the product.' })
  id!: string;
}

@ObjectType({ description: 'Where and until when to PUT the bytes of a new image.' })
export class ImageUpload {
  @Field(() => ID, { description: 'Id of the image being created; it becomes servable once the upload is processed.' })
  imageId!: string;

  @Field({ description: 'Signed, single-use URL: `PUT` the raw bytes to it (at most 10 MB; PNG, JPEG, WebP or GIF).' })
  uploadUrl!: string;

  @Field(() => Date, { description: 'When the upload URL stops working (15 minutes after it was issued).' })
  expiresAt!: Date;
}
