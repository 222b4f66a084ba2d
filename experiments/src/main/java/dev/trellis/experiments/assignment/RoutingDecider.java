package dev.trellis.experiments.assignment;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.Condition;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentEvaluation;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.ExplainAssignmentResponse;
import dev.trellis.api.v1.Filter;
import dev.trellis.api.v1.FilterEvaluation;
import dev.trellis.api.v1.HashRange;
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
import java.util.OptionalDouble;
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
    /** GrowthBook's name of the unit id attribute: hash_attribute, filters and conditions read it as the unit id. */
    public static final String UNIT_ID = "id";

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

        for (Experiment experiment : state.runningExperiments()) {
            RoutingDecision decision = evaluateExperiment(experiment, request, trace);
            if (decision != null) {
                return decision;
            }
        }

        String unitId = request.unitId();
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
                        + trace.noExperimentNote(state));
            }
            return new RoutingDecision(version, RoutingReason.ROLLOUT, Optional.empty(), Optional.empty());
        }

        String version = state.defaultVersion().orElse("");
        if (trace != null) {
            trace.response.setSummary((version.isEmpty()
                            ? "no default version set -> router serves the highest ready version"
                            : "default version " + version)
                    + trace.noExperimentNote(state));
        }
        return new RoutingDecision(version, RoutingReason.DEFAULT, Optional.empty(), Optional.empty());
    }

    /**
     * Returns the decision when the unit lands in a variant of this experiment, else null. Without
     * a trace the first failed check returns; with one, every value is still computed and reported
     * (hash, ranges, namespace and filter hashes) and the decision names the first failed check.
     */
    private static RoutingDecision evaluateExperiment(Experiment experiment, RoutingRequest request, Trace trace) {
        if (experiment.getStatus() != ExperimentStatus.RUNNING) {
            return null;
        }
        String seed = effectiveSeed(experiment);
        int hashVersion = hashVersion(experiment);
        HashValue hashed = hashValue(experiment, request);
        ExperimentEvaluation.Builder eval = trace == null
                ? null
                : ExperimentEvaluation.newBuilder()
                        .setExperiment(experiment.getKey())
                        .setSeed(seed)
                        .setHashAttribute(hashed.attribute())
                        .setHashValue(hashed.value())
                        .setHashVersion(hashVersion);
        String excluded = null; // the first failed check (trace only: without one we return at once)
        if (hashed.value().isEmpty()) {
            if (eval == null) {
                return null;
            }
            excluded = "no value to hash: the request has " + describeMissing(experiment);
        }

        boolean conditionsMet = true;
        for (Condition condition : experiment.getConditionsList()) {
            if (!holds(condition, request.attributes())) {
                conditionsMet = false;
                if (eval == null) {
                    return null;
                }
                eval.addFailedConditions(describe(condition, request.attributes()));
            }
        }
        if (experiment.hasCondition()) {
            GrowthBookCondition.Attributes attributes =
                    GrowthBookCondition.text(request.attributes(), request.unitId());
            if (!GrowthBookCondition.evaluate(experiment.getCondition(), attributes)) {
                conditionsMet = false;
                if (eval == null) {
                    return null;
                }
                for (String failure : GrowthBookCondition.failures(experiment.getCondition(), attributes)) {
                    eval.addFailedConditions("condition " + failure);
                }
            }
        }
        if (eval != null) {
            eval.setConditionsMet(conditionsMet);
            if (!conditionsMet) {
                excluded = first(excluded, "targeting conditions not met");
            }
        }

        boolean inFilters = true;
        for (Filter filter : experiment.getFiltersList()) {
            String value = attributeValue(request, filter.getAttribute());
            OptionalDouble n = value.isEmpty()
                    ? OptionalDouble.empty()
                    : GrowthBookHash.hash(filter.getSeed(), value, hashVersion(filter));
            boolean passed = n.isPresent() && inAnyRange(n.getAsDouble(), filter.getRangesList());
            if (!passed) {
                if (eval == null) {
                    return null;
                }
                if (inFilters) {
                    excluded = first(
                            excluded,
                            value.isEmpty()
                                    ? "filter " + filter.getSeed() + ": the request has no "
                                            + describeAttribute(filter.getAttribute())
                                    : String.format(
                                            Locale.ROOT,
                                            "filter %s: hash %.4f outside its ranges",
                                            filter.getSeed(),
                                            n.orElse(0)));
                }
                inFilters = false;
            }
            if (eval != null) {
                eval.addFilters(FilterEvaluation.newBuilder()
                        .setSeed(filter.getSeed())
                        .setAttribute(displayName(filter.getAttribute()))
                        .setHash(n.orElse(0))
                        .addAllRanges(filter.getRangesList())
                        .setPassed(passed));
            }
        }

        boolean inNamespace = true;
        // As in GrowthBook, filters replace the legacy namespace (validation allows only one of them).
        if (experiment.hasNamespace() && experiment.getFiltersCount() == 0) {
            Namespace ns = experiment.getNamespace();
            double nsHash = hashed.value().isEmpty() ? 0 : GrowthBookHash.namespaceHash(hashed.value(), ns.getId());
            inNamespace = !hashed.value().isEmpty() && GrowthBookHash.inRange(nsHash, ns.getStart(), ns.getEnd());
            if (eval != null) {
                eval.setHasNamespace(true).setNamespaceHash(nsHash);
                if (!inNamespace && !hashed.value().isEmpty()) {
                    excluded = first(
                            excluded,
                            String.format(
                                    Locale.ROOT,
                                    "namespace hash %.3f outside %s [%s, %s)",
                                    nsHash,
                                    ns.getId(),
                                    ns.getStart(),
                                    ns.getEnd()));
                }
            } else if (!inNamespace) {
                return null;
            }
        }
        if (eval != null) {
            eval.setInFilters(inFilters).setInNamespace(inNamespace);
        }

        List<BucketRange> ranges;
        try {
            ranges = bucketRanges(experiment);
        } catch (IllegalArgumentException e) {
            // Validation rejects such definitions; an invalid one that slipped in takes no traffic.
            if (eval != null) {
                trace.add(eval.setDecision("invalid weights: " + e.getMessage()));
            }
            return null;
        }
        OptionalDouble hash = hashed.value().isEmpty()
                ? OptionalDouble.empty()
                : GrowthBookHash.hash(seed, hashed.value(), hashVersion);
        int index = hash.isPresent() ? GrowthBookHash.chooseVariation(hash.getAsDouble(), ranges) : -1;
        if (eval != null) {
            eval.setHash(hash.orElse(0)).setCoverage(coverage(experiment));
            for (int i = 0; i < ranges.size(); i++) {
                eval.addRanges(dev.trellis.api.v1.BucketRange.newBuilder()
                        .setVariant(experiment.getVariants(i).getKey())
                        .setStart(ranges.get(i).start())
                        .setEnd(ranges.get(i).end()));
            }
            if (hash.isEmpty() && !hashed.value().isEmpty()) {
                excluded = first(excluded, "unsupported hash_version " + hashVersion);
            } else if (hash.isPresent() && index < 0) {
                excluded = first(
                        excluded,
                        String.format(
                                Locale.ROOT,
                                "hash %.4f outside every range (coverage %s)",
                                hash.getAsDouble(),
                                coverage(experiment)));
            }
            if (excluded != null) {
                trace.add(eval.setDecision(excluded));
                return null;
            }
        } else if (index < 0) {
            return null;
        }
        Variant variant = experiment.getVariants(index);
        if (eval != null) {
            BucketRange range = ranges.get(index);
            String decision = String.format(
                    Locale.ROOT,
                    "hash %.4f in [%s, %s) -> %s (version %s)",
                    hash.getAsDouble(),
                    range.start(),
                    range.end(),
                    variant.getKey(),
                    variant.getVersion());
            trace.add(eval.setVariant(variant.getKey())
                    .setVersion(variant.getVersion())
                    .setDecision(decision));
            trace.response.setSummary((hashed.attribute().equals(UNIT_ID) ? "unit " : hashed.attribute() + " ")
                    + hashed.value() + " experiment " + experiment.getKey() + ": " + decision);
        }
        return new RoutingDecision(
                variant.getVersion(),
                RoutingReason.EXPERIMENT,
                Optional.of(experiment.getKey()),
                Optional.of(variant.getKey()),
                Optional.of(hashed.value()));
    }

    /** The value hashed for an experiment and where it came from (GrowthBook's getHashAttribute). */
    record HashValue(String attribute, String value) {}

    /**
     * The experiment's hash value: its hash_attribute (the unit id by default), else its
     * fallback_attribute; an empty value means the request has none.
     */
    static HashValue hashValue(Experiment experiment, RoutingRequest request) {
        String attribute = displayName(experiment.getHashAttribute());
        String value = attributeValue(request, attribute);
        if (value.isEmpty() && !experiment.getFallbackAttribute().isEmpty()) {
            String fallback = displayName(experiment.getFallbackAttribute());
            String fallbackValue = attributeValue(request, fallback);
            if (!fallbackValue.isEmpty()) {
                return new HashValue(fallback, fallbackValue);
            }
        }
        return new HashValue(attribute, value);
    }

    /**
     * What a GrowthBook attribute name reads from a request: {@code id} (or an empty name) is the
     * unit id, any other name the attribute of that name (request attributes are flat text, so a
     * dotted name reads the attribute with that very name). Empty when absent.
     */
    public static String attributeValue(RoutingRequest request, String name) {
        if ((name.isEmpty() || name.equals(UNIT_ID)) && request.hasUnitId()) {
            return request.unitId();
        }
        String value = request.attributes().get(name.isEmpty() ? UNIT_ID : name);
        return value == null ? "" : value;
    }

    /** An experiment's bucket hash version: hash_version, or 2 when unset. */
    public static int hashVersion(Experiment experiment) {
        return experiment.getHashVersion() == 0 ? 2 : experiment.getHashVersion();
    }

    /** A filter's hash version: hash_version, or 2 when unset (GrowthBook's filter default). */
    public static int hashVersion(Filter filter) {
        return filter.getHashVersion() == 0 ? 2 : filter.getHashVersion();
    }

    /** An attribute name as reported: {@code id} for the unit id (empty name). */
    public static String displayName(String attribute) {
        return attribute.isEmpty() ? UNIT_ID : attribute;
    }

    private static boolean inAnyRange(double n, List<HashRange> ranges) {
        for (HashRange range : ranges) {
            if (GrowthBookHash.inRange(n, range.getStart(), range.getEnd())) {
                return true;
            }
        }
        return false;
    }

    private static String first(String current, String candidate) {
        return current != null ? current : candidate;
    }

    private static String describeMissing(Experiment experiment) {
        String what = describeAttribute(experiment.getHashAttribute());
        return experiment.getFallbackAttribute().isEmpty()
                ? "no " + what
                : "neither " + what + " nor " + describeAttribute(experiment.getFallbackAttribute());
    }

    private static String describeAttribute(String attribute) {
        return attribute.isEmpty() || attribute.equals(UNIT_ID) ? "unit id" : "attribute '" + attribute + "'";
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

        String noExperimentNote(ModelRoutingState state) {
            return state.runningExperiments().isEmpty() ? "" : " (in no running experiment)";
        }
    }
}
