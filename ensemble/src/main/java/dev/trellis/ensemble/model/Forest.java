package dev.trellis.ensemble.model;

import dev.trellis.ensemble.data.Matrix;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A tree ensemble in flat arrays, scored and explained in plain Java: the trees XGBoost or LightGBM
 * wrote, parsed once at load ({@link XgboostTrees}, {@link LightgbmTrees}) with each library's split
 * rule brought to one form. An internal node sends a row left when
 * <ul>
 * <li>numeric: {@code value < threshold} (a float), or the value is NaN and the node's missing
 * values go left;</li>
 * <li>categorical (LightGBM): the value is not NaN, {@code (int) value >= 0} and its bit is set in
 * the node's bitset.</li>
 * </ul>
 * XGBoost's {@code value < split} is that rule as is; LightGBM's {@code (double) value <= threshold}
 * becomes {@code value < t} with {@code t} the smallest float above the double threshold, which is
 * the same decision for every float input.
 *
 * <p>Margins sum the leaf values the way the library does: XGBoost in float, starting from the base
 * margin, in tree order; LightGBM in double, in tree order.
 *
 * <p>Explanations are path-dependent TreeSHAP (the algorithm both libraries' {@code predictContrib}
 * implement), computed from tables precomputed per leaf, as in Fast TreeSHAP v2: for a leaf with
 * value {@code v} whose path splits on the distinct features {@code U} (d of them), feature {@code j}
 * has a zero fraction {@code z_j} (product of cover(child)/cover(parent) over the path's nodes on
 * {@code j}) and a one fraction {@code o_j} (1 when the row follows the path at all of them, else 0).
 * The leaf's game {@code v·Π_{j∈S} o_j·Π_{j∈U∖S} z_j} depends on the row only through the hot set
 * {@code H = {j : o_j = 1}}, so its Shapley values are tabulated for each of the 2^d hot sets:
 * with {@code C = U∖H} and {@code K(A) = Σ_{S⊆A} |S|!(d−|S|−1)!/d! · Π_{j∈A∖S} z_j},
 * <ul>
 * <li>a hot feature i gets {@code v·(1 − z_i)·Π_C z·K(H∖{i})},</li>
 * <li>every cold feature gets {@code −v·Π_C z·K(H)}.</li>
 * </ul>
 * Per row and tree this costs one decision per internal node and, per leaf, d mask tests and d
 * additions. The bias is the forest's expected value ({@code Σ_leaves v·Π z} plus the base margin).
 * Immutable and thread-safe.
 */
final class Forest {
    /** Internal nodes per tree for the decision-pattern tables (2^n leaf numbers and contribution rows). */
    static final int PATTERN_MAX_NODES = 8;
    /** Largest number of distinct features on one leaf's path for the tables (2^d·d doubles a leaf). */
    static final int MAX_PATH_FEATURES = 12;
    /** Internal nodes per tree for the explanation path: their decisions are one bit each in a long. */
    static final int MAX_INTERNAL_NODES = 64;

    private static final int BLOCK = 64;

    private final int features;
    private final boolean floatSum;
    private final float baseMargin;
    // per tree: root (>= 0 an internal node, < 0 the complement of a leaf); internal and leaf ranges
    private final int[] roots;
    private final int[] internalStart;
    private final int[] leafStart;
    // internal nodes
    private final int[] feature;
    private final float[] threshold;
    private final boolean[] nanLeft;
    private final int[] catStart; // -1 for numeric nodes, else the node's first word in catBits
    private final int[] catWords;
    private final int[] catBits;
    private final int[] left;
    private final int[] right;
    // the numeric rule as one integer comparison, see key(): the node compares the row's key in
    // column keyColumn (a feature's NaN-low keys, or after them its NaN-high ones) with thresholdKey
    private final int[] keyColumn;
    private final long[] thresholdKey;
    // per tree, its categorical nodes are catNodes[catNodeStart[t]..catNodeStart[t+1]]
    private final int[] catNodeStart;
    private final int[] catNodes;
    // categorical nodes whose categories are all below 64: the bitset as one long, and per
    // categorical feature a column of category codes after the two key columns (see categoryCode)
    private final long[] catMask;
    private final int[] codeColumn; // per feature, its code column, or -1 when no categorical node uses it
    private final int keyColumns; // 2 key columns per feature, then the code columns
    private final boolean[] usedKeyColumn; // the key columns some node reads (only those are filled)
    // leaves
    private final double[] leafValue;
    // explanations, null when a tree is too large for them
    private final Shap shap;
    private final Patterns patterns;

