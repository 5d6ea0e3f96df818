import { decodeCursor, encodeCursor, makeEvent } from '@shop/kernel';
import { subjectOf } from '../src/service/audit.service';
import { normalizeAddress, paymentEmailData } from '../src/service/email.service';
import { parseKeyset } from '../src/service/pagination';
import { retryDelayMs } from '../src/service/sender';
import {
  escapeHtml,
  passwordChanged,
  passwordReset,
  paymentFailed,
  refundIssued,
  verifyEmail,
} from '../src/service/templates';

describe('templates', () => {
  it('escapes HTML', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('puts the encoded token in the verification link, in both parts', () => {
    const mail = verifyEmail({
      publicUrl: 'https://shop.example',
      firstName: 'Ann',
      token: 'a+b/c&d',
      validForMs: 24 * 3600_000,
    });
    const link = 'https://shop.example/verify-email?token=a%2Bb%2Fc%26d';
    expect(mail.template).toBe('verify-email');
    expect(mail.subject).toBe('Verify your email address');
    expect(mail.text).toContain(link);
    expect(mail.html).toContain(`href="${link}"`);
    expect(mail.text).toMatch(/^Hi Ann,/);
    expect(mail.text).toContain('valid for 24 hours');
  });

  it('greets without a name and states the reset link lifetime', () => {
    const mail = passwordReset({ publicUrl: 'http://x', firstName: '  ', token: 't', validForMs: 3600_000 });
    expect(mail.text).toMatch(/^Hello,/);
    expect(mail.text).toContain('http://x/reset-password?token=t');
    expect(mail.text).toContain('valid for 1 hour');
    expect(
      passwordReset({ publicUrl: 'http://x', firstName: null, token: 't', validForMs: 30 * 60_000 }).text,
    ).toContain('valid for 30 minutes');
  });

  it('escapes the name in HTML but not in text', () => {
    const mail = passwordChanged({ firstName: "Ann O'Brien", via: 'change', at: new Date('2026-01-02T03:04:05Z') });
    expect(mail.html).toContain('Hi Ann O&#39;Brien,');
    expect(mail.text).toContain("Hi Ann O'Brien,");
    expect(mail.text).toContain('Fri, 02 Jan 2026 03:04:05 GMT');
  });

  it('prints no name that is not a plain name: no markup, links, digits or sentences reach the email', () => {
    for (const firstName of [
      '<script>x</script>',
      'Click http://evil.example to claim your prize',
      'evil.example',
      'Call 0800 123',
      'A'.repeat(51),
    ]) {
      const mail = passwordChanged({ firstName, via: 'change', at: new Date() });
      expect(mail.text).toContain('Hello,');
      for (const part of [mail.text, mail.html]) {
        expect(part).not.toContain('<script>');
        expect(part).not.toContain('evil');
        expect(part).not.toContain('0800');
        expect(part).not.toContain('AAAA');
      }
    }
    expect(verifyEmail({ publicUrl: 'http://x', firstName: 'Zoë-Anne', token: 't', validForMs: 1 }).text).toContain(
      'Hi Zoë-Anne,',
    );
  });
});

describe('payment emails', () => {
  const payment = {
    orderId: 'o1',
    number: 'SH-2026-000042',
    userId: 'u1',
    email: 'ann@example.test',
    firstName: "Ann O'Brien",
    provider: 'stripe',
    reference: 'pi_1',
    status: 'FAILED',
    amount: 4698,
    currency: 'USD',
  };

  it('payment failed: the amount, the order, the reason; name and reason escaped in HTML', () => {
    const mail = paymentFailed({ ...payment, reason: 'Authentication failed.' });
    expect(mail.template).toBe('payment-failed');
    expect(mail.subject).toBe('The payment for your order SH-2026-000042 failed');
    expect(mail.text).toContain(
      'The payment of $46.98 for your order SH-2026-000042 did not go through: Authentication failed.',
    );
    expect(mail.text).toContain('No money was taken');
    expect(mail.html).toContain('Ann O&#39;Brien');
    expect(paymentFailed({ ...payment, reason: '<script>x</script>' }).html).toContain(
      '&lt;script&gt;x&lt;/script&gt;',
    );
  });

  it('refund issued: this refund, and the total when part of it was refunded before', () => {
    const full = refundIssued({ ...payment, refundAmount: 4698, refundedTotal: 4698 });
    expect(full.template).toBe('refund-issued');
    expect(full.subject).toBe('Your refund for order SH-2026-000042');
    expect(full.text).toContain('We refunded $46.98 for your order SH-2026-000042');
    expect(full.text).not.toContain('so far');
    const second = refundIssued({ ...payment, refundAmount: 698, refundedTotal: 4698 });
    expect(second.text).toContain('We refunded $6.98');
    expect(second.text).toContain('Refunded for this order so far: $46.98.');
  });

  it('an unusable payment payload is refused before rendering', () => {
    expect(paymentEmailData(payment)).not.toBeNull();
    expect(paymentEmailData({ ...payment, email: '' })).toBeNull();
    expect(paymentEmailData({ ...payment, amount: 1.5 })).toBeNull();
    expect(paymentEmailData({ ...payment, currency: 'usd' })).toBeNull();
    expect(paymentEmailData({ ...payment, refundAmount: '5' })).toBeNull();
  });
});

describe('retryDelayMs', () => {
  it('doubles from the base, adds at most 25 % jitter and caps at an hour', () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, 1000, () => 0))).toEqual([1000, 2000, 4000, 8000]);
    expect(retryDelayMs(3, 1000, () => 1)).toBe(5000);
    expect(retryDelayMs(40, 1000, () => 0)).toBe(3600_000);
    for (let i = 0; i < 100; i++) {
      const d = retryDelayMs(2, 200);
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(500);
    }
  });
});

