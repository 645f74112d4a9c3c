/**
 * CodeDeploy's predefined ECS deployment configurations, by their exact names.
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html
 */

export type TrafficRouting =
  | { type: 'AllAtOnce' }
  | { type: 'TimeBasedCanary'; percentage: number; intervalMinutes: number }
  | { type: 'TimeBasedLinear'; percentage: number; intervalMinutes: number };

export const PREDEFINED_ECS_CONFIGS = {
  'CodeDeployDefault.ECSAllAtOnce': { type: 'AllAtOnce' },
  'CodeDeployDefault.ECSLinear10PercentEvery1Minutes': { type: 'TimeBasedLinear', percentage: 10, intervalMinutes: 1 },
  'CodeDeployDefault.ECSLinear10PercentEvery3Minutes': { type: 'TimeBasedLinear', percentage: 10, intervalMinutes: 3 },
  'CodeDeployDefault.ECSCanary10Percent5Minutes': { type: 'TimeBasedCanary', percentage: 10, intervalMinutes: 5 },
  'CodeDeployDefault.ECSCanary10Percent15Minutes': { type: 'TimeBasedCanary', percentage: 10, intervalMinutes: 15 },
} as const satisfies Record<string, TrafficRouting>;

export type PredefinedEcsConfigName = keyof typeof PREDEFINED_ECS_CONFIGS;

export const DEPLOYMENT_CONFIG_NAMES = Object.keys(PREDEFINED_ECS_CONFIGS) as [PredefinedEcsConfigName, ...PredefinedEcsConfigName[]];
