import { crashSuite } from '../helpers/crash.js';

// A few kill points in `npm test` (about 10 s); `npm run test:system` runs the same suite at 24
// and 10 (test/system/crash.test.ts).
crashSuite({
  local: { kills: 6, moreReportsThan: 120, moreObjectsThan: 5 },
  aws: { kills: 3, moreReportsThan: 60 },
});