    /** One tree, in LightGBM's layout: internal nodes 0..n-1 (0 the root), a child below 0 is leaf ~child. */
    record Tree(
            int[] feature,
            float[] threshold,
            boolean[] nanLeft,
            int[][] categories,
            int[] left,
            int[] right,
            double[] leafValue,
            double[] internalCover,
            double[] leafCover) {
        int internalNodes() {
            return feature.length;
        }
    }

    /** Precomputed TreeSHAP tables, see the class comment. */
    private record Shap(
            double expectedValue,
            int[] slotStart, // per leaf, its first slot; slots of leaf l are slotStart[l]..slotStart[l+1]
            int[] slotFeature,
            long[] slotRequired, // per slot, the decision bits (1 = left) the path needs at its nodes
            long[] slotMask, // per slot, the bits of the path's nodes on this feature
            int[] tableStart,
            double[] table) {}

    /**
     * Per-tree tables over every combination of the tree's decisions, for trees of at most
     * {@link #PATTERN_MAX_NODES} internal nodes: a row's decisions (bit i set when internal node i
     * sends it left) pick its leaf and the tree's whole contribution row at once, so a row costs one
     * comparison per internal node and one addition per distinct feature of the tree.
     */
    private record Patterns(
            int[] leafStart, // per tree, its first entry in leafOf, or -1 when the tree has no tables
            int[] leafOf, // per tree and decision pattern, the (global) leaf reached
            double[] valueOf, // per tree and decision pattern, that leaf's value
            int[] featureStart, // per tree, its distinct features are feature[featureStart[t]..featureStart[t+1]]
            int[] feature,
            int[] tableStart, // per tree, its first entry in table: pattern p's row is tableStart + p * features
            double[] table) {}

    Forest(int features, boolean floatSum, float baseMargin, List<Tree> trees) {
        this.features = features;
        this.floatSum = floatSum;
        this.baseMargin = baseMargin;
        int internal = 0;
        int leaves = 0;
        int words = 0;
        for (Tree tree : trees) {
            internal += tree.internalNodes();
            leaves += tree.leafValue().length;
            for (int[] bits : tree.categories()) {
                words += bits == null ? 0 : bits.length;
            }
        }
        roots = new int[trees.size()];
        internalStart = new int[trees.size() + 1];
        leafStart = new int[trees.size() + 1];
        feature = new int[internal];
        threshold = new float[internal];
        nanLeft = new boolean[internal];
        catStart = new int[internal];
        catWords = new int[internal];
        catBits = new int[words];
        left = new int[internal];
        right = new int[internal];
        keyColumn = new int[internal];
        thresholdKey = new long[internal];
        catNodeStart = new int[trees.size() + 1];
        catMask = new long[internal];
        codeColumn = new int[features];
        Arrays.fill(codeColumn, -1);
        int codeColumns = 0;
        leafValue = new double[leaves];
        List<Integer> categoricalNodes = new ArrayList<>();
        int node = 0;
        int leaf = 0;
        int word = 0;
        for (int t = 0; t < trees.size(); t++) {
            Tree tree = trees.get(t);
            internalStart[t] = node;
            leafStart[t] = leaf;
            roots[t] = tree.internalNodes() == 0 ? ~leaf : node;
            catNodeStart[t] = categoricalNodes.size();
            for (int n = 0; n < tree.internalNodes(); n++) {
                int f = tree.feature()[n];
                if (f < 0 || f >= features) {
                    throw new IllegalArgumentException("tree " + t + " splits on feature " + f + " of " + features);
                }
                feature[node + n] = f;
                threshold[node + n] = tree.threshold()[n];
                nanLeft[node + n] = tree.nanLeft()[n];
                int[] bits = tree.categories()[n];
                catStart[node + n] = bits == null ? -1 : word;
                if (bits != null) {
                    catWords[node + n] = bits.length;
                    System.arraycopy(bits, 0, catBits, word, bits.length);
                    word += bits.length;
                    if (masked(node + n)) {
                        catMask[node + n] = (bits.length > 0 ? bits[0] & 0xffffffffL : 0L)
                                | (bits.length > 1 ? (long) bits[1] << 32 : 0L);
                        if (codeColumn[f] < 0) {
                            codeColumn[f] = codeColumns++;
                        }
                    }
                }
                left[node + n] = global(tree.left()[n], node, leaf);
                right[node + n] = global(tree.right()[n], node, leaf);
                if (bits == null) {
                    keyColumn[node + n] = tree.nanLeft()[n] ? f : features + f;
                    thresholdKey[node + n] = key(tree.threshold()[n]);
                } else {
                    // no key is below the smallest int: the comparison never sets the bit
                    keyColumn[node + n] = f;
                    thresholdKey[node + n] = Integer.MIN_VALUE;
                    categoricalNodes.add(node + n);
                }
            }
            System.arraycopy(tree.leafValue(), 0, leafValue, leaf, tree.leafValue().length);
            node += tree.internalNodes();
            leaf += tree.leafValue().length;
        }
        internalStart[trees.size()] = node;
        leafStart[trees.size()] = leaf;
        catNodeStart[trees.size()] = categoricalNodes.size();
        catNodes = categoricalNodes.stream().mapToInt(Integer::intValue).toArray();
        keyColumns = 2 * features + codeColumns;
        usedKeyColumn = new boolean[keyColumns];
        for (int n = 0; n < internal; n++) {
            usedKeyColumn[keyColumn[n]] = true;
            if (catStart[n] >= 0 && masked(n)) {
                usedKeyColumn[codeKeyColumn(n)] = true;
            }
        }
        this.shap = shapTables(trees);
        this.patterns = patternTables();
    }

