#!/usr/bin/env node
// Entry point of the published CLI: runs the compiled code in dist/.
import("../dist/cli/main.js");
