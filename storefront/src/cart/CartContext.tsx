import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { useApolloClient, useQuery, useSubscription } from '@apollo/client/react';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { useSession } from '../account/session';
import {
  AddToCartDocument,
  CartDocument,
  CartTimerDocument,
  CreateCartDocument,
  MergeCartDocument,
  MyCartDocument,
  RemoveFromCartDocument,
  UpdateCartItemDocument,
  type CartStatus,
  type CartViewFragment,
  type MergeCartMutation,
} from '../gql/graphql';

/** A line the merge after sign-in could not move in full (the stock ran short). */
export type CartAdjustment = MergeCartMutation['mergeCart']['adjustments'][number];

/** The countdown as the `cartTimer` subscription last reported it. */
export interface CartCountdown {
  secondsRemaining: number;
  status: CartStatus;
}

export interface CartContextValue {
  /** The cart in use: the guest cart (id kept in localStorage) or, signed in, `myCart`. */
  cartId: string | null;
  cart: CartViewFragment | null;
  loading: boolean;
  /** Units in the cart (the header's "Cart (n)"). */
  count: number;
  /** The live countdown while the cart holds stock; null before the first event or without a hold. */
  countdown: CartCountdown | null;
  /** True once the hold ran out (from the subscription's final event or the cart's own status). */
  expired: boolean;
  add(productId: string, quantity: number): Promise<void>;
  setQuantity(productId: string, quantity: number): Promise<void>;
  remove(productId: string): Promise<void>;
  /** Leaves an expired (or checked-out) cart behind: the next add starts a new one. */
  startOver(): Promise<void>;
  /** Re-reads the cart (after checkout, after a failed payment). */
  refresh(): Promise<void>;
  /** Right after sign-in: moves the guest cart into the user's cart and forgets the guest id. */
  mergeAfterSignIn(): Promise<CartAdjustment[]>;
}

/** Where the guest cart's id lives between visits. The id is the cart's only key, so it stays in this browser. */
export const GUEST_CART_KEY = 'shop.guestCartId';

function readGuestId(): string | null {
  try {
    return window.localStorage.getItem(GUEST_CART_KEY);
  } catch {
    return null;
  }
}
function writeGuestId(id: string | null): void {
  try {
    if (id) window.localStorage.setItem(GUEST_CART_KEY, id);
    else window.localStorage.removeItem(GUEST_CART_KEY);
  } catch {
    // Storage disabled (private mode): the cart lives for this page only.
  }
}

const codeOf = (error: unknown): string | undefined =>
  CombinedGraphQLErrors.is(error) ? String(error.errors[0]?.extensions?.code ?? '') : undefined;

const CartContext = createContext<CartContextValue | null>(null);

/**
 * The cart for the whole app. A guest gets a guest cart (`createCart` while anonymous) whose id is the capability
 * to use it, kept in localStorage; a signed-in user has `myCart`. Stock is held while the cart is ACTIVE and the
 * countdown comes from the `cartTimer` subscription (graphql-ws through the gateway).
 */
