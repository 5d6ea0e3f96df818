import fs from 'node:fs';
import path from 'node:path';
import { CONFIG_VARIABLES } from '@shop/kernel';
import { renderConfigTable, TABLE_END, TABLE_START, withConfigTable } from '../lib/config-table';

const FILE = path.join(__dirname, '../../docs/configuration.md');

/** docs/configuration.md shows exactly what the declaration renders (`npm run docs:config` rewrites it). */
test('docs/configuration.md shows the current configuration table', () => {
  const text = fs.readFileSync(FILE, 'utf8');
  expect(text).toContain(TABLE_START);
  const shown = text.slice(text.indexOf(TABLE_START) + TABLE_START.length, text.indexOf(TABLE_END)).trim();
  if (shown !== renderConfigTable())
    throw new Error('docs/configuration.md configuration table is stale: run `npm run docs:config`');
  expect(withConfigTable(text)).toBe(text);
});

test('every declared variable has a row, with a description', () => {
  const table = renderConfigTable();
  for (const [name, v] of Object.entries(CONFIG_VARIABLES)) {
    // Families share one row under a pattern name (`USER_PORT` … `NOTIFICATION_PORT`, `<NAME>_SUBGRAPH_URL`).
    expect(table.includes(`\`${name}\``) || (v.doc.name !== undefined && table.includes(v.doc.name))).toBe(true);
    expect(v.doc.description.trim()).not.toBe('');
  }
});

test('a changed default or description is detected', () => {
  const text = fs.readFileSync(FILE, 'utf8');
  const tampered = text.replace('| `GATEWAY_PORT` | `4000` |', '| `GATEWAY_PORT` | `8080` |');
  expect(tampered).not.toBe(text);
  expect(withConfigTable(tampered)).toBe(text);
});
