package dev.trellis.experiments.definition;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.util.Durations;
import dev.trellis.api.v1.Condition;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.Filter;
import dev.trellis.api.v1.Guardrails;
import dev.trellis.api.v1.HashRange;
import dev.trellis.api.v1.Namespace;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.Variant;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.FieldViolation;
import dev.trellis.experiments.assignment.GrowthBookCondition;
import dev.trellis.experiments.assignment.RoutingDecider;
import dev.trellis.experiments.hashing.GrowthBookHash;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Checks experiment and rollout definitions before they are stored. Every broken rule becomes a
 * {@link FieldViolation} with the field's path (e.g. {@code experiment.variants[1].weight}); all
 * violations of one definition are reported together. Stateless and thread-safe.
 *
 * <p>Overlap rule: two RUNNING experiments of one model overlap unless they are disjoint by
 * construction: each has a filter with the same seed, attribute and hash version whose ranges do not
 * intersect, or (without filters) both have a namespace with the same id, the same hash and
 * fallback attribute, and disjoint ranges. Differently seeded hashes are independent, so their unit
 * sets intersect (in expectation by the product of their widths) and are treated as overlapping; an
 * experiment without either takes all traffic and overlaps everything. Targeting conditions are not
 * considered: proving two condition sets disjoint is brittle.
 */
public final class DefinitionValidator {
    static final Pattern KEY = Pattern.compile("[A-Za-z0-9._-]{1,128}");
    private static final Set<Integer> HASH_VERSIONS = Set.of(0, 1, 2);

    public void validateExperiment(
            Experiment candidate,
            Optional<Experiment> current,
            List<Experiment> otherExperimentsOfSameModel,
            Set<String> knownVersions) {
        requireNonNull(candidate, "candidate is null");
        requireNonNull(current, "current is null");
        requireNonNull(otherExperimentsOfSameModel, "otherExperimentsOfSameModel is null");
        requireNonNull(knownVersions, "knownVersions is null");
        List<FieldViolation> v = new ArrayList<>();

        if (candidate.getKey().isEmpty()) {
            v.add(new FieldViolation("experiment.key", "must not be empty"));
        } else if (!KEY.matcher(candidate.getKey()).matches()) {
            v.add(new FieldViolation(
                    "experiment.key", "must match [A-Za-z0-9._-]{1,128}, was '" + candidate.getKey() + "'"));
        }
        if (candidate.getModel().isEmpty()) {
            v.add(new FieldViolation("experiment.model", "must not be empty"));
        }
        if (candidate.getStatus() == ExperimentStatus.EXPERIMENT_STATUS_UNSPECIFIED
                || candidate.getStatus() == ExperimentStatus.UNRECOGNIZED) {
            v.add(new FieldViolation("experiment.status", "must be DRAFT, RUNNING or STOPPED"));
        }
        validateVariants(candidate, knownVersions, v);
        if (candidate.hasCoverage() && !(candidate.getCoverage() >= 0 && candidate.getCoverage() <= 1)) {
            v.add(new FieldViolation("experiment.coverage", "must be in [0, 1], was " + candidate.getCoverage()));
        }
        if (candidate.hasNamespace()) {
            Namespace ns = candidate.getNamespace();
            if (ns.getId().isEmpty()) {
                v.add(new FieldViolation("experiment.namespace.id", "must not be empty"));
            }
            if (!(ns.getStart() >= 0 && ns.getStart() <= 1)) {
                v.add(new FieldViolation("experiment.namespace.start", "must be in [0, 1], was " + ns.getStart()));
            }
            if (!(ns.getEnd() >= 0 && ns.getEnd() <= 1)) {
                v.add(new FieldViolation("experiment.namespace.end", "must be in [0, 1], was " + ns.getEnd()));
            } else if (!(ns.getStart() < ns.getEnd())) {
                v.add(new FieldViolation(
                        "experiment.namespace.end",
                        "must be greater than start " + ns.getStart() + ", was " + ns.getEnd()));
            }
        }
        for (int i = 0; i < candidate.getConditionsCount(); i++) {
            validateCondition(candidate.getConditions(i), "experiment.conditions[" + i + "]", v);
        }
        validateHashing(candidate, v);
        if (candidate.hasCondition()) {
            v.addAll(GrowthBookCondition.check(candidate.getCondition(), "experiment.condition"));
        }
        if (candidate.getPhase() < 0) {
            v.add(new FieldViolation("experiment.phase", "must not be negative, was " + candidate.getPhase()));
        }
        if (!(candidate.getMinimumDetectableEffect() >= 0)) {
            v.add(new FieldViolation("experiment.minimum_detectable_effect", "must not be negative"));
        }
        if (!candidate.getWinner().isEmpty()
                && candidate.getVariantsList().stream()
                        .noneMatch(x -> x.getKey().equals(candidate.getWinner()))) {
            v.add(new FieldViolation("experiment.winner", "'" + candidate.getWinner() + "' is not a variant key"));
        }
        if (candidate.getStatus() == ExperimentStatus.RUNNING) {
            for (Experiment other : otherExperimentsOfSameModel) {
                if (other.getKey().equals(candidate.getKey()) || other.getStatus() != ExperimentStatus.RUNNING) {
                    continue;
                }
                if (overlaps(candidate, other)) {
                    v.add(new FieldViolation(
                            "experiment.namespace",
                            "traffic overlaps RUNNING experiment '" + other.getKey() + "' of model '"
                                    + candidate.getModel()
                                    + "'; give both the same namespace id with disjoint ranges, or filters with the"
                                    + " same seed, attribute and hash version and disjoint ranges"));
                }
            }
        }
        if (!v.isEmpty()) {
            throw new ValidationException(v);
        }

        if (current.isPresent()) {
            validateExperimentChange(candidate, current.get());
        } else if (candidate.getStatus() == ExperimentStatus.STOPPED) {
            throw new ValidationException(
                    ErrorCode.ILLEGAL_TRANSITION,
                    List.of(new FieldViolation("experiment.status", "a new experiment starts as DRAFT or RUNNING")));
        }
    }

