/**
 * The team's side of an ECS blue/green deploy, made in moto_server: an ALB whose listener forwards
 * 100/0 to a blue and a green target group, a cluster with an EXTERNAL-controller service whose blue
 * task set is primary, and the `web-5xx` alarm. What a deploy action's `ecs:` names.
 */
import { type CloudWatchClient, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  CreateTaskSetCommand,
  type ECSClient,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  UpdateServicePrimaryTaskSetCommand,
} from '@aws-sdk/client-ecs';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';

export interface EcsFixture {
  listenerArn: string;
  blueTg: string;
  greenTg: string;
  blueTaskSetArn: string;
  subnets: string[];
  securityGroup: string;
}

/** A deploy action's `ecs` settings for the fixture's service, as a definition names them. */
export function ecsSettingsFor(fx: EcsFixture) {
  return {
    cluster: 'prod',
    service: 'web',
    containerName: 'web',
    containerPort: 8080,
    listenerArn: fx.listenerArn,
    targetGroups: { blue: fx.blueTg, green: fx.greenTg },
    subnets: fx.subnets,
    securityGroups: [fx.securityGroup],
  };
}

export interface EcsFixtureOptions {
  /** An EC2 query API call (moto's default VPC and its subnets; the JS SDK's EC2 client is not needed). */
  ec2: (params: Record<string, string>) => Promise<string>;
  ecs: ECSClient;
  elb: ElasticLoadBalancingV2Client;
  cloudwatch: CloudWatchClient;
  /** Blue's task definition. */
  blueTaskDefinition: RegisterTaskDefinitionCommandInput;
}

export async function createEcsFixture({ ec2, ecs, elb, cloudwatch, blueTaskDefinition }: EcsFixtureOptions): Promise<EcsFixture> {
  const subnetsXml = await ec2({ Action: 'DescribeSubnets' });
  const subnets = [...subnetsXml.matchAll(/<subnetId>(.*?)<\/subnetId>/g)].map((m) => m[1] ?? '').slice(0, 2);
  const vpcId = subnetsXml.match(/<vpcId>(.*?)<\/vpcId>/)?.[1] ?? '';
  const securityGroup =
    (await ec2({ Action: 'CreateSecurityGroup', GroupName: 'web', GroupDescription: 'web', VpcId: vpcId })).match(/<groupId>(.*?)<\/groupId>/)?.[1] ?? '';
  const lb = await elb.send(new CreateLoadBalancerCommand({ Name: 'web', Subnets: subnets, SecurityGroups: [securityGroup] }));
  const tg = async (Name: string) =>
    (await elb.send(new CreateTargetGroupCommand({ Name, Protocol: 'HTTP', Port: 8080, VpcId: vpcId, TargetType: 'ip' }))).TargetGroups?.[0]?.TargetGroupArn ??
    '';
  const blueTg = await tg('web-blue');
  const greenTg = await tg('web-green');
  const listener = await elb.send(
    new CreateListenerCommand({
      LoadBalancerArn: lb.LoadBalancers?.[0]?.LoadBalancerArn,
      Protocol: 'HTTP',
      Port: 80,
      DefaultActions: [
        {
          Type: 'forward',
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: blueTg, Weight: 100 },
              { TargetGroupArn: greenTg, Weight: 0 },
            ],
          },
        },
      ],
    }),
  );
  await ecs.send(new CreateClusterCommand({ clusterName: 'prod' }));
  const blueTd = await ecs.send(new RegisterTaskDefinitionCommand(blueTaskDefinition));
  await ecs.send(new CreateServiceCommand({ cluster: 'prod', serviceName: 'web', desiredCount: 2, deploymentController: { type: 'EXTERNAL' } }));
  const blue = await ecs.send(
    new CreateTaskSetCommand({
      cluster: 'prod',
      service: 'web',
      taskDefinition: blueTd.taskDefinition?.taskDefinitionArn,
      launchType: 'FARGATE',
      networkConfiguration: { awsvpcConfiguration: { subnets, securityGroups: [securityGroup] } },
      loadBalancers: [{ targetGroupArn: blueTg, containerName: 'web', containerPort: 8080 }],
      scale: { unit: 'PERCENT', value: 100 },
    }),
  );
  const blueTaskSetArn = blue.taskSet?.taskSetArn ?? '';
  // On AWS, ECS makes the first task set of an EXTERNAL service primary; moto needs telling.
  await ecs.send(new UpdateServicePrimaryTaskSetCommand({ cluster: 'prod', service: 'web', primaryTaskSet: blueTaskSetArn }));
  await cloudwatch.send(
    new PutMetricAlarmCommand({
      AlarmName: 'web-5xx',
      MetricName: 'HTTPCode_Target_5XX_Count',
      Namespace: 'AWS/ApplicationELB',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanThreshold',
    }),
  );
  return { listenerArn: listener.Listeners?.[0]?.ListenerArn ?? '', blueTg, greenTg, blueTaskSetArn, subnets, securityGroup };
}
