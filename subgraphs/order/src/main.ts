import { runSubgraph } from '@shop/kernel';
import orderSubgraph from './index';

void runSubgraph(orderSubgraph);
