package dev.trellis.client;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.BucketRange;
import dev.trellis.api.v1.ExperimentEvaluation;
import dev.trellis.api.v1.ExplainAssignmentResponse;
import dev.trellis.api.v1.RoutingReason;
import java.util.List;

/**
 * How the router would route a unit, and why: the answer of {@code ExplainAssignment}.
 *
 * @param version the version that would serve
 * @param reason PINNED, EXPERIMENT, ROLLOUT or DEFAULT
 * @param experiment the experiment key when the unit is in one, else empty
 * @param variant the variant key when the unit is in an experiment, else empty
 * @param summary the decision in one line
 * @param evaluations one entry per running experiment on the model, in evaluation order
 * @param rollout the active rollout's decision, or null when no rollout is active
 */
public record Assignment(
        String version,
        RoutingReason reason,
        String experiment,
        String variant,
        String summary,
        List<Evaluation> evaluations,
        RolloutDecision rollout) {
    /**
     * Validates the components.
     *
     * @param version the version, not null
     * @param reason the reason, not null
     * @param experiment the experiment key, not null
     * @param variant the variant key, not null
     * @param summary the summary, not null
     * @param evaluations the evaluations, not null
     * @param rollout the rollout decision, nullable
     */
    public Assignment {
        requireNonNull(version, "version is null");
        requireNonNull(reason, "reason is null");
        requireNonNull(experiment, "experiment is null");
        requireNonNull(variant, "variant is null");
        requireNonNull(summary, "summary is null");
        evaluations = List.copyOf(requireNonNull(evaluations, "evaluations is null"));
    }

    /**
     * Converts the wire form.
     *
     * @param response the protobuf response
     * @return the record
     */
    public static Assignment fromProto(ExplainAssignmentResponse response) {
        List<Evaluation> evaluations = response.getEvaluationsList().stream()
                .map(Evaluation::fromProto)
                .toList();
        RolloutDecision rollout = response.hasRollout()
                ? new RolloutDecision(
                        response.getRollout().getStableVersion(),
                        response.getRollout().getCandidateVersion(),
                        response.getRollout().getWeight(),
                        response.getRollout().getHash(),
                        response.getRollout().getCandidate())
                : null;
        RoutingReason reason = response.getReason() == RoutingReason.UNRECOGNIZED
                ? RoutingReason.ROUTING_REASON_UNSPECIFIED
                : response.getReason();
        return new Assignment(
                response.getVersion(),
                reason,
                response.getExperiment(),
                response.getVariant(),
                response.getSummary(),
                evaluations,
                rollout);
    }

    /**
     * How one experiment judged the unit.
     *
     * @param experiment the experiment key
     * @param seed the hash seed used
     * @param conditionsMet whether every targeting condition held
     * @param failedConditions the conditions that failed, in words
     * @param hasNamespace whether the experiment has a namespace
     * @param namespaceHash the unit's v1 namespace hash (when there is a namespace)
     * @param inNamespace whether the unit is in the namespace range
     * @param hash the unit's v2 bucket hash, 0..1
     * @param coverage the coverage applied
     * @param ranges the variants' half-open bucket ranges
     * @param variant the chosen variant, empty when none
     * @param version the chosen variant's version, empty when none
     * @param decision the decision in words
     */
    public record Evaluation(
            String experiment,
            String seed,
            boolean conditionsMet,
            List<String> failedConditions,
            boolean hasNamespace,
            double namespaceHash,
            boolean inNamespace,
            double hash,
            double coverage,
            List<Range> ranges,
            String variant,
            String version,
            String decision) {
        /**
         * Copies the lists.
         *
         * @param experiment the experiment key
         * @param seed the seed
         * @param conditionsMet whether conditions held
         * @param failedConditions failed conditions
         * @param hasNamespace whether there is a namespace
         * @param namespaceHash the namespace hash
         * @param inNamespace whether the unit is in the namespace
         * @param hash the bucket hash
         * @param coverage the coverage
         * @param ranges the ranges
         * @param variant the variant
         * @param version the version
         * @param decision the decision
         */
        public Evaluation {
            failedConditions = List.copyOf(failedConditions);
            ranges = List.copyOf(ranges);
        }

        static Evaluation fromProto(ExperimentEvaluation e) {
            List<Range> ranges =
                    e.getRangesList().stream().map(Range::fromProto).toList();
            return new Evaluation(
                    e.getExperiment(),
                    e.getSeed(),
                    e.getConditionsMet(),
                    e.getFailedConditionsList(),
                    e.getHasNamespace(),
                    e.getNamespaceHash(),
                    e.getInNamespace(),
                    e.getHash(),
                    e.getCoverage(),
                    ranges,
                    e.getVariant(),
                    e.getVersion(),
                    e.getDecision());
        }
    }

    /**
     * A variant's half-open bucket range {@code [start, end)}.
     *
     * @param variant the variant key
     * @param start inclusive start
     * @param end exclusive end
     */
    public record Range(String variant, double start, double end) {
        static Range fromProto(BucketRange r) {
            return new Range(r.getVariant(), r.getStart(), r.getEnd());
        }

        /**
         * Whether a hash value falls in this range.
         *
         * @param hash the bucket hash
         * @return {@code start <= hash < end}
         */
        public boolean contains(double hash) {
            return hash >= start && hash < end;
        }
    }

    /**
     * How an active rollout judged the unit.
     *
     * @param stableVersion the stable version
     * @param candidateVersion the candidate version
     * @param weight the candidate's share, percent
     * @param hash the unit's rollout hash, 0..1
     * @param candidate whether the unit gets the candidate
     */
    public record RolloutDecision(
            String stableVersion, String candidateVersion, double weight, double hash, boolean candidate) {}
}
