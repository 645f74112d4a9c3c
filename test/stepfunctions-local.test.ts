/**
 * A Step Functions action on one machine, end to end with `stepline run`: the action's local ASL file
 * runs in the local engine, its input from the definition (Literal, with references) or from a file
 * in the source artifact (FilePath), its output becomes variables a later action reads; a state
 * machine that fails fails the action with its error and cause.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createProject, type Project, runCli } from './helpers/project';

// Big releases go on; small ones fail with the state machine's own error.
const RELEASE_ASL = JSON.stringify({
  StartAt: 'Size?',
  States: {
    'Size?': { Type: 'Choice', Choices: [{ Variable: '$.size', NumericGreaterThan: 2, Next: 'Big' }], Default: 'TooSmall' },
    Big: { Type: 'Pass', Parameters: { 'verdict.$': "States.Format('big-{}', $.commit)", 'size.$': '$.size' }, End: true },
    TooSmall: { Type: 'Fail', Error: 'Release.TooSmall', Cause: 'size must be over 2' },
  },
});

const definition = (size: string) => `name: flow
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/flow, outputArtifacts: [Src], namespace: SourceVariables }]
  - name: Orchestrate
    actions:
      - name: Literal
        kind: stepfunctions
        stateMachineArn: arn:aws:states:us-east-1:123456789012:stateMachine:release
        executionNamePrefix: release
        input: '{"commit": "#{SourceVariables.CommitId}", "size": ${size}}'
        outputVariables: [verdict, size]
        local: { definition: flows/release.asl.json }
        namespace: Flow
      - name: FromFile
        kind: stepfunctions
        inputType: FilePath
        input: flows/input.json
        inputArtifacts: [Src]
        local: { definition: flows/release.asl.json }
        namespace: FileFlow
        outputVariables: [verdict]
  - name: Use
    actions:
      - { name: Check, kind: invoke, command: 'test "#{Flow.verdict}" = "big-#{SourceVariables.CommitId}" && test "#{FileFlow.verdict}" = big-from-file && echo "#{Flow.ExecutionArn}" > arn.txt && grep -q ":execution:release:release-" arn.txt' }
`;

let project: Project | undefined;
afterEach(() => project?.remove());

/** A project whose pipeline releases `size`, with its flows committed. */
function flowProject(size: string): Project {
  const created = createProject({ 'flows/release.asl.json': RELEASE_ASL, 'flows/input.json': JSON.stringify({ commit: 'from-file', size: 5 }) });
  created.write('stepline.yml', definition(size));
  created.commitAll('flow');
  return created;
}

describe('stepfunctions action with stepline run', () => {
  beforeAll(async () => {
    // The CLI runs from its bundle.
    await import('node:child_process').then(({ execFileSync }) => execFileSync(process.execPath, ['scripts/build-cli.mjs'], { stdio: 'ignore' }));
  });

  it('runs the local state machine, with Literal and FilePath input, and passes its output on as variables', async () => {
    project = flowProject('3');
    const run = await runCli(['run', 'stepline.yml'], { cwd: project.dir, timeoutMs: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/✔ Orchestrate · Literal succeeded in/);
    expect(run.stdout).toMatch(/✔ Orchestrate · FromFile succeeded in/);
    expect(run.stdout).toMatch(/✔ Use · Check succeeded in/);
  }, 90_000);

  it("fails the action with the state machine's error when its execution fails", async () => {
    project = flowProject('1');
    const run = await runCli(['run', 'stepline.yml', '--json'], { cwd: project.dir, timeoutMs: 60_000 });
    expect(run.code).not.toBe(0);
    const result = JSON.parse(run.stdout) as { status: string; cause?: string };
    expect(result.status).toBe('Failed');
    expect(result.cause).toMatch(/Stage Orchestrate, action Literal failed: .*FAILED: Release.TooSmall: size must be over 2/);
  }, 90_000);
});
