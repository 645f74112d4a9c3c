/**
 * `reports`: each report group's files found and counted. Only JUnit XML groups are read (the
 * default `file-format`, as in CodeBuild); a malformed file is a warning, never a failed build.
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/test-report-group-create-buildspec.html
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ReportFileFormat } from '@stepline/core';
import { matchFiles } from './files';
import { addCounts, countJUnit, type TestCounts } from './junit';
import { expandAll, type UploadContext } from './upload';

export type ReportSummary = { name: string } & TestCounts;

export async function collectReports(ctx: Pick<UploadContext, 'buildspec' | 'sourceDir' | 'session' | 'log' | 'skipDirs'>): Promise<ReportSummary[]> {
  const summaries: ReportSummary[] = [];
  for (const [name, group] of Object.entries(ctx.buildspec.reports)) {
    if (group.fileFormat !== ReportFileFormat.JUnitXml) continue;
    const expanded = await expandAll([group.baseDirectory ?? '', ...group.files], ctx);
    if (!expanded) {
      ctx.log.line(`Warning: report group ${name}: could not expand its paths`);
      continue;
    }
    const [baseDirectory = '', ...patterns] = expanded;
    const base = resolve(ctx.sourceDir, baseDirectory || '.');
    let counts: TestCounts = { passed: 0, failed: 0, skipped: 0 };
    const files = matchFiles(base, patterns, { skipDirs: ctx.skipDirs });
    for (const file of files) {
      try {
        counts = addCounts(counts, countJUnit(readFileSync(file.absolute, 'utf8')));
      } catch (error) {
        ctx.log.line(`Warning: report group ${name}: ${file.relative}: ${(error as Error).message}`);
      }
    }
    ctx.log.line(`Report group ${name}: ${files.length} file(s), ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
    summaries.push({ name, ...counts });
  }
  return summaries;
}
