/**
 * A SQL fragment with `?` placeholders and their values, composed with the `sql` tag: interpolated values become
 * parameters (MikroORM quotes them as literals), interpolated fragments are spliced in with their own parameters.
 * User input therefore never becomes SQL text. Arrays expand to a comma list: use them as `ARRAY[${ids}]::uuid[]`.
 */
export class Sql {
  constructor(
    readonly text: string,
    readonly params: unknown[],
  ) {}
}

export function sql(strings: TemplateStringsArray, ...values: unknown[]): Sql {
  let text = strings[0];
  const params: unknown[] = [];
  values.forEach((v, i) => {
    if (v instanceof Sql) {
      text += v.text;
      params.push(...v.params);
    } else {
      text += '?';
      params.push(v);
    }
    text += strings[i + 1];
  });
  return new Sql(text, params);
}

/** Trusted SQL text (never user input). */
export const raw = (text: string): Sql => new Sql(text, []);

/** Joins fragments with a separator, e.g. conditions with ' AND '. */
export function join(parts: Sql[], separator: string): Sql {
  return new Sql(
    parts.map((p) => p.text).join(separator),
    parts.flatMap((p) => p.params),
  );
}
