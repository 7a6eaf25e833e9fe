#!/usr/bin/env node
// The `wal` command: runs the TypeScript CLI through tsx (no build step).
require('tsx/cjs/api').register();
require('./wal.ts');
