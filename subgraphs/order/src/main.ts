// First of all: the tracing instrumentations must patch http, express, pg and ioredis before anything loads them.
import { startTracing } from '@shop/kernel/tracing';
startTracing('order');

import { runSubgraph } from '@shop/kernel';
import orderSubgraph from './index';

void runSubgraph(orderSubgraph);
