// Loaded with `node --import` into the stepline process the bench runs: at exit, writes that process's
// own peak RSS (KiB; worker threads included, child processes such as git not) to $STEPLINE_PEAK_RSS_FILE.
import { writeFileSync } from 'node:fs';

process.on('exit', () => {
  if (process.env.STEPLINE_PEAK_RSS_FILE) writeFileSync(process.env.STEPLINE_PEAK_RSS_FILE, String(process.resourceUsage().maxRSS));
});
