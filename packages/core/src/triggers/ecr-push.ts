/**
 * What starts a pipeline with an ECR source on AWS: an EventBridge rule on ECR's "ECR Image Action"
 * event (a successful PUSH of the action's repository and tag) that starts the state machine, its
 * input made by an input transformer into stepline's execution input, the pushed digest in
 * `source.imageDigest` so the source action builds that very image. As CodePipeline's console
 * creates for an ECR source.
 * @see https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-eventbridge.html
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/create-cwe-ecr-source.html
 */
import type { Pipeline, SourceAction } from '../model/schema';

export interface EcrPushRule {
  /** The source action the rule watches. */
  action: string;
  repository: string;
  imageTag: string;
  eventPattern: Record<string, unknown>;
  /** EventBridge `InputTransformer`: values from the event, and the input they fill in. */
  inputPaths: Record<string, string>;
  inputTemplate: string;
}

/** One rule per ECR source action of the pipeline. */
export function ecrPushRules(pipeline: Pick<Pipeline, 'name' | 'stages'>): EcrPushRule[] {
  return pipeline.stages
    .flatMap((s) => s.actions)
    .filter((a): a is SourceAction => a.kind === 'source' && a.provider === 'ECR')
    .map((action) => {
      const imageTag = action.imageTag ?? 'latest';
      // The template is JSON with <placeholders>; EventBridge puts each value in as a JSON string.
      const input = {
        pipeline: pipeline.name,
        trigger: { type: 'CloudWatchEvent', deliveryId: '<id>', event: 'ECR Image Action' },
        source: { repository: '<repository>', imageDigest: '<digest>', imageTag: '<tag>' },
        variables: {},
      };
      return {
        action: action.name,
        repository: action.repository,
        imageTag,
        eventPattern: {
          source: ['aws.ecr'],
          'detail-type': ['ECR Image Action'],
          detail: { 'action-type': ['PUSH'], result: ['SUCCESS'], 'repository-name': [action.repository], 'image-tag': [imageTag] },
        },
        inputPaths: { id: '$.id', repository: '$.detail.repository-name', digest: '$.detail.image-digest', tag: '$.detail.image-tag' },
        inputTemplate: JSON.stringify(input).replace(/"<(id|repository|digest|tag)>"/g, '<$1>'),
      };
    });
}