    private static void validateVariants(Experiment candidate, Set<String> knownVersions, List<FieldViolation> v) {
        if (candidate.getVariantsCount() < 2) {
            v.add(new FieldViolation(
                    "experiment.variants", "needs at least 2 variants, has " + candidate.getVariantsCount()));
        }
        Set<String> keys = new HashSet<>();
        double sum = 0;
        boolean weightsValid = true;
        for (int i = 0; i < candidate.getVariantsCount(); i++) {
            Variant variant = candidate.getVariants(i);
            String path = "experiment.variants[" + i + "]";
            if (variant.getKey().isEmpty()) {
                v.add(new FieldViolation(path + ".key", "must not be empty"));
            } else if (!keys.add(variant.getKey())) {
                v.add(new FieldViolation(path + ".key", "duplicate variant key '" + variant.getKey() + "'"));
            }
            if (variant.getVersion().isEmpty()) {
                v.add(new FieldViolation(path + ".version", "must not be empty"));
            } else if (!knownVersions.isEmpty() && !knownVersions.contains(variant.getVersion())) {
                v.add(new FieldViolation(
                        path + ".version",
                        "unknown version '" + variant.getVersion() + "' of model '" + candidate.getModel()
                                + "'; known: " + new java.util.TreeSet<>(knownVersions)));
            }
            if (!(variant.getWeight() >= 0 && variant.getWeight() <= 1)) {
                v.add(new FieldViolation(path + ".weight", "must be in [0, 1], was " + variant.getWeight()));
                weightsValid = false;
            }
            sum += variant.getWeight();
        }
        if (weightsValid
                && candidate.getVariantsCount() >= 2
                && Math.abs(sum - 1) > GrowthBookHash.WEIGHT_SUM_TOLERANCE) {
            v.add(new FieldViolation("experiment.variants", "weights must sum to 1 (±0.01), sum to " + sum));
        }
    }