    private static int global(int child, int nodeOffset, int leafOffset) {
        return child >= 0 ? nodeOffset + child : ~(leafOffset + ~child);
    }

    int features() {
        return features;
    }

    int trees() {
        return roots.length;
    }

    /** Whether {@link #contributions} is available (every tree small enough for the tables). */
    boolean explains() {
        return shap != null;
    }

    private boolean goesLeft(int node, float value) {
        int start = catStart[node];
        if (start < 0) {
            return value < threshold[node] || (Float.isNaN(value) && nanLeft[node]);
        }
        if (Float.isNaN(value)) {
            return false;
        }
        int category = (int) value;
        if (category < 0) {
            return false;
        }
        int word = category >>> 5;
        return word < catWords[node] && (catBits[start + word] >>> (category & 31) & 1) != 0;
    }

    /**
     * A float's place in the order of floats as an integer: {@code a < b} exactly when
     * {@code key(a) < key(b)}, for every pair of non-NaN floats (-0 and +0 share a key, as they
     * compare equal). So a node's {@code value < threshold} is the sign of a long subtraction, which
     * needs no branch and vectorizes.
     */
    static long key(float value) {
        int bits = Float.floatToRawIntBits(value + 0.0f); // -0 + 0 is +0
        return bits ^ ((bits >> 31) & 0x7fffffff);
    }

    /** Whether categorical node {@code node} decides by its 64-bit mask ({@link #catMask}). */
    private boolean masked(int node) {
        return catWords[node] <= 2;
    }

    /** The key column with the category codes of categorical node {@code node}'s feature (when masked). */
    private int codeKeyColumn(int node) {
        return 2 * features + codeColumn[feature[node]];
    }

    /**
     * A category as a shift into a node's 64-bit category mask: {@code (int) value} when that is
     * 0..63, else 64 (NaN, negative or too large), which no mask bit answers to. So a node's
     * decision is {@code (mask >>> code) & ((code >>> 6) ^ 1)}, with no branch.
     */
    static long categoryCode(float value) {
        int category = (int) value; // NaN casts to 0, so it is tested first
        return Float.isNaN(value) || (category >>> 6) != 0 ? 64 : category;
    }

