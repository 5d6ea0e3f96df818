import type { SubgraphModule } from '@shop/kernel';
import user from '../subgraphs/user/src';
import product from '../subgraphs/product/src';
import media from '../subgraphs/media/src';
import notification from '../subgraphs/notification/src';
import order from '../subgraphs/order/src';
import cart from '../subgraphs/cart/src';

/**
 * The subgraph registry: every subgraph that exists, in start order (`npm start` starts them one after another,
 * each ready before the next). Adding a subgraph = one line here + its entry in rover.yaml.
 */
export const subgraphs: SubgraphModule[] = [user, product, cart, media, notification, order];
