import { MergeCart, MergePlan, planMerge, settleMerge } from '../src/service/merge';

/** planMerge / settleMerge: the merge's arithmetic, pure (no Redis, no product store). */
const CAPS = { maxQuantityPerLine: 99, maxUnits: 200 };
const NOW = '2026-01-01T00:00:00.000Z';
const cart = (lines: [string, number][], currency: string | null = 'USD'): MergeCart => ({
  lines: lines.map(([productId, quantity]) => ({ productId, quantity })),
  currency,
});
const userLines = (lines: [string, number][]) =>
  lines.map(([productId, quantity]) => ({ productId, quantity, addedAt: `added-${productId}` }));
/** The product store grants everything asked for. */
const allHeld = (plan: MergePlan) => new Map(plan.hold.map((l) => [l.productId, l.quantity]));
const holdOf = (plan: MergePlan) => plan.hold.map((l) => [l.productId, l.quantity]);

describe('planMerge', () => {
  test("overlapping lines add up; the user's lines keep their order, new guest products follow", () => {
    const plan = planMerge(
      cart([
        ['a', 2],
        ['b', 1],
      ]),
      cart([
        ['b', 3],
        ['c', 4],
      ]),
      CAPS,
    );
    expect(holdOf(plan)).toEqual([
      ['a', 2],
      ['b', 4],
      ['c', 4],
    ]);
    expect([...plan.requested]).toEqual([
      ['a', 2],
      ['b', 4],
      ['c', 4],
    ]);
    expect([...plan.added]).toEqual([
      ['b', 3],
      ['c', 4],
    ]);
    expect(plan).toMatchObject({ currency: 'USD', dropped: [] });
    const settled = settleMerge(
      plan,
      allHeld(plan),
      userLines([
        ['a', 2],
        ['b', 1],
      ]),
      NOW,
    );
    expect(settled).toEqual({
      lines: [
        { productId: 'a', quantity: 2, addedAt: 'added-a' },
        { productId: 'b', quantity: 4, addedAt: 'added-b' },
        { productId: 'c', quantity: 4, addedAt: NOW },
      ],
      adjustments: [],
    });
  });

  test('a line is capped at 99 units; the cap is reported as an adjustment', () => {
    const plan = planMerge(cart([['a', 60]]), cart([['a', 50]]), CAPS);
    expect(holdOf(plan)).toEqual([['a', 99]]);
    expect(plan.requested.get('a')).toBe(110);
    expect(plan.added.get('a')).toBe(39);
    expect(settleMerge(plan, allHeld(plan), userLines([['a', 60]]), NOW).adjustments).toEqual([
      { productId: 'a', requested: 110, quantity: 99 },
    ]);
  });

  test("the user cart's unit limit: guest units beyond it are left out in the guest's line order, the user's own lines untouched", () => {
    const plan = planMerge(
      cart([['a', 6]]),
      cart([
        ['b', 3],
        ['c', 5],
        ['d', 1],
      ]),
      { maxQuantityPerLine: 99, maxUnits: 10 },
    );
    expect(holdOf(plan)).toEqual([
      ['a', 6],
      ['b', 3],
      ['c', 1],
      ['d', 0],
    ]);
    expect([...plan.added]).toEqual([
      ['b', 3],
      ['c', 1],
      ['d', 0],
    ]);
    const settled = settleMerge(plan, allHeld(plan), userLines([['a', 6]]), NOW);
    expect(settled.lines.map((l) => [l.productId, l.quantity])).toEqual([
      ['a', 6],
      ['b', 3],
      ['c', 1],
    ]);
    expect(settled.adjustments).toEqual([
      { productId: 'c', requested: 5, quantity: 1 },
      { productId: 'd', requested: 1, quantity: 0 },
    ]);

    // A user cart already over a lowered limit keeps its lines and takes nothing more.
    const full = planMerge(
      cart([['a', 12]]),
      cart([
        ['a', 1],
        ['b', 2],
      ]),
      { maxQuantityPerLine: 99, maxUnits: 10 },
    );
    expect(holdOf(full)).toEqual([
      ['a', 12],
      ['b', 0],
    ]);
  });

  test('a stock shortfall: the product store holds less, the line shrinks or goes, and each is reported', () => {
    const plan = planMerge(
      cart([['a', 2]]),
      cart([
        ['a', 3],
        ['b', 4],
        ['c', 1],
      ]),
      CAPS,
    );
    const held = new Map([
      ['a', 4],
      ['b', 0],
      ['c', 1],
    ]);
    expect(settleMerge(plan, held, userLines([['a', 2]]), NOW)).toEqual({
      lines: [
        { productId: 'a', quantity: 4, addedAt: 'added-a' },
        { productId: 'c', quantity: 1, addedAt: NOW },
      ],
      adjustments: [
        { productId: 'a', requested: 5, quantity: 4 },
        { productId: 'b', requested: 4, quantity: 0 },
      ],
    });
    // A product the store does not answer for (unknown) counts as 0 held.
    expect(
      settleMerge(
        plan,
        new Map([
          ['a', 5],
          ['b', 4],
        ]),
        [],
        NOW,
      ).adjustments,
    ).toEqual([{ productId: 'c', requested: 1, quantity: 0 }]);
  });

  test("empty carts: an empty user cart takes the guest's lines and currency; an empty guest cart changes nothing", () => {
    const intoEmpty = planMerge(cart([], 'EUR'), cart([['a', 1]], 'USD'), CAPS);
    expect(intoEmpty).toMatchObject({ currency: 'USD', dropped: [] });
    expect(holdOf(intoEmpty)).toEqual([['a', 1]]);
    expect(settleMerge(intoEmpty, allHeld(intoEmpty), [], NOW)).toEqual({
      lines: [{ productId: 'a', quantity: 1, addedAt: NOW }],
      adjustments: [],
    });

    const fromEmpty = planMerge(cart([['a', 2]]), cart([], null), CAPS);
    expect(holdOf(fromEmpty)).toEqual([['a', 2]]);
    expect(fromEmpty).toMatchObject({ currency: 'USD', dropped: [] });
    expect(settleMerge(fromEmpty, allHeld(fromEmpty), userLines([['a', 2]]), NOW).adjustments).toEqual([]);

    const bothEmpty = planMerge(cart([], null), cart([], null), CAPS);
    expect(bothEmpty).toEqual({ hold: [], requested: new Map(), added: new Map(), currency: null, dropped: [] });
  });

  test('a guest cart in another currency than a non-empty user cart adds nothing: every guest line is reported dropped', () => {
    const plan = planMerge(
      cart([['a', 1]], 'USD'),
      cart(
        [
          ['b', 2],
          ['a', 1],
        ],
        'EUR',
      ),
      CAPS,
    );
    expect(holdOf(plan)).toEqual([['a', 1]]);
    expect(plan.currency).toBe('USD');
    expect(settleMerge(plan, allHeld(plan), userLines([['a', 1]]), NOW).adjustments).toEqual([
      { productId: 'b', requested: 2, quantity: 0 },
      { productId: 'a', requested: 1, quantity: 0 },
    ]);
  });
});
