package dev.trellis.experiments.definition;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.Filter;
import dev.trellis.api.v1.HashRange;
import dev.trellis.api.v1.Namespace;
import dev.trellis.api.v1.Variant;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.FieldViolation;
import dev.trellis.experiments.assignment.GrowthBookCondition;
import dev.trellis.experiments.assignment.RoutingDecider;
import dev.trellis.experiments.hashing.BucketRange;
import dev.trellis.experiments.hashing.GrowthBookHash;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Converts a GrowthBook experiment into a Trellis definition that assigns every unit as a
 * GrowthBook SDK would: {@code trellis experiments import}. It reads what GrowthBook's SDKs
 * evaluate:
 *
 * <ul>
 *   <li>an experiment object ({@code {"key", "variations", "weights", "coverage", "condition",
 *       "filters", "hashAttribute", "hashVersion", ...}});
 *   <li>an SDK payload ({@code {"features": {...}, "savedGroups": {...}}}, as the SDK endpoint
 *       serves it) or one feature definition ({@code {"defaultValue", "rules"}}), from which one
 *       experiment rule is taken, and turned into an experiment the way GrowthBook's SDK does it.
 * </ul>
 *
 * <p>Variations become variants serving the versions the operator maps them to (by the variation's
 * {@code meta} key or by its index); the seed and the hash version are always written out
 * (GrowthBook's hash version defaults to 1, Trellis's to 2); saved groups are inlined; explicit
 * ranges become the weights and coverage that produce them. Whatever Trellis cannot reproduce is
 * refused, all at once, each problem naming its field: forced variations, URL targeting,
 * prerequisites, QA-only fields, ranges that no weights produce, weights GrowthBook would replace,
 * conditions on array attributes, unknown fields. Stateless and thread-safe.
 */
public final class GrowthBookImport {
    /** Fields an experiment and an experiment rule share, as GrowthBook's SDK types name them. */
    private static final Set<String> SHARED_FIELDS = Set.of(
            "key",
            "variations",
            "weights",
            "coverage",
            "condition",
            "namespace",
            "filters",
            "hashAttribute",
            "fallbackAttribute",
            "hashVersion",
            "seed",
            "ranges",
            "meta",
            "name",
            "phase",
            "bucketVersion",
            "minBucketVersion",
            "disableStickyBucketing");

    /** Experiment fields that can be represented. */
    private static final Set<String> EXPERIMENT_FIELDS = union(SHARED_FIELDS, Set.of("active", "status"));

    /** Experiment fields refused, with the reason. */
    private static final Map<String, String> REFUSED = Map.of(
            "force", "forces a variation; Trellis assigns by hash only",
            "url", "targets by URL; Trellis requests have no URL",
            "urlPatterns", "targets by URL; Trellis requests have no URL",
            "include", "targets with a function; Trellis has no client-side code",
            "groups", "targets GrowthBook's legacy groups; Trellis has none",
            "parentConditions", "depends on prerequisite feature flags; Trellis has no feature flags",
            "persistQueryString", "is a browser redirect setting; Trellis has no redirects",
            "manual", "is tracked by hand in GrowthBook; Trellis logs exposures itself");

    /**
     * Fields of a feature's experiment rule: those GrowthBook copies into the experiment it runs,
     * the rule's id and type, and its prerequisites (refused).
     */
    private static final Set<String> RULE_FIELDS = union(SHARED_FIELDS, Set.of("id", "type", "parentConditions"));

    private static final double RANGE_TOLERANCE = 1e-9;

    private GrowthBookImport() {}

    /**
     * What the operator adds to the export.
     *
     * @param model the Trellis model the experiment routes
     * @param versions model version per variation: keyed by the variation's meta key, or by its
     *     index ("0", "1", ...); every variation needs one
     * @param key the Trellis key; null keeps GrowthBook's (the experiment's or rule's key, else the
     *     feature's id)
     * @param feature which feature of an SDK payload; null when the document has one candidate
     * @param rule which experiment rule of the feature, by rule id or index; null when it has one
     * @param status the status to store; null derives it (RUNNING, or DRAFT for an inactive or draft
     *     experiment)
     * @param ignoreEarlierRules import an experiment rule even though rules before it could take
     *     some units first (they are not imported)
     */
    public record Options(
            String model,
            Map<String, String> versions,
            String key,
            String feature,
            String rule,
            ExperimentStatus status,
            boolean ignoreEarlierRules) {
        public Options {
            requireNonNull(model, "model is null");
            versions = Map.copyOf(requireNonNull(versions, "versions is null"));
        }
    }

