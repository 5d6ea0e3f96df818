/**
 * docker-compose.yml's one-shot `secrets` service: `node dist/scripts/production-secrets.js <file>` writes the
 * deployment's secrets once (signing key pairs for access and internal tokens, MEDIA_SIGNING_SECRET) into `<file>`
 * (mode 0600), a shell file that every application container sources before it starts. An existing file is kept, so
 * the secrets survive restarts; a variable already set in the container's environment wins over the file.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPair } from '@shop/kernel';

/** `NAME='value'` unless NAME is already set; PEM line breaks as `\n` (lib/src/config.ts reads them back). */
function line(name: string, value: string): string {
  if (!/^[A-Za-z0-9+/=\-\s_.]+$/.test(value)) throw new Error(`unexpected characters in ${name}`);
  return `[ -n "\${${name}:-}" ] || ${name}='${value.replace(/\n/g, '\\n')}'`;
}

export function renderSecrets(): string {
  const access = generateKeyPair();
  const internal = generateKeyPair();
  return [
    '# Generated once by scripts/production-secrets.ts; sourced (set -a) by every application container.',
    line('JWT_PRIVATE_KEY', access.privateKey),
    line('JWT_PUBLIC_KEY', access.publicKey),
    line('INTERNAL_JWT_PRIVATE_KEY', internal.privateKey),
    line('INTERNAL_JWT_PUBLIC_KEY', internal.publicKey),
    line('MEDIA_SIGNING_SECRET', randomBytes(48).toString('base64url')),
    '',
  ].join('\n');
}

/** Writes the file unless it exists (the first of concurrent writers wins). Returns whether it wrote. */
export function ensureSecretsFile(file: string): boolean {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    fs.writeFileSync(file, renderSecrets(), { flag: 'wx', mode: 0o600 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node dist/scripts/production-secrets.js <file>');
    process.exit(2);
  }
  console.log(ensureSecretsFile(path.resolve(file)) ? `secrets written to ${file}` : `secrets kept: ${file} exists`);
}
