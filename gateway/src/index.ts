export { startGateway } from './server';
export type { GatewayContext } from './server';
