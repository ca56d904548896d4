#!/usr/bin/env node
/**
 * The `gatehouse` executable in a checkout (`node bin/gatehouse.ts …`, `npm run gatehouse`);
 * the published package runs the compiled `dist/cli/bin.js` from the same source.
 */
import '../src/cli/bin.ts'
