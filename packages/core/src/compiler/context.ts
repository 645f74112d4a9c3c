import type { DefinitionIssue } from '../errors';
import { taskFunctionArns } from '../installation';
import type { Pipeline } from '../model/schema';
import type { ActionPosition } from '../model/validate';
import type { IamStatement } from './iam';
import type { ReferenceResolver } from './references';
import type { State } from './states';

/** Where a compiled pipeline runs. Both get the same graph; the target decides which fields are required. */
export type CompileTarget = 'aws' | 'local';

export interface CompileOptions {
  /** @default 'local' */
  target?: CompileTarget;
  /** @default 'us-east-1' */
  region?: string;
  /** @default '000000000000' */
  accountId?: string;
  /** The installation's artifact bucket. @default 'stepline-artifacts' */
  artifactBucket?: string;
  /** ARNs of the installation's functions; derived from region, account and `stepline-<name>` when absent. */
  functions?: Partial<FunctionArns>;
  /** SNS topic that approval requests go to when an approval names none. */
  approvalTopicArn?: string;
  /** Prefix of the CodeBuild projects `sst deploy` creates for actions that name none. @default 'stepline' */
  projectPrefix?: string;
}

export interface FunctionArns {
  source: string;
  approval: string;
  gate: string;
  canary: string;
  /** Writes S3 deploy actions' artifacts into their buckets. */
  s3Deploy: string;
  /** Reads a CloudFormation action's template configuration and parameter files, and writes its outputs file. */
  cloudFormation: string;
  /** Runs codedeploy actions' in-place deployments on their instances. */
  codeDeploy: string;
  /** Evaluates the rules of stage conditions. */
  conditions: string;
}

export type ResolvedCompileOptions = Required<Omit<CompileOptions, 'functions' | 'approvalTopicArn'>> & {
  functions: FunctionArns;
  approvalTopicArn: string | undefined;
};

export function resolveOptions(o: CompileOptions = {}): ResolvedCompileOptions {
  const region = o.region ?? 'us-east-1';
  const accountId = o.accountId ?? '000000000000';
  const fn = (name: string) => `arn:aws:lambda:${region}:${accountId}:function:stepline-${name}`;
  return {
    target: o.target ?? 'local',
    region,
    accountId,
    artifactBucket: o.artifactBucket ?? 'stepline-artifacts',
    projectPrefix: o.projectPrefix ?? 'stepline',
    approvalTopicArn: o.approvalTopicArn,
    functions: { ...taskFunctionArns(fn), ...o.functions },
  };
}

/** What the compiler knows about each state: which stage and action it belongs to, and its role. */
export const StateRole = {
  /** Sets up the state data before the first stage. */
  Pipeline: 'pipeline',
  /** An action's main state. */
  Action: 'action',
  /** A further state of a multi-state action (the canary's steps). */
  Step: 'step',
  /** Turns an action's error into the execution's failure. */
  Failure: 'failure',
  /** The inbound transition of a stage: holds executions while it is disabled. */
  Gate: 'gate',
  /** Runs the actions of one runOrder in parallel, or merges their results. */
  Group: 'group',
  /** Checks a stage condition's rules, waits for them, or applies the condition's result. */
  Condition: 'condition',
  /** A stage's entry condition said SKIP: the stage is passed over. */
  Skip: 'skip',
  /** A stage's automatic retry after it failed (onFailure RETRY). */
  Retry: 'retry',
  /** Starts the rollback of a stage (onFailure or onSuccess ROLLBACK), or ends a rollback execution. */
  Rollback: 'rollback',
} as const;
export type StateRole = (typeof StateRole)[keyof typeof StateRole];

export interface StateInfo {
  role: StateRole;
  stage?: string;
  action?: string;
  kind?: ActionPosition['action']['kind'];
  /** The state whose successful exit completes the action. */
  final?: boolean;
  /** A condition's Wait state: while in it, the stage waits for its rules (a window to open, an alarm watched). */
  waiting?: boolean;
}

export type StateMap = Record<string, StateInfo>;

/** Everything an action compiler needs, and the places it reports what it made. */
export interface ActionContext {
  pipeline: Pipeline;
  position: ActionPosition;
  /** The action's main state name. */
  name: string;
  /** Key under `$.actions` where the action's result goes. */
  key: string;
  options: ResolvedCompileOptions;
  refs: ReferenceResolver;
  /** Result key of the first source action, whose variables describe the commit. */
  sourceKey: string;
  /** Artifacts made by source actions → the result key of the action that made each. */
  sourceProducers: ReadonlyMap<string, string>;
  /** Namespaces some action refers to with `#{Namespace.Variable}`. */
  referencedNamespaces: ReadonlySet<string>;
  /** Successor when the action succeeds; none at the end of a parallel branch. */
  next: string | undefined;
  /** Where an error of this action goes: its failure state, which adds the stage and action to the cause. */
  catchTo: string;
  /** The terminal Fail state, for states that already wrote a complete failure. */
  failTo: string;
  states: Record<string, State>;
  stateMap: StateMap;
  iam: IamStatement[];
  /** What this target lacks to run the action; the pipeline still compiles. */
  warnings: DefinitionIssue[];
}
