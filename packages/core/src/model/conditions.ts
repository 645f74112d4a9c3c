/**
 * Stage conditions, as CodePipeline V2's `beforeEntry`, `onSuccess` and `onFailure`: each a list of
 * rules that must all pass, and the result that applies when one does not.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference.html
 */
import * as z from 'zod';
import { parseWindowCron } from '../conditions/deployment-window';

const text = (what = 'a string') => z.string({ error: `expected ${what}` });
const list = <T extends z.ZodType>(item: T, what: string) => z.array(item, { error: `expected a list of ${what}` });

export const RuleProvider = {
  CloudWatchAlarm: 'CloudWatchAlarm',
  DeploymentWindow: 'DeploymentWindow',
  VariableCheck: 'VariableCheck',
  LambdaInvoke: 'LambdaInvoke',
  Commands: 'Commands',
} as const;
export type RuleProvider = (typeof RuleProvider)[keyof typeof RuleProvider];

/** VariableCheck's operators. */
export const VariableOperator = ['EQ', 'NE', 'CONTAINS', 'MATCHES', 'GT', 'GE', 'LT', 'LE'] as const;
export type VariableOperator = (typeof VariableOperator)[number];

export const AlarmState = ['ALARM', 'OK', 'INSUFFICIENT_DATA'] as const;

const ruleName = text('a rule name')
  .min(1, { error: 'expected a rule name' })
  .max(100)
  .regex(/^[A-Za-z0-9.@_-]+$/, { error: 'expected a rule name made of letters, digits and . @ _ -' });

/**
 * Fails while the alarm is in one of `alarmStates`, watched for `waitTimeMinutes`. On one machine the
 * alarm's state is what `local.command` says: exit 0 is OK, anything else is ALARM.
 */
export const CloudWatchAlarmRuleSchema = z.strictObject({
  name: ruleName,
  provider: z.literal(RuleProvider.CloudWatchAlarm),
  alarmName: text('an alarm name').min(1, { error: 'expected an alarm name' }),
  /** @default ['ALARM'] */
  alarmStates: list(z.enum(AlarmState, { error: `expected one of ${AlarmState.join(', ')}` }), 'alarm states')
    .min(1)
    .default(['ALARM']),
  /** How long the alarm is watched before the rule passes. @default 0 (checked once) */
  waitTimeMinutes: z.number({ error: 'expected minutes' }).int().min(0).max(1440, { error: 'expected at most 1440 minutes' }).default(0),
  local: z.strictObject({ command: text('a shell command') }).optional(),
});

/** Passes while the time matches `cron` (CodePipeline's six fields) in `timeZone`; entry waits for the next window. */
export const DeploymentWindowRuleSchema = z.strictObject({
  name: ruleName,
  provider: z.literal(RuleProvider.DeploymentWindow),
  cron: text('a cron expression').superRefine((cron, ctx) => {
    const problem = parseWindowCron(cron, 'UTC').problem;
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  /** An IANA time zone. @default UTC */
  timeZone: text('a time zone')
    .default('UTC')
    .refine((tz) => isTimeZone(tz), { error: 'expected an IANA time zone such as Europe/Paris or UTC' }),
});

export const VariableCheckRuleSchema = z.strictObject({
  name: ruleName,
  provider: z.literal(RuleProvider.VariableCheck),
  /** Usually a reference: `#{SourceVariables.BranchName}`, `#{variables.ENV}`. */
  variable: text('a variable such as #{variables.ENV}'),
  value: text('the value to compare with'),
  operator: z.enum(VariableOperator, { error: `expected an operator: one of ${VariableOperator.join(', ')}` }),
});

/** A Lambda function on AWS (passes unless it fails); a command on one machine (passes on exit 0). */
export const LambdaInvokeRuleSchema = z
  .strictObject({
    name: ruleName,
    provider: z.literal(RuleProvider.LambdaInvoke),
    functionName: text('a function name').optional(),
    userParameters: text().optional(),
    command: text('a shell command').optional(),
  })
  .refine((r) => r.functionName !== undefined || r.command !== undefined, { error: 'expected a functionName, a command or both' });

/**
 * Shell commands run in one session; the rule passes when they all exit 0. They run in the first of
 * `inputArtifacts` (RuleDeclaration's InputArtifacts; the others beside it, as a build's secondary
 * sources), by default the artifacts the stage's actions take in that earlier stages made.
 */
export const CommandsRuleSchema = z.strictObject({
  name: ruleName,
  provider: z.literal(RuleProvider.Commands),
  commands: list(text('a shell command'), 'shell commands').min(1, { error: 'expected at least one command' }).max(50),
  inputArtifacts: list(text('an artifact name'), 'artifact names').optional(),
});

const PROVIDERS = Object.values(RuleProvider);

export const RuleSchema = z.discriminatedUnion(
  'provider',
  [CloudWatchAlarmRuleSchema, DeploymentWindowRuleSchema, VariableCheckRuleSchema, LambdaInvokeRuleSchema, CommandsRuleSchema],
  { error: (issue) => (issue.code === 'invalid_union' ? `expected provider to be one of ${PROVIDERS.join(', ')}` : undefined) },
);

// CodePipeline allows 1 to 5 rules in a condition.
const rules = list(RuleSchema, 'rules').min(1, { error: 'expected at least one rule' }).max(5, { error: 'expected at most 5 rules' });

export const EntryResult = ['FAIL', 'SKIP'] as const;
export const SuccessResult = ['ROLLBACK', 'FAIL'] as const;
export const FailureResult = ['ROLLBACK', 'FAIL', 'RETRY'] as const;
export const RetryMode = ['FAILED_ACTIONS', 'ALL_ACTIONS'] as const;

export const BeforeEntrySchema = z.strictObject({
  result: z.enum(EntryResult, { error: 'expected FAIL or SKIP' }),
  rules,
});

export const OnSuccessSchema = z.strictObject({
  result: z.enum(SuccessResult, { error: 'expected ROLLBACK or FAIL' }),
  rules,
});

/** Without rules the result applies to every failure; with rules, only when they all pass. */
export const OnFailureSchema = z
  .strictObject({
    result: z.enum(FailureResult, { error: 'expected ROLLBACK, FAIL or RETRY' }),
    /** With RETRY: the failed actions only, or the whole stage. @default FAILED_ACTIONS */
    retryMode: z.enum(RetryMode, { error: 'expected FAILED_ACTIONS or ALL_ACTIONS' }).optional(),
    rules: rules.optional(),
  })
  .superRefine((c, ctx) => {
    if (c.retryMode !== undefined && c.result !== 'RETRY')
      ctx.addIssue({ code: 'custom', path: ['retryMode'], message: `retryMode applies only to result RETRY, not ${c.result}` });
  });

export type Rule = z.output<typeof RuleSchema>;
export type StageBeforeEntry = z.output<typeof BeforeEntrySchema>;
export type StageOnSuccess = z.output<typeof OnSuccessSchema>;
export type StageOnFailure = z.output<typeof OnFailureSchema>;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
