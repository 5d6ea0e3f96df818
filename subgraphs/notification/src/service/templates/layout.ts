/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/**
 * A name fit to print in an email: letters (any script), single spaces, hyphens, apostrophes, at most 50 characters —
 * the user subgraph's own rule. Anything else (a URL, digits, markup, a sentence) is not printed at all, so a sign-up
 * can never make the shop's email say something the shop did not write, and no client can turn it into a link.
 */
export function plainName(value: string | null | undefined): string | null {
  const name = value?.trim();
  if (!name || [...name].length > 50) return null;
  return /^[\p{L}\p{M}]+(?:(?: |-|'|\u2019)[\p{L}\p{M}]+)*$/u.test(name) ? name : null;
}

export function greeting(firstName: string | null | undefined): string {
  const name = plainName(firstName);
  return name ? `Hi ${name},` : 'Hello,';
}

/** "24 hours", "1 hour", "30 minutes". */
export function duration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  const hours = Math.round(minutes / 60);
  return `${hours} hour${hours === 1 ? '' : 's'}`;
}

export interface Block {
  /** Plain-text paragraph; escaped for HTML. */
  p?: string;
  /** A call-to-action link. */
  link?: { label: string; url: string };
}

/** One minimal, inline-styled HTML document (email clients ignore <style> blocks inconsistently). */
export function renderHtml(title: string, blocks: Block[]): string {
  const body = blocks
    .map((b) =>
      b.link
        ? `<p style="margin:24px 0"><a href="${escapeHtml(b.link.url)}" style="background:#1a56db;color:#ffffff;padding:12px 20px;border-radius:6px;text-decoration:none;display:inline-block">${escapeHtml(b.link.label)}</a></p>
<p style="font-size:13px;color:#555555">If the button does not work, copy this address into your browser:<br><span style="word-break:break-all">${escapeHtml(b.link.url)}</span></p>`
        : `<p style="margin:12px 0">${escapeHtml(b.p ?? '')}</p>`,
    )
    .join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5;color:#111111;max-width:560px;margin:0 auto;padding:24px">
${body}
</body></html>`;
}

export function renderText(blocks: Block[]): string {
  return `${blocks.map((b) => (b.link ? `${b.link.label}:\n${b.link.url}` : b.p)).join('\n\n')}\n`;
}
