#!/usr/bin/env node
// The CLI entry: runs src/cli/main.ts with the same engine the browser uses.
import './register.js';

const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
