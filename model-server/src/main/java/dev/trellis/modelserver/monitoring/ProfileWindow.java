package dev.trellis.modelserver.monitoring;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.trellis.common.monitoring.Baseline;
import dev.trellis.common.monitoring.FeatureProfile;
import dev.trellis.common.monitoring.Profiles;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongSupplier;
import java.util.stream.IntStream;

/**
 * The live window of one model version: the inputs and scores of the last rows it scored, in ring
 * buffers laid out row by row (a row's numeric values are adjacent, as are its categories, so
 * recording one row touches a few cache lines, not one per feature). Recording a batch copies its
 * values under a private lock: a few nanoseconds per value, no allocation, no statistics, and no
 * clock read unless the window is a duration. The statistics are computed from a
 * {@link #snapshot()} when asked (GetProfile, a metrics scrape). Thread-safe.
 */
public final class ProfileWindow {
    /** A window that records nothing (versions scored outside a repository, tests). */
    public static final ProfileWindow NONE = new ProfileWindow();

    /** Rows copied into the window per hold of its lock. */
    static final int RECORD_CHUNK_ROWS = 32;

    private final String model;
    private final int version;
    private final FeatureSchema schema;
    private final int capacity;
    private final long maxAgeMillis;
    private final LongSupplier clock;
    private final Optional<Baseline> baseline;
    private final Map<String, Double> testMetrics;
    private final boolean recording;

    private final Object lock = new Object();

    /** Schema indexes of the numeric and of the categorical features. */
    private final int[] numericFeatures;

    private final int[] categoricalFeatures;

    /** Slot s holds the numeric values of one row at [s * numericFeatures.length, ...). */
    @GuardedBy("lock")
    private final double[] numeric;

    /** Slot s holds the categories of one row at [s * categoricalFeatures.length, ...). */
    @GuardedBy("lock")
    private final String[] categorical;

    @GuardedBy("lock")
    private final double[] scores;

    @GuardedBy("lock")
    private final long[] times;

    /** Next slot to write. */
    @GuardedBy("lock")
    private int next;

    @GuardedBy("lock")
    private int size;

    private ProfileWindow() {
        this.model = "";
        this.version = 0;
        this.schema = null;
        this.capacity = 0;
        this.maxAgeMillis = Long.MAX_VALUE;
        this.clock = () -> 0;
        this.baseline = Optional.empty();
        this.testMetrics = Map.of();
        this.recording = false;
        this.numericFeatures = new int[0];
        this.categoricalFeatures = new int[0];
        this.numeric = new double[0];
        this.categorical = new String[0];
        this.scores = new double[0];
        this.times = new long[0];
    }

    ProfileWindow(
            String model,
            int version,
            FeatureSchema schema,
            DriftWindow window,
            LongSupplier clockMillis,
            Optional<Baseline> baseline,
            Map<String, Double> testMetrics) {
        this.model = requireNonNull(model, "model is null");
        this.version = version;
        this.schema = requireNonNull(schema, "schema is null");
        this.capacity = requireNonNull(window, "window is null").rows();
        this.maxAgeMillis = window.maxAge().map(java.time.Duration::toMillis).orElse(Long.MAX_VALUE);
        this.clock = requireNonNull(clockMillis, "clockMillis is null");
        this.baseline = requireNonNull(baseline, "baseline is null");
        this.testMetrics = Map.copyOf(requireNonNull(testMetrics, "testMetrics is null"));
        this.recording = true;
        int features = schema.size();
        this.numericFeatures = IntStream.range(0, features)
                .filter(i -> schema.features().get(i).type() == FeatureType.NUMERIC)
                .toArray();
        this.categoricalFeatures = IntStream.range(0, features)
                .filter(i -> schema.features().get(i).type() != FeatureType.NUMERIC)
                .toArray();
        this.numeric = new double[capacity * numericFeatures.length];
        this.categorical = new String[capacity * categoricalFeatures.length];
        this.scores = new double[capacity];
        this.times = new long[capacity];
    }

    public String model() {
        return model;
    }

    public int version() {
        return version;
    }

    public Optional<Baseline> baseline() {
        return baseline;
    }

    public Map<String, Double> testMetrics() {
        return testMetrics;
    }

