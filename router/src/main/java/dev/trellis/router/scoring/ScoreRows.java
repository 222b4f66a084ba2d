package dev.trellis.router.scoring;

import com.google.protobuf.ByteString;
import dev.trellis.router.errors.RouterException.Violation;
import dev.trellis.router.upstream.FeatureSchema;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import java.util.function.IntToDoubleFunction;

/**
 * The rows of one scoring call, whichever wire form they came in: a list of {@code ScoreRequest}
 * ({@link RequestRows}) or {@code FeatureColumns} ({@link ColumnRows}). The scoring path routes,
 * groups, encodes and answers rows only through this view, so both forms share it; only
 * validation and the reading of feature values differ. Rows are numbered from 0 in request order.
 * Views over the request: the scoring path validates on the calling thread before any upstream
 * call and afterwards only reads, from whichever thread answers.
 */
interface ScoreRows {
    int size();

    /** The row's unit id, or "". */
    String unitId(int row);

    /** The row's targeting attributes. */
    Map<String, String> attributes(int row);

    /** The row's own version pin, or "". */
    String version(int row);

    /** Whether the row itself asked for contributions. */
    boolean explain(int row);

    /** The row's request id, or "". */
    String requestId(int row);

    /** Field violations of some rows' features against the schema of the version that serves them, added to {@code violations}. */
    void validate(FeatureSchema schema, List<Integer> rows, String model, String version, List<Violation> violations);

    /** A numeric feature's value by row, NaN when missing; looked up once per feature, called per row. */
    IntToDoubleFunction numbers(FeatureSchema.Feature feature);

    /** A categorical feature's UTF-8 value by row, empty when missing; looked up once per feature, called per row. */
    IntFunction<ByteString> categories(FeatureSchema.Feature feature);
}