    /**
     * Rows start..start+n of a row-major matrix as columns: feature f of row r at
     * {@code f·stride + r}, and their keys in {@code keys}, one array per key column (C2 vectorizes
     * a loop over an array from index 0, not over a flat matrix at an offset): first every
     * feature's keys with NaN below every threshold (for nodes whose missing values go left), then
     * every feature's keys with NaN above every threshold, then the {@link #categoryCode} of each
     * categorical feature that has a code column. One row needs no float copy: the row is its own
     * column block with stride 1, and its keys are one array ({@link #keyBuffer}).
     */
    private float[] transpose(float[] values, int start, int n, float[] columns, long[][] keys, int stride) {
        float[] out = columns;
        if (stride == 1 && start == 0 && values.length == features) {
            out = values;
        } else {
            for (int r = 0; r < n; r++) {
                int base = (start + r) * features;
                for (int f = 0; f < features; f++) {
                    columns[f * stride + r] = values[base + f];
                }
            }
        }
        if (stride == 1) {
            long[] row = keys[0];
            for (int f = 0; f < features; f++) {
                float value = out[f];
                long key = key(value);
                boolean missing = Float.isNaN(value);
                row[f] = missing ? Integer.MIN_VALUE : key;
                row[features + f] = missing ? Integer.MAX_VALUE : key;
                if (codeColumn[f] >= 0) {
                    row[2 * features + codeColumn[f]] = categoryCode(value);
                }
            }
            return out;
        }
        for (int f = 0; f < features; f++) {
            int from = f * stride;
            long[] low = keys[f];
            long[] high = keys[features + f];
            if (low != null) {
                for (int r = 0; r < n; r++) {
                    float value = out[from + r];
                    low[r] = Float.isNaN(value) ? Integer.MIN_VALUE : key(value);
                }
            }
            if (high != null) {
                for (int r = 0; r < n; r++) {
                    float value = out[from + r];
                    high[r] = Float.isNaN(value) ? Integer.MAX_VALUE : key(value);
                }
            }
            int column = codeColumn[f];
            if (column >= 0 && keys[2 * features + column] != null) {
                long[] codes = keys[2 * features + column];
                for (int r = 0; r < n; r++) {
                    codes[r] = categoryCode(out[from + r]);
                }
            }
        }
        return out;
    }

    /**
     * Key buffers for blocks of {@code stride} rows: one array per key column some node reads (the
     * others stay null), or one array for one row. Allocated one by one: {@code new long[c][s]}
     * goes through the VM's slow multi-array path, about 3.5 µs for the lead model's 172 columns.
     */
    private long[][] keyBuffer(int stride) {
        if (stride == 1) {
            return new long[][] {new long[keyColumns]};
        }
        long[][] keys = new long[keyColumns][];
        for (int c = 0; c < keyColumns; c++) {
            if (usedKeyColumn[c]) {
                keys[c] = new long[stride];
            }
        }
        return keys;
    }

    /** The block's first row's key in {@code column} (see {@link #keyBuffer}). */
    private static long firstRowKey(long[][] keys, int stride, int column) {
        return stride == 1 ? keys[0][column] : keys[column][0];
    }

    /**
     * For each of the block's n rows, bit i set when internal node i of {@code tree} sends the row
     * left (trees of at most {@link #MAX_INTERNAL_NODES} internal nodes). Node by node over the
     * block's rows, the numeric nodes as the sign of {@code key − thresholdKey} (no branch, and the
     * loop vectorizes), then the tree's categorical nodes, which the numeric pass left unset.
     */
    private void decisions(int tree, float[] columns, long[][] keys, int stride, int n, long[] out) {
        int first = internalStart[tree];
        int nodes = internalStart[tree + 1] - first;
        if (n == 1) {
            // a single row: the same decisions without a loop per node
            long decided = 0;
            for (int i = 0; i < nodes; i++) {
                int node = first + i;
                decided |= ((firstRowKey(keys, stride, keyColumn[node]) - thresholdKey[node]) >>> 63) << i;
            }
            for (int c = catNodeStart[tree]; c < catNodeStart[tree + 1]; c++) {
                int node = catNodes[c];
                if (masked(node)) {
                    long code = firstRowKey(keys, stride, codeKeyColumn(node));
                    decided |= ((catMask[node] >>> code) & ((code >>> 6) ^ 1)) << (node - first);
                } else {
                    decided |= goesLeft(node, columns[feature[node] * stride]) ? 1L << (node - first) : 0L;
                }
            }
            out[0] = decided;
            return;
        }
        Arrays.fill(out, 0, n, 0L);
        for (int i = 0; i < nodes; i++) {
            int node = first + i;
            long[] column = keys[keyColumn[node]];
            long t = thresholdKey[node];
            for (int r = 0; r < n; r++) {
                out[r] |= ((column[r] - t) >>> 63) << i;
            }
        }
        for (int c = catNodeStart[tree]; c < catNodeStart[tree + 1]; c++) {
            int node = catNodes[c];
            int shift = node - first;
            if (masked(node)) {
                // branch-free: a category's bit in the node's mask (a row-dependent branch mispredicts)
                long mask = catMask[node];
                long[] codes = keys[codeKeyColumn(node)];
                for (int r = 0; r < n; r++) {
                    long code = codes[r];
                    out[r] |= ((mask >>> code) & ((code >>> 6) ^ 1)) << shift;
                }
            } else {
                int column = feature[node] * stride;
                long bit = 1L << shift;
                for (int r = 0; r < n; r++) {
                    out[r] |= goesLeft(node, columns[column + r]) ? bit : 0L;
                }
            }
        }
    }

