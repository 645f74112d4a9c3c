/**
 * One team's stepline on AWS: `npx sst deploy --stage <team>` (see docs/install-aws.md).
 *
 * Configuration, from the environment of the deploy:
 * - STEPLINE_PIPELINES: the directory of pipeline definitions (*.yml, *.yaml, *.json). @default pipelines
 * - STEPLINE_APPROVAL_EMAILS, STEPLINE_NOTIFICATION_EMAILS: comma-separated addresses to subscribe
 * - STEPLINE_ARTIFACT_DAYS: days an execution's artifacts are kept. @default 30
 * Secrets (`npx sst secret set <Name> <value> --stage <team>`): GithubWebhookSecret and LinkSigningKey
 * are required; GithubToken, GitlabToken, BitbucketToken, SlackWebhookUrl and SlackSigningSecret are optional.
 *
 * Type-checked with stacks/tsconfig.json, which includes .sst/platform/config.d.ts (.ci/sst-install.sh).
 */
export default $config({
  app(input) {
    const production = input?.stage === 'production';
    return { name: 'stepline', home: 'aws', removal: production ? 'retain' : 'remove', protect: production };
  },
  async run() {
    const { join, resolve } = await import('node:path');
    const { bundleHandlers, FUNCTION_KEYS, installStepline, loadPipelines, SECRETS } = await import('./stacks/index');

    const [identity, region] = await Promise.all([aws.getCallerIdentity({}), aws.getRegion({})]);
    // An optional secret without a value is left out, with what would read it; sst puts every secret
    // that has a value in the environment of the deploy as SST_SECRET_<Name>.
    const secrets = Object.fromEntries(
      Object.entries(SECRETS).flatMap(([name, spec]) =>
        spec.required || process.env[`SST_SECRET_${name}`] !== undefined ? [[name, new sst.Secret(name).value]] : [],
      ),
    );
    // Every handler bundled in one esbuild run (node22, ESM), then each function gets its own files.
    const handlersDir = resolve('packages/functions/src/handlers');
    const bundles = await bundleHandlers(FUNCTION_KEYS.map((key) => join(handlersDir, `${key}.ts`)));
    const list = (value: string | undefined) => (value ?? '').split(',').flatMap((v) => (v.trim() ? [v.trim()] : []));

    const stepline = installStepline({
      stage: $app.stage,
      region: region.region,
      accountId: identity.accountId,
      pipelines: loadPipelines(resolve(process.env.STEPLINE_PIPELINES ?? 'pipelines')).map((p) => p.pipeline),
      handlersDir,
      bundle: (entry) =>
        new $util.asset.AssetArchive(
          Object.fromEntries(Object.entries(bundles.get(entry) ?? {}).map(([file, text]) => [file, new $util.asset.StringAsset(text)])),
        ),
      secrets,
      retain: $app.removal !== 'remove',
      approvalEmails: list(process.env.STEPLINE_APPROVAL_EMAILS),
      notificationEmails: list(process.env.STEPLINE_NOTIFICATION_EMAILS),
      ...(process.env.STEPLINE_ARTIFACT_DAYS && { artifactRetentionDays: Number(process.env.STEPLINE_ARTIFACT_DAYS) }),
    });

    return {
      webhookUrl: stepline.webhookUrl,
      dashboardUrl: stepline.dashboardUrl,
      approvalUrl: stepline.approvalUrl,
      artifactBucket: stepline.bucket.bucket,
      pipelines: Object.keys(stepline.stateMachines).join(', '),
    };
  },
});
