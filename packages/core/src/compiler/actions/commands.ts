import { stringify } from 'yaml';
import { COMMANDS_TIMEOUT_MINUTES, type CommandsAction } from '../../model/schema';
import type { ActionContext } from '../context';
import { type CodeBuildRun, compileBuild } from './build';

/**
 * The buildspec (0.2) a commands action runs: its commands in the build phase (one shell session, as
 * every buildspec 0.2 build), its output variables as `exported-variables`, and its output artifact's
 * files (CodePipeline's OutputArtifact `files`; every file when it names none).
 */
export function commandsBuildspec(
  action: Pick<CommandsAction, 'commands'> & Partial<Pick<CommandsAction, 'outputVariables' | 'outputArtifacts' | 'outputFiles'>>,
): string {
  const exported = action.outputVariables ?? [];
  return stringify({
    version: 0.2,
    ...(exported.length > 0 && { env: { 'exported-variables': exported } }),
    phases: { build: { commands: action.commands } },
    ...((action.outputArtifacts?.length ?? 0) > 0 && { artifacts: { files: action.outputFiles ?? ['**/*'] } }),
  });
}

/**
 * CodePipeline's limit on a Commands rule's build (55 minutes, as CodeBuild builds of the managed compute).
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-Commands.html
 */
export const COMMANDS_RULE_TIMEOUT_MINUTES = 55;

/** A commands action as the CodeBuild build that runs it, in the project `sst deploy` creates for it. */
export function commandsBuild(action: CommandsAction): CodeBuildRun {
  return {
    name: action.name,
    inputArtifacts: action.inputArtifacts,
    outputArtifacts: action.outputArtifacts,
    environmentVariables: action.environmentVariables,
    ...(action.secretsManager !== undefined && { secretsManager: action.secretsManager }),
    timeoutMinutes: action.timeoutMinutes ?? COMMANDS_TIMEOUT_MINUTES,
    ...(action.namespace !== undefined && { namespace: action.namespace }),
    ...(action.outputVariables !== undefined && { outputVariables: action.outputVariables }),
    buildspec: commandsBuildspec(action),
  };
}

/**
 * CodePipeline runs a Commands action on CodeBuild compute it manages; stepline runs it as a build
 * (`startBuild.sync`) of a project the installation creates, with the buildspec made from the commands.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-Commands.html
 */
export function compileCommands(ctx: ActionContext, action: CommandsAction): void {
  compileBuild(ctx, commandsBuild(action));
}
