#!/usr/bin/env node
// The kubectl plugin: `kubectl custos ...` runs this (kubectl finds kubectl-custos on PATH). The
// same CLI; it names itself `kubectl custos` in its help from this file's name.
import "./custos.js";
