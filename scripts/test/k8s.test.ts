import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  CONFIG_VARIABLES,
  DEFAULT_PORTS,
  readVariable,
  SECRET_VARIABLES,
  SERVICE_NAMES,
  VariableName,
} from '@shop/kernel';
import { inClusterSupergraph } from '../lib/k8s';
import { subgraphs } from '../subgraphs';

/**
 * deploy/k8s (docs/deploying.md): each overlay is rendered with `kubectl kustomize` (Debian's kubernetes-client, kubectl
 * 1.20 with its old built-in kustomize, in CI; any kubectl works) and every object is validated against the Kubernetes
 * API schemas (kubernetes-models). Then the rules of the deployment: probes, resources, non-root, a Service and a
 * PodDisruptionBudget per process, no secret in a ConfigMap, every configuration variable set or knowingly left out.
 */
const ROOT = path.resolve(__dirname, '../..');
const K8S = path.join(ROOT, 'deploy/k8s');
const OVERLAYS = ['dev', 'production'] as const;
const KUBECTL = process.env.KUBECTL ?? 'kubectl';
const PROCESSES = ['gateway', ...SERVICE_NAMES] as const;

/**
 * Variables the production overlay leaves unset on purpose, each with the reason (docs/deploying.md repeats them).
 * A new variable in lib/src/config.ts must be set in the manifests or listed here: the coverage test fails otherwise.
 */
const NOT_SET_IN_PRODUCTION: Partial<Record<VariableName, string>> = {
  KEYS_DIR: 'development only: production never generates keys (they come from the Secret)',
  DEV_MAIL_PORT: 'development mailbox only: production sends through SMTP_HOST',
  START_TIMEOUT_SECONDS: '`npm start` only',
  SCHEMA_BASE_REF: '`npm run compose` only',
  CORS_ORIGINS: 'none in production: the storefront is served by the gateway itself (same origin, always allowed)',
  SAFELIST_FILE: "the image's schema/persisted-queries.json (the default)",
  STOREFRONT_DIR: "the image's built storefront (the default)",
  USER_SUBGRAPH_URL: 'the supergraph ConfigMap already routes to the Services',
  PRODUCT_SUBGRAPH_URL: 'the supergraph ConfigMap already routes to the Services',
  CART_SUBGRAPH_URL: 'the supergraph ConfigMap already routes to the Services',
  ORDER_SUBGRAPH_URL: 'the supergraph ConfigMap already routes to the Services',
  MEDIA_SUBGRAPH_URL: 'the supergraph ConfigMap already routes to the Services',
  NOTIFICATION_SUBGRAPH_URL: 'the supergraph ConfigMap already routes to the Services',
  OTEL_EXPORTER_OTLP_ENDPOINT: 'optional: tracing is off until an overlay names a collector (docs/observability.md)',
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'optional: the same as OTEL_EXPORTER_OTLP_ENDPOINT, a full traces URL',
  STRIPE_API_BASE: 'tests only (a local fake of the Stripe API): production refuses it',
};

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
}

