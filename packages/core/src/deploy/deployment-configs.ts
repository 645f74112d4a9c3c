/**
 * CodeDeploy's predefined deployment configurations for ECS and Lambda, by their exact names. Both
 * platforms shift traffic the same three ways; a name belongs to one platform only.
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

export const PREDEFINED_LAMBDA_CONFIGS = {
  'CodeDeployDefault.LambdaAllAtOnce': { type: 'AllAtOnce' },
  'CodeDeployDefault.LambdaCanary10Percent5Minutes': { type: 'TimeBasedCanary', percentage: 10, intervalMinutes: 5 },
  'CodeDeployDefault.LambdaCanary10Percent10Minutes': { type: 'TimeBasedCanary', percentage: 10, intervalMinutes: 10 },
  'CodeDeployDefault.LambdaCanary10Percent15Minutes': { type: 'TimeBasedCanary', percentage: 10, intervalMinutes: 15 },
  'CodeDeployDefault.LambdaCanary10Percent30Minutes': { type: 'TimeBasedCanary', percentage: 10, intervalMinutes: 30 },
  'CodeDeployDefault.LambdaLinear10PercentEvery1Minute': { type: 'TimeBasedLinear', percentage: 10, intervalMinutes: 1 },
  'CodeDeployDefault.LambdaLinear10PercentEvery2Minutes': { type: 'TimeBasedLinear', percentage: 10, intervalMinutes: 2 },
  'CodeDeployDefault.LambdaLinear10PercentEvery3Minutes': { type: 'TimeBasedLinear', percentage: 10, intervalMinutes: 3 },
  'CodeDeployDefault.LambdaLinear10PercentEvery10Minutes': { type: 'TimeBasedLinear', percentage: 10, intervalMinutes: 10 },
} as const satisfies Record<string, TrafficRouting>;

export const PREDEFINED_CONFIGS = { ...PREDEFINED_ECS_CONFIGS, ...PREDEFINED_LAMBDA_CONFIGS } as const;

export type PredefinedEcsConfigName = keyof typeof PREDEFINED_ECS_CONFIGS;
export type PredefinedLambdaConfigName = keyof typeof PREDEFINED_LAMBDA_CONFIGS;
export type PredefinedConfigName = keyof typeof PREDEFINED_CONFIGS;

/** The compute platform a predefined configuration is for, as CodeDeploy's `ComputePlatform`. */
export const platformOfConfig = (name: PredefinedConfigName): 'ECS' | 'Lambda' => (name in PREDEFINED_LAMBDA_CONFIGS ? 'Lambda' : 'ECS');

export const DEPLOYMENT_CONFIG_NAMES = Object.keys(PREDEFINED_CONFIGS) as [PredefinedConfigName, ...PredefinedConfigName[]];
