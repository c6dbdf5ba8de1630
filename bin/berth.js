#!/usr/bin/env node
// Entry point for the `berth` command: runs the compiled CLI (built by `npm run build`, which `npm install` runs).
import '../dist/cli/main.js';
