import { runSubgraph } from '@shop/kernel';
import notification from './index';

void runSubgraph(notification);
