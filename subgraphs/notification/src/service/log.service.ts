import { badInput, Connection, Logger, redactLogFields, redactSecrets, timeCursor, toConnection } from '@shop/kernel';
import { LEVEL_NUMBERS, levelOf, LogFilter, LogLevel, LogRecord, LogStore } from '../store';
import { parseKeyset } from './pagination';

/** A stored line as the `logs` query shows it: the level by name. */
export type LogEntryView = Omit<LogRecord, 'level'> & { level: LogLevel };

/** Fields of a pino line that become columns (or mean nothing once stored: pid, hostname, the logger's name). */
const COLUMNS = new Set(['time', 'level', 'msg', 'service', 'requestId', 'traceId', 'pid', 'hostname', 'name']);
const text = (v: unknown, max: number): string | null => (typeof v === 'string' && v ? v.slice(0, max) : null);

/**
 * One shipped line (pino JSON) as stored: the well-known fields in columns, everything else in `fields` with the
 * audit log's redaction applied on top of pino's (any depth). Null for a line that is not a JSON object.
 */
export function parseLine(id: string, line: string, fallbackService: string, now: Date): LogRecord | null {
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return null;
  const time = new Date(obj.time as string | number);
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!COLUMNS.has(k)) rest[k] = v;
  const fields = redactSecrets(redactLogFields(rest)) as Record<string, unknown>;
  return {
    id,
    time: Number.isNaN(time.getTime()) ? now : time,
    service: text(obj.service, 64) ?? fallbackService,
    level: typeof obj.level === 'number' ? obj.level : LEVEL_NUMBERS.INFO,
    message: typeof obj.msg === 'string' ? obj.msg : '',
    requestId: text(obj.requestId, 100),
    traceId: text(obj.traceId, 64),
    fields: Object.keys(fields).length ? fields : null,
  };
}

export interface LogServiceOptions {
  retentionDays: number;
  /** How often expired lines are deleted. */
  purgeEveryMs: number;
}

const MAX_SEARCH = 200;
const MAX_NAME = 100;

/** The `logs` query's arguments after GraphQL (levels as names, times as dates). */
export interface LogListArgs {
  first: number;
  after?: string | null;
  filter?: {
    service?: string | null;
    minLevel?: LogLevel | null;
    requestId?: string | null;
    traceId?: string | null;
    since?: Date | null;
    until?: Date | null;
    search?: string | null;
  } | null;
}

/** The central log store: batches shipped by every process go in; admins page through them; old lines go. */
export class LogService {
  private timer?: NodeJS.Timeout;
  private purging?: Promise<unknown>;

  constructor(
    private readonly store: LogStore,
    private readonly logger: Logger | undefined,
    private readonly options: LogServiceOptions,
  ) {}

  /** Stores one shipped batch (NDJSON); line ids are `<batch id>:<n>`, so a redelivered batch adds nothing. */
  async ingest(batchId: string, ndjson: string, service: string): Promise<number> {
    const now = new Date();
    const lines: LogRecord[] = [];
    let n = 0;
    for (const line of ndjson.split('\n')) {
      if (!line) continue;
      const record = parseLine(`${batchId}:${n++}`, line, service, now);
      if (record) lines.push(record);
    }
    return this.store.insertMany(lines);
  }

  async list(args: LogListArgs): Promise<Connection<LogEntryView>> {
    const filter = this.validate(args.filter ?? {});
    const rows = await this.store.list({ ...filter, limit: args.first + 1, after: parseKeyset(args.after) });
    return toConnection(rows, args.first, {
      cursor: (r) => timeCursor(r.time, r.id),
      count: () => this.store.count(filter),
      node: (r) => ({ ...r, level: levelOf(r.level) }),
    });
  }

  private validate(f: NonNullable<LogListArgs['filter']>): LogFilter {
    const name = (field: string, v: string | null | undefined, max = MAX_NAME) => {
      if (v === undefined || v === null) return undefined;
      if (v.length > max) throw badInput(`filter.${field}`, `${field} must be at most ${max} characters`);
      return v;
    };
    if (f.since && f.until && f.since >= f.until) throw badInput('filter.until', 'until must be later than since');
    const search = name('search', f.search, MAX_SEARCH);
    if (search === '') throw badInput('filter.search', 'search must not be empty');
    return {
      service: name('service', f.service),
      minLevel: f.minLevel ? LEVEL_NUMBERS[f.minLevel] : undefined,
      requestId: name('requestId', f.requestId),
      traceId: name('traceId', f.traceId),
      since: f.since ?? undefined,
      until: f.until ?? undefined,
      search,
    };
  }

  /** Deletes lines older than the retention period (relative to `now`). */
  async purgeExpired(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.options.retentionDays * 24 * 3600_000);
    return this.store.deleteOlderThan(cutoff);
  }

  /** Purges now and then every `purgeEveryMs` (every instance may: the stores' deletes are safe side by side). */
  startRetention(): void {
    if (this.timer) return;
    const run = () => {
      if (this.purging) return;
      this.purging = this.purgeExpired()
        .then((n) => n && this.logger?.info({ deleted: n }, 'expired log lines deleted'))
        .catch((err) => this.logger?.warn({ err: String(err) }, 'log retention pass failed; will retry'))
        .finally(() => (this.purging = undefined));
    };
    run();
    this.timer = setInterval(run, this.options.purgeEveryMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.purging;
  }
}
