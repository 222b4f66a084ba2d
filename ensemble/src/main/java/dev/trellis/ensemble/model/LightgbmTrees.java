package dev.trellis.ensemble.model;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the trees of a LightGBM binary or regression model from its text form ({@code lightgbm.txt}) into a
 * {@link Forest}. LightGBM's rules, as its {@code Tree::Decision} applies them to a row converted to
 * double:
 * <ul>
 * <li>numeric: {@code value <= threshold}; a NaN takes the default direction when the node's missing
 * type is NaN, and is read as 0 when it is None;</li>
 * <li>categorical: NaN and negative values go right, otherwise left when the integer value's bit is
 * set in the node's bitset ({@code cat_threshold}).</li>
 * </ul>
 * Leaf values are summed in double in tree order; covers are {@code internal_count} and
 * {@code leaf_count}, as its TreeSHAP uses them. Models with linear trees, several trees per
 * iteration, averaged output or zero-as-missing splits are refused (the trainer writes none).
 * Stateless.
 */
final class LightgbmTrees {
    private static final int CATEGORICAL = 1;
    private static final int DEFAULT_LEFT = 2;
    private static final int MISSING_NONE = 0;
    private static final int MISSING_NAN = 2;

    private LightgbmTrees() {}

    static Forest parse(String text) throws IOException {
        String[] lines = text.split("\n");
        Map<String, String> header = new HashMap<>();
        int line = 0;
        while (line < lines.length && !lines[line].startsWith("Tree=")) {
            put(header, lines[line++]);
        }
        String objective = header.getOrDefault("objective", "");
        // binary raw scores are log-odds, regression ones the predicted values: both are the leaf sum
        if (!isObjective(objective, "binary") && !isObjective(objective, "regression")) {
            throw new IOException("unsupported objective " + objective);
        }
        if (!header.getOrDefault("num_tree_per_iteration", "1").equals("1")) {
            throw new IOException("several trees per iteration are not supported");
        }
        if (header.containsKey("average_output")) {
            throw new IOException("averaged output (random forest mode) is not supported");
        }
        int features = Integer.parseInt(required(header, "max_feature_idx")) + 1;
        List<Forest.Tree> trees = new ArrayList<>();
        while (line < lines.length && lines[line].startsWith("Tree=")) {
            Map<String, String> fields = new HashMap<>();
            line++;
            while (line < lines.length && !lines[line].isBlank()) {
                put(fields, lines[line++]);
            }
            while (line < lines.length && lines[line].isBlank()) {
                line++;
            }
            trees.add(tree(fields));
        }
        if (trees.isEmpty()) {
            throw new IOException("no trees");
        }
        return new Forest(features, false, 0f, trees);
    }

    private static boolean isObjective(String objective, String name) {
        return objective.equals(name) || objective.startsWith(name + " ");
    }

    private static Forest.Tree tree(Map<String, String> fields) throws IOException {
        if (!fields.getOrDefault("is_linear", "0").equals("0")) {
            throw new IOException("linear trees are not supported");
        }
        int leaves = Integer.parseInt(required(fields, "num_leaves"));
        double[] leafValue = doubles(fields, "leaf_value", leaves);
        if (leaves == 1) {
            return new Forest.Tree(
                    new int[0],
                    new float[0],
                    new boolean[0],
                    new int[0][],
                    new int[0],
                    new int[0],
                    leafValue,
                    new double[0],
                    new double[] {1});
        }
        int internal = leaves - 1;
        int[] feature = ints(fields, "split_feature", internal);
        double[] thresholds = doubles(fields, "threshold", internal);
        int[] decision = ints(fields, "decision_type", internal);
        int[] left = ints(fields, "left_child", internal);
        int[] right = ints(fields, "right_child", internal);
        double[] internalCover = doubles(fields, "internal_count", internal);
        double[] leafCover = doubles(fields, "leaf_count", leaves);
        int categoricalSplits = Integer.parseInt(fields.getOrDefault("num_cat", "0"));
        int[] boundaries = categoricalSplits == 0 ? new int[0] : ints(fields, "cat_boundaries", categoricalSplits + 1);
        long[] words = categoricalSplits == 0 ? new long[0] : longs(fields, "cat_threshold");
        float[] threshold = new float[internal];
        boolean[] nanLeft = new boolean[internal];
        int[][] categories = new int[internal][];
        for (int n = 0; n < internal; n++) {
            int type = decision[n];
            int missing = (type >> 2) & 3;
            boolean defaultLeft = (type & DEFAULT_LEFT) != 0;
            if ((type & CATEGORICAL) != 0) {
                int split = (int) thresholds[n];
                if (split < 0 || split >= categoricalSplits) {
                    throw new IOException("categorical split " + split + " out of range");
                }
                int[] bits = new int[boundaries[split + 1] - boundaries[split]];
                for (int w = 0; w < bits.length; w++) {
                    bits[w] = (int) words[boundaries[split] + w];
                }
                categories[n] = bits;
                continue;
            }
            if (missing != MISSING_NONE && missing != MISSING_NAN) {
                throw new IOException("zero-as-missing splits are not supported");
            }
            threshold[n] = floatAbove(thresholds[n]);
            // missing type None reads NaN as 0
            nanLeft[n] = missing == MISSING_NAN ? defaultLeft : 0.0 <= thresholds[n];
        }
        return new Forest.Tree(
                feature, threshold, nanLeft, categories, left, right, leafValue, internalCover, leafCover);
    }

    /** The smallest float {@code t} with {@code (double) t > threshold}: {@code v <= threshold ⇔ v < t}. */
    static float floatAbove(double threshold) {
        float t = (float) threshold;
        return (double) t > threshold ? t : Math.nextUp(t);
    }

    private static void put(Map<String, String> map, String line) {
        int eq = line.indexOf('=');
        if (eq > 0) {
            map.put(line.substring(0, eq).trim(), line.substring(eq + 1).trim());
        } else if (!line.isBlank()) {
            map.put(line.trim(), ""); // a flag such as average_output
        }
    }

    private static String required(Map<String, String> fields, String key) throws IOException {
        String value = fields.get(key);
        if (value == null) {
            throw new IOException("missing " + key);
        }
        return value;
    }

    private static String[] values(Map<String, String> fields, String key, int expected) throws IOException {
        String value = required(fields, key);
        String[] parts = value.isEmpty() ? new String[0] : value.split(" ");
        if (expected >= 0 && parts.length != expected) {
            throw new IOException(key + " has " + parts.length + " values, expected " + expected);
        }
        return parts;
    }

    private static int[] ints(Map<String, String> fields, String key, int expected) throws IOException {
        String[] parts = values(fields, key, expected);
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            out[i] = Integer.parseInt(parts[i]);
        }
        return out;
    }

    private static long[] longs(Map<String, String> fields, String key) throws IOException {
        String[] parts = values(fields, key, -1);
        long[] out = new long[parts.length];
        for (int i = 0; i < parts.length; i++) {
            out[i] = Long.parseLong(parts[i]);
        }
        return out;
    }

    private static double[] doubles(Map<String, String> fields, String key, int expected) throws IOException {
        String[] parts = values(fields, key, expected);
        double[] out = new double[parts.length];
        for (int i = 0; i < parts.length; i++) {
            out[i] = Double.parseDouble(parts[i]);
        }
        return out;
    }
}
