/**
 * A CodeBuild log from CloudWatch Logs, read with the user's credentials: the console shows its tail
 * and streams what is added while the build runs. CodeBuild masks parameter-store and secrets-manager
 * values before they reach the log.
 * @see https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html
 */
import { type CloudWatchLogsClient, GetLogEventsCommand, type GetLogEventsCommandOutput } from '@aws-sdk/client-cloudwatch-logs';

/** The whole text of a log stream, oldest first; empty while the stream does not exist yet. */
export type LogText = (groupName: string, streamName: string) => Promise<string>;

/** Reads at most this many pages of events, so one huge log cannot hold the page. */
const MAX_PAGES = 50;

export function cloudWatchLogText(client: CloudWatchLogsClient): LogText {
  return async (logGroupName, logStreamName) => {
    let text = '';
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      let out: GetLogEventsCommandOutput;
      try {
        out = await client.send(new GetLogEventsCommand({ logGroupName, logStreamName, startFromHead: true, ...(token && { nextToken: token }) }));
      } catch (error) {
        // CodeBuild creates the stream when the build starts: before that there is no log yet.
        if (error instanceof Error && error.name === 'ResourceNotFoundException') return text;
        throw error;
      }
      for (const e of out.events ?? []) text += (e.message ?? '').endsWith('\n') ? (e.message ?? '') : `${e.message ?? ''}\n`;
      // The forward token comes back unchanged at the end of the stream.
      if (!out.nextForwardToken || out.nextForwardToken === token || (out.events ?? []).length === 0) return text;
      token = out.nextForwardToken;
    }
    return text;
  };
}
