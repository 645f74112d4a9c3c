/**
 * Compiles `#{Namespace.Variable}` references into JSONPath and `States.Format`, so that values reach
 * AWS integrations (CodeBuild's EnvironmentVariablesOverride, Lambda payloads) already resolved.
 */
import { EXECUTION_NAMESPACE, PIPELINE_VARIABLES_NAMESPACE, parseTemplate, type TemplatePart, type VariableReference } from '../model/references';
import type { Pipeline } from '../model/schema';
import type { ActionPosition } from '../model/validate';
import { pathKey } from './names';
import type { JsonObject } from './states';

/** Where an action's result lives in the state data, and how each of its variables is read. */
export const actionResultPath = (key: string) => `$.actions.${key}`;

export class ReferenceResolver {
  private readonly owners = new Map<string, { position: ActionPosition; key: string }>();

  constructor(
    private readonly pipeline: Pipeline,
    keys: Map<ActionPosition, string>,
  ) {
    for (const [position, key] of keys) {
      if (position.action.namespace !== undefined) this.owners.set(position.action.namespace, { position, key });
    }
  }

  /** A JSONPath or intrinsic-function expression that yields the referenced value at run time. */
  expression(ref: VariableReference): string {
    if (ref.namespace === PIPELINE_VARIABLES_NAMESPACE) return `$.variables${pathKey(ref.variable)}`;
    if (ref.namespace === EXECUTION_NAMESPACE) return '$$.Execution.Name';
    const owner = this.owners.get(ref.namespace);
    if (!owner) throw new Error(`unresolved namespace ${ref.namespace}: the pipeline was not validated`);
    const base = actionResultPath(owner.key);
    switch (owner.position.action.kind) {
      case 'build':
      case 'test':
      case 'commands':
        // CodeBuild reports exported variables as [{Name, Value}]: pick the one by name.
        return `States.ArrayGetItem(${base}.exportedVariables[?(@.Name=='${ref.variable}')].Value, 0)`;
      case 'invoke':
        return `${base}.output.outputVariables${pathKey(ref.variable)}`;
      case 'cloudformation':
        return `States.ArrayGetItem(${base}.stack.stack.Outputs[?(@.OutputKey=='${ref.variable}')].OutputValue, 0)`;
      default:
        return `${base}.variables${pathKey(ref.variable)}`;
    }
  }

  /**
   * Adds `key` to a Parameters object: a literal when the value holds no reference, `key.$` with a
   * path or a `States.Format` call when it does.
   */
  assign(target: JsonObject, key: string, value: string): void {
    // The pipeline's name is known now: it becomes text, not a run-time lookup.
    const parts = mergeText(
      parseTemplate(value).map((p) => (typeof p !== 'string' && p.namespace === EXECUTION_NAMESPACE && p.variable === 'PipelineName' ? this.pipeline.name : p)),
    );
    const refs = parts.filter((p): p is VariableReference => typeof p !== 'string');
    if (refs.length === 0) {
      target[key] = parts.join('');
      return;
    }
    if (parts.length === 1 && refs[0]) {
      target[`${key}.$`] = this.expression(refs[0]);
      return;
    }
    const template = parts.map((p) => (typeof p === 'string' ? escapeLiteral(p) : '{}')).join('');
    const args = refs.map((r) => this.expression(r));
    target[`${key}.$`] = `States.Format('${template}', ${args.join(', ')})`;
  }
}

function mergeText(parts: TemplatePart[]): TemplatePart[] {
  const out: TemplatePart[] = [];
  for (const p of parts) {
    const last = out.at(-1);
    if (typeof p === 'string' && typeof last === 'string') out[out.length - 1] = last + p;
    else out.push(p);
  }
  return out;
}

/** Escapes text for a single-quoted intrinsic-function string literal. */
export function escapeLiteral(text: string): string {
  return text.replace(/[\\'{}]/g, (c) => `\\${c}`);
}
