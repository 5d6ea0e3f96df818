import os from 'node:os';
import path from 'node:path';
import { Bus, buildFederatedSchema, defineSubgraph, migrator, readinessOf, reportOutboxBacklog } from '@shop/kernel';
import type { Config, Logger, StartedService, SubgraphModule, WithPorts } from '@shop/kernel';
import { natsProductPort, ProductPort } from './ports';
import { MediaContext, makeContext } from './resolvers/context';
import { ImageResolver, mediaReferenceResolvers, ProductImagesResolver } from './resolvers/media.resolver';
import { mediaRoutes } from './resolvers/routes';
import { Product } from './schema/types';
import { MediaService } from './service/media.service';
import { loadSigningSecret, UploadSigner } from './service/signing';
import { DiskFileStorage, EventRelay, FileStorage, ImageStore, openImageStore } from './store';

export interface StartedMedia extends StartedService {
  store: ImageStore;
  files: FileStorage;
  bus: Bus;
  relay: EventRelay;
  media: MediaService;
  signer: UploadSigner;
}

/** Extras beyond the kernel's ServiceDeps (tests, benchmarks). */
export interface MediaModuleOptions extends WithPorts<ProductPort> {
  // `ports` defaults to the product subgraph's `product.exists` command over NATS (ports.ts).
  /** Called with every SQL statement of the PostgreSQL store (tests count round trips with it). */
  onQuery?: (sql: string) => void;
  /** HMAC key of upload URLs; defaults to MEDIA_SIGNING_SECRET, then (outside production) `<KEYS_DIR>/media-secret`. */
  signingSecret?: string;
  /** Where the bytes go; defaults to files under MEDIA_DIR. */
  files?: FileStorage;
}

/** Abandoned uploads are swept this often. */
const PURGE_INTERVAL_MS = 10 * 60 * 1000;

function buildSchema(instances: object[] = []) {
  // Product is reachable only as an entity (`_entities`), so it is listed explicitly.
  return buildFederatedSchema(
    { resolvers: [ImageResolver, ProductImagesResolver], orphanedTypes: [Product], instances },
    mediaReferenceResolvers,
  );
}

/** Staging directory for uploads: next to the files on disk (same filesystem: the original is renamed into place). */
function scratchDirFor(files: FileStorage): string {
  return files instanceof DiskFileStorage ? files.tempDir : path.join(os.tmpdir(), 'shop-media');
}

/**
 * Opens the stores and builds the media rules without any server or broker (seeding, scripts). Events are
 * written to the outbox and published by the running media service's relay. Without `products`, every product
 * id counts as existing (seeding attaches images to products it has just read from the product database).
 */
export async function openMedia(
  config: Config,
  logger: Logger,
  opts: Omit<MediaModuleOptions, 'ports'> & { products?: ProductPort; onCommit?: () => void } = {},
) {
  // First: production refuses a missing or public secret before anything is opened.
  const signer = new UploadSigner(loadSigningSecret(config, opts.signingSecret ?? config.mediaSigningSecret));
  const store = await openImageStore(config, { logger, onQuery: opts.onQuery });
  await store.migrate();
  const files = opts.files ?? new DiskFileStorage(config.mediaDir);
  const products = opts.products ?? { existing: async (ids: string[]) => new Set(ids) };
  const media = new MediaService(store, files, signer, products, logger, {
    scratchDir: scratchDirFor(files),
    publicUrl: config.publicUrl,
    onCommit: opts.onCommit,
  });
  return { store, files, signer, media };
}

/**
 * The media subgraph: image uploads (signed URLs), processing into variants, serving with immutable caching,
 * product galleries. Files on disk (FileStorage), metadata in PostgreSQL or MongoDB (ImageStore), events via outbox.
 */
export function createMediaSubgraph(options: MediaModuleOptions = {}): SubgraphModule<StartedMedia> {
  const migrate = migrator((config, logger) => openImageStore(config, { logger }));
  return defineSubgraph<StartedMedia>({ name: 'media', buildSchema, migrate }, async (run) => {
    const { config, logger } = run.deps;
    // Production refuses a missing or public secret before anything is opened.
    const signingSecret = loadSigningSecret(config, options.signingSecret ?? config.mediaSigningSecret).toString(
      'utf8',
    );
    const bus = await Bus.connect(config, logger, 'media');
    run.add((stop) => bus.close(stop));
    let relay: EventRelay | undefined;
    const { store, files, signer, media } = await openMedia(config, logger, {
      ...options,
      signingSecret,
      products: options.ports?.(bus) ?? natsProductPort(bus),
      onCommit: () => relay?.kick(),
    });
    run.add(() => store.close());
    const running = store.createRelay(bus, logger);
    relay = running;
    running.start();
    run.add(() => running.stop());
    // The backlog gauge counts up to 10,000 waiting events (beyond that, it is an outage either way).
    run.add(reportOutboxBacklog('media', async () => (await store.pendingEvents(10_000)).length));
    const sweeper = setInterval(() => {
      media.purgeAbandoned().catch((err) => logger.warn({ err: String(err) }, 'purging abandoned uploads failed'));
    }, PURGE_INTERVAL_MS);
    sweeper.unref();
    run.add(() => clearInterval(sweeper));

    const server = await run.serve<MediaContext>(
      await buildSchema([new ImageResolver(media), new ProductImagesResolver()]),
      {
        context: (base) => makeContext(base, media),
        routes: mediaRoutes(media, logger),
        readiness: [
          { name: store.kind, check: () => store.ping() },
          ...readinessOf({ bus }),
          { name: 'mediaDir', check: () => files.ping() },
        ],
      },
    );
    return { url: server.url, store, files, bus, relay: running, media, signer };
  });
}

const mediaSubgraph = createMediaSubgraph();
export default mediaSubgraph;
export { MediaService } from './service/media.service';
export type { ProductPort } from './ports';
export type { MediaEventPayloads, MediaEventType } from './events/payloads';
