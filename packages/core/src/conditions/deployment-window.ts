/**
 * CodePipeline's DeploymentWindow rule: a window is open during every minute its cron matches.
 * CodePipeline writes cron in six fields (minutes, hours, day of month, month, day of week, year,
 * as EventBridge does, days of week 1-7 from Sunday); croner reads it with seconds in front.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html
 */
import { Cron } from 'croner';

export interface WindowCron {
  cron?: Cron;
  /** Why the expression does not parse. */
  problem?: string;
}

export function parseWindowCron(expression: string, timeZone: string): WindowCron {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) {
    return { problem: `expected six fields (minutes hours day-of-month month day-of-week year), not ${fields.length}` };
  }
  // EventBridge, like CodePipeline, needs a ? in one of the two day fields.
  if (fields[2] !== '?' && fields[4] !== '?') return { problem: 'expected ? in day-of-month or day-of-week' };
  try {
    return { cron: new Cron(`0 ${fields.join(' ')}`, { timezone: timeZone, paused: true, alternativeWeekdays: true }) };
  } catch (error) {
    return { problem: `the cron does not parse: ${(error as Error).message}` };
  }
}

export interface WindowState {
  open: boolean;
  /** When closed: the start of the next window, if there is one. */
  opensAt?: Date;
}

export function deploymentWindow(expression: string, timeZone: string, now: Date): WindowState {
  const { cron, problem } = parseWindowCron(expression, timeZone);
  if (!cron) throw new Error(problem);
  const minute = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  if (cron.match(minute)) return { open: true };
  const next = cron.nextRun(now);
  return next ? { open: false, opensAt: next } : { open: false };
}
