package dev.trellis.experiments.assignment;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.Condition;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentEvaluation;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.ExplainAssignmentResponse;
import dev.trellis.api.v1.Namespace;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutEvaluation;
import dev.trellis.api.v1.RolloutState;
import dev.trellis.api.v1.RoutingReason;
import dev.trellis.api.v1.Variant;
import dev.trellis.experiments.hashing.BucketRange;
import dev.trellis.experiments.hashing.GrowthBookHash;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.DoubleSupplier;

/**
 * The per-request routing decision of DESIGN §5: pinned version, then running experiments in
 * order, then the active rollout, then the default version.
 *
 * <p>{@link #decide} is the hot path and builds no protos; {@link #explain} runs the very same
 * evaluation with a trace attached, so the two can never disagree (except for the random draw of a
 * rollout request without unit id, which is a fresh draw each time).
 *
 * <p>Thread-safe when the injected random source is (the default uses {@link ThreadLocalRandom}).
 */
public final class RoutingDecider {
    private final DoubleSupplier random;

    public RoutingDecider() {
        this(() -> ThreadLocalRandom.current().nextDouble());
    }

    /** @param random uniform draws in [0, 1) for rollout requests without a unit id */
    public RoutingDecider(DoubleSupplier random) {
        this.random = requireNonNull(random, "random is null");
    }

    /**
     * The hash seed of an experiment: its {@code seed}, or its key when the seed is empty, with
     * {@code ":" + phase} appended when the phase is above 0. Phase 0 keeps the plain seed, so an
     * experiment that never changed phase hashes exactly like GrowthBook with the same seed.
     */
    public static String effectiveSeed(Experiment experiment) {
        String base = experiment.getSeed().isEmpty() ? experiment.getKey() : experiment.getSeed();
        return experiment.getPhase() > 0 ? base + ":" + experiment.getPhase() : base;
    }

    /** Seed of a rollout's sticky per-unit hash: {@code "rollout:" + model + ":" + candidate}. */
    public static String rolloutSeed(Rollout rollout) {
        return "rollout:" + rollout.getModel() + ":" + rollout.getCandidateVersion();
    }

    /** Coverage of an experiment: the field when set, else 1. */
    public static double coverage(Experiment experiment) {
        return experiment.hasCoverage() ? experiment.getCoverage() : 1.0;
    }

