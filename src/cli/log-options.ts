/** The logging options every long-running command takes (operator, csi-provider). */
import { Option } from "@commander-js/extra-typings";

export const logLevelOption = () =>
  new Option("--log-level <level>", "log level")
    .choices(["trace", "debug", "info", "warn", "error"] as const)
    .default("info" as const);

export const logFormatOption = () =>
  new Option("--log-format <format>", "log format: json for collectors, text for a terminal")
    .choices(["json", "text"] as const)
    .default("json" as const);
