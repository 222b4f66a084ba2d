package dev.trellis.modelserver.inference;

import java.util.List;
import java.util.Set;

/** Names of the output tensors (DESIGN §3). */
final class Outputs {
    static final String SCORE = "score";
    static final String LABEL = "label";
    static final String INTERVAL = "interval";
    static final String AGREEMENT = "agreement";
    static final String BASE_SCORES = "base_scores";
    static final String CONTRIBUTIONS = "contributions";

    /** In response order; contributions only when explaining. */
    static final List<String> ALL = List.of(SCORE, LABEL, INTERVAL, AGREEMENT, BASE_SCORES, CONTRIBUTIONS);

    static final Set<String> DEFAULT = Set.of(SCORE, LABEL, INTERVAL, AGREEMENT, BASE_SCORES);

    static final String EXPLAIN_PARAMETER = "explain";
    static final String COLUMNS_PARAMETER = "columns";
    static final String MLP_COLUMN = "mlp";
    static final String BIAS_COLUMN = "bias";
    /** Response parameter of a model with a continuous target: "regression". */
    static final String TARGET_KIND_PARAMETER = "target_kind";
    /** Response parameter of a model with a continuous target: "min,max" of its training target. */
    static final String SCORE_RANGE_PARAMETER = "score_range";

    private Outputs() {}
}