    private static void validateHashing(Experiment candidate, List<FieldViolation> v) {
        if (!HASH_VERSIONS.contains(candidate.getHashVersion())) {
            v.add(new FieldViolation(
                    "experiment.hash_version", "must be 1 or 2 (0 means 2), was " + candidate.getHashVersion()));
        }
        if (candidate.getFiltersCount() > 0 && candidate.hasNamespace()) {
            v.add(
                    new FieldViolation(
                            "experiment.filters",
                            "cannot be combined with namespace (GrowthBook ignores the namespace when filters are set); keep one"));
        }
        for (int i = 0; i < candidate.getFiltersCount(); i++) {
            Filter filter = candidate.getFilters(i);
            String path = "experiment.filters[" + i + "]";
            if (filter.getSeed().isEmpty()) {
                v.add(new FieldViolation(path + ".seed", "must not be empty"));
            }
            if (!HASH_VERSIONS.contains(filter.getHashVersion())) {
                v.add(new FieldViolation(
                        path + ".hash_version", "must be 1 or 2 (0 means 2), was " + filter.getHashVersion()));
            }
            if (filter.getRangesCount() == 0) {
                v.add(new FieldViolation(path + ".ranges", "needs at least one range"));
            }
            for (int j = 0; j < filter.getRangesCount(); j++) {
                HashRange range = filter.getRanges(j);
                String rangePath = path + ".ranges[" + j + "]";
                if (!(range.getStart() >= 0 && range.getStart() <= 1)) {
                    v.add(new FieldViolation(rangePath + ".start", "must be in [0, 1], was " + range.getStart()));
                }
                if (!(range.getEnd() >= 0 && range.getEnd() <= 1)) {
                    v.add(new FieldViolation(rangePath + ".end", "must be in [0, 1], was " + range.getEnd()));
                } else if (!(range.getStart() < range.getEnd())) {
                    v.add(new FieldViolation(
                            rangePath + ".end",
                            "must be greater than start " + range.getStart() + ", was " + range.getEnd()));
                }
            }
        }
    }

    private static void validateCondition(Condition condition, String path, List<FieldViolation> v) {
        if (condition.getAttribute().isEmpty()) {
            v.add(new FieldViolation(path + ".attribute", "must not be empty"));
        }
        switch (condition.getOperator()) {
            case EQ, NE -> {
                if (condition.getValuesCount() != 1) {
                    v.add(new FieldViolation(
                            path + ".values",
                            condition.getOperator() + " needs exactly 1 value, has " + condition.getValuesCount()));
                }
            }
            case IN, NOT_IN -> {
                if (condition.getValuesCount() < 1) {
                    v.add(new FieldViolation(path + ".values", condition.getOperator() + " needs at least 1 value"));
                }
            }
            default -> v.add(new FieldViolation(path + ".operator", "must be EQ, NE, IN or NOT_IN"));
        }
    }