function kubectlVersion(): string | undefined {
  const r = spawnSync(KUBECTL, ['version', '--client'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split('\n')[0] : undefined;
}
const version = kubectlVersion();
if (!version) {
  const reason = `${KUBECTL} not found: deploy/k8s is not rendered (.ci/run installs Debian's kubernetes-client)`;
  if (process.env.CI === 'true')
    test('kubectl is installed (CI=true)', () => {
      throw new Error(reason);
    });
  else console.log(`skipped: ${reason}`);
}
const maybe = version ? describe : describe.skip;

const rendered = new Map<string, K8sObject[]>();
function render(overlay: string): K8sObject[] {
  if (!rendered.has(overlay)) {
    const yaml = execFileSync(KUBECTL, ['kustomize', path.join(K8S, 'overlays', overlay)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    rendered.set(
      overlay,
      parseAllDocuments(yaml)
        .map((d) => d.toJSON() as K8sObject)
        .filter(Boolean),
    );
  }
  return rendered.get(overlay)!;
}
const ofKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const named = (objects: K8sObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
};
/** Generated ConfigMaps carry a content hash suffix: `shop-config-<hash>`. */
const configMap = (objects: K8sObject[], name: string) => {
  const found = ofKind(objects, 'ConfigMap').filter((c) => c.metadata.name.replace(/-[a-z0-9]{10}$/, '') === name);
  expect(found).toHaveLength(1);
  return found[0];
};
/** The pod templates of Deployments and Jobs. */
const workloads = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'Deployment' || o.kind === 'Job');
const ours = (o: K8sObject) => o.metadata.labels?.['app.kubernetes.io/part-of'] === 'shop';

/** The variables one container gets: literal/valueFrom env entries and the keys of the ConfigMaps it takes whole. */
function containerEnv(objects: K8sObject[], container: any): Map<string, { value?: string; from: string }> {
  const env = new Map<string, { value?: string; from: string }>();
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) {
      const cm = ofKind(objects, 'ConfigMap').find((c) => c.metadata.name === source.configMapRef.name);
      if (!cm) throw new Error(`envFrom names a ConfigMap that is not rendered: ${source.configMapRef.name}`);
      for (const [k, v] of Object.entries(cm.data ?? {})) env.set(k, { value: v, from: 'configMap' });
    } else throw new Error(`unexpected envFrom (secrets are referenced key by key): ${JSON.stringify(source)}`);
  }
  for (const e of container.env ?? [])
    env.set(
      e.name,
      e.valueFrom ? { from: e.valueFrom.secretKeyRef ? 'secret' : 'other' } : { value: e.value, from: 'env' },
    );
  return env;
}

maybe(`deploy/k8s rendered with ${version}`, () => {
  test.each(OVERLAYS)('overlay %s: every object is valid against the Kubernetes API schemas', (overlay) => {
    const objects = render(overlay);
    const problems = JSON.parse(
      execFileSync(process.execPath, [path.join(__dirname, 'k8s-validate.mjs')], {
        input: JSON.stringify(objects),
        encoding: 'utf8',
      }),
    ) as unknown[];
    expect(problems).toEqual([]);
    const kinds: Record<string, number> = {};
    for (const o of objects) kinds[o.kind] = (kinds[o.kind] ?? 0) + 1;
    console.log(`${overlay}: ${objects.length} objects valid: ${JSON.stringify(kinds)}`);
    for (const o of objects) expect({ o: `${o.kind}/${o.metadata.name}`, ours: ours(o) }).toMatchObject({ ours: true });
  });

  test('the validator itself rejects a malformed object (wrong type, bad quantity)', () => {
    const bad = [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { ports: [{ port: '80' }] } },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'y' },
        spec: {
          selector: {},
          template: { spec: { containers: [{ name: 'a', image: 'b', resources: { limits: { cpu: 'lots' } } }] } },
        },
      },
    ];
    const problems = JSON.parse(
      execFileSync(process.execPath, [path.join(__dirname, 'k8s-validate.mjs')], {
        input: JSON.stringify(bad),
        encoding: 'utf8',
      }),
    ) as { name: string; error: string }[];
    expect(problems.map((p) => p.name)).toEqual(['x', 'y']);
    expect(problems[0].error).toMatch(/port must be integer/);
  });

  test.each(OVERLAYS)(
    'overlay %s: every pod has probes, resources and a non-root, locked-down security context',
    (o) => {
      const objects = render(o);
      for (const w of workloads(objects)) {
        const pod = w.spec.template.spec;
        const where = `${w.kind}/${w.metadata.name}`;
        expect({ where, sc: pod.securityContext }).toMatchObject({
          where,
          sc: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        });
        expect({ where, token: pod.automountServiceAccountToken }).toEqual({ where, token: false });
        for (const c of pod.containers) {
          expect({ where, sc: c.securityContext }).toEqual({
            where,
            sc: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          });
          for (const kind of ['requests', 'limits'])
            expect({ where, kind, r: Object.keys(c.resources?.[kind] ?? {}).sort() }).toEqual({
              where,
              kind,
              r: ['cpu', 'memory'],
            });
          // A read-only root filesystem: /tmp is an emptyDir.
          expect({ where, tmp: c.volumeMounts?.some((m: any) => m.mountPath === '/tmp') }).toEqual({
            where,
            tmp: true,
          });
          if (w.kind !== 'Deployment') continue;
          for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'])
            expect({ where, probe, has: !!c[probe]?.httpGet }).toEqual({ where, probe, has: true });
        }
      }
    },
  );

  test.each(OVERLAYS)('overlay %s: the gateway and every subgraph have a Deployment, Service and PDB', (o) => {
    const objects = render(o);
    for (const name of PROCESSES) {
      const deployment = named(objects, 'Deployment', name);
      const pod = deployment.spec.template;
      const [container] = pod.spec.containers;
      const port = DEFAULT_PORTS[name];
      expect(container.command).toEqual([
        'node',
        name === 'gateway' ? 'dist/gateway/src/main.js' : `dist/subgraphs/${name}/src/main.js`,
      ]);
      expect(container.ports.find((p: any) => p.name === 'http').containerPort).toBe(port);
      // Readiness is /ready (dependencies reachable, 503 while shutting down); liveness and start-up /health.
      expect(container.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'http' });
      expect(container.livenessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
      expect(container.startupProbe.httpGet).toEqual({ path: '/health', port: 'http' });
      // Prometheus scrapes every pod: subgraphs on their own port, the gateway on its separate metrics port.
      expect(pod.metadata.annotations).toEqual({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(name === 'gateway' ? 9400 : port),
        'prometheus.io/path': '/metrics',
      });
      const service = named(objects, 'Service', name);
      expect(service.spec.ports[0]).toEqual({ name: 'http', port, targetPort: 'http' });
      const pdb = named(objects, 'PodDisruptionBudget', name);
      for (const selector of [
        service.spec.selector,
        pdb.spec.selector.matchLabels,
        deployment.spec.selector.matchLabels,
      ])
        expect(pod.metadata.labels).toMatchObject(selector);
      // On SIGTERM: /ready 503 at once, SHUTDOWN_DELAY_SECONDS of serving, then SHUTDOWN_GRACE_SECONDS of draining.
      expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(shutdownSeconds() + 5);
    }
  });

  test('HPAs scale the gateway and the product subgraph; their Deployments leave replicas to them', () => {
    for (const o of OVERLAYS) {
      const objects = render(o);
      expect(
        ofKind(objects, 'HorizontalPodAutoscaler')
          .map((h) => h.spec.scaleTargetRef.name)
          .sort(),
      ).toEqual(['gateway', 'product']);
      for (const hpa of ofKind(objects, 'HorizontalPodAutoscaler')) {
        expect(hpa.apiVersion).toBe('autoscaling/v2');
        expect(named(objects, 'Deployment', hpa.spec.scaleTargetRef.name).spec.replicas).toBeUndefined();
      }
    }
    const production = render('production');
    for (const hpa of ofKind(production, 'HorizontalPodAutoscaler')) expect(hpa.spec.minReplicas).toBeGreaterThan(1);
    for (const d of ofKind(production, 'Deployment'))
      if (d.spec.replicas !== undefined)
        expect({ d: d.metadata.name, n: d.spec.replicas }).toEqual({ d: d.metadata.name, n: 2 });
  });

  test('one migration Job per database, creating it; the services do not (production)', () => {
    const withDatabase = subgraphs.filter((m) => m.migrate).map((m) => m.name);
    for (const o of OVERLAYS) {
      const jobs = ofKind(render(o), 'Job');
      expect(jobs.map((j) => j.metadata.name).sort()).toEqual(withDatabase.map((n) => `migrate-${n}`).sort());
      for (const job of jobs) {
        const [c] = job.spec.template.spec.containers;
        expect(c.command).toEqual(['node', 'dist/scripts/migrate.js', '--service', job.metadata.name.slice(8)]);
        expect(c.env.find((e: any) => e.name === 'POSTGRES_URL').valueFrom.secretKeyRef.key).toBe(
          'POSTGRES_MIGRATE_URL',
        );
      }
    }
    const production = render('production');
    for (const d of ofKind(production, 'Deployment')) {
      const env = containerEnv(production, d.spec.template.spec.containers[0]);
      expect({ d: d.metadata.name, create: env.get('POSTGRES_CREATE_DATABASE')?.value }).toEqual({
        d: d.metadata.name,
        create: 'false',
      });
    }
  });

  test('the production overlay runs every process and Job with NODE_ENV=production', () => {
    const objects = render('production');
    for (const w of workloads(objects)) {
      const env = containerEnv(objects, w.spec.template.spec.containers[0]);
      expect({ w: w.metadata.name, env: env.get('NODE_ENV') }).toEqual({
        w: w.metadata.name,
        env: { value: 'production', from: 'configMap' },
      });
    }
    expect(configMap(render('dev'), 'shop-config').data!.NODE_ENV).toBe('development');
  });

  test.each(OVERLAYS)('overlay %s: no secret in a ConfigMap; secrets come from the Secret, key by key', (o) => {
    const objects = render(o);
    expect(SECRET_VARIABLES).toEqual(
      expect.arrayContaining(['POSTGRES_URL', 'JWT_PRIVATE_KEY', 'MEDIA_SIGNING_SECRET']),
    );
    for (const cm of ofKind(objects, 'ConfigMap'))
      expect({ cm: cm.metadata.name, secrets: Object.keys(cm.data ?? {}).filter((k) => isSecret(k)) }).toEqual({
        cm: cm.metadata.name,
        secrets: [],
      });
    // Not in the rendered output at all: `kubectl apply` must never overwrite the real Secret with a template.
    expect(ofKind(objects, 'Secret')).toEqual([]);
    const template = fs.readFileSync(path.join(K8S, 'secrets.env.example'), 'utf8');
    const templateKeys = new Set([...template.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]));
    for (const w of workloads(objects))
      for (const c of w.spec.template.spec.containers)
        for (const e of c.env ?? []) {
          if (isSecret(e.name))
            expect({ w: w.metadata.name, e: e.name, ref: !!e.valueFrom?.secretKeyRef }).toMatchObject({ ref: true });
          // Every key a pod reads from the Secret is in its template.
          const ref = e.valueFrom?.secretKeyRef;
          if (ref)
            expect({ key: ref.key, inTemplate: templateKeys.has(ref.key), secret: ref.name }).toEqual({
              key: ref.key,
              inTemplate: true,
              secret: 'shop-secrets',
            });
        }
    // Private keys only where they sign: the user subgraph (access tokens), the gateway (internal tokens).
    const reads = (name: string, key: string) =>
      containerEnv(objects, named(objects, 'Deployment', name).spec.template.spec.containers[0]).has(key);
    expect(PROCESSES.filter((p) => reads(p, 'JWT_PRIVATE_KEY'))).toEqual(['user']);
    expect(PROCESSES.filter((p) => reads(p, 'INTERNAL_JWT_PRIVATE_KEY'))).toEqual(['gateway']);
    expect(PROCESSES.filter((p) => reads(p, 'MEDIA_SIGNING_SECRET'))).toEqual(['media']);
    expect(PROCESSES.filter((p) => reads(p, 'STRIPE_SECRET_KEY'))).toEqual(['order']);
    expect(PROCESSES.filter((p) => reads(p, 'STRIPE_WEBHOOK_SECRET'))).toEqual(['order']);
  });

  test('every configuration variable is set in the production overlay or listed as not needed there', () => {
    const objects = render('production');
    const set = new Set<string>();
    for (const w of workloads(objects).filter(ours))
      for (const c of w.spec.template.spec.containers) for (const k of containerEnv(objects, c).keys()) set.add(k);
    const declared = Object.keys(CONFIG_VARIABLES);
    const missing = declared.filter((n) => !set.has(n) && !(n in NOT_SET_IN_PRODUCTION));
    expect({ missingFromProductionOverlay: missing }).toEqual({ missingFromProductionOverlay: [] });
    // The list stays true: only declared variables, none of them set after all.
    for (const n of Object.keys(NOT_SET_IN_PRODUCTION)) {
      expect({ n, declared: declared.includes(n) }).toEqual({ n, declared: true });
      expect({ n, set: set.has(n) }).toEqual({ n, set: false });
    }
    // Every ConfigMap entry is a declared variable (no typo) with a value its schema accepts. OTEL_* are the
    // OpenTelemetry SDK's own standard variables.
    const config = configMap(objects, 'shop-config').data!;
    for (const [name, value] of Object.entries(config)) {
      if (name.startsWith('OTEL_') && !(name in CONFIG_VARIABLES)) continue;
      expect({ name, declared: name in CONFIG_VARIABLES }).toEqual({ name, declared: true });
      expect(() => readVariable(name as VariableName, { [name]: value })).not.toThrow();
    }
  });

  test('the gateway reads the supergraph of `npm run compose` with in-cluster routing URLs from a ConfigMap', () => {
    const sdl = fs.readFileSync(path.join(ROOT, 'schema/supergraph.graphql'), 'utf8');
    const expected = inClusterSupergraph(sdl);
    expect(expected).not.toBe(sdl);
    for (const o of OVERLAYS) {
      const objects = render(o);
      const cm = configMap(objects, 'supergraph');
      expect(cm.data!['supergraph.graphql']).toBe(expected);
      const pod = named(objects, 'Deployment', 'gateway').spec.template.spec;
      const volume = pod.volumes.find((v: any) => v.configMap?.name === cm.metadata.name);
      const mount = pod.containers[0].volumeMounts.find((m: any) => m.name === volume.name);
      const file = containerEnv(objects, pod.containers[0]).get('SUPERGRAPH_FILE')!.value!;
      expect(file).toBe(path.posix.join(mount.mountPath, 'supergraph.graphql'));
      // Each routing URL names a Service of the overlay on its port.
      for (const [, name, url] of expected.matchAll(/@join__graph\(name: "([a-z]+)", url: "([^"]*)"\)/g)) {
        const u = new URL(url);
        expect(u.hostname).toBe(name);
        expect(named(objects, 'Service', name).spec.ports[0].port).toBe(Number(u.port));
      }
    }
  });

  test.each(OVERLAYS)('overlay %s: labels carry deploy.sh through its steps (config, migrations, the rest)', (o) => {
    const objects = render(o);
    const component = (x: K8sObject) => x.metadata.labels?.['app.kubernetes.io/component'];
    for (const x of objects)
      expect({ x: `${x.kind}/${x.metadata.name}`, has: !!component(x) }).toMatchObject({ has: true });
    for (const x of ofKind(objects, 'ConfigMap')) expect(component(x)).toBe('config');
    for (const x of ofKind(objects, 'Namespace')) expect(component(x)).toBe('namespace');
    for (const x of ofKind(objects, 'Job')) expect(component(x)).toBe('migration');
    // What the Jobs need exists after step 1: their ConfigMap (the Secret is created beforehand).
    for (const job of ofKind(objects, 'Job'))
      for (const c of job.spec.template.spec.containers) expect(() => containerEnv(objects, c)).not.toThrow();
    expect(fs.readFileSync(path.join(K8S, 'deploy.sh'), 'utf8')).toMatch(
      /component in \(namespace,config\)[\s\S]*component=migration[\s\S]*--for=condition=complete/,
    );
  });

  test('the media subgraph keeps its files on a shared volume at MEDIA_DIR', () => {
    for (const o of OVERLAYS) {
      const objects = render(o);
      const pod = named(objects, 'Deployment', 'media').spec.template.spec;
      const volume = pod.volumes.find((v: any) => v.persistentVolumeClaim);
      expect(named(objects, 'PersistentVolumeClaim', volume.persistentVolumeClaim.claimName)).toBeDefined();
      const mount = pod.containers[0].volumeMounts.find((m: any) => m.name === volume.name);
      expect(containerEnv(objects, pod.containers[0]).get('MEDIA_DIR')?.value).toBe(mount.mountPath);
    }
    const claim = named(render('production'), 'PersistentVolumeClaim', 'media-files');
    expect(claim.spec.accessModes).toEqual(['ReadWriteMany']);
  });
});

test('inClusterSupergraph routes each subgraph to its Service', () => {
  const sdl = '  USER @join__graph(name: "user", url: "http://localhost:4001/graphql")\n';
  expect(inClusterSupergraph(sdl)).toBe('  USER @join__graph(name: "user", url: "http://user:4001/graphql")\n');
});

function isSecret(name: string): boolean {
  return (SECRET_VARIABLES as string[]).includes(name);
}

/** SHUTDOWN_DELAY_SECONDS (production default) + SHUTDOWN_GRACE_SECONDS when declared; else the 25 s drain assumed. */
function shutdownSeconds(): number {
  const vars = CONFIG_VARIABLES as Record<string, { schema: { safeParse(v: unknown): { data?: unknown } } }>;
  const read = (name: string, fallback: number) => Number(vars[name]?.schema.safeParse(undefined).data ?? fallback);
  return read('SHUTDOWN_DELAY_SECONDS', 5) + read('SHUTDOWN_GRACE_SECONDS', 25);
}