    /** Adds the rows of a scored batch; {@code scores} is row-aligned with {@code rows}. */
    public void record(FeatureBatch rows, double[] rowScores) {
        if (!recording) {
            return;
        }
        int n = rows.rows();
        // a batch larger than the window keeps its last rows
        int from = Math.max(0, n - capacity);
        // a window of rows only needs no time (liveSlots then keeps every slot)
        long now = maxAgeMillis == Long.MAX_VALUE ? 0 : clock.getAsLong();
        // a few rows per hold of the lock: a bulk lane's thread runs at nice 19, and one preempted
        // while it held the lock for a whole batch kept the interactive lane waiting (up to 62 ms
        // in the overload benchmark's thread profile); a snapshot may see part of a batch
        for (int start = from; start < n; start += RECORD_CHUNK_ROWS) {
            int end = Math.min(n, start + RECORD_CHUNK_ROWS);
            synchronized (lock) {
                for (int r = start; r < end; r++) {
                    copyRow(rows, rowScores, r, now);
                }
                size = Math.min(capacity, size + (end - start));
            }
        }
    }

    /** Copies row {@code r} into the next slot. */
    @GuardedBy("lock")
    private void copyRow(FeatureBatch rows, double[] rowScores, int r, long now) {
        int slot = next;
        int base = slot * numericFeatures.length;
        for (int i = 0; i < numericFeatures.length; i++) {
            numeric[base + i] = rows.numeric(numericFeatures[i])[r];
        }
        base = slot * categoricalFeatures.length;
        for (int i = 0; i < categoricalFeatures.length; i++) {
            categorical[base + i] = rows.categorical(categoricalFeatures[i])[r];
        }
        scores[slot] = rowScores[r];
        times[slot] = now;
        next = slot + 1 == capacity ? 0 : slot + 1;
    }

    /** The window's current content as profiles: features in schema order, and the scores. */
    public Snapshot snapshot() {
        if (!recording) {
            return new Snapshot(List.of(), Profiles.numericWindow(FeatureProfile.SCORE, new double[0]));
        }
        int features = schema.size();
        double[][] numericCopy = new double[features][];
        String[][] categoricalCopy = new String[features][];
        double[] scoreCopy;
        long oldest = maxAgeMillis == Long.MAX_VALUE ? Long.MIN_VALUE : clock.getAsLong() - maxAgeMillis;
        synchronized (lock) {
            int[] slots = liveSlots(oldest);
            for (int i = 0; i < numericFeatures.length; i++) {
                double[] out = new double[slots.length];
                for (int k = 0; k < slots.length; k++) {
                    out[k] = numeric[slots[k] * numericFeatures.length + i];
                }
                numericCopy[numericFeatures[i]] = out;
            }
            for (int i = 0; i < categoricalFeatures.length; i++) {
                String[] out = new String[slots.length];
                for (int k = 0; k < slots.length; k++) {
                    out[k] = categorical[slots[k] * categoricalFeatures.length + i];
                }
                categoricalCopy[categoricalFeatures[i]] = out;
            }
            scoreCopy = new double[slots.length];
            for (int k = 0; k < slots.length; k++) {
                scoreCopy[k] = scores[slots[k]];
            }
        }
        List<FeatureProfile> profiles = new ArrayList<>(features);
        for (int f = 0; f < features; f++) {
            String name = schema.features().get(f).name();
            profiles.add(
                    numericCopy[f] != null
                            ? Profiles.numericWindow(name, numericCopy[f])
                            : Profiles.categorical(name, categoricalCopy[f]));
        }
        return new Snapshot(profiles, Profiles.numericWindow(FeatureProfile.SCORE, scoreCopy));
    }

    @GuardedBy("lock")
    private int[] liveSlots(long oldestMillis) {
        int[] slots = new int[size];
        int count = 0;
        int start = (next - size + capacity) % capacity;
        for (int i = 0; i < size; i++) {
            int slot = (start + i) % capacity;
            if (times[slot] >= oldestMillis) {
                slots[count++] = slot;
            }
        }
        return Arrays.copyOf(slots, count);
    }

    /** The window's profiles at one point in time. */
    public record Snapshot(List<FeatureProfile> features, FeatureProfile score) {
        public Snapshot {
            features = List.copyOf(features);
            requireNonNull(score, "score is null");
        }

        public long rows() {
            return score.rows();
        }
    }
}
