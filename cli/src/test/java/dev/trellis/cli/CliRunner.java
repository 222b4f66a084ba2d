package dev.trellis.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;

/** Runs the trellis command in-process and captures its exit code and output. */
final class CliRunner {
    record Result(int exitCode, String out, String err) {}

    private CliRunner() {}

    static Result run(String target, String... args) {
        List<String> all = new ArrayList<>();
        if (target != null) {
            all.add("--target");
            all.add(target);
        }
        all.addAll(List.of(args));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        picocli.CommandLine cli = TrellisCli.newCommandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(all.toArray(String[]::new));
        return new Result(code, out.toString(), err.toString());
    }
}
