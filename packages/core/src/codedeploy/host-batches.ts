/**
 * How an in-place deployment walks a fleet: CodeDeploy's EC2/on-premises deployment configurations,
 * the batches of hosts deployed together, and when the deployment has succeeded or failed.
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html#deployment-configuration-server
 * @see https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_MinimumHealthyHosts.html
 */

export type MinimumHealthyHosts =
  | { type: 'HOST_COUNT'; value: number }
  | { type: 'FLEET_PERCENT'; value: number }
  /** OneAtATime's own type: one host at a time, all but the last must succeed. */
  | { type: 'MOST_CONCURRENCY'; value: 1 };

/** The predefined configurations, by their exact names. */
export const SERVER_DEPLOYMENT_CONFIGS = {
  'CodeDeployDefault.AllAtOnce': { type: 'HOST_COUNT', value: 0 },
  'CodeDeployDefault.HalfAtATime': { type: 'FLEET_PERCENT', value: 50 },
  'CodeDeployDefault.OneAtATime': { type: 'MOST_CONCURRENCY', value: 1 },
} as const satisfies Record<string, MinimumHealthyHosts>;

export type ServerDeploymentConfigName = keyof typeof SERVER_DEPLOYMENT_CONFIGS;
export const SERVER_DEPLOYMENT_CONFIG_NAMES = Object.keys(SERVER_DEPLOYMENT_CONFIGS) as [ServerDeploymentConfigName, ...ServerDeploymentConfigName[]];

/** What a deployment over `hosts` may do: how many at a time, and how many must succeed. */
export interface FleetRule {
  batchSize: number;
  /** The deployment fails as soon as this many can no longer succeed. */
  minimumSuccessful: number;
  /** OneAtATime: any failure but the last host's fails the deployment at once. */
  onlyLastMayFail?: boolean;
}

/**
 * The rule a minimum-healthy-hosts setting gives a fleet of `hosts`. A percentage is rounded up (nine
 * hosts at 40% keep four healthy, deploying five at a time); AllAtOnce still needs one success; a
 * setting that leaves no host to deploy is refused, as CodeDeploy refuses to start.
 */
export function fleetRule(minimum: MinimumHealthyHosts, hosts: number): FleetRule {
  if (hosts < 1) throw new RangeError('no instances to deploy to');
  if (minimum.type === 'MOST_CONCURRENCY') return { batchSize: 1, minimumSuccessful: Math.max(hosts - 1, 1), onlyLastMayFail: true };
  const healthy = minimum.type === 'HOST_COUNT' ? minimum.value : Math.ceil((hosts * minimum.value) / 100);
  if (healthy >= hosts)
    throw new RangeError(`${hosts} instance${hosts === 1 ? '' : 's'} cannot keep ${healthy} healthy while one is deployed: lower the minimum healthy hosts`);
  return { batchSize: hosts - healthy, minimumSuccessful: Math.max(healthy, 1) };
}

/** The hosts in batches of the rule's size, in the order given. */
export function hostBatches(hosts: readonly string[], rule: FleetRule): string[][] {
  const batches: string[][] = [];
  for (let i = 0; i < hosts.length; i += rule.batchSize) batches.push(hosts.slice(i, i + rule.batchSize));
  return batches;
}

export type FleetVerdict = 'continue' | 'succeeded' | 'failed';

/**
 * Where a deployment stands once a batch has finished: failed as soon as too few hosts can still
 * succeed, succeeded when every batch ran and enough did.
 */
export function fleetVerdict(rule: FleetRule, counts: { hosts: number; succeeded: number; failed: number }): FleetVerdict {
  const finished = counts.succeeded + counts.failed;
  if (counts.hosts - counts.failed < rule.minimumSuccessful) return 'failed';
  if (rule.onlyLastMayFail && counts.failed > 0 && finished < counts.hosts) return 'failed';
  if (finished < counts.hosts) return 'continue';
  return counts.succeeded >= rule.minimumSuccessful ? 'succeeded' : 'failed';
}