    /** The (global) leaf a row with these decisions reaches in {@code tree}. */
    private int leaf(int tree, long decisions) {
        int start = patterns.leafStart()[tree];
        if (start >= 0) {
            return patterns.leafOf()[start + (int) decisions];
        }
        int first = internalStart[tree];
        int node = roots[tree];
        while (node >= 0) {
            node = (decisions >>> (node - first) & 1) != 0 ? left[node] : right[node];
        }
        return ~node;
    }

    /** The leaf row r of the transposed block reaches, walking node by node (any tree size). */
    private int walk(int tree, float[] columns, int stride, int r) {
        int node = roots[tree];
        while (node >= 0) {
            node = goesLeft(node, columns[feature[node] * stride + r]) ? left[node] : right[node];
        }
        return ~node;
    }

    /**
     * Margins of {@code rows} rows of a row-major matrix with {@link #features} columns into
     * {@code out}. Tree by tree over blocks of rows, so one tree's nodes stay in cache; each row's
     * sum runs in tree order.
     */
    void margins(float[] values, int rows, double[] out) {
        int stride = Math.max(1, Math.min(BLOCK, rows));
        float[] buffer = stride == 1 && values.length == features ? null : new float[features * stride];
        long[][] keys = keyBuffer(stride);
        long[] decisions = new long[stride];
        float[] floatSums = new float[stride];
        double[] sums = new double[stride];
        int[] patternStart = patterns.leafStart();
        double[] patternValue = patterns.valueOf();
        for (int start = 0; start < rows; start += stride) {
            int n = Math.min(stride, rows - start);
            float[] columns = transpose(values, start, n, buffer, keys, stride);
            Arrays.fill(floatSums, baseMargin);
            Arrays.fill(sums, baseMargin);
            for (int t = 0; t < roots.length; t++) {
                boolean small = internalStart[t + 1] - internalStart[t] <= MAX_INTERNAL_NODES;
                if (small) {
                    decisions(t, columns, keys, stride, n, decisions);
                }
                int p = patternStart[t];
                if (p >= 0) {
                    // the leaf's value straight from the decision pattern
                    if (floatSum) {
                        for (int r = 0; r < n; r++) {
                            floatSums[r] += (float) patternValue[p + (int) decisions[r]];
                        }
                    } else {
                        for (int r = 0; r < n; r++) {
                            sums[r] += patternValue[p + (int) decisions[r]];
                        }
                    }
                    continue;
                }
                for (int r = 0; r < n; r++) {
                    double value = leafValue[small ? leaf(t, decisions[r]) : walk(t, columns, stride, r)];
                    if (floatSum) {
                        floatSums[r] += (float) value;
                    } else {
                        sums[r] += value;
                    }
                }
            }
            for (int r = 0; r < n; r++) {
                out[start + r] = floatSum ? floatSums[r] : sums[r];
            }
        }
    }