describe('subjectOf', () => {
  it('names the entity the event is about', () => {
    expect(subjectOf(makeEvent('user.registered', { userId: 'u1', email: 'e' }))).toBe('u1');
    expect(subjectOf(makeEvent('order.placed', { userId: 'u1', orderId: 'o1' }))).toBe('o1');
    expect(subjectOf(makeEvent('payment.refunded', { userId: 'u1', orderId: 'o1', reference: 'pi_1' }))).toBe('o1');
    expect(subjectOf(makeEvent('cart.expired', { cartId: 'c1', userId: 'u' }))).toBe('c1');
    expect(subjectOf(makeEvent('product.stock_changed', { productId: 'p1' }))).toBe('p1');
    expect(subjectOf(makeEvent('media.image_deleted', { productId: 'p1', imageId: 'i1' }))).toBe('i1');
    expect(subjectOf(makeEvent('product.deleted', { id: 'p2' }))).toBe('p2');
    expect(subjectOf(makeEvent('order.something', { note: 'x' }))).toBe('');
  });
});

describe('cursors and addresses', () => {
  it('round-trips keyset cursors and rejects others on `after`', () => {
    const at = new Date('2026-01-01T00:00:00.123Z');
    expect(parseKeyset(encodeCursor([at.toISOString(), 'id-1']))).toEqual({ at, id: 'id-1' });
    expect(parseKeyset(null)).toBeUndefined();
    expect(decodeCursor(encodeCursor(['a', 'b']), 2)).toEqual(['a', 'b']);
    for (const bad of [
      '%%%',
      encodeCursor(['nope', 'x']),
      encodeCursor([at.toISOString(), 5]),
      encodeCursor([at.toISOString()]),
    ]) {
      expect(() => parseKeyset(bad)).toThrow(
        expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'after' }) }),
      );
    }
    expect(() => parseKeyset(encodeCursor([at.toISOString(), 'not-a-uuid']), { uuidIds: true })).toThrow();
  });

  it('normalizes addresses', () => {
    expect(normalizeAddress('  Ann@Example.TEST ')).toBe('ann@example.test');
  });
});
