/**
 * Approval requests to SNS: one message with a JSON document for programs (`default`, also what HTTP and
 * SQS subscribers get) and a plain text for e-mail subscribers.
 * @see https://docs.aws.amazon.com/sns/latest/dg/sns-send-custom-platform-specific-payloads-mobile-devices.html
 */
import type { SNSClient } from '@aws-sdk/client-sns';
import type { ApprovalNotification } from '@stepline/core';

export async function publishNotification(sns: SNSClient, topicArn: string, notification: ApprovalNotification): Promise<string | undefined> {
  const { PublishCommand } = await import('@aws-sdk/client-sns');
  const out = await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: notification.subject,
      MessageStructure: 'json',
      Message: JSON.stringify({ default: JSON.stringify(notification.json), email: notification.text }),
    }),
  );
  return out.MessageId;
}
