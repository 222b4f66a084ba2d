package dev.trellis.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * The shipped alert rules, checked with Prometheus's own tool: {@code promtool check rules} on
 * alerts.yaml, {@code promtool test rules} on its unit tests, every alert tested to fire, and the
 * Kubernetes PrometheusRule carrying exactly the same groups. Fails (never skips) without promtool
 * (Debian's prometheus package, which .ci/run installs).
 */
class AlertRulesTest {
    private static final Path DOCKER = Path.of(System.getProperty("user.dir")).resolveSibling("docker");
    private static final Path MONITORING = DOCKER.resolve("monitoring");

    /** Runs promtool in {@code dir}; its exit code and output. */
    static Result promtool(Path dir, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add("promtool");
        command.addAll(List.of(args));
        Process process;
        try {
            process = new ProcessBuilder(command)
                    .directory(dir.toFile())
                    .redirectErrorStream(true)
                    .start();
        } catch (IOException e) {
            throw new AssertionError("promtool is not installed (apt-get install prometheus; .ci/run does it)", e);
        }
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("promtool did not finish: " + output);
        }
        return new Result(process.exitValue(), output);
    }

    record Result(int exit, String output) {}

    private static Object yaml(Path file) throws IOException {
        return new Yaml(new SafeConstructor(new LoaderOptions())).load(Files.readString(file));
    }

    @Test
    void checkRules_alertsYamlIsValid() throws Exception {
        Result check = promtool(MONITORING, "check", "rules", "alerts.yaml");
        assertThat(check.exit()).as(check.output()).isZero();
        assertThat(check.output()).contains("SUCCESS: 8 rules found");
    }

    @Test
    void testRules_everyRuleHasPassingUnitTests() throws Exception {
        Result test = promtool(MONITORING, "test", "rules", "alerts.test.yaml");
        assertThat(test.exit()).as(test.output()).isZero();
        assertThat(test.output()).contains("SUCCESS");

        @SuppressWarnings("unchecked")
        Map<String, Object> rules = (Map<String, Object>) yaml(MONITORING.resolve("alerts.yaml"));
        Set<String> alerts = new HashSet<>();
        for (Object group : (List<?>) rules.get("groups")) {
            for (Object rule : (List<?>) ((Map<?, ?>) group).get("rules")) {
                alerts.add((String) ((Map<?, ?>) rule).get("alert"));
            }
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> tests = (Map<String, Object>) yaml(MONITORING.resolve("alerts.test.yaml"));
        Set<String> firing = new HashSet<>();
        Set<String> quiet = new HashSet<>();
        for (Object t : (List<?>) tests.get("tests")) {
            for (Object check : (List<?>) ((Map<?, ?>) t).get("alert_rule_test")) {
                Map<?, ?> c = (Map<?, ?>) check;
                ((List<?>) c.get("exp_alerts"))
                        .stream()
                                .findAny()
                                .ifPresentOrElse(
                                        a -> firing.add((String) c.get("alertname")),
                                        () -> quiet.add((String) c.get("alertname")));
            }
        }
        assertThat(firing).as("every alert is tested to fire").containsExactlyInAnyOrderElementsOf(alerts);
        assertThat(quiet).as("and tested to stay quiet before it should").containsExactlyInAnyOrderElementsOf(alerts);
    }

    @Test
    void prometheusRule_sameGroupsAsAlertsYaml() throws Exception {
        Map<?, ?> rules = (Map<?, ?>) yaml(MONITORING.resolve("alerts.yaml"));
        Map<?, ?> manifest =
                (Map<?, ?>) yaml(DOCKER.resolve("k8s").resolve("monitoring").resolve("prometheus-rule.yaml"));
        assertThat(manifest.get("kind")).isEqualTo("PrometheusRule");
        assertThat(manifest.get("apiVersion")).isEqualTo("monitoring.coreos.com/v1");
        assertThat(((Map<?, ?>) manifest.get("spec")).get("groups")).isEqualTo(rules.get("groups"));
    }
}