    /**
     * The Trellis definition of the experiment in the GrowthBook document.
     *
     * @throws ExperimentsException INVALID_DEFINITION listing, as field violations with paths into
     *     the document, everything that cannot be represented
     */
    public static Experiment convert(String json, Options options) {
        requireNonNull(options, "options is null");
        Struct document = parse(json);
        Problems problems = new Problems();
        Map<String, ListValue> savedGroups = savedGroups(document, problems);
        Source source = select(document, options, problems);
        if (source == null) {
            throw problems.exception();
        }
        Experiment experiment = convertExperiment(source, savedGroups, options, problems);
        if (!problems.isEmpty()) {
            throw problems.exception();
        }
        return experiment;
    }

    /** The experiment to convert, where it sits in the document, and its default key. */
    private record Source(Struct experiment, String path, String defaultKey, boolean fromRule) {}

    private static Source select(Struct document, Options options, Problems problems) {
        if (document.containsFields("encryptedFeatures") || document.containsFields("encryptedExperiments")) {
            problems.add("encryptedFeatures", "the payload is encrypted; export it decrypted");
            return null;
        }
        if (document.containsFields("variations")) {
            return new Source(withoutSavedGroups(document), "", string(document, "key"), false);
        }
        if (document.containsFields("features")) {
            Value features = document.getFieldsOrThrow("features");
            if (!features.hasStructValue()) {
                problems.add("features", "must be an object of feature definitions");
                return null;
            }
            Map<String, Value> all = features.getStructValue().getFieldsMap();
            String featureId = options.feature();
            if (featureId == null) {
                List<String> candidates = all.entrySet().stream()
                        .filter(e -> !experimentRules(e.getValue()).isEmpty())
                        .map(Map.Entry::getKey)
                        .toList();
                if (candidates.size() != 1) {
                    problems.add(
                            "features",
                            candidates.isEmpty()
                                    ? "no feature has an experiment rule"
                                    : "several features have experiment rules " + candidates
                                            + "; name one with --feature");
                    return null;
                }
                featureId = candidates.get(0);
            }
            Value feature = all.get(featureId);
            if (feature == null || !feature.hasStructValue()) {
                problems.add(
                        "features", "no feature '" + featureId + "'; the payload has " + new TreeSet<>(all.keySet()));
                return null;
            }
            return selectRule(feature.getStructValue(), "features." + featureId, featureId, options, problems);
        }
        if (document.containsFields("rules")) {
            return selectRule(document, "", options.feature(), options, problems);
        }
        problems.add(
                "document",
                "not a GrowthBook experiment (no \"variations\"), SDK payload (no \"features\") or feature"
                        + " definition (no \"rules\")");
        return null;
    }

    private static Source selectRule(
            Struct feature, String path, String featureId, Options options, Problems problems) {
        Value rulesValue = feature.getFieldsOrDefault("rules", Value.getDefaultInstance());
        List<Value> rules =
                rulesValue.hasListValue() ? rulesValue.getListValue().getValuesList() : List.of();
        String rulesPath = join(path, "rules");
        List<Integer> experimentRules =
                experimentRules(Value.newBuilder().setStructValue(feature).build());
        int index;
        if (options.rule() != null) {
            index = -1;
            for (int i = 0; i < rules.size(); i++) {
                Value rule = rules.get(i);
                if (rule.hasStructValue()
                        && (options.rule().equals(string(rule.getStructValue(), "id"))
                                || options.rule().equals(Integer.toString(i)))) {
                    index = i;
                    break;
                }
            }
            if (index < 0) {
                problems.add(rulesPath, "no rule with id or index '" + options.rule() + "'");
                return null;
            }
            if (!experimentRules.contains(index)) {
                problems.add(rulesPath + "[" + index + "]", "is not an experiment rule (it has no variations)");
                return null;
            }
        } else if (experimentRules.size() == 1) {
            index = experimentRules.get(0);
        } else {
            problems.add(
                    rulesPath,
                    experimentRules.isEmpty()
                            ? "the feature has no experiment rule (one with variations)"
                            : "the feature has several experiment rules (indexes " + experimentRules
                                    + "); name one with --rule");
            return null;
        }
        if (index > 0 && !options.ignoreEarlierRules()) {
            problems.add(
                    rulesPath + "[" + index + "]",
                    "rules before it (" + index + ") take some units first in GrowthBook and are not imported;"
                            + " pass --ignore-earlier-rules to import the experiment rule alone");
        }
        Struct rule = rules.get(index).getStructValue();
        String key = string(rule, "key");
        if (key == null && featureId == null) {
            problems.add(
                    rulesPath + "[" + index + "].key",
                    "the rule has no key and the feature's id is unknown; pass --feature or --key");
        }
        return new Source(rule, rulesPath + "[" + index + "]", key != null ? key : featureId, true);
    }

