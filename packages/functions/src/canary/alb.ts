/**
 * Traffic between the two target groups by ALB weighted forwarding: the listener's default action (or
 * one rule's) forwards to blue and green with weights. Weights are read back after each change, since
 * the ALB may show them late. Other actions on the listener (authentication, stickiness) are kept.
 * @see https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html#forward-actions
 */
import {
  type Action,
  DescribeListenersCommand,
  DescribeRulesCommand,
  type ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
  ModifyRuleCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ErrorName, type Route, SteplineError, type TrafficRouter, type WeightCheck } from '@stepline/core';
import type { EcsTarget } from './ecs';
import { type RetryOptions, retryTransient } from './retry';

export interface TargetGroupRoles {
  blueTargetGroup: string;
  greenTargetGroup: string;
}

export interface AlbRouterOptions {
  elb: ElasticLoadBalancingV2Client;
  target: Pick<EcsTarget, 'listenerArn' | 'ruleArn' | 'testListenerArn'>;
  /** Which target group is blue and which green for this deployment (they swap between deployments). */
  roles(): Promise<TargetGroupRoles>;
  retry?: RetryOptions;
}

/** Green's share (percent) in a forward action, and the weights as read. */
export function greenShare(actions: readonly Action[], roles: TargetGroupRoles): { share: number; detail: string } {
  const forward = actions.find((a) => a.Type === 'forward');
  const groups = forward?.ForwardConfig?.TargetGroups ?? (forward?.TargetGroupArn ? [{ TargetGroupArn: forward.TargetGroupArn, Weight: 1 }] : []);
  const weight = (arn: string) => groups.filter((g) => g.TargetGroupArn === arn).reduce((sum, g) => sum + (g.Weight ?? 1), 0);
  const blue = weight(roles.blueTargetGroup);
  const green = weight(roles.greenTargetGroup);
  const share = blue + green === 0 ? 0 : Math.round((100 * green) / (blue + green));
  return { share, detail: `forwards blue ${blue} / green ${green}` };
}

/** The actions with the forward action replaced by blue/green weights (added when there is none). */
export function withWeights(actions: readonly Action[], roles: TargetGroupRoles, greenWeight: number): Action[] {
  const forward = (existing: Action | undefined): Action => ({
    Type: 'forward',
    ...(existing?.Order !== undefined && { Order: existing.Order }),
    ForwardConfig: {
      TargetGroups: [
        { TargetGroupArn: roles.blueTargetGroup, Weight: 100 - greenWeight },
        { TargetGroupArn: roles.greenTargetGroup, Weight: greenWeight },
      ],
      ...(existing?.ForwardConfig?.TargetGroupStickinessConfig && { TargetGroupStickinessConfig: existing.ForwardConfig.TargetGroupStickinessConfig }),
    },
  });
  const out = actions.map((a) => (a.Type === 'forward' ? forward(a) : a));
  return out.some((a) => a.Type === 'forward') ? out : [...out, forward(undefined)];
}

export class AlbRouter implements TrafficRouter {
  constructor(private readonly options: AlbRouterOptions) {}

  hasRoute(route: Route): boolean {
    return route === 'production' || this.options.target.testListenerArn !== undefined;
  }

  async setWeight(route: Route, greenWeight: number): Promise<void> {
    const roles = await this.options.roles();
    const actions = withWeights(await this.read(route), roles, greenWeight);
    const { elb, target } = this.options;
    if (route === 'production' && target.ruleArn) {
      const RuleArn = target.ruleArn;
      await this.call('ModifyRule', () => elb.send(new ModifyRuleCommand({ RuleArn, Actions: actions })));
    } else {
      const ListenerArn = this.listener(route);
      await this.call('ModifyListener', () => elb.send(new ModifyListenerCommand({ ListenerArn, DefaultActions: actions })));
    }
  }

  async verifyWeight(route: Route, greenWeight: number): Promise<WeightCheck> {
    const { share, detail } = greenShare(await this.read(route), await this.options.roles());
    const where = route === 'production' && this.options.target.ruleArn ? 'the rule' : route === 'test' ? 'the test listener' : 'the listener';
    return { verified: share === greenWeight, detail: `${where} ${detail}` };
  }

  private listener(route: Route): string {
    const arn = route === 'test' ? this.options.target.testListenerArn : this.options.target.listenerArn;
    if (!arn) throw new SteplineError(ErrorName.ActionFailed, 'no test listener is configured (ecs.testListenerArn)');
    return arn;
  }

  private async read(route: Route): Promise<Action[]> {
    const { elb, target } = this.options;
    if (route === 'production' && target.ruleArn) {
      const RuleArns = [target.ruleArn];
      const answer = await this.call('DescribeRules', () => elb.send(new DescribeRulesCommand({ RuleArns })));
      return answer.Rules?.[0]?.Actions ?? [];
    }
    const ListenerArns = [this.listener(route)];
    const answer = await this.call('DescribeListeners', () => elb.send(new DescribeListenersCommand({ ListenerArns })));
    return answer.Listeners?.[0]?.DefaultActions ?? [];
  }

  private call<T>(what: string, call: () => Promise<T>): Promise<T> {
    return retryTransient(what, call, this.options.retry);
  }
}
