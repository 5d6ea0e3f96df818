/**
 * Domain events of the media subgraph (NATS subjects `media.*`, JetStream stream MEDIA). Envelopes are the
 * kernel's `{ v: 1, id, type, occurredAt, data }`; these are the `data` payloads of version 1.
 */
export interface MediaEventPayloads {
  /** An upload was verified and processed; its files are served. */
  'media.image_ready': {
    imageId: string;
    contentType: string;
    width: number;
    height: number;
    bytes: number;
    /** Rendition names stored, `original` first. */
    renditions: string[];
  };
  /** The image was attached to a product (or its alt text changed). */
  'media.image_attached': { imageId: string; productId: string; position: number; alt: string | null };
  /** The image, its product link and its files were deleted. */
  'media.image_deleted': { imageId: string; productId: string | null };
}
export type MediaEventType = keyof MediaEventPayloads;

/** Typed helper for the stores' `announce` callbacks. */
export function mediaEvent<T extends MediaEventType>(
  type: T,
  data: MediaEventPayloads[T],
): { type: T; data: MediaEventPayloads[T] } {
  return { type, data };
}
