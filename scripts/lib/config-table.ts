import { CONFIG_VARIABLES, Variable, VariableDoc } from '@shop/kernel';

export const TABLE_START = '<!-- config-table:start -->';
export const TABLE_END = '<!-- config-table:end -->';

/** The default as the table shows it: the declaration's own text, else what the schema gives an unset variable. */
function shownDefault(v: Variable): string {
  if (v.doc.default) return v.doc.default;
  const value = v.schema.parse(undefined);
  if (value === undefined) return '*(unset)*';
  if (value === '') return '*(empty)*';
  return `\`${String(value)}\``;
}

/** Every declared variable (lib/src/config.ts) as a markdown table, one row per variable or shared row (pairs, families). */
export function renderConfigTable(): string {
  const rows = new Map<VariableDoc, { names: string[]; first: Variable }>();
  for (const [name, v] of Object.entries(CONFIG_VARIABLES) as [string, Variable][]) {
    const row = rows.get(v.doc);
    if (row) row.names.push(name);
    else rows.set(v.doc, { names: [name], first: v });
  }
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [...rows].map(([d, { names, first }]) => {
    const name = d.name ?? names.map((n) => `\`${n}\``).join(' / ');
    return `| ${cell(name)} | ${cell(shownDefault(first))} | ${cell(d.description)} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...lines].join('\n');
}

/** Text with the block between the markers replaced by the rendered table; throws when the markers are missing. */
export function withConfigTable(text: string): string {
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  if (start < 0 || end < start)
    throw new Error(`docs/configuration.md needs the markers ${TABLE_START} … ${TABLE_END}`);
  return `${text.slice(0, start + TABLE_START.length)}\n${renderConfigTable()}\n${text.slice(end)}`;
}
