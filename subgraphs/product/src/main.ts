// First of all: the tracing instrumentations must patch http, express, pg and ioredis before anything loads them.
import { startTracing } from '@shop/kernel/tracing';
startTracing('product');

import { runSubgraph } from '@shop/kernel';
import productSubgraph from './index';

void runSubgraph(productSubgraph);
