package dev.trellis.router.monitoring;

import static java.util.Objects.requireNonNull;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Which share of scored rows the router logs as payload samples, per model: {@code --payload-sample-rate
 * 0.1} for every model, {@code --payload-sample-rate churn=1} for one (repeatable; the per-model rate
 * wins). Whether a row is sampled is a hash of (model, unit id), so a unit's rows are all in or all
 * out and every router samples the same units. Immutable.
 *
 * @param defaultRate the rate of models without their own, in [0, 1]
 * @param perModel model → rate, each in [0, 1]
 */
public record PayloadSampleRates(double defaultRate, Map<String, Double> perModel) {
    public static final PayloadSampleRates NONE = new PayloadSampleRates(0, Map.of());

    public PayloadSampleRates {
        check(defaultRate, "default");
        perModel = Map.copyOf(requireNonNull(perModel, "perModel is null"));
        perModel.forEach((model, rate) -> check(rate, model));
    }

    private static void check(double rate, String what) {
        if (!(rate >= 0 && rate <= 1)) {
            throw new IllegalArgumentException("--payload-sample-rate " + what + ": " + rate + " is not in [0, 1]");
        }
    }

    /** Parses the flag's values ({@code 0.1}, {@code churn=0.5}). */
    public static PayloadSampleRates parse(List<String> values) {
        double defaultRate = 0;
        Map<String, Double> perModel = new HashMap<>();
        for (String value : values) {
            int equals = value.indexOf('=');
            if (equals < 0) {
                defaultRate = number(value.trim());
            } else {
                perModel.put(
                        value.substring(0, equals).trim(),
                        number(value.substring(equals + 1).trim()));
            }
        }
        return new PayloadSampleRates(defaultRate, perModel);
    }

    private static double number(String text) {
        try {
            return Double.parseDouble(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--payload-sample-rate: '" + text + "' is not a number", e);
        }
    }

    public double rate(String model) {
        return perModel.getOrDefault(model, defaultRate);
    }

    /** Whether the rows of {@code unitId} are sampled for {@code model} (rows without a unit never are). */
    public boolean sampled(String model, String unitId) {
        double rate = rate(model);
        if (rate <= 0 || unitId.isEmpty()) {
            return false;
        }
        if (rate >= 1) {
            return true;
        }
        // FNV-1a over model and unit, then MurmurHash3's finalizer so that the high bits of
        // similar ids spread evenly: stable across routers, restarts and JVMs
        long hash = 0xcbf29ce484222325L;
        for (char c : (model + '\u0000' + unitId).toCharArray()) {
            hash ^= c;
            hash *= 0x100000001b3L;
        }
        hash ^= hash >>> 33;
        hash *= 0xff51afd7ed558ccdL;
        hash ^= hash >>> 33;
        hash *= 0xc4ceb9fe1a85ec53L;
        hash ^= hash >>> 33;
        return (hash >>> 11) * 0x1.0p-53 < rate;
    }
}
