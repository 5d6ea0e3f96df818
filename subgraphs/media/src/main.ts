// First of all: the tracing instrumentations must patch http, express, pg and ioredis before anything loads them.
import { startTracing } from '@shop/kernel/tracing';
startTracing('media');

import { runSubgraph } from '@shop/kernel';
import mediaSubgraph from './index';

void runSubgraph(mediaSubgraph);