export function CartProvider({ children }: { children: ReactNode }) {
  const client = useApolloClient();
  const { user, loading: sessionLoading } = useSession();
  const [guestId, setGuestId] = useState<string | null>(readGuestId);
  // Keyed by cart: an event of a cart left behind never shows on the next one.
  const [timer, setTimer] = useState<(CartCountdown & { cartId: string }) | null>(null);
  const setCountdown = setTimer;

  const guest = useQuery(CartDocument, {
    variables: { id: guestId ?? '' },
    skip: !!user || sessionLoading || !guestId,
    fetchPolicy: 'cache-and-network',
  });
  const mine = useQuery(MyCartDocument, { skip: !user, fetchPolicy: 'cache-and-network' });

  const raw: CartViewFragment | null = user ? (mine.data?.myCart ?? null) : guestId ? (guest.data?.cart ?? null) : null;
  // A checked-out cart is history: the shopper sees an empty cart and the next add starts a new one.
  const cart = raw && raw.status !== 'CHECKED_OUT' ? raw : null;
  const cartId = cart?.id ?? null;
  const active = cart?.status === 'ACTIVE';

  const forgetGuest = useCallback(() => {
    writeGuestId(null);
    setGuestId(null);
  }, []);

  const refresh = useCallback(async () => {
    if (user) await mine.refetch();
    else if (guestId) await guest.refetch();
  }, [user, guestId, mine, guest]);

  // The timer's events are read here, not cached: its `cart` selection is smaller than CartView's and writing it
  // would make the cart queries incomplete. A change in the lines refetches the full cart instead.
  useSubscription(CartTimerDocument, {
    variables: { cartId: cartId ?? '' },
    skip: !cartId || !active,
    fetchPolicy: 'no-cache',
    onData: ({ data }) => {
      const event = data.data?.cartTimer;
      if (!event) return;
      setTimer({ cartId: event.cartId, secondsRemaining: event.secondsRemaining, status: event.status });
      const changed =
        event.status !== 'ACTIVE' ||
        (event.cart &&
          (event.cart.total.amount !== cart?.total.amount ||
            event.cart.items.reduce((n, i) => n + i.quantity, 0) !== cart?.items.reduce((n, i) => n + i.quantity, 0)));
      if (changed) void refresh();
    },
  });

  /** The cart to change, creating one when there is none (or only an ended one). */
  const ensureCart = useCallback(async (): Promise<string> => {
    if (cart && cart.status === 'ACTIVE') return cart.id;
    const { data } = await client.mutate({ mutation: CreateCartDocument });
    const created = data!.createCart;
    if (user) client.writeQuery({ query: MyCartDocument, data: { myCart: created } });
    else {
      client.writeQuery({ query: CartDocument, variables: { id: created.id }, data: { cart: created } });
      writeGuestId(created.id);
      setGuestId(created.id);
    }
    setCountdown(null);
    return created.id;
  }, [cart, client, user]);

  /** The cart a mutation returned becomes the cart of the page. */
  const store = useCallback(
    (next: CartViewFragment) => {
      if (user) client.writeQuery({ query: MyCartDocument, data: { myCart: next } });
      else client.writeQuery({ query: CartDocument, variables: { id: next.id }, data: { cart: next } });
    },
    [client, user],
  );

  const add = useCallback(
    async (productId: string, quantity: number) => {
      const attempt = async () => {
        const id = await ensureCart();
        const { data } = await client.mutate({
          mutation: AddToCartDocument,
          variables: { cartId: id, productId, quantity },
        });
        store(data!.addToCart);
      };
      try {
        await attempt();
      } catch (error) {
        // The hold ran out since the page last looked: start a new cart once, then the error is the shopper's.
        if (codeOf(error) !== 'CART_EXPIRED') throw error;
        await refresh();
        if (!user) forgetGuest();
        const { data } = await client.mutate({ mutation: CreateCartDocument });
        const created = data!.createCart;
        if (!user) {
          writeGuestId(created.id);
          setGuestId(created.id);
        }
        const again = await client.mutate({
          mutation: AddToCartDocument,
          variables: { cartId: created.id, productId, quantity },
        });
        store(again.data!.addToCart);
      }
    },
    [client, ensureCart, store, refresh, forgetGuest, user],
  );

  const setQuantity = useCallback(
    async (productId: string, quantity: number) => {
      if (!cartId) return;
      const { data } = await client.mutate({
        mutation: UpdateCartItemDocument,
        variables: { cartId, productId, quantity },
      });
      store(data!.updateCartItem);
    },
    [client, cartId, store],
  );

  const remove = useCallback(
    async (productId: string) => {
      if (!cartId) return;
      const { data } = await client.mutate({ mutation: RemoveFromCartDocument, variables: { cartId, productId } });
      store(data!.removeFromCart);
    },
    [client, cartId, store],
  );

  const startOver = useCallback(async () => {
    setCountdown(null);
    if (user) {
      // Signed in, createCart answers the active cart or a new one bound to the user.
      const { data } = await client.mutate({ mutation: CreateCartDocument });
      client.writeQuery({ query: MyCartDocument, data: { myCart: data!.createCart } });
    } else forgetGuest();
  }, [client, user, forgetGuest]);

  const mergeAfterSignIn = useCallback(async (): Promise<CartAdjustment[]> => {
    const id = readGuestId();
    if (!id) return [];
    try {
      const { data } = await client.mutate({ mutation: MergeCartDocument, variables: { cartId: id } });
      const { adjustments, ...merged } = data!.mergeCart;
      client.writeQuery({ query: MyCartDocument, data: { myCart: merged } });
      // A `myCart` read sent as the session switched (before the merge) must not have the last word.
      await client.query({ query: MyCartDocument, fetchPolicy: 'network-only' }).catch(() => undefined);
      return adjustments;
    } catch (error) {
      // An expired, unknown or foreign guest cart has nothing to bring along; anything else is the caller's to show.
      if (!['CART_EXPIRED', 'NOT_FOUND', 'FORBIDDEN'].includes(codeOf(error) ?? '')) throw error;
      return [];
    } finally {
      forgetGuest();
      setCountdown(null);
    }
  }, [client, forgetGuest]);

  const value = useMemo<CartContextValue>(() => {
    const countdown =
      timer && timer.cartId === cartId ? { secondsRemaining: timer.secondsRemaining, status: timer.status } : null;
    const expired = raw?.status === 'EXPIRED' || countdown?.status === 'EXPIRED';
    return {
      cartId,
      cart,
      loading: user ? mine.loading : guest.loading,
      count: expired ? 0 : (cart?.items.reduce((n, i) => n + i.quantity, 0) ?? 0),
      countdown: active ? countdown : null,
      expired,
      add,
      setQuantity,
      remove,
      startOver,
      refresh,
      mergeAfterSignIn,
    };
  }, [
    raw,
    cart,
    cartId,
    active,
    timer,
    user,
    mine.loading,
    guest.loading,
    add,
    setQuantity,
    remove,
    startOver,
    refresh,
    mergeAfterSignIn,
  ]);

  return <CartContext.Provider value={value}>{children}</CartContext.Provider>;
}

export function useCart(): CartContextValue {
  const value = useContext(CartContext);
  if (!value) throw new Error('useCart outside <CartProvider>');
  return value;
}
