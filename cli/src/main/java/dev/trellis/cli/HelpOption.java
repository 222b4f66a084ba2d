package dev.trellis.cli;

import picocli.CommandLine.Option;

/**
 * {@code -h/--help} alone, for commands with a {@code --version} option of their own: picocli's
 * {@code mixinStandardHelpOptions} would add {@code -V/--version}, which takes that option's place.
 */
final class HelpOption {
    @Option(
            names = {"-h", "--help"},
            usageHelp = true,
            description = "Show this help message and exit.")
    boolean help;
}
