package dev.trellis.router.scoring;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import com.google.protobuf.Value;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.router.errors.RouterErrorCode;
import dev.trellis.router.errors.RouterException;
import dev.trellis.router.errors.RouterException.Violation;
import dev.trellis.router.upstream.FeatureSchema;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import java.util.function.IntToDoubleFunction;

/**
 * Rows given as {@code ScoreRequest}s (Score, ScoreStream, and ScoreBatch's {@code rows}): every
 * row carries its own {@code map<string, Value>} of features, so names and types are checked row
 * by row. Field names start with {@code rows[i].} in a batch. Immutable.
 */
final class RequestRows implements ScoreRows {
    private static final int MAX_VIOLATIONS = 100;

    private final List<ScoreRequest> rows;
    private final boolean batch;

    private RequestRows(List<ScoreRequest> rows, boolean batch) {
        this.rows = requireNonNull(rows, "rows is null");
        this.batch = batch;
    }

    /**
     * The rows of a call to {@code model}; in a batch, each row's own model must be empty or equal.
     *
     * @param batch whether the rows came in a ScoreBatch (field names then start with rows[i].)
     */
    static RequestRows of(String model, List<ScoreRequest> rows, boolean batch) {
        List<Violation> violations = new ArrayList<>();
        for (int i = 0; batch && i < rows.size(); i++) {
            String rowModel = rows.get(i).getModel();
            if (!rowModel.isEmpty() && !rowModel.equals(model)) {
                violations.add(
                        new Violation("rows[" + i + "].model", "must be empty or equal to the batch's model " + model));
            }
        }
        if (!violations.isEmpty()) {
            throw new RouterException(
                    RouterErrorCode.INVALID_REQUEST, "rows name a different model than the batch", violations);
        }
        return new RequestRows(rows, batch);
    }

    @Override
    public int size() {
        return rows.size();
    }

    @Override
    public String unitId(int row) {
        return rows.get(row).getUnitId();
    }

    @Override
    public Map<String, String> attributes(int row) {
        return rows.get(row).getAttributesMap();
    }

    @Override
    public String version(int row) {
        return rows.get(row).getVersion();
    }

    @Override
    public boolean explain(int row) {
        return rows.get(row).getExplain();
    }

    @Override
    public String requestId(int row) {
        return rows.get(row).getRequestId();
    }

    @Override
    public void validate(
            FeatureSchema schema, List<Integer> indexes, String model, String version, List<Violation> violations) {
        for (int index : indexes) {
            String prefix = (batch ? "rows[" + index + "]." : "") + "features.";
            for (Map.Entry<String, Value> entry :
                    rows.get(index).getFeaturesMap().entrySet()) {
                FeatureSchema.Feature feature = schema.byName().get(entry.getKey());
                String problem = feature == null
                        ? InferenceCodec.unknownFeature(schema, model, version)
                        : typeProblem(feature, entry.getValue());
                if (problem != null) {
                    violations.add(new Violation(prefix + entry.getKey(), problem));
                }
            }
            if (violations.size() > MAX_VIOLATIONS) {
                return;
            }
        }
    }

    private static String typeProblem(FeatureSchema.Feature feature, Value value) {
        String expected = feature.categorical() ? "a string" : "a number";
        return switch (value.getKindCase()) {
            case NULL_VALUE, KIND_NOT_SET -> null;
            case NUMBER_VALUE ->
                feature.categorical()
                        ? "expected a string (categorical feature), got number"
                        : Double.isInfinite(value.getNumberValue())
                                ? "expected a finite number, got " + value.getNumberValue()
                                        + "; send NaN or null for missing"
                                : null;
            case STRING_VALUE -> feature.categorical() ? null : "expected a number, got string";
            case BOOL_VALUE -> "expected " + expected + ", got bool";
            case STRUCT_VALUE -> "expected " + expected + ", got object";
            case LIST_VALUE -> "expected " + expected + ", got list";
        };
    }

    @Override
    public IntToDoubleFunction numbers(FeatureSchema.Feature feature) {
        return row -> {
            Value v = rows.get(row).getFeaturesMap().get(feature.name());
            return v != null && v.hasNumberValue() ? v.getNumberValue() : Double.NaN;
        };
    }

    @Override
    public IntFunction<ByteString> categories(FeatureSchema.Feature feature) {
        return row -> {
            Value v = rows.get(row).getFeaturesMap().get(feature.name());
            return v != null && v.hasStringValue()
                    ? ByteString.copyFromUtf8(v.getStringValue())
                    : InferenceCodec.MISSING_CATEGORY;
        };
    }
}
