import type { Express } from 'express';

/**
 * Development stand-ins for the storefront pages that email links open (`/verify-email`, `/reset-password`), so the
 * whole sign-up flow can be done by hand from /dev/mail. In production PUBLIC_URL points at the real storefront.
 */
const page = (
  title: string,
  body: string,
  script: string,
) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;margin:3rem auto;max-width:32rem}input,button{font:inherit;padding:.4rem;margin:.3rem 0;width:100%}#out{margin-top:1rem;white-space:pre-wrap}</style>
</head><body><h1>${title}</h1>${body}<div id="out"></div><script>
const token = new URLSearchParams(location.search).get('token') || '';
async function gql(query, variables) {
  const r = await fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return r.json();
}
function show(res, ok) {
  document.getElementById('out').textContent = res.errors ? res.errors.map(e => (e.extensions && e.extensions.code) + ': ' + e.message).join('\\n') : ok;
}
${script}
</script><p><a href="/dev/mail">Development mailbox</a> · <a href="/graphql">Sandbox</a></p></body></html>`;

export function mountDevPages(app: Express): void {
  app.get('/verify-email', (_req, res) => {
    res
      .type('html')
      .send(
        page(
          'Verify your email',
          '<p>Confirming your address…</p>',
          `gql('mutation($t: String!) { verifyEmail(token: $t) }', { t: token }).then(r => show(r, 'Your email is verified. You can sign in now.'));`,
        ),
      );
  });
  app.get('/reset-password', (_req, res) => {
    res.type('html').send(
      page(
        'Choose a new password',
        '<form id="f"><input id="p" type="password" placeholder="New password (at least 10 characters)" autocomplete="new-password" required><button>Set password</button></form>',
        `document.getElementById('f').onsubmit = (e) => { e.preventDefault();
  gql('mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }', { t: token, p: document.getElementById('p').value })
    .then(r => show(r, 'Your password was changed. Every session was signed out; sign in with the new password.')); };`,
      ),
    );
  });
}