    /**
     * TreeSHAP values of {@code rows} rows into {@code out}, row-major with {@code features + 1}
     * columns per row: one per feature, then the bias (expected value). {@code out} is overwritten.
     */
    void contributions(float[] values, int rows, double[] out) {
        if (shap == null) {
            throw new IllegalStateException("trees too large for the explanation tables");
        }
        int width = features + 1;
        double bias =
                floatSum ? (float) (baseMargin + (float) shap.expectedValue()) : baseMargin + shap.expectedValue();
        Arrays.fill(out, 0, rows * width, 0.0);
        int[] slotStart = shap.slotStart();
        int[] slotFeature = shap.slotFeature();
        long[] required = shap.slotRequired();
        long[] mask = shap.slotMask();
        int[] tableStart = shap.tableStart();
        double[] table = shap.table();
        int[] treeFeature = patterns.feature();
        double[] patternTable = patterns.table();
        int stride = Math.max(1, Math.min(BLOCK, rows));
        float[] buffer = stride == 1 && values.length == features ? null : new float[features * stride];
        long[][] keys = keyBuffer(stride);
        long[] decisions = new long[stride];
        for (int start = 0; start < rows; start += stride) {
            int n = Math.min(stride, rows - start);
            float[] columns = transpose(values, start, n, buffer, keys, stride);
            for (int t = 0; t < roots.length; t++) {
                decisions(t, columns, keys, stride, n, decisions);
                int patternStart = patterns.tableStart()[t];
                if (patternStart >= 0) {
                    int f0 = patterns.featureStart()[t];
                    int u = patterns.featureStart()[t + 1] - f0;
                    for (int r = 0; r < n; r++) {
                        int entry = patternStart + (int) decisions[r] * u;
                        int outBase = (start + r) * width;
                        for (int k = 0; k < u; k++) {
                            out[outBase + treeFeature[f0 + k]] += patternTable[entry + k];
                        }
                    }
                    continue;
                }
                for (int r = 0; r < n; r++) {
                    long decided = decisions[r];
                    int outBase = (start + r) * width;
                    for (int l = leafStart[t]; l < leafStart[t + 1]; l++) {
                        int s0 = slotStart[l];
                        int d = slotStart[l + 1] - s0;
                        int hot = 0;
                        for (int s = 0; s < d; s++) {
                            hot |= ((decided ^ required[s0 + s]) & mask[s0 + s]) == 0 ? 1 << s : 0;
                        }
                        int entry = tableStart[l] + hot * d;
                        for (int s = 0; s < d; s++) {
                            out[outBase + slotFeature[s0 + s]] += table[entry + s];
                        }
                    }
                }
            }
        }
        for (int r = 0; r < rows; r++) {
            out[r * width + features] = bias;
        }
    }

    /**
     * Rows to check this forest against its library with: each value is, at random, missing (a
     * fifth), a split threshold of that feature or the float just below or above it, or a category
     * from -1 to past the largest one a split names; features no split uses get a Gaussian value.
     */
    float[] probeRows(int rows, long seed) {
        List<List<Float>> candidates = new ArrayList<>();
        for (int f = 0; f < features; f++) {
            candidates.add(new ArrayList<>());
        }
        for (int node = 0; node < feature.length; node++) {
            List<Float> values = candidates.get(feature[node]);
            if (catStart[node] < 0) {
                float t = threshold[node];
                values.add(t);
                values.add(Math.nextDown(t));
                values.add(Math.nextUp(t));
            } else {
                for (int c = -1; c <= catWords[node] * 32; c++) {
                    values.add((float) c);
                }
            }
        }
        java.util.Random random = new java.util.Random(seed);
        float[] probe = new float[rows * features];
        for (int r = 0; r < rows; r++) {
            for (int f = 0; f < features; f++) {
                List<Float> values = candidates.get(f);
                float value;
                if (random.nextInt(5) == 0) {
                    value = Float.NaN;
                } else if (values.isEmpty()) {
                    value = (float) random.nextGaussian();
                } else {
                    value = values.get(random.nextInt(values.size()));
                }
                probe[r * features + f] = value;
            }
        }
        return probe;
    }

    /** {@link #contributions(float[], int, double[])} of a matrix into a new array. */
    double[] contributions(Matrix x) {
        double[] out = new double[x.rows() * (features + 1)];
        contributions(x.values(), x.rows(), out);
        return out;
    }

    // ---------------------------------------------------------------------------------------------
    // explanation tables

