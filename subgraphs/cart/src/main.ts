import { runSubgraph } from '@shop/kernel';
import cartSubgraph from './index';

void runSubgraph(cartSubgraph);
