#!/usr/bin/env node
// The `drip-server` command. A committed launcher, so package managers can link the bin on a fresh clone
// before the build has produced dist/cli.js (the command itself needs that build).
import '../dist/cli.js';