    private static void validateExperimentChange(Experiment candidate, Experiment current) {
        List<FieldViolation> v = new ArrayList<>();
        ExperimentStatus from = current.getStatus();
        ExperimentStatus to = candidate.getStatus();
        if (from == ExperimentStatus.STOPPED) {
            v.add(new FieldViolation(
                    "experiment.status",
                    "experiment '" + current.getKey() + "' is STOPPED, which is final; create a new key instead"));
        } else if (from != to
                && !(from == ExperimentStatus.DRAFT && to == ExperimentStatus.RUNNING)
                && !(from == ExperimentStatus.RUNNING && to == ExperimentStatus.STOPPED)) {
            v.add(new FieldViolation(
                    "experiment.status",
                    "cannot go from " + from + " to " + to + "; allowed: DRAFT -> RUNNING -> STOPPED"));
        }
        if (from != ExperimentStatus.DRAFT && !candidate.getModel().equals(current.getModel())) {
            v.add(new FieldViolation("experiment.model", "cannot change the model of an experiment that has run"));
        }
        if (candidate.getPhase() < current.getPhase()) {
            v.add(new FieldViolation(
                    "experiment.phase",
                    "cannot go back from phase " + current.getPhase() + " to " + candidate.getPhase()));
        }
        if (from == ExperimentStatus.RUNNING
                && to == ExperimentStatus.RUNNING
                && candidate.getPhase() == current.getPhase()) {
            if (!candidate.getVariantsList().equals(current.getVariantsList())) {
                v.add(new FieldViolation(
                        "experiment.variants",
                        "changing variants or weights of a RUNNING experiment "
                                + "would move units between arms; increment experiment.phase (now " + current.getPhase()
                                + ")"));
            }
            if (!RoutingDecider.effectiveSeed(candidate).equals(RoutingDecider.effectiveSeed(current))) {
                v.add(new FieldViolation(
                        "experiment.seed",
                        "changing the seed of a RUNNING experiment "
                                + "re-randomizes units; increment experiment.phase (now " + current.getPhase() + ")"));
            }
            if (RoutingDecider.hashVersion(candidate) != RoutingDecider.hashVersion(current)) {
                v.add(new FieldViolation(
                        "experiment.hash_version",
                        "changing the hash version of a RUNNING experiment "
                                + "re-randomizes units; increment experiment.phase (now " + current.getPhase() + ")"));
            }
            if (!hashUnit(candidate).equals(hashUnit(current))) {
                v.add(new FieldViolation(
                        "experiment.hash_attribute",
                        "changing hash_attribute or fallback_attribute of a RUNNING experiment "
                                + "re-randomizes units; increment experiment.phase (now " + current.getPhase() + ")"));
            }
        }
        if (!v.isEmpty()) {
            throw new ValidationException(ErrorCode.ILLEGAL_TRANSITION, v);
        }
    }

    /** Whether two experiments can receive the same unit (see the class comment). */
    public static boolean overlaps(Experiment a, Experiment b) {
        for (Filter x : a.getFiltersList()) {
            for (Filter y : b.getFiltersList()) {
                if (sameHash(x, y) && disjoint(x.getRangesList(), y.getRangesList())) {
                    return false;
                }
            }
        }
        // a legacy namespace counts only without filters, as in GrowthBook
        if (!a.hasNamespace() || !b.hasNamespace() || a.getFiltersCount() > 0 || b.getFiltersCount() > 0) {
            return true;
        }
        Namespace x = a.getNamespace();
        Namespace y = b.getNamespace();
        if (!x.getId().equals(y.getId()) || !hashUnit(a).equals(hashUnit(b))) {
            return true;
        }
        return x.getStart() < y.getEnd() && y.getStart() < x.getEnd();
    }

    /** What the namespace and bucket hashes of an experiment read: hash and fallback attribute. */
    private static List<String> hashUnit(Experiment e) {
        return List.of(
                RoutingDecider.displayName(e.getHashAttribute()),
                e.getFallbackAttribute().isEmpty() ? "" : RoutingDecider.displayName(e.getFallbackAttribute()));
    }

    /** Two filters hash every unit the same way: same seed, attribute and hash version. */
    private static boolean sameHash(Filter x, Filter y) {
        return x.getSeed().equals(y.getSeed())
                && RoutingDecider.displayName(x.getAttribute()).equals(RoutingDecider.displayName(y.getAttribute()))
                && RoutingDecider.hashVersion(x) == RoutingDecider.hashVersion(y);
    }

    private static boolean disjoint(List<HashRange> xs, List<HashRange> ys) {
        for (HashRange x : xs) {
            for (HashRange y : ys) {
                if (x.getStart() < y.getEnd() && y.getStart() < x.getEnd()) {
                    return false;
                }
            }
        }
        return true;
    }

