/** Every verb of the CLI, one module each (or one per family of verbs). */
import type { Command } from 'commander';
import * as build from './build';
import * as dashboard from './dashboard';
import * as definition from './definition';
import * as executions from './executions';
import * as run from './run';
import * as serve from './serve';

export const commandModules: Array<{ register(program: Command): void }> = [definition, run, serve, dashboard, build, executions];