    private static List<Integer> experimentRules(Value feature) {
        if (!feature.hasStructValue()) {
            return List.of();
        }
        Value rules = feature.getStructValue().getFieldsOrDefault("rules", Value.getDefaultInstance());
        List<Integer> result = new ArrayList<>();
        if (rules.hasListValue()) {
            for (int i = 0; i < rules.getListValue().getValuesCount(); i++) {
                Value rule = rules.getListValue().getValues(i);
                if (rule.hasStructValue() && rule.getStructValue().containsFields("variations")) {
                    result.add(i);
                }
            }
        }
        return result;
    }

    private static Experiment convertExperiment(
            Source source, Map<String, ListValue> savedGroups, Options options, Problems problems) {
        Struct e = source.experiment();
        String at = source.path();
        for (String field : e.getFieldsMap().keySet()) {
            String path = join(at, field);
            if (REFUSED.containsKey(field)) {
                problems.add(path, field + " " + REFUSED.get(field));
            } else if (!(source.fromRule() ? RULE_FIELDS : EXPERIMENT_FIELDS).contains(field)) {
                problems.add(
                        path, "unknown GrowthBook field '" + field + "'; Trellis cannot tell what it would change");
            }
        }
        if (source.fromRule() && e.containsFields("type")) {
            String type = string(e, "type");
            if ("multi-armed-bandit".equals(type)) {
                problems.add(
                        join(at, "type"),
                        "a multi-armed bandit has its weights changed by GrowthBook over time; Trellis weights change"
                                + " only with a new phase");
            }
        }

        Experiment.Builder out = Experiment.newBuilder().setModel(options.model());
        String key = options.key() != null ? options.key() : source.defaultKey();
        if (key == null || key.isEmpty()) {
            problems.add(join(at, "key"), "missing; GrowthBook experiments need a key (or pass --key)");
            key = "";
        } else if (!DefinitionValidator.KEY.matcher(key).matches()) {
            problems.add(join(at, "key"), "'" + key + "' is not a valid Trellis key [A-Za-z0-9._-]{1,128}; pass --key");
        }
        out.setKey(key);
        String growthBookKey = source.defaultKey() == null ? key : source.defaultKey();
        String seed = string(e, "seed");
        out.setSeed(seed == null || seed.isEmpty() ? growthBookKey : seed); // GrowthBook hashes seed || key
        String name = string(e, "name");
        out.setDescription("Imported from GrowthBook" + (name == null ? "" : ": " + name)
                + (source.fromRule() && string(e, "id") != null ? " (rule " + string(e, "id") + ")" : ""));

        out.setStatus(status(e, at, options, problems));
        List<String> variantKeys = variants(e, at, problems);
        double[] weights = weights(e, at, variantKeys.size(), problems);
        Double coverage = coverage(e, at, problems);
        if (e.containsFields("ranges") && !variantKeys.isEmpty()) {
            double[] derived = weightsAndCoverageOf(e.getFieldsOrThrow("ranges"), variantKeys.size());
            if (derived == null) {
                problems.add(
                        join(at, "ranges"),
                        "these ranges are not the bucket ranges of any weights and coverage (Trellis derives ranges"
                                + " from weights and coverage)");
            } else {
                weights = java.util.Arrays.copyOf(derived, variantKeys.size());
                coverage = derived[variantKeys.size()];
            }
        }
        mapVersions(variantKeys, weights, options, out, problems);
        if (coverage != null) {
            out.setCoverage(Math.max(0, Math.min(1, coverage))); // GrowthBook clamps too
        }

        double version = number(e, "hashVersion", e.containsFields("hashVersion") ? -1 : 0);
        int hashVersion = version == 0 ? 1 : (int) version; // GrowthBook: hashVersion || 1
        if (version != 0 && (version != hashVersion || (hashVersion != 1 && hashVersion != 2))) {
            problems.add(
                    join(at, "hashVersion"),
                    "must be 1 or 2, was " + GrowthBookCondition.stringify(e.getFieldsOrThrow("hashVersion")));
        }
        out.setHashVersion(hashVersion); // always explicit: GrowthBook defaults to 1, Trellis to 2
        String hashAttribute = string(e, "hashAttribute");
        if (hashAttribute != null && !hashAttribute.isEmpty() && !hashAttribute.equals(RoutingDecider.UNIT_ID)) {
            out.setHashAttribute(hashAttribute);
        }
        boolean sticky = !bool(e, "disableStickyBucketing");
        String fallback = string(e, "fallbackAttribute");
        if (fallback != null && !fallback.isEmpty() && sticky) {
            out.setFallbackAttribute(fallback);
        }
        if (number(e, "minBucketVersion", 0) > 0) {
            problems.add(
                    join(at, "minBucketVersion"),
                    "excludes units by their sticky-bucket history; Trellis has no sticky bucketing");
        }

        if (e.containsFields("filters")) {
            filters(e.getFieldsOrThrow("filters"), join(at, "filters"), out, problems);
        } else if (e.containsFields("namespace")) {
            namespace(e.getFieldsOrThrow("namespace"), join(at, "namespace"), out, problems);
        } // with filters GrowthBook ignores the namespace, so it is left out

        if (e.containsFields("condition")) {
            Value condition = e.getFieldsOrThrow("condition");
            String path = join(at, "condition");
            if (!condition.hasStructValue()) {
                problems.add(path, "must be an object");
            } else {
                Set<String> used = new LinkedHashSet<>();
                Struct inlined = GrowthBookCondition.inlineSavedGroups(
                        condition.getStructValue(), savedGroups == null ? Map.of() : savedGroups, used);
                if (!used.isEmpty() && savedGroups == null) {
                    problems.add(
                            path,
                            "uses saved groups " + used + " but the document has no \"savedGroups\" to take their"
                                    + " values from (export the SDK payload, which carries them)");
                }
                for (FieldViolation v : GrowthBookCondition.check(inlined, path)) {
                    problems.add(v.field(), v.description());
                }
                out.setCondition(inlined);
            }
        }
        return out.build();
    }

