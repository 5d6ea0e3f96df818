// First of all: the tracing instrumentations must patch http, express, pg and ioredis before anything loads them.
import { startTracing } from '@shop/kernel/tracing';
startTracing('user');

import { runSubgraph } from '@shop/kernel';
import userSubgraph from './index';

void runSubgraph(userSubgraph);
