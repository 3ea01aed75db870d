import { crashSuite } from '../helpers/crash.js';

// The crash suite at many kill points: SIGKILLs right after logon, mid-stream and mid-write, 24
// with local sinks and 10 with S3 and SQS. `npm test` runs it with a few (test/integration/crash.test.ts).
crashSuite({
  local: { kills: 24, moreReportsThan: 500, moreObjectsThan: 5 },
  aws: { kills: 10, moreReportsThan: 200 },
});