    private static Shap shapTables(List<Tree> trees) {
        int leaves = 0;
        for (Tree tree : trees) {
            if (tree.internalNodes() > MAX_INTERNAL_NODES) {
                return null;
            }
            leaves += tree.leafValue().length;
        }
        int[] slotStart = new int[leaves + 1];
        int[] tableStart = new int[leaves + 1];
        List<int[]> slotFeatures = new ArrayList<>();
        List<long[]> slotRequired = new ArrayList<>();
        List<long[]> slotMasks = new ArrayList<>();
        List<double[]> tables = new ArrayList<>();
        double expected = 0;
        int leaf = 0;
        int slots = 0;
        int entries = 0;
        for (Tree tree : trees) {
            int leafCount = tree.leafValue().length;
            // per leaf, the path from the root: nodes, directions (true = left), zero fractions
            List<List<int[]>> paths = new ArrayList<>();
            for (int l = 0; l < leafCount; l++) {
                paths.add(null);
            }
            collectPaths(tree, 0, new ArrayList<>(), paths);
            for (int l = 0; l < leafCount; l++) {
                List<int[]> path = tree.internalNodes() == 0 ? List.of() : paths.get(l);
                // distinct features in order of first use, with their zero fraction and masks
                int[] uniqueFeature = new int[path.size()];
                double[] zero = new double[path.size()];
                long[] required = new long[path.size()];
                long[] nodeMask = new long[path.size()];
                int d = 0;
                for (int[] step : path) {
                    int node = step[0];
                    boolean goLeft = step[1] == 1;
                    int child = goLeft ? tree.left()[node] : tree.right()[node];
                    double fraction = cover(tree, child) / tree.internalCover()[node];
                    int f = tree.feature()[node];
                    int slot = 0;
                    while (slot < d && uniqueFeature[slot] != f) {
                        slot++;
                    }
                    if (slot == d) {
                        uniqueFeature[d] = f;
                        zero[d] = 1;
                        d++;
                    }
                    zero[slot] *= fraction;
                    nodeMask[slot] |= 1L << node;
                    if (goLeft) {
                        required[slot] |= 1L << node;
                    }
                }
                if (d > MAX_PATH_FEATURES) {
                    return null;
                }
                double value = tree.leafValue()[l];
                double pathProduct = 1;
                for (int s = 0; s < d; s++) {
                    pathProduct *= zero[s];
                }
                expected += value * pathProduct;
                slotStart[leaf] = slots;
                tableStart[leaf] = entries;
                slotFeatures.add(Arrays.copyOf(uniqueFeature, d));
                slotRequired.add(Arrays.copyOf(required, d));
                slotMasks.add(Arrays.copyOf(nodeMask, d));
                double[] table = leafTable(value, Arrays.copyOf(zero, d));
                tables.add(table);
                slots += d;
                entries += table.length;
                leaf++;
            }
        }
        slotStart[leaf] = slots;
        tableStart[leaf] = entries;
        return new Shap(
                expected,
                slotStart,
                concatInts(slotFeatures, slots),
                concatLongs(slotRequired, slots),
                concatLongs(slotMasks, slots),
                tableStart,
                concatDoubles(tables, entries));
    }

    private Patterns patternTables() {
        int trees = roots.length;
        int[] leafStarts = new int[trees];
        int[] featureStart = new int[trees + 1];
        int[] tableStart = new int[trees];
        List<Integer> leafOf = new ArrayList<>();
        List<Double> values = new ArrayList<>();
        List<Integer> treeFeatures = new ArrayList<>();
        List<double[]> tables = new ArrayList<>();
        int entries = 0;
        for (int t = 0; t < trees; t++) {
            int first = internalStart[t];
            int nodes = internalStart[t + 1] - first;
            featureStart[t] = treeFeatures.size();
            if (nodes > PATTERN_MAX_NODES) {
                leafStarts[t] = -1;
                tableStart[t] = -1;
                continue;
            }
            leafStarts[t] = leafOf.size();
            for (int p = 0; p < 1 << nodes; p++) {
                int node = roots[t];
                while (node >= 0) {
                    node = (p >>> (node - first) & 1) != 0 ? left[node] : right[node];
                }
                leafOf.add(~node);
                values.add(leafValue[~node]);
            }
            if (shap == null) {
                tableStart[t] = -1;
                continue;
            }
            // the tree's distinct features, then per pattern the sum of its leaves' table rows
            List<Integer> distinct = new ArrayList<>();
            for (int l = leafStart[t]; l < leafStart[t + 1]; l++) {
                for (int s = shap.slotStart()[l]; s < shap.slotStart()[l + 1]; s++) {
                    if (!distinct.contains(shap.slotFeature()[s])) {
                        distinct.add(shap.slotFeature()[s]);
                    }
                }
            }
            int u = distinct.size();
            double[] table = new double[(1 << nodes) * u];
            for (int p = 0; p < 1 << nodes; p++) {
                for (int l = leafStart[t]; l < leafStart[t + 1]; l++) {
                    int s0 = shap.slotStart()[l];
                    int d = shap.slotStart()[l + 1] - s0;
                    int hot = 0;
                    for (int s = 0; s < d; s++) {
                        if (((p ^ shap.slotRequired()[s0 + s]) & shap.slotMask()[s0 + s]) == 0) {
                            hot |= 1 << s;
                        }
                    }
                    int entry = shap.tableStart()[l] + hot * d;
                    for (int s = 0; s < d; s++) {
                        table[p * u + distinct.indexOf(shap.slotFeature()[s0 + s])] += shap.table()[entry + s];
                    }
                }
            }
            treeFeatures.addAll(distinct);
            tableStart[t] = entries;
            tables.add(table);
            entries += table.length;
        }
        featureStart[trees] = treeFeatures.size();
        return new Patterns(
                leafStarts,
                leafOf.stream().mapToInt(Integer::intValue).toArray(),
                values.stream().mapToDouble(Double::doubleValue).toArray(),
                featureStart,
                treeFeatures.stream().mapToInt(Integer::intValue).toArray(),
                tableStart,
                concatDoubles(tables, entries));
    }