    public void validateRollout(Rollout candidate, Optional<Rollout> current, Set<String> knownVersions) {
        requireNonNull(candidate, "candidate is null");
        requireNonNull(current, "current is null");
        requireNonNull(knownVersions, "knownVersions is null");
        List<FieldViolation> v = new ArrayList<>();
        if (candidate.getModel().isEmpty()) {
            v.add(new FieldViolation("rollout.model", "must not be empty"));
        }
        checkVersion(candidate.getStableVersion(), "rollout.stable_version", knownVersions, v);
        checkVersion(candidate.getCandidateVersion(), "rollout.candidate_version", knownVersions, v);
        if (!candidate.getStableVersion().isEmpty()
                && candidate.getStableVersion().equals(candidate.getCandidateVersion())) {
            v.add(new FieldViolation("rollout.candidate_version", "must differ from stable_version"));
        }
        double previous = 0;
        for (int i = 0; i < candidate.getStepsCount(); i++) {
            double step = candidate.getSteps(i);
            if (!(step > 0 && step <= 100)) {
                v.add(new FieldViolation("rollout.steps[" + i + "]", "must be in (0, 100], was " + step));
            } else if (!(step > previous)) {
                v.add(new FieldViolation(
                        "rollout.steps[" + i + "]", "steps must increase, " + step + " after " + previous));
            }
            previous = Math.max(previous, step);
        }
        if (candidate.getStepsCount() > 0 && candidate.getSteps(candidate.getStepsCount() - 1) != 100) {
            v.add(new FieldViolation("rollout.steps", "the last step must be 100"));
        }
        if (candidate.hasStepInterval()) {
            try {
                if (Durations.toNanos(candidate.getStepInterval()) < 0) {
                    v.add(new FieldViolation("rollout.step_interval", "must not be negative"));
                }
            } catch (IllegalArgumentException e) {
                v.add(new FieldViolation("rollout.step_interval", "invalid duration"));
            }
        }
        if (candidate.getMinCandidateRequests() < 0) {
            v.add(new FieldViolation("rollout.min_candidate_requests", "must not be negative"));
        }
        if (candidate.hasGuardrails()) {
            Guardrails g = candidate.getGuardrails();
            if (g.hasMaxErrorRateIncrease()
                    && !(g.getMaxErrorRateIncrease() >= 0 && g.getMaxErrorRateIncrease() <= 1)) {
                v.add(new FieldViolation("rollout.guardrails.max_error_rate_increase", "must be in [0, 1]"));
            }
            if (g.hasMaxP99LatencyRatio() && !(g.getMaxP99LatencyRatio() > 0)) {
                v.add(new FieldViolation("rollout.guardrails.max_p99_latency_ratio", "must be positive"));
            }
            if (g.hasMaxScorePsi() && !(g.getMaxScorePsi() > 0)) {
                v.add(new FieldViolation("rollout.guardrails.max_score_psi", "must be positive"));
            }
        }
        if (!v.isEmpty()) {
            throw new ValidationException(v);
        }
        if (current.isPresent() && RoutingDecider.isActive(current.get())) {
            throw new ValidationException(
                    ErrorCode.ILLEGAL_TRANSITION,
                    List.of(new FieldViolation(
                            "rollout.model",
                            "model '" + candidate.getModel() + "' already has an active rollout of version "
                                    + current.get().getCandidateVersion() + " ("
                                    + current.get().getState()
                                    + "); promote or abort it first")));
        }
    }

    private static void checkVersion(String version, String field, Set<String> knownVersions, List<FieldViolation> v) {
        if (version.isEmpty()) {
            v.add(new FieldViolation(field, "must not be empty"));
        } else if (!knownVersions.isEmpty() && !knownVersions.contains(version)) {
            v.add(new FieldViolation(
                    field, "unknown version '" + version + "'; known: " + new java.util.TreeSet<>(knownVersions)));
        }
    }
}
