package dev.trellis.cli;

import picocli.CommandLine.Option;

/** {@code --output table|json} on a leaf command; falls back to the value given before the command. */
final class OutputFormatMixin {
    @Option(
            names = "--output",
            paramLabel = "FORMAT",
            description = "Output format: ${COMPLETION-CANDIDATES} (default: table).")
    TrellisCli.OutputFormat format;

    boolean json(TrellisCli root) {
        return format != null ? format == TrellisCli.OutputFormat.json : root.json();
    }
}
