import { describe, expect, it } from 'vitest';
import type { ConditionCheckResult } from '../conditions/check';
import { parsePipelineText } from '../model/parse';
import { pipelineYaml } from '../testing';
import type { HistoryEvent } from './pipeline-state';
import { ruleExecutionsFrom } from './rule-executions';

const pipeline = parsePipelineText(
  pipelineYaml(
    'web',
    `  - name: Deploy
    onFailure: { result: RETRY }
    onSuccess:
      result: FAIL
      rules:
        - { name: Errors, provider: CloudWatchAlarm, alarmName: web-5xx, waitTimeMinutes: 5 }
        - { name: Smoke, provider: LambdaInvoke, functionName: smoke }
    actions: [{ name: Ship, kind: invoke, function: ship }]
`,
  ),
);
let clock = 0;
const at = () => new Date(Date.UTC(2026, 11, 5, 10, 0, clock++)).toISOString();
const CHECK = 'Deploy · check success conditions';
const AGAIN = 'Deploy · check success conditions again';
const watching: ConditionCheckResult = {
  status: 'WAIT',
  rule: 'Errors',
  reason: 'watching alarm web-5xx (OK) until 10:05',
  waitSeconds: 60,
  rules: [
    { rule: 'Errors', provider: 'CloudWatchAlarm', status: 'WAIT', reason: 'watching alarm web-5xx (OK) until 10:05' },
    { rule: 'Smoke', provider: 'LambdaInvoke', status: 'PASS', reason: 'smoke succeeded' },
  ],
};
const check = (state: string, result: ConditionCheckResult): HistoryEvent[] => [
  { type: 'entered', state, at: at() },
  { type: 'exited', state, at: at(), check: result },
];
const statuses = (events: HistoryEvent[], status: 'InProgress' | 'Stopped' | 'Succeeded' | 'Failed' = 'Succeeded') =>
  ruleExecutionsFrom({ pipeline, execution: { executionId: 'e1', status, events } }).map((r) => [
    r.ruleExecutionId,
    r.status,
    r.output?.executionResult.externalExecutionSummary,
  ]);

describe('rule executions from history', () => {
  it('keeps one record per rule across a wait and its re-checks, and a new one when the condition is evaluated again', () => {
    const fired: ConditionCheckResult = {
      status: 'NOT_MET',
      rule: 'Errors',
      reason: 'alarm web-5xx is ALARM',
      rules: [{ rule: 'Errors', provider: 'CloudWatchAlarm', status: 'NOT_MET', reason: 'alarm web-5xx is ALARM' }],
    };
    const events = [...check(CHECK, watching), ...check(AGAIN, fired), ...check(CHECK, watching)];
    expect(statuses(events, 'InProgress')).toStrictEqual([
      ['e1/Deploy/onSuccess/Errors/1', 'Failed', 'alarm web-5xx is ALARM'],
      ['e1/Deploy/onSuccess/Smoke/1', 'Succeeded', 'smoke succeeded'],
      ['e1/Deploy/onSuccess/Errors/2', 'InProgress', 'watching alarm web-5xx (OK) until 10:05'],
      ['e1/Deploy/onSuccess/Smoke/2', 'Succeeded', 'smoke succeeded'],
    ]);
  });

  it('abandons what was still being evaluated when the execution ended, and fails every rule of a check that could not run', () => {
    expect(statuses(check(CHECK, watching), 'Stopped')[0]).toStrictEqual([
      'e1/Deploy/onSuccess/Errors/1',
      'Abandoned',
      'watching alarm web-5xx (OK) until 10:05',
    ]);
    const broken: HistoryEvent[] = [
      { type: 'entered', state: CHECK, at: at() },
      { type: 'failed', state: CHECK, at: at(), error: 'Lambda.Unknown', cause: 'the function timed out' },
    ];
    const [errors, smoke] = ruleExecutionsFrom({ pipeline, execution: { executionId: 'e1', status: 'Failed', events: broken } });
    expect(errors).toMatchObject({
      status: 'Failed',
      output: { executionResult: { errorDetails: { code: 'Lambda.Unknown', message: 'the function timed out' } } },
    });
    expect(smoke).toMatchObject({ ruleName: 'Smoke', status: 'Failed' });
  });

  it('names the CodeBuild build a Commands rule ran in, from the check that started it', () => {
    const commands = parsePipelineText(
      pipelineYaml(
        'web',
        '  - name: Deploy\n    beforeEntry: { result: FAIL, rules: [{ name: Smoke, provider: Commands, commands: [./smoke] }] }\n    actions: [{ name: Ship, kind: invoke, function: ship }]\n',
      ),
    );
    const running: ConditionCheckResult = {
      status: 'WAIT',
      rule: 'Smoke',
      reason: 'commands running in CodeBuild build p:1',
      waitSeconds: 15,
      watch: { builds: { Smoke: 'p:1' } },
      rules: [{ rule: 'Smoke', provider: 'Commands', status: 'WAIT', reason: 'commands running in CodeBuild build p:1' }],
    };
    const passed: ConditionCheckResult = {
      status: 'PASS',
      reason: '1 rule passed',
      rules: [{ rule: 'Smoke', provider: 'Commands', status: 'PASS', reason: 'commands succeeded in CodeBuild build p:1' }],
    };
    const events = [...check('Deploy · check entry conditions', running), ...check('Deploy · check entry conditions again', passed)];
    expect(ruleExecutionsFrom({ pipeline: commands, execution: { executionId: 'e1', status: 'Succeeded', events } })).toMatchObject([
      {
        status: 'Succeeded',
        output: { executionResult: { externalExecutionId: 'p:1', externalExecutionSummary: 'commands succeeded in CodeBuild build p:1' } },
      },
    ]);
  });
});
