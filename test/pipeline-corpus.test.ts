/** Every real pipeline definition in the corpus either imports and compiles, or is refused with a reason. */
import { compilePipeline, DefinitionError, importCodePipeline, parsePipeline, validateStateMachine } from '@stepline/core';
import { describe, expect, it } from 'vitest';
import { corpusFiles } from './helpers/corpus';

const files = [...corpusFiles('pipelines'), ...corpusFiles('seed').filter((f) => f.name === 'pipeline.json')];

describe('corpus pipelines', () => {
  it.each(files.map((f) => [f.name, f] as const))('%s imports and compiles, or is refused naming what is unsupported', (_name, file) => {
    let imported: ReturnType<typeof importCodePipeline>;
    try {
      imported = importCodePipeline(file.text, file.name);
    } catch (error) {
      expect(error).toBeInstanceOf(DefinitionError);
      const issues = (error as DefinitionError).issues;
      expect(issues.length).toBeGreaterThan(0);
      for (const issue of issues)
        expect(issue.message).toMatch(/provider \w+ \(category \w+\) is not supported|is a template|expected|no AWS::CodePipeline::Pipeline/);
      return;
    }
    expect(imported.length).toBeGreaterThan(0);
    for (const { definition } of imported) {
      const compiled = compilePipeline(parsePipeline(definition), { target: 'aws' });
      expect(validateStateMachine(compiled.definition)).toStrictEqual([]);
    }
  });

  it('imports most of the corpus and refuses the providers stepline does not run', () => {
    const outcomes = files.map((f) => {
      try {
        importCodePipeline(f.text, f.name);
        return 'imported';
      } catch (error) {
        return (error as DefinitionError).issues.map((i) => /provider (\w+)/.exec(i.message)?.[1] ?? i.message.slice(0, 30)).join(',');
      }
    });
    expect(outcomes.filter((o) => o === 'imported').length).toBe(5);
    expect(new Set(outcomes.join(',').split(',')).has('CloudFormation')).toBe(true);
    expect(new Set(outcomes.join(',').split(',')).has('ECR')).toBe(true);
  });
});