    private static ExperimentStatus status(Struct e, String at, Options options, Problems problems) {
        String status = string(e, "status");
        if ("stopped".equals(status)) {
            problems.add(join(at, "status"), "the experiment is stopped; a Trellis experiment cannot start STOPPED");
        } else if (status != null && !status.equals("draft") && !status.equals("running")) {
            problems.add(join(at, "status"), "unknown status '" + status + "'");
        }
        if (options.status() != null) {
            return options.status();
        }
        boolean inactive = e.containsFields("active") && !bool(e, "active");
        return inactive || "draft".equals(status) ? ExperimentStatus.DRAFT : ExperimentStatus.RUNNING;
    }

    /** Variant keys: each variation's meta key, else its index. */
    private static List<String> variants(Struct e, String at, Problems problems) {
        Value variations = e.getFieldsOrDefault("variations", Value.getDefaultInstance());
        if (!variations.hasListValue()) {
            problems.add(join(at, "variations"), "must be a list");
            return List.of();
        }
        int n = variations.getListValue().getValuesCount();
        if (n < 2) {
            problems.add(
                    join(at, "variations"),
                    "has " + n
                            + " variation(s); GrowthBook puts nobody in such an experiment, Trellis needs at least 2");
        }
        List<Value> meta = List.of();
        if (e.containsFields("meta")) {
            Value m = e.getFieldsOrThrow("meta");
            if (!m.hasListValue() || m.getListValue().getValuesCount() != n) {
                problems.add(join(at, "meta"), "must be a list with one entry per variation");
            } else {
                meta = m.getListValue().getValuesList();
            }
        }
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String key = null;
            if (i < meta.size() && meta.get(i).hasStructValue()) {
                Struct entry = meta.get(i).getStructValue();
                key = string(entry, "key");
                if (bool(entry, "passthrough")) {
                    problems.add(
                            join(at, "meta") + "[" + i + "].passthrough",
                            "a passthrough variation falls through to the next rule; Trellis has no feature rules");
                }
            }
            keys.add(key == null || key.isEmpty() ? Integer.toString(i) : key);
        }
        if (new HashSet<>(keys).size() != keys.size()) {
            problems.add(join(at, "meta"), "variation keys " + keys + " are not unique");
        }
        return keys;
    }

    private static double[] weights(Struct e, String at, int n, Problems problems) {
        if (!e.containsFields("weights") || e.containsFields("ranges")) {
            return GrowthBookHash.equalWeights(n); // GrowthBook ignores weights when ranges are given
        }
        Value w = e.getFieldsOrThrow("weights");
        if (!w.hasListValue() || w.getListValue().getValuesList().stream().anyMatch(x -> !x.hasNumberValue())) {
            problems.add(join(at, "weights"), "must be a list of numbers");
            return GrowthBookHash.equalWeights(n);
        }
        double[] weights = w.getListValue().getValuesList().stream()
                .mapToDouble(Value::getNumberValue)
                .toArray();
        double sum = java.util.Arrays.stream(weights).sum();
        if (weights.length != n) {
            problems.add(
                    join(at, "weights"),
                    weights.length + " weights for " + n + " variations; GrowthBook would silently use equal weights,"
                            + " Trellis refuses: fix the weights");
        } else if (Math.abs(sum - 1) > GrowthBookHash.WEIGHT_SUM_TOLERANCE) {
            problems.add(
                    join(at, "weights"),
                    "sum to " + sum + "; GrowthBook would silently use equal weights, Trellis refuses: fix the"
                            + " weights");
        }
        return weights;
    }

    private static Double coverage(Struct e, String at, Problems problems) {
        if (e.containsFields("ranges") || !e.containsFields("coverage")) {
            return null; // unset, or replaced by what the ranges give
        }
        Value c = e.getFieldsOrThrow("coverage");
        if (!c.hasNumberValue()) {
            problems.add(join(at, "coverage"), "must be a number");
            return null;
        }
        return c.getNumberValue();
    }

    /**
     * Weights w and coverage c (appended as the last element) whose bucket ranges are the given
     * ones, or null when there are none: ranges must start at 0 and follow each other as
     * {@code [c_i, c_i + c·w_i)}.
     */
    static double[] weightsAndCoverageOf(Value ranges, int n) {
        if (!ranges.hasListValue() || ranges.getListValue().getValuesCount() != n) {
            return null;
        }
        double[] start = new double[n];
        double[] end = new double[n];
        for (int i = 0; i < n; i++) {
            Value r = ranges.getListValue().getValues(i);
            if (!r.hasListValue()
                    || r.getListValue().getValuesCount() != 2
                    || !r.getListValue().getValues(0).hasNumberValue()
                    || !r.getListValue().getValues(1).hasNumberValue()) {
                return null;
            }
            start[i] = r.getListValue().getValues(0).getNumberValue();
            end[i] = r.getListValue().getValues(1).getNumberValue();
        }
        if (Math.abs(start[0]) > RANGE_TOLERANCE) {
            return null;
        }
        double[] result = new double[n + 1];
        double coverage = Double.NaN;
        for (int i = 0; i < n; i++) {
            double w = (i + 1 < n ? start[i + 1] : 1) - start[i];
            if (w < -RANGE_TOLERANCE) {
                return null;
            }
            result[i] = Math.max(0, w);
            if (result[i] > RANGE_TOLERANCE) {
                double c = (end[i] - start[i]) / result[i];
                if (!Double.isNaN(coverage) && Math.abs(c - coverage) > RANGE_TOLERANCE) {
                    return null;
                }
                coverage = c;
            }
        }
        if (Double.isNaN(coverage) || coverage < -RANGE_TOLERANCE || coverage > 1 + RANGE_TOLERANCE) {
            return null;
        }
        coverage = Math.max(0, Math.min(1, coverage));
        List<BucketRange> rebuilt;
        try {
            rebuilt = GrowthBookHash.bucketRanges(n, coverage, java.util.Arrays.copyOf(result, n));
        } catch (IllegalArgumentException e) {
            return null;
        }
        for (int i = 0; i < n; i++) {
            if (Math.abs(rebuilt.get(i).start() - start[i]) > RANGE_TOLERANCE
                    || Math.abs(rebuilt.get(i).end() - end[i]) > RANGE_TOLERANCE) {
                return null;
            }
        }
        result[n] = coverage;
        return result;
    }

    private static void mapVersions(
            List<String> keys, double[] weights, Options options, Experiment.Builder out, Problems problems) {
        Set<String> usedMappings = new HashSet<>();
        List<String> missing = new ArrayList<>();
        for (int i = 0; i < keys.size(); i++) {
            String key = keys.get(i);
            String index = Integer.toString(i);
            String version = options.versions().get(key);
            if (version != null) {
                usedMappings.add(key);
            } else {
                version = options.versions().get(index);
                if (version != null) {
                    usedMappings.add(index);
                }
            }
            if (version == null || version.isEmpty()) {
                missing.add(key.equals(index) ? index : key + " (index " + index + ")");
                version = "";
            }
            out.addVariants(Variant.newBuilder()
                    .setKey(key)
                    .setVersion(version)
                    .setWeight(i < weights.length ? weights[i] : 0));
        }
        if (!missing.isEmpty()) {
            problems.add(
                    "--version",
                    "no model version for variation(s) " + missing + "; pass --version KEY=VERSION per variation"
                            + " (KEY is the variation's key or index)");
        }
        Set<String> unknown = new TreeSet<>(options.versions().keySet());
        unknown.removeAll(usedMappings);
        if (!unknown.isEmpty()) {
            problems.add("--version", "no variation with key or index " + unknown + "; the variations are " + keys);
        }
    }

    private static void filters(Value filters, String at, Experiment.Builder out, Problems problems) {
        if (!filters.hasListValue()) {
            problems.add(at, "must be a list");
            return;
        }
        for (int i = 0; i < filters.getListValue().getValuesCount(); i++) {
            Value f = filters.getListValue().getValues(i);
            String path = at + "[" + i + "]";
            if (!f.hasStructValue()) {
                problems.add(path, "must be an object");
                continue;
            }
            Struct s = f.getStructValue();
            for (String field : s.getFieldsMap().keySet()) {
                if (!Set.of("seed", "ranges", "attribute", "hashVersion").contains(field)) {
                    problems.add(path + "." + field, "unknown filter field '" + field + "'");
                }
            }
            Filter.Builder filter = Filter.newBuilder();
            String seed = string(s, "seed");
            if (seed == null || seed.isEmpty()) {
                problems.add(path + ".seed", "missing");
            } else {
                filter.setSeed(seed);
            }
            String attribute = string(s, "attribute");
            if (attribute != null && !attribute.isEmpty() && !attribute.equals(RoutingDecider.UNIT_ID)) {
                filter.setAttribute(attribute);
            }
            if (s.containsFields("hashVersion")) {
                double v = number(s, "hashVersion", -1);
                if (v != 0 && v != 1 && v != 2) { // GrowthBook: hashVersion || 2
                    problems.add(
                            path + ".hashVersion",
                            "must be 1 or 2, was " + GrowthBookCondition.stringify(s.getFieldsOrThrow("hashVersion")));
                } else {
                    filter.setHashVersion((int) v);
                }
            }
            Value ranges = s.getFieldsOrDefault("ranges", Value.getDefaultInstance());
            if (!ranges.hasListValue()) {
                problems.add(path + ".ranges", "must be a list of [start, end] pairs");
            } else {
                for (Value r : ranges.getListValue().getValuesList()) {
                    if (!isPair(r)) {
                        problems.add(path + ".ranges", "must be a list of [start, end] pairs");
                        break;
                    }
                    filter.addRanges(HashRange.newBuilder()
                            .setStart(r.getListValue().getValues(0).getNumberValue())
                            .setEnd(r.getListValue().getValues(1).getNumberValue()));
                }
            }
            out.addFilters(filter);
        }
    }

    private static void namespace(Value namespace, String at, Experiment.Builder out, Problems problems) {
        List<Value> parts = namespace.hasListValue() ? namespace.getListValue().getValuesList() : List.of();
        if (parts.size() != 3
                || !parts.get(0).hasStringValue()
                || !parts.get(1).hasNumberValue()
                || !parts.get(2).hasNumberValue()) {
            problems.add(at, "must be [id, start, end]");
            return;
        }
        out.setNamespace(Namespace.newBuilder()
                .setId(parts.get(0).getStringValue())
                .setStart(parts.get(1).getNumberValue())
                .setEnd(parts.get(2).getNumberValue()));
    }

    private static boolean isPair(Value r) {
        return r.hasListValue()
                && r.getListValue().getValuesCount() == 2
                && r.getListValue().getValues(0).hasNumberValue()
                && r.getListValue().getValues(1).hasNumberValue();
    }

    /** The document's saved groups (id to values), or null when it has none. */
    private static Map<String, ListValue> savedGroups(Struct document, Problems problems) {
        if (!document.containsFields("savedGroups")) {
            return null;
        }
        Value groups = document.getFieldsOrThrow("savedGroups");
        if (!groups.hasStructValue()) {
            problems.add("savedGroups", "must be an object of group id to list of values");
            return Map.of();
        }
        Map<String, ListValue> result = new LinkedHashMap<>();
        for (Map.Entry<String, Value> g : groups.getStructValue().getFieldsMap().entrySet()) {
            if (g.getValue().hasListValue()) {
                result.put(g.getKey(), g.getValue().getListValue());
            } else {
                problems.add("savedGroups." + g.getKey(), "must be a list of values");
            }
        }
        return result;
    }

    private static Struct withoutSavedGroups(Struct document) {
        return document.toBuilder().removeFields("savedGroups").build();
    }

    private static Struct parse(String json) {
        if (json == null || json.isBlank()) {
            throw new ExperimentsException(ErrorCode.INVALID_DEFINITION, "the GrowthBook document is empty");
        }
        Value.Builder value = Value.newBuilder();
        try {
            JsonFormat.parser().merge(json, value);
        } catch (InvalidProtocolBufferException | RuntimeException e) {
            throw new ExperimentsException(
                    ErrorCode.INVALID_DEFINITION, "the GrowthBook document is not valid JSON: " + e.getMessage());
        }
        if (!value.hasStructValue()) {
            throw new ExperimentsException(
                    ErrorCode.INVALID_DEFINITION, "the GrowthBook document is not a JSON object");
        }
        return value.getStructValue();
    }

    private static String string(Struct s, String field) {
        Value v = s.getFieldsOrDefault(field, Value.getDefaultInstance());
        return v.hasStringValue() ? v.getStringValue() : null;
    }

    private static double number(Struct s, String field, double otherwise) {
        Value v = s.getFieldsOrDefault(field, Value.getDefaultInstance());
        return v.hasNumberValue() ? v.getNumberValue() : otherwise;
    }

    private static boolean bool(Struct s, String field) {
        Value v = s.getFieldsOrDefault(field, Value.getDefaultInstance());
        return v.hasBoolValue() && v.getBoolValue();
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> all = new HashSet<>(a);
        all.addAll(b);
        return Set.copyOf(all);
    }

    private static String join(String path, String field) {
        return path.isEmpty() ? field : path + "." + field;
    }

    /** Everything that cannot be represented, reported together. */
    private static final class Problems {
        private final List<FieldViolation> violations = new ArrayList<>();

        void add(String field, String description) {
            violations.add(new FieldViolation(field, description));
        }

        boolean isEmpty() {
            return violations.isEmpty();
        }

        ExperimentsException exception() {
            return new ExperimentsException(
                    ErrorCode.INVALID_DEFINITION,
                    "cannot import the GrowthBook experiment: "
                            + violations.stream().map(FieldViolation::toString).collect(Collectors.joining("; ")),
                    violations,
                    null);
        }
    }
}
