/** Registers the controllers that run beside sync. */
import "./rollout/index.ts";
import "./sealedsecret/index.ts";
