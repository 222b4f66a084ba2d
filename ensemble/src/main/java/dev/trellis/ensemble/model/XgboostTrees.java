package dev.trellis.ensemble.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the trees of an XGBoost binary:logistic or reg:squarederror booster from its JSON form
 * ({@code Booster.saveModel(out, "json")}) into a {@link Forest}. XGBoost's CPU predictor sends a
 * float value left when {@code value < split}, a missing one (NaN) along {@code default_left}, and
 * sums leaf values in float onto the base margin in tree order; covers are the nodes'
 * {@code sum_hessian}, as its TreeSHAP uses them. Only numerical splits are read (the trainer never
 * asks XGBoost for categorical ones). Stateless.
 */
final class XgboostTrees {
    private XgboostTrees() {}

    static Forest parse(byte[] json) throws IOException {
        JsonNode learner = new ObjectMapper().readTree(json).path("learner");
        String objective = learner.path("objective").path("name").asText();
        if (!objective.equals("binary:logistic") && !objective.equals("reg:squarederror")) {
            throw new IOException("unsupported objective " + objective);
        }
        if (!learner.path("gradient_booster").path("name").asText().equals("gbtree")) {
            throw new IOException("unsupported booster "
                    + learner.path("gradient_booster").path("name").asText());
        }
        JsonNode param = learner.path("learner_model_param");
        float baseScore = Float.parseFloat(param.path("base_score").asText());
        int features = Integer.parseInt(param.path("num_feature").asText());
        // base_score is a probability for binary:logistic and a value in the target's units for
        // reg:squarederror, whose margin needs no link
        float baseMargin = objective.equals("binary:logistic") ? (float) -Math.log(1.0f / baseScore - 1.0f) : baseScore;
        List<Forest.Tree> trees = new ArrayList<>();
        for (JsonNode tree : learner.path("gradient_booster").path("model").path("trees")) {
            if (tree.path("categories_nodes").size() > 0) {
                throw new IOException("categorical splits are not supported");
            }
            trees.add(tree(tree));
        }
        return new Forest(features, true, baseMargin, trees);
    }

    /** Renumbers XGBoost's nodes (leaves among them) into internal nodes and leaves. */
    private static Forest.Tree tree(JsonNode tree) throws IOException {
        JsonNode lefts = tree.path("left_children");
        JsonNode rights = tree.path("right_children");
        JsonNode hessians = tree.path("sum_hessian");
        int nodes = lefts.size();
        if (rights.size() != nodes || hessians.size() != nodes) {
            throw new IOException("tree arrays differ in length");
        }
        int[] index = new int[nodes]; // internal index, or ~leaf index
        int internal = 0;
        int leaves = 0;
        for (int n = 0; n < nodes; n++) {
            index[n] = lefts.get(n).asInt() < 0 ? ~leaves++ : internal++;
        }
        if (index[0] < 0 && nodes > 1) {
            throw new IOException("root is a leaf in a tree of " + nodes + " nodes");
        }
        int[] feature = new int[internal];
        float[] threshold = new float[internal];
        boolean[] nanLeft = new boolean[internal];
        int[] left = new int[internal];
        int[] right = new int[internal];
        double[] internalCover = new double[internal];
        double[] leafValue = new double[leaves];
        double[] leafCover = new double[leaves];
        for (int n = 0; n < nodes; n++) {
            float condition = (float) tree.path("split_conditions").get(n).asDouble();
            double cover = (float) hessians.get(n).asDouble();
            int i = index[n];
            if (i < 0) {
                leafValue[~i] = condition;
                leafCover[~i] = cover;
                continue;
            }
            feature[i] = tree.path("split_indices").get(n).asInt();
            threshold[i] = condition;
            nanLeft[i] = tree.path("default_left").get(n).asInt() != 0;
            left[i] = index[lefts.get(n).asInt()];
            right[i] = index[rights.get(n).asInt()];
            internalCover[i] = cover;
        }
        return new Forest.Tree(
                feature, threshold, nanLeft, new int[internal][], left, right, leafValue, internalCover, leafCover);
    }
}
