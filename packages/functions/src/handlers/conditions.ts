/**
 * The conditions function: target of every stage condition's check Task (`<Stage> · check … conditions`,
 * see core's compiler/conditions.ts). Core evaluates the rules; this function gives them their AWS
 * effects: a CloudWatchAlarm rule reads the alarm (DescribeAlarms), a LambdaInvoke rule invokes its
 * function (the rule passes unless the function fails). A Commands rule needs compute this function
 * does not have: it is refused with the reason. The `roll back` Task's request starts the stage's
 * rollback execution (../conditions/rollback-request.ts).
 */
import { CloudWatchClient as CloudWatch, type CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import middy from '@middy/core';
import { type ConditionCheckPayload, type ConditionCheckResult, ErrorName, evaluateCondition, type RuleEffects, SteplineError } from '@stepline/core';
import { handleRollbackRequest, type RollbackAnswer, type RollbackRequestDependencies } from '../conditions/rollback-request';
import { lazy } from '../runtime';

export interface ConditionsDependencies {
  cloudwatch: () => CloudWatchClient;
  lambda: () => LambdaClient;
  now?: () => Date;
  /** What a rollback request needs: Step Functions, S3 and the artifact bucket's name. */
  rollback?: RollbackRequestDependencies;
}

export function createConditionsHandler(deps: ConditionsDependencies) {
  const effects: RuleEffects = {
    alarmState: async (rule) => {
      const answer = await deps.cloudwatch().send(new DescribeAlarmsCommand({ AlarmNames: [rule.alarmName], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }));
      const alarm = [...(answer.MetricAlarms ?? []), ...(answer.CompositeAlarms ?? [])].find((a) => a.AlarmName === rule.alarmName);
      // An alarm that cannot be read counts as firing: a typo must not turn the check off.
      return alarm?.StateValue ?? 'ALARM';
    },
    invoke: async (rule) => {
      if (rule.functionName === undefined) throw new SteplineError(ErrorName.DefinitionInvalid, `rule ${rule.name} names no function to invoke on AWS`);
      const answer = await deps.lambda().send(
        new InvokeCommand({
          FunctionName: rule.functionName,
          Payload: new TextEncoder().encode(JSON.stringify({ rule: rule.name, userParameters: rule.userParameters ?? '' })),
        }),
      );
      if (answer.FunctionError) {
        const detail = answer.Payload ? new TextDecoder().decode(answer.Payload) : answer.FunctionError;
        return { passed: false, reason: `${rule.functionName} failed: ${detail.slice(0, 500)}` };
      }
      return { passed: true, reason: `${rule.functionName} succeeded` };
    },
    commands: async (rule) => {
      throw new SteplineError(ErrorName.DefinitionInvalid, `rule ${rule.name}: Commands rules run on one machine only; on AWS use a LambdaInvoke rule`);
    },
  };
  return async (event: unknown): Promise<ConditionCheckResult | RollbackAnswer> => {
    const payload = event as ConditionCheckPayload & { request?: string };
    if (payload.request === 'rollback') {
      if (!deps.rollback) throw new SteplineError(ErrorName.Configuration, 'this conditions function was made without what a rollback needs');
      return handleRollbackRequest(event, deps.rollback);
    }
    return evaluateCondition(payload, effects, deps.now?.() ?? new Date());
  };
}

export const handler = middy(
  createConditionsHandler({
    cloudwatch: lazy(() => new CloudWatch({})),
    lambda: lazy(() => new LambdaClient({})),
    rollback: { sfn: lazy(() => new SFNClient({})), s3: lazy(() => new S3Client({})), env: process.env },
  }),
);