    /** Bucket ranges of an experiment's variants. */
    public static List<BucketRange> bucketRanges(Experiment experiment) {
        double[] weights = new double[experiment.getVariantsCount()];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = experiment.getVariants(i).getWeight();
        }
        return GrowthBookHash.bucketRanges(weights.length, coverage(experiment), weights);
    }

    /** Whether a targeting condition holds; NE and NOT_IN hold when the attribute is absent. */
    public static boolean holds(Condition condition, Map<String, String> attributes) {
        String value = attributes.get(condition.getAttribute());
        List<String> values = condition.getValuesList();
        switch (condition.getOperator()) {
            case EQ:
                return value != null && !values.isEmpty() && value.equals(values.get(0));
            case NE:
                return value == null || values.isEmpty() || !value.equals(values.get(0));
            case IN:
                return value != null && values.contains(value);
            case NOT_IN:
                return value == null || !values.contains(value);
            default:
                return false; // rejected by validation; never let an unknown operator admit traffic
        }
    }

    /** Whether the rollout takes traffic (PROGRESSING or PAUSED). */
    public static boolean isActive(Rollout rollout) {
        return rollout.getState() == RolloutState.PROGRESSING || rollout.getState() == RolloutState.PAUSED;
    }

    public RoutingDecision decide(RoutingRequest request, ModelRoutingState state) {
        return evaluate(request, state, null);
    }

    public ExplainAssignmentResponse explain(RoutingRequest request, ModelRoutingState state) {
        Trace trace = new Trace();
        RoutingDecision decision = evaluate(request, state, trace);
        trace.response
                .setVersion(decision.version())
                .setReason(decision.reason())
                .setExperiment(decision.experiment().orElse(""))
                .setVariant(decision.variant().orElse(""));
        return trace.response.build();
    }

    private RoutingDecision evaluate(RoutingRequest request, ModelRoutingState state, Trace trace) {
        if (request.hasPinnedVersion()) {
            if (trace != null) {
                trace.response.setSummary("version " + request.pinnedVersion() + " pinned by the request");
            }
            return new RoutingDecision(
                    request.pinnedVersion(), RoutingReason.PINNED, Optional.empty(), Optional.empty());
        }

        String unitId = request.unitId();
        if (request.hasUnitId()) {
            for (Experiment experiment : state.runningExperiments()) {
                RoutingDecision decision = evaluateExperiment(experiment, unitId, request.attributes(), trace);
                if (decision != null) {
                    return decision;
                }
            }
        }

        Optional<Rollout> rollout = state.activeRollout();
        if (rollout.isPresent() && isActive(rollout.get())) {
            Rollout r = rollout.get();
            double hash = request.hasUnitId() ? GrowthBookHash.hashV2(rolloutSeed(r), unitId) : random.getAsDouble();
            boolean candidate = hash * 100 < r.getCurrentWeight();
            String version = candidate ? r.getCandidateVersion() : r.getStableVersion();
            if (trace != null) {
                trace.response.setRollout(RolloutEvaluation.newBuilder()
                        .setStableVersion(r.getStableVersion())
                        .setCandidateVersion(r.getCandidateVersion())
                        .setWeight(r.getCurrentWeight())
                        .setHash(hash)
                        .setCandidate(candidate));
                trace.response.setSummary(String.format(
                                Locale.ROOT,
                                "%s %.4f %s %.4f -> rollout %s (version %s)",
                                request.hasUnitId() ? "unit " + unitId + " rollout hash" : "no unit id, random draw",
                                hash,
                                candidate ? "below weight/100" : "not below weight/100",
                                r.getCurrentWeight() / 100,
                                candidate ? "candidate" : "stable",
                                version)
                        + trace.noExperimentNote(request.hasUnitId(), state));
            }
            return new RoutingDecision(version, RoutingReason.ROLLOUT, Optional.empty(), Optional.empty());
        }

        String version = state.defaultVersion().orElse("");
        if (trace != null) {
            trace.response.setSummary((version.isEmpty()
                            ? "no default version set -> router serves the highest ready version"
                            : "default version " + version)
                    + trace.noExperimentNote(request.hasUnitId(), state));
        }
        return new RoutingDecision(version, RoutingReason.DEFAULT, Optional.empty(), Optional.empty());
    }

    /** Returns the decision when the unit lands in a variant of this experiment, else null. */
    private static RoutingDecision evaluateExperiment(
            Experiment experiment, String unitId, Map<String, String> attributes, Trace trace) {
        if (experiment.getStatus() != ExperimentStatus.RUNNING) {
            return null;
        }
        String seed = effectiveSeed(experiment);
        ExperimentEvaluation.Builder eval = trace == null
                ? null
                : ExperimentEvaluation.newBuilder()
                        .setExperiment(experiment.getKey())
                        .setSeed(seed);

        boolean conditionsMet = true;
        for (Condition condition : experiment.getConditionsList()) {
            if (!holds(condition, attributes)) {
                conditionsMet = false;
                if (eval == null) {
                    break;
                }
                eval.addFailedConditions(describe(condition, attributes));
            }
        }
        if (eval != null) {
            eval.setConditionsMet(conditionsMet);
        }
        if (!conditionsMet) {
            if (eval != null) {
                trace.add(eval.setDecision("targeting conditions not met"));
            }
            return null;
        }

        boolean inNamespace = true;
        if (experiment.hasNamespace()) {
            Namespace ns = experiment.getNamespace();
            double nsHash = GrowthBookHash.hashV1("__" + ns.getId(), unitId);
            inNamespace = nsHash >= ns.getStart() && nsHash < ns.getEnd();
            if (eval != null) {
                eval.setHasNamespace(true).setNamespaceHash(nsHash);
            }
        }
        if (eval != null) {
            eval.setInNamespace(inNamespace);
        }
        if (!inNamespace) {
            if (eval != null) {
                Namespace ns = experiment.getNamespace();
                trace.add(eval.setDecision(String.format(
                        Locale.ROOT,
                        "namespace hash %.3f outside %s [%s, %s)",
                        eval.getNamespaceHash(),
                        ns.getId(),
                        ns.getStart(),
                        ns.getEnd())));
            }
            return null;
        }

        double n = GrowthBookHash.hashV2(seed, unitId);
        List<BucketRange> ranges;
        try {
            ranges = bucketRanges(experiment);
        } catch (IllegalArgumentException e) {
            // Validation rejects such definitions; an invalid one that slipped in takes no traffic.
            if (eval != null) {
                trace.add(eval.setHash(n).setDecision("invalid weights: " + e.getMessage()));
            }
            return null;
        }
        int index = GrowthBookHash.chooseVariation(n, ranges);
        if (eval != null) {
            eval.setHash(n).setCoverage(coverage(experiment));
            for (int i = 0; i < ranges.size(); i++) {
                eval.addRanges(dev.trellis.api.v1.BucketRange.newBuilder()
                        .setVariant(experiment.getVariants(i).getKey())
                        .setStart(ranges.get(i).start())
                        .setEnd(ranges.get(i).end()));
            }
        }
        if (index < 0) {
            if (eval != null) {
                trace.add(eval.setDecision(String.format(
                        Locale.ROOT, "hash %.4f outside every range (coverage %s)", n, coverage(experiment))));
            }
            return null;
        }
        Variant variant = experiment.getVariants(index);
        if (eval != null) {
            BucketRange range = ranges.get(index);
            String decision = String.format(
                    Locale.ROOT,
                    "hash %.4f in [%s, %s) -> %s (version %s)",
                    n,
                    range.start(),
                    range.end(),
                    variant.getKey(),
                    variant.getVersion());
            trace.add(eval.setVariant(variant.getKey())
                    .setVersion(variant.getVersion())
                    .setDecision(decision));
            trace.response.setSummary("unit " + unitId + " experiment " + experiment.getKey() + ": " + decision);
        }
        return new RoutingDecision(
                variant.getVersion(),
                RoutingReason.EXPERIMENT,
                Optional.of(experiment.getKey()),
                Optional.of(variant.getKey()));
    }

    private static String describe(Condition condition, Map<String, String> attributes) {
        String value = attributes.get(condition.getAttribute());
        return condition.getAttribute() + " " + condition.getOperator() + " " + condition.getValuesList() + ": "
                + (value == null ? "absent" : "was '" + value + "'");
    }

    private static final class Trace {
        final ExplainAssignmentResponse.Builder response = ExplainAssignmentResponse.newBuilder();

        void add(ExperimentEvaluation.Builder evaluation) {
            response.addEvaluations(evaluation);
        }

        String noExperimentNote(boolean hasUnitId, ModelRoutingState state) {
            if (state.runningExperiments().isEmpty()) {
                return "";
            }
            return hasUnitId ? " (in no running experiment)" : " (no unit id: never in an experiment)";
        }
    }
}
