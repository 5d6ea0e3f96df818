import { AppError, Bus, ErrorCode } from '@shop/kernel';

/**
 * Commands of OTHER services this subgraph calls over NATS request/reply (it never reads their tables). Coded errors
 * raised by the serving side come back as the same AppError (kernel `Bus.request`).
 *
 * Which products exist: the product subgraph owns them, so the answer comes from its `product.exists` command.
 */
export interface ProductPort {
  existing(ids: string[]): Promise<Set<string>>;
}

export function natsProductPort(bus: Bus): ProductPort {
  return {
    async existing(ids) {
      try {
        const { existing } = await bus.request<{ ids: string[] }, { existing: string[] }>('product.exists', { ids });
        return new Set(existing);
      } catch (err) {
        if (err instanceof AppError) throw err;
        // No responder or a timeout: the caller must not be told the product is unknown.
        throw new AppError(ErrorCode.INTERNAL_SERVER_ERROR, 'The product service did not answer', {
          cause: String((err as Error).message),
        });
      }
    },
  };
}
