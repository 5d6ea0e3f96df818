import { execute, isObjectType, parse } from 'graphql';
import cartSubgraph from '../src';
import type { TimerEvent } from '../src/service/timer';

// The gateway's countdown selection, as graphql-ws executes it for every tick of every subscriber.
const TICK = parse(
  'subscription($id: ID!) { cartTimer(cartId: $id) { cartId status secondsRemaining expiresAt cart { id } } }',
);

it('executes a tick synchronously (no promise per tick per subscriber) with the event as its root', async () => {
  const schema = await cartSubgraph.buildSchema();
  expect(isObjectType(schema.getSubscriptionType())).toBe(true);
  const event: TimerEvent = {
    cartId: 'c1',
    status: 'EXPIRED',
    expiresAt: new Date('2026-12-05T10:00:00.000Z'),
    secondsRemaining: 0,
    view: null,
  };
  const result = execute({ schema, document: TICK, rootValue: event, variableValues: { id: 'c1' } });
  expect(result).not.toBeInstanceOf(Promise);
  expect(result).toEqual({
    data: {
      cartTimer: {
        cartId: 'c1',
        status: 'EXPIRED',
        secondsRemaining: 0,
        expiresAt: '2026-12-05T10:00:00.000Z',
        cart: null,
      },
    },
  });
});
