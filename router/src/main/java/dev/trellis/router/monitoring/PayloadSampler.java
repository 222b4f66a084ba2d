package dev.trellis.router.monitoring;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import dev.trellis.experiments.store.PayloadSample;
import dev.trellis.router.config.RouterConfig;
import dev.trellis.router.scoring.ExposureLog;
import dev.trellis.router.upstream.FeatureSchema;
import jakarta.inject.Inject;
import java.time.Clock;
import java.util.List;
import java.util.function.IntFunction;
import java.util.function.IntToDoubleFunction;

/**
 * Logs a sample of scored rows (see {@link PayloadSampleRates}) as payload samples: unit id, the
 * features as scored (the version's schema: numbers, strings, null when missing), score, label,
 * version, experiment and variant, and the time. They go to the store through the exposure
 * hand-off and the store's bounded, counted event writer. Thread-safe.
 */
public final class PayloadSampler {
    private static final JsonFormat.Printer JSON = JsonFormat.printer().omittingInsignificantWhitespace();

    private final PayloadSampleRates rates;
    private final ExposureLog log;
    private final Clock clock;

    @Inject
    public PayloadSampler(RouterConfig config, ExposureLog log, Clock clock) {
        this.rates = requireNonNull(config, "config is null").payloadSampleRates();
        this.log = requireNonNull(log, "log is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    public boolean sampled(String model, String unitId) {
        return rates.sampled(model, unitId);
    }

    /**
     * The features of one row as a JSON object, read through the scoring path's per-feature lookups
     * ({@code numbers} and {@code categories} aligned with the schema's features; each holds null
     * where the feature is of the other kind).
     */
    public static String featuresJson(
            FeatureSchema schema,
            int row,
            List<IntToDoubleFunction> numbers,
            List<IntFunction<ByteString>> categories) {
        Struct.Builder struct = Struct.newBuilder();
        for (int i = 0; i < schema.features().size(); i++) {
            FeatureSchema.Feature f = schema.features().get(i);
            Value value;
            if (f.categorical()) {
                ByteString bytes = categories.get(i).apply(row);
                value = bytes.isEmpty()
                        ? Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build()
                        : Value.newBuilder()
                                .setStringValue(bytes.toStringUtf8())
                                .build();
            } else {
                double v = numbers.get(i).applyAsDouble(row);
                value = Double.isNaN(v)
                        ? Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build()
                        : Value.newBuilder().setNumberValue(v).build();
            }
            struct.putFields(f.name(), value);
        }
        try {
            return JSON.print(struct);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    public void record(
            String model,
            String version,
            String unitId,
            String featuresJson,
            double score,
            String label,
            String experiment,
            String variant) {
        log.recordPayload(new PayloadSample(
                model,
                version,
                unitId,
                clock.instant(),
                featuresJson,
                score,
                label,
                experiment.isEmpty() ? null : experiment,
                variant.isEmpty() ? null : variant));
    }
}
