package dev.trellis.client;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.BaseScore;
import dev.trellis.api.v1.FeatureContribution;
import dev.trellis.api.v1.ScoreResponse;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The score of one row. What the numbers mean depends on {@link #targetKind()}.
 *
 * @param score calibrated probability of the positive class, 0..1 (binary), or the predicted value (regression)
 * @param label label from the bundle's thresholds, e.g. {@code hot}, {@code warm}, {@code lukewarm}, {@code cold}
 *     (binary), or a tier {@code A}–{@code D} (regression)
 * @param lower lower bound of the 95% interval
 * @param upper upper bound of the 95% interval
 * @param agreement how much the base models agree, 0..1
 * @param baseScores each base model's probability (or predicted value), by base model name
 * @param explained whether the response carries an explanation (the request asked for {@code explain})
 * @param contributions per-feature contributions in log-odds (binary) or the target's units (regression), in the
 *     server's order; empty unless explained
 * @param baseValue expected logit the contributions start from; 0 unless explained
 * @param mlpTerm the MLP's weighted logit, its own term; 0 unless explained
 * @param served which version served the row and why
 * @param requestId the request's {@code request_id}, possibly empty
 * @param targetKind what kind of target the serving version predicts
 */
public record ScoreResult(
        double score,
        String label,
        double lower,
        double upper,
        double agreement,
        Map<String, Double> baseScores,
        boolean explained,
        Map<String, Double> contributions,
        double baseValue,
        double mlpTerm,
        Served served,
        String requestId,
        TargetKind targetKind) {
    /**
     * Validates the components and makes the maps immutable.
     *
     * @param score the score
     * @param label the label, not null
     * @param lower the interval's lower bound
     * @param upper the interval's upper bound
     * @param agreement the agreement
     * @param baseScores base model scores, not null
     * @param explained whether an explanation is present
     * @param contributions feature contributions, not null
     * @param baseValue the explanation's base value
     * @param mlpTerm the explanation's MLP term
     * @param served the routing, not null
     * @param requestId the request id, not null
     * @param targetKind the target kind, not null
     */
    public ScoreResult {
        requireNonNull(label, "label is null");
        baseScores = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(baseScores, "baseScores is null")));
        contributions = Collections.unmodifiableMap(
                new LinkedHashMap<>(requireNonNull(contributions, "contributions is null")));
        requireNonNull(served, "served is null");
        requireNonNull(requestId, "requestId is null");
        requireNonNull(targetKind, "targetKind is null");
    }

    /**
     * A binary model's score, as before target kinds.
     *
     * @param score the score
     * @param label the label, not null
     * @param lower the interval's lower bound
     * @param upper the interval's upper bound
     * @param agreement the agreement
     * @param baseScores base model scores, not null
     * @param explained whether an explanation is present
     * @param contributions feature contributions, not null
     * @param baseValue the explanation's base value
     * @param mlpTerm the explanation's MLP term
     * @param served the routing, not null
     * @param requestId the request id, not null
     */
    public ScoreResult(
            double score,
            String label,
            double lower,
            double upper,
            double agreement,
            Map<String, Double> baseScores,
            boolean explained,
            Map<String, Double> contributions,
            double baseValue,
            double mlpTerm,
            Served served,
            String requestId) {
        this(
                score,
                label,
                lower,
                upper,
                agreement,
                baseScores,
                explained,
                contributions,
                baseValue,
                mlpTerm,
                served,
                requestId,
                TargetKind.BINARY);
    }

    /**
     * Converts the wire form.
     *
     * @param response the protobuf response
     * @return the record
     */
    public static ScoreResult fromProto(ScoreResponse response) {
        Map<String, Double> base = new LinkedHashMap<>();
        for (BaseScore b : response.getBaseScoresList()) {
            base.put(b.getModel(), b.getScore());
        }
        Map<String, Double> contributions = new LinkedHashMap<>();
        boolean explained = response.hasExplanation();
        for (FeatureContribution c : response.getExplanation().getContributionsList()) {
            contributions.put(c.getFeature(), c.getValue());
        }
        return new ScoreResult(
                response.getScore(),
                response.getLabel(),
                response.getInterval().getLower(),
                response.getInterval().getUpper(),
                response.getAgreement(),
                base,
                explained,
                contributions,
                response.getExplanation().getBaseValue(),
                response.getExplanation().getMlpTerm(),
                Served.fromProto(response.getServed()),
                response.getRequestId(),
                TargetKind.fromProto(response.getTargetKind()));
    }

    /**
     * The ensemble logit the explanation adds up to: base value + contributions + MLP term.
     *
     * @return the sum of the explanation's terms; 0 unless explained
     */
    public double explainedLogit() {
        double sum = baseValue + mlpTerm;
        for (double v : contributions.values()) {
            sum += v;
        }
        return sum;
    }
}
