/** Registers every built-in provider. Adding a provider adds one import here and nothing else. */
import "./fake/index.ts";
import "./vault/index.ts";
import "./aws/index.ts";
