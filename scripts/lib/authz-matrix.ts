import { MATRIX, MatrixRow, Outcome, ROLE_TITLES, ROLES } from '../../gateway/test/authz/matrix';

export const MATRIX_START = '<!-- authz-matrix:start -->';
export const MATRIX_END = '<!-- authz-matrix:end -->';

const CELL: Record<Outcome, string> = {
  allowed: 'allowed',
  null: '`null`',
  UNAUTHENTICATED: '`UNAUTHENTICATED`',
  FORBIDDEN: '`FORBIDDEN`',
};

function operation(row: MatrixRow): string {
  const [kind, ...path] = row.field.split('.');
  const name = `\`${path.join('.')}\``;
  return `${kind === 'Query' ? '' : `${kind.toLowerCase()} `}${name}${row.on ? ` (${row.on})` : ''}`;
}

/** The authorization matrix as a markdown table (docs/security.md shows exactly this). */
export function renderMatrix(): string {
  const head = `| Operation | ${ROLES.map((r) => ROLE_TITLES[r]).join(' | ')} | Note |`;
  const rule = `|${' --- |'.repeat(ROLES.length + 2)}`;
  const rows = MATRIX.map(
    (row) => `| ${operation(row)} | ${ROLES.map((r) => CELL[row.expect[r]]).join(' | ')} | ${row.note ?? ''} |`,
  );
  return [head, rule, ...rows].join('\n');
}

/** Document text with the block between the markers replaced by the rendered matrix; throws when the markers are missing. */
export function withMatrix(readme: string): string {
  const start = readme.indexOf(MATRIX_START);
  const end = readme.indexOf(MATRIX_END);
  if (start < 0 || end < start) throw new Error(`docs/security.md needs the markers ${MATRIX_START} … ${MATRIX_END}`);
  return `${readme.slice(0, start + MATRIX_START.length)}\n${renderMatrix()}\n${readme.slice(end)}`;
}
