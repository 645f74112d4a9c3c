/** The proxy in its own process for the benchmark (as `stepline run` hosts it): routes all to the app. */
import { WeightedProxy } from '../../packages/local/src/canary/proxy';

const appPort = Number(process.argv[2]);
const proxy = await WeightedProxy.start({ port: 0 });
proxy.setRoutes([{ backend: { id: 'bench', port: appPort }, weight: 100 }]);
process.send?.({ port: proxy.port });
