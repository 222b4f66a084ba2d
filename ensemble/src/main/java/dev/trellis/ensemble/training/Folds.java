package dev.trellis.ensemble.training;

import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.data.Dataset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * Stratified splits and folds. Rows are grouped into strata (the class of a binary target; for a
 * continuous one, the decile of the target's rank), and each stratum is shuffled with the seed and
 * dealt out on its own, so every part sees the same mix. Stateless.
 */
public final class Folds {
    private static final int REGRESSION_STRATA = 10;

    private Folds() {}

    /** Stratum per row: the label (binary), or the target's rank decile (continuous). */
    public static int[] strata(Dataset data) {
        if (data.kind() == TargetKind.BINARY) {
            return data.labels();
        }
        double[] targets = data.targets();
        int n = targets.length;
        Integer[] order = IntStream.range(0, n).boxed().toArray(Integer[]::new);
        java.util.Arrays.sort(
                order, Comparator.comparingDouble((Integer i) -> targets[i]).thenComparingInt(i -> i));
        int strata = Math.max(1, Math.min(REGRESSION_STRATA, n / 10));
        int[] stratum = new int[n];
        for (int rank = 0; rank < n; rank++) {
            stratum[order[rank]] = (int) ((long) rank * strata / n);
        }
        return stratum;
    }

    /** [train indices, test indices], each sorted; every stratum split on its own. */
    public static int[][] split(int[] strata, double testFraction, long seed) {
        Random random = new Random(seed);
        List<Integer> train = new ArrayList<>();
        List<Integer> test = new ArrayList<>();
        for (List<Integer> members : members(strata)) {
            Collections.shuffle(members, random);
            int testCount = (int) Math.round(testFraction * members.size());
            test.addAll(members.subList(0, testCount));
            train.addAll(members.subList(testCount, members.size()));
        }
        int[] trainArray = train.stream().mapToInt(Integer::intValue).sorted().toArray();
        int[] testArray = test.stream().mapToInt(Integer::intValue).sorted().toArray();
        return new int[][] {trainArray, testArray};
    }

    /** Fold number per row; each stratum dealt round-robin over the folds after a seeded shuffle. */
    public static int[] folds(int[] strata, int folds, long seed) {
        Random random = new Random(seed);
        int[] fold = new int[strata.length];
        for (List<Integer> members : members(strata)) {
            Collections.shuffle(members, random);
            for (int j = 0; j < members.size(); j++) {
                fold[members.get(j)] = j % folds;
            }
        }
        return fold;
    }

    /** Positions {@code i} with {@code (fold[i] == k) == inFold}. */
    static int[] where(int[] fold, int k, boolean inFold) {
        return IntStream.range(0, fold.length)
                .filter(i -> (fold[i] == k) == inFold)
                .toArray();
    }

    /** Row numbers of stratum 0, 1, … in row order. */
    private static List<List<Integer>> members(int[] strata) {
        int count = 0;
        for (int s : strata) {
            count = Math.max(count, s + 1);
        }
        List<List<Integer>> members = new ArrayList<>();
        for (int s = 0; s < count; s++) {
            members.add(new ArrayList<>());
        }
        for (int i = 0; i < strata.length; i++) {
            members.get(strata[i]).add(i);
        }
        return members;
    }
}
