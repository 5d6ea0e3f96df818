import { runSubgraph } from '@shop/kernel';
import productSubgraph from './index';

void runSubgraph(productSubgraph);
