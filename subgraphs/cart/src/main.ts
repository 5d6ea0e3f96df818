// First of all: the tracing instrumentations must patch http, express, pg and ioredis before anything loads them.
import { startTracing } from '@shop/kernel/tracing';
startTracing('cart');

import { runSubgraph } from '@shop/kernel';
import cartSubgraph from './index';

void runSubgraph(cartSubgraph);
