package dev.trellis.common.testing;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Prometheus' own linter, {@code promtool check metrics}, over a live /metrics page. promtool comes
 * with Debian's {@code prometheus} package, which {@code .ci/run} installs; when it is missing the
 * check fails with what to install, it never skips.
 */
public final class Promtool {
    private Promtool() {}

    /** The page of {@code http://host:port/metrics}. */
    public static String scrape(String host, int port) throws IOException, InterruptedException {
        HttpResponse<String> response = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create("http://" + host + ":" + port + "/metrics"))
                                .timeout(Duration.ofSeconds(10))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IOException("GET /metrics answered " + response.statusCode());
        }
        return response.body();
    }

    /** What promtool finds wrong with the page, one line per problem; empty when it is clean. */
    public static List<String> check(String metrics) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(binary(), "check", "metrics")
                .redirectErrorStream(true)
                .start();
        try (OutputStream in = process.getOutputStream()) {
            in.write(metrics.getBytes(StandardCharsets.UTF_8));
        }
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IOException("promtool did not finish within 60 s");
        }
        List<String> problems = output.lines().filter(line -> !line.isBlank()).toList();
        if (process.exitValue() != 0 && problems.isEmpty()) {
            return List.of("promtool exited with " + process.exitValue());
        }
        return problems;
    }

    private static String binary() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            Path candidate = Path.of(dir, "promtool");
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        throw new AssertionError("promtool is not installed: it comes with Debian's prometheus package "
                + "(apt-get install -y prometheus; .ci/run installs it when missing)");
    }
}
