#!/usr/bin/env node
'use strict';
// Launches the bundled command-line program; `npm run build` creates dist/cli.js.
require('../dist/cli.js').runFromProcess();
