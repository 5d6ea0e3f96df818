/** Formatting of the child processes' output for `npm start`: a padded, colored `[name]` before every line. */

const COLORS = [36, 35, 33, 32, 34, 91, 96, 95, 93];
const LEVELS: Record<number, { name: string; color: number }> = {
  10: { name: 'TRACE', color: 90 },
  20: { name: 'DEBUG', color: 90 },
  30: { name: 'INFO', color: 32 },
  40: { name: 'WARN', color: 33 },
  50: { name: 'ERROR', color: 31 },
  60: { name: 'FATAL', color: 41 },
};
/** Fields every pino line has and the pretty form shows elsewhere (or not at all). */
const HIDDEN = new Set(['level', 'time', 'msg', 'service', 'name', 'pid', 'hostname', 'err', 'v']);

export interface Painter {
  (code: number, s: string): string;
}

export function painter(enabled: boolean): Painter {
  return (code, s) => (enabled ? `\x1b[${code}m${s}\x1b[0m` : s);
}

export function useColor(stream: NodeJS.WriteStream): boolean {
  if (process.env.NO_COLOR) return false;
  if (process.env.FORCE_COLOR) return process.env.FORCE_COLOR !== '0';
  return Boolean(stream.isTTY);
}

/** `[name]` padded to the longest name, in a color chosen by the name's position. */
export function makePrefix(name: string, index: number, width: number, paint: Painter): string {
  return paint(COLORS[index % COLORS.length], `[${name}]`.padEnd(width + 2));
}

/**
 * A pino JSON line as `HH:MM:SS LEVEL msg {other fields}` (+ the error's stack on following lines);
 * anything that is not a pino line is returned unchanged.
 */
export function prettyLine(line: string, paint: Painter): string[] {
  if (!line.startsWith('{')) return [line];
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return [line];
  }
  if (typeof rec.level !== 'number' || !('msg' in rec || 'err' in rec)) return [line];
  const level = LEVELS[rec.level] ?? { name: String(rec.level), color: 0 };
  const time =
    typeof rec.time === 'string'
      ? rec.time.slice(11, 19)
      : typeof rec.time === 'number'
        ? new Date(rec.time).toISOString().slice(11, 19)
        : '';
  const extra = Object.fromEntries(Object.entries(rec).filter(([k]) => !HIDDEN.has(k)));
  const err = rec.err as { message?: string; stack?: string; type?: string } | undefined;
  const [first, ...rest] = String(rec.msg ?? err?.message ?? '').split('\n');
  let head = `${paint(90, time)} ${paint(level.color, level.name.padEnd(5))} ${first}`;
  if (Object.keys(extra).length) head += ` ${paint(90, JSON.stringify(extra))}`;
  const out = [head, ...rest.map((l) => `    ${l.trim()}`)];
  if (err)
    out.push(
      ...String(err.stack ?? `${err.type ?? 'Error'}: ${err.message ?? ''}`)
        .split('\n')
        .map((l) => `    ${l}`),
    );
  return out;
}

/** Splits a byte stream into lines (keeping a partial last line until it completes) and hands them on. */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer | string): void; end(): void } {
  let buf = '';
  return {
    push(chunk) {
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i).replace(/\r$/, ''));
        buf = buf.slice(i + 1);
      }
    },
    end() {
      if (buf) onLine(buf);
      buf = '';
    },
  };
}
