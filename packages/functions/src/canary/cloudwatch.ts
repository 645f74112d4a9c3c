/**
 * The deployment's CloudWatch alarms, as CodeDeploy's alarm configuration: any alarm in ALARM rolls
 * back. An alarm that does not exist counts as firing, as CodeDeploy fails a deployment whose alarms
 * it cannot read: a typo must not turn the safety check off.
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/monitoring-create-alarms.html
 */
import { type CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import type { AlarmFinding, AlarmMonitor } from '@stepline/core';
import { type RetryOptions, retryTransient } from './retry';

/** DescribeAlarms takes at most 100 names per call. */
const PAGE = 100;

export class CloudWatchAlarms implements AlarmMonitor {
  constructor(
    private readonly cloudwatch: CloudWatchClient,
    private readonly names: readonly string[],
    private readonly retry: RetryOptions = {},
  ) {}

  async firing(): Promise<AlarmFinding[]> {
    const findings: AlarmFinding[] = [];
    for (let i = 0; i < this.names.length; i += PAGE) {
      const names = this.names.slice(i, i + PAGE);
      const answer = await retryTransient(
        'DescribeAlarms',
        () => this.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: names, AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], MaxRecords: PAGE })),
        this.retry,
      );
      const alarms = [...(answer.MetricAlarms ?? []), ...(answer.CompositeAlarms ?? [])];
      for (const name of names) {
        const alarm = alarms.find((a) => a.AlarmName === name);
        if (!alarm) findings.push({ name, reason: 'the alarm does not exist' });
        else if (alarm.StateValue === 'ALARM') findings.push({ name, reason: alarm.StateReason ?? 'in ALARM' });
      }
    }
    return findings;
  }
}
