/**
 * The proxy in its own process for the benchmark (as `stepline run` hosts it): two routes to the same
 * app, weighted 90/10 as a canary's first step, re-weighted when the bench sends `{ weights: [a, b] }`.
 */
import { WeightedProxy } from '../../packages/local/src/canary/proxy';

const appPort = Number(process.argv[2]);
const proxy = await WeightedProxy.start({ port: 0 });
const route = (blue: number, green: number) =>
  proxy.setRoutes([
    { backend: { id: 'blue', port: appPort }, weight: blue },
    { backend: { id: 'green', port: appPort }, weight: green },
  ]);
route(90, 10);
process.on('message', (message: { weights?: [number, number] }) => {
  if (message.weights) route(...message.weights);
});
process.send?.({ port: proxy.port });
