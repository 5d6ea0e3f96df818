export { startGateway } from './server';
export type { RunningGateway } from './server';
export type { GatewayContext } from './context';
