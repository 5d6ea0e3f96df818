// First of all: the tracing instrumentations must patch http, express, pg and ioredis before anything loads them.
import { startTracing } from '@shop/kernel/tracing';
startTracing('notification');

import { runSubgraph } from '@shop/kernel';
import notification from './index';

void runSubgraph(notification);
