/** The console's source for an AWS installation: the CLI's AWS backend, with the user's credentials. */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { localUser } from '@stepline/local';
import { AwsBackend } from '../aws/backend';
import { clientConfig, resolveAwsEnvironment } from '../aws/credentials';
import { BackendConsole } from './backend-console';
import { cloudWatchLogText } from './cloudwatch-logs';

export interface AwsConsoleOptions {
  region?: string;
  profile?: string;
  /** The installation (sst stage). @default every installation in the account and region */
  stage?: string;
  readOnly?: boolean;
}

export async function openAwsConsole(options: AwsConsoleOptions): Promise<BackendConsole> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const environment = await resolveAwsEnvironment({
    ...(options.region !== undefined && { region: options.region }),
    ...(options.profile !== undefined && { profile: options.profile }),
  });
  const config = clientConfig(environment);
  const actor = localUser();
  const backend = new AwsBackend({ sfn: new SFNClient(config), s3: new S3Client(config), actor, ...(options.stage !== undefined && { stage: options.stage }) });
  const where = `AWS ${options.stage ? `installation ${options.stage}` : 'installations'} (${environment.region})`;
  return new BackendConsole(backend, where, actor, { readOnly: options.readOnly === true, logText: cloudWatchLogText(new CloudWatchLogsClient(config)) });
}
