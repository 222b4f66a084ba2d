package dev.trellis.experiments.bench;

import dev.trellis.api.v1.Condition;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.Namespace;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutState;
import dev.trellis.api.v1.Variant;
import dev.trellis.experiments.assignment.ModelRoutingState;
import dev.trellis.experiments.assignment.RoutingDecider;
import dev.trellis.experiments.assignment.RoutingRequest;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Cost of {@link RoutingDecider#decide} on the router's hot path: two namespaced experiments with
 * a condition, then a rollout. Same classpath as {@link ExposureWriteBenchmark}; arg: iterations.
 */
public final class RoutingDecisionBenchmark {
    private RoutingDecisionBenchmark() {}

    public static void main(String[] args) {
        int iterations = args.length > 0 ? Integer.parseInt(args[0]) : 5_000_000;
        Experiment a = experiment("a", 0, 0.5);
        Experiment b = experiment("b", 0.5, 1);
        Rollout rollout = Rollout.newBuilder()
                .setModel("leads")
                .setStableVersion("1")
                .setCandidateVersion("3")
                .setState(RolloutState.PROGRESSING)
                .setCurrentWeight(25)
                .build();
        ModelRoutingState state = new ModelRoutingState("leads", Optional.of("1"), List.of(a, b), Optional.of(rollout));
        RoutingDecider decider = new RoutingDecider();
        RoutingRequest[] requests = new RoutingRequest[1024];
        for (int i = 0; i < requests.length; i++) {
            requests[i] = new RoutingRequest(
                    "leads", "unit-" + i, Map.of("vertical", i % 3 == 0 ? "retail" : "insurance"), null);
        }
        long sink = 0;
        for (int round = 0; round < 3; round++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < iterations; i++) {
                sink += decider.decide(requests[i & 1023], state).version().length();
            }
            long ns = System.nanoTime() - t0;
            System.out.printf(
                    Locale.ROOT,
                    "round %d: %.0f ns per decide (%.2f M decisions/s)%n",
                    round,
                    (double) ns / iterations,
                    iterations / (ns / 1e3));
        }
        System.out.println("(sink " + sink + ")");
    }

    private static Experiment experiment(String key, double start, double end) {
        return Experiment.newBuilder()
                .setKey(key)
                .setModel("leads")
                .setStatus(ExperimentStatus.RUNNING)
                .setCoverage(0.8)
                .setNamespace(Namespace.newBuilder().setId("ns").setStart(start).setEnd(end))
                .addConditions(Condition.newBuilder()
                        .setAttribute("vertical")
                        .setOperator(Condition.Operator.EQ)
                        .addValues("insurance"))
                .addVariants(
                        Variant.newBuilder().setKey("control").setVersion("1").setWeight(0.5))
                .addVariants(
                        Variant.newBuilder().setKey("treatment").setVersion("2").setWeight(0.5))
                .build();
    }
}
