import os from 'node:os';
import path from 'node:path';
import { Bus, buildFederatedSchema, Config, Logger, ServiceDeps, StartedService, startSubgraphServer, SubgraphModule } from '@shop/kernel';
import { mediaRoutes } from './http/routes';
import { Product } from './schema/types';
import { ImageResolver, MediaContext, mediaLoaders, mediaReferenceResolvers, ProductImagesResolver } from './resolvers/media.resolver';
import { busProductDirectory, MediaService, ProductDirectory } from './service/media.service';
import { loadSigningSecret, UploadSigner } from './service/signing';
import { DiskFileStorage, EventRelay, FileStorage, ImageStore, openImageStore } from './store';

export interface MediaDeps extends ServiceDeps {
  /** Called with every SQL statement of the PostgreSQL store (tests count round trips with it). */
  onQuery?: (sql: string) => void;
  /** HMAC key of upload URLs; defaults to MEDIA_SIGNING_SECRET, then (outside production) `<KEYS_DIR>/media-secret`. */
  signingSecret?: string;
  /** Where the bytes go; defaults to files under MEDIA_DIR. */
  files?: FileStorage;
  /** Which products exist; defaults to the product subgraph's `product.exists` command over NATS. */
  products?: ProductDirectory;
}

export interface MediaSubgraphService extends StartedService {
  store: ImageStore;
  files: FileStorage;
  bus: Bus;
  relay: EventRelay;
  media: MediaService;
  signer: UploadSigner;
}

/** Abandoned uploads are swept this often. */
const PURGE_INTERVAL_MS = 10 * 60 * 1000;

function buildSchema(instances: object[] = []) {
  // Product is reachable only as an entity (`_entities`), so it is listed explicitly.
  return buildFederatedSchema({ resolvers: [ImageResolver, ProductImagesResolver], orphanedTypes: [Product], instances }, mediaReferenceResolvers);
}

/** Staging directory for uploads: next to the files on disk (same filesystem: the original is renamed into place). */
function scratchDirFor(files: FileStorage): string {
  return files instanceof DiskFileStorage ? files.tempDir : path.join(os.tmpdir(), 'shop-media');
}

/**
 * Opens the stores and builds the media rules without any server or broker (seeding, scripts). Events are
 * written to the outbox and published by the running media service's relay.
 */
export async function openMedia(config: Config, logger: Logger, opts: Omit<MediaDeps, 'config' | 'keys' | 'logger' | 'port'> & { onCommit?: () => void } = {}) {
  // First: production refuses a missing or public secret before anything is opened.
  const signer = new UploadSigner(loadSigningSecret(config, opts.signingSecret ?? config.mediaSigningSecret));
  const store = await openImageStore(config, { logger, onQuery: opts.onQuery });
  await store.migrate();
  const files = opts.files ?? new DiskFileStorage(config.mediaDir);
  const media = new MediaService({
    store, files, signer, logger,
    scratchDir: scratchDirFor(files),
    publicUrl: config.publicUrl,
    products: opts.products ?? { existing: async (ids) => new Set(ids) },
    onCommit: opts.onCommit,
  });
  return { store, files, signer, media };
}

/**
 * The media subgraph: image uploads (signed URLs), processing into variants, serving with immutable caching,
 * product galleries. Files on disk (FileStorage), metadata in PostgreSQL or MongoDB (ImageStore), events via outbox.
 */
const mediaSubgraph: SubgraphModule<MediaSubgraphService> = {
  name: 'media',
  buildSchema: () => buildSchema(),

  async migrate(config, logger) {
    const store = await openImageStore(config, { logger });
    try {
      return await store.migrate();
    } finally {
      await store.close();
    }
  },

  async start(deps: MediaDeps): Promise<MediaSubgraphService> {
    const { config, keys, logger, port } = deps;
    // Production refuses a missing or public secret before anything is opened.
    const signingSecret = loadSigningSecret(config, deps.signingSecret ?? config.mediaSigningSecret).toString('utf8');
    const bus = await Bus.connect(config, logger, 'media');
    let relay: EventRelay | undefined;
    const { store, files, signer, media } = await openMedia(config, logger, {
      ...deps,
      signingSecret,
      products: deps.products ?? busProductDirectory(bus),
      onCommit: () => relay?.kick(),
    });
    relay = store.createRelay(bus, logger);
    relay.start();
    const sweeper = setInterval(() => {
      media.purgeAbandoned().catch((err) => logger.warn({ err: String(err) }, 'purging abandoned uploads failed'));
    }, PURGE_INTERVAL_MS);
    sweeper.unref();

    const schema = await buildSchema([new ImageResolver(media), new ProductImagesResolver()]);
    const server = await startSubgraphServer<MediaContext>({
      name: 'media',
      config,
      keys,
      schema,
      logger,
      port: port ?? config.ports.media,
      context: (base) => ({ ...base, loaders: mediaLoaders(media) }),
      routes: mediaRoutes(media, logger),
      readiness: [
        { name: store.kind, check: () => store.ping() },
        { name: 'nats', check: () => bus.nc.flush() },
        { name: 'mediaDir', check: () => files.ping() },
      ],
    });
    const running = relay;
    return {
      name: 'media',
      url: server.url,
      store,
      files,
      bus,
      relay: running,
      media,
      signer,
      async stop() {
        clearInterval(sweeper);
        await server.stop();
        await running.stop();
        await bus.close();
        await store.close();
      },
    };
  },
};

export default mediaSubgraph;
export { MediaService } from './service/media.service';
export type { ProductDirectory } from './service/media.service';
export type { MediaEventPayloads, MediaEventType } from './events';
