import { runSubgraph } from '@shop/kernel';
import userSubgraph from './index';

void runSubgraph(userSubgraph);
