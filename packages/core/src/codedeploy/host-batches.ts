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

/** What a deployment over a fleet may do: how many hosts must stay healthy, and how many must succeed. */
export interface FleetRule {
  /** Hosts still serving (not being deployed, not failed) at any time; a batch is as large as this allows. */
  minimumHealthy: number;
  /** The deployment succeeds when this many took the revision. */
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
  if (minimum.type === 'MOST_CONCURRENCY') return { minimumHealthy: hosts - 1, minimumSuccessful: Math.max(hosts - 1, 1), onlyLastMayFail: true };
  const healthy = minimum.type === 'HOST_COUNT' ? minimum.value : Math.ceil((hosts * minimum.value) / 100);
  if (healthy >= hosts)
    throw new RangeError(`${hosts} instance${hosts === 1 ? '' : 's'} cannot keep ${healthy} healthy while one is deployed: lower the minimum healthy hosts`);
  return { minimumHealthy: healthy, minimumSuccessful: Math.max(healthy, 1) };
}

export type FleetStep = { verdict: 'continue'; batch: string[] } | { verdict: 'succeeded' } | { verdict: 'failed' };

/**
 * What comes after a batch: the next batch (as many of the remaining hosts as can go down while the
 * others keep the minimum healthy: hosts that failed count as unhealthy from then on), success once
 * every host ran and enough succeeded, or failure as soon as that can no longer happen.
 */
export function nextStep(rule: FleetRule, remaining: readonly string[], counts: { succeeded: number; failed: number }): FleetStep {
  if (counts.succeeded + remaining.length < rule.minimumSuccessful) return { verdict: 'failed' };
  if (rule.onlyLastMayFail && counts.failed > 0 && remaining.length > 0) return { verdict: 'failed' };
  if (remaining.length === 0) return counts.succeeded >= rule.minimumSuccessful ? { verdict: 'succeeded' } : { verdict: 'failed' };
  const size = Math.min(remaining.length, counts.succeeded + remaining.length - rule.minimumHealthy);
  return size > 0 ? { verdict: 'continue', batch: remaining.slice(0, size) } : { verdict: 'failed' };
}