    private static double cover(Tree tree, int child) {
        return child >= 0 ? tree.internalCover()[child] : tree.leafCover()[~child];
    }

    /** Fills {@code paths[leaf]} with the (node, went left) steps from the root to each leaf. */
    private static void collectPaths(Tree tree, int node, List<int[]> prefix, List<List<int[]>> paths) {
        if (tree.internalNodes() == 0) {
            return;
        }
        for (int direction = 1; direction >= 0; direction--) {
            prefix.add(new int[] {node, direction});
            int child = direction == 1 ? tree.left()[node] : tree.right()[node];
            if (child < 0) {
                paths.set(~child, List.copyOf(prefix));
            } else {
                collectPaths(tree, child, prefix, paths);
            }
            prefix.remove(prefix.size() - 1);
        }
    }

    /** Row {@code hot} (a bit set over the d slots) holds each slot's Shapley value for that hot set. */
    static double[] leafTable(double value, double[] zero) {
        int d = zero.length;
        double[] weights = shapleyWeights(d);
        double[] table = new double[(1 << d) * d];
        for (int hot = 0; hot < 1 << d; hot++) {
            double coldProduct = 1;
            for (int s = 0; s < d; s++) {
                if ((hot >>> s & 1) == 0) {
                    coldProduct *= zero[s];
                }
            }
            // with every slot hot there is no cold feature (and K(H) would need d players' weights)
            double cold = hot == (1 << d) - 1 ? 0 : -value * coldProduct * weightedSubsets(hot, zero, weights);
            for (int s = 0; s < d; s++) {
                table[hot * d + s] = (hot >>> s & 1) == 0
                        ? cold
                        : value * (1 - zero[s]) * coldProduct * weightedSubsets(hot & ~(1 << s), zero, weights);
            }
        }
        return table;
    }

    /** {@code w[k] = k!·(d−k−1)!/d!}, the Shapley weight of a coalition of k of the other d−1 players. */
    private static double[] shapleyWeights(int d) {
        double[] w = new double[Math.max(d, 1)];
        for (int k = 0; k < d; k++) {
            // k!(d-k-1)!/d! = 1 / (d * C(d-1, k))
            double binomial = 1;
            for (int i = 1; i <= k; i++) {
                binomial = binomial * (d - 1 - k + i) / i;
            }
            w[k] = 1 / (d * binomial);
        }
        return w;
    }

    /** {@code Σ_{S⊆A} w[|S|]·Π_{j∈A∖S} z_j} for the slot set A, through the polynomial Π_{j∈A}(z_j + t). */
    private static double weightedSubsets(int set, double[] zero, double[] weights) {
        double[] poly = new double[zero.length + 1];
        poly[0] = 1;
        int degree = 0;
        for (int s = 0; s < zero.length; s++) {
            if ((set >>> s & 1) != 0) {
                // multiply by (z_s + t): coefficient k of t^k counts subsets S with |S| = k
                for (int k = degree + 1; k >= 1; k--) {
                    poly[k] = poly[k] * zero[s] + poly[k - 1];
                }
                poly[0] *= zero[s];
                degree++;
            }
        }
        double sum = 0;
        for (int k = 0; k <= degree; k++) {
            sum += weights[k] * poly[k];
        }
        return sum;
    }

    private static int[] concatInts(List<int[]> parts, int total) {
        int[] out = new int[total];
        int at = 0;
        for (int[] part : parts) {
            System.arraycopy(part, 0, out, at, part.length);
            at += part.length;
        }
        return out;
    }

    private static long[] concatLongs(List<long[]> parts, int total) {
        long[] out = new long[total];
        int at = 0;
        for (long[] part : parts) {
            System.arraycopy(part, 0, out, at, part.length);
            at += part.length;
        }
        return out;
    }

    private static double[] concatDoubles(List<double[]> parts, int total) {
        double[] out = new double[total];
        int at = 0;
        for (double[] part : parts) {
            System.arraycopy(part, 0, out, at, part.length);
            at += part.length;
        }
        return out;
    }
}
