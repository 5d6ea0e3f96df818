import { runSubgraph } from '@shop/kernel';
import mediaSubgraph from './index';

void runSubgraph(mediaSubgraph);
