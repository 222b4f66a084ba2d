package dev.trellis.experiments.definition;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.Variant;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.FieldViolation;
import dev.trellis.experiments.assignment.ModelRoutingState;
import dev.trellis.experiments.assignment.RoutingDecider;
import dev.trellis.experiments.assignment.RoutingRequest;
import dev.trellis.experiments.hashing.GrowthBookHash;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class GrowthBookImportTest {
    private static final Map<String, String> VERSIONS = Map.of("control", "1", "treatment", "2");

    private static GrowthBookImport.Options options(Map<String, String> versions) {
        return new GrowthBookImport.Options("leads", versions, null, null, null, null, false);
    }

    private static ExperimentsException refused(String json, GrowthBookImport.Options options) {
        ExperimentsException e =
                catchThrowableOfType(ExperimentsException.class, () -> GrowthBookImport.convert(json, options));
        assertThat(e).as("expected a refusal").isNotNull();
        assertThat(e.code()).isEqualTo(ErrorCode.INVALID_DEFINITION);
        return e;
    }

    private static List<String> fields(ExperimentsException e) {
        return e.violations().stream().map(FieldViolation::field).toList();
    }

    private static final String EXPERIMENT = """
            {"key": "checkout-button", "name": "Checkout button", "variations": ["blue", "green"],
             "weights": [0.4, 0.6], "coverage": 1.5, "hashAttribute": "company",
             "fallbackAttribute": "device", "meta": [{"key": "control"}, {"key": "treatment", "name": "Green"}],
             "condition": {"country": {"$in": ["US", "CA"]}}, "phase": "2", "bucketVersion": 1}
            """;

    @Test
    void convert_experimentKeepsGrowthBooksAssignment() {
        Experiment e = GrowthBookImport.convert(EXPERIMENT, options(VERSIONS));

        assertThat(e.getKey()).isEqualTo("checkout-button");
        assertThat(e.getModel()).isEqualTo("leads");
        assertThat(e.getStatus()).isEqualTo(ExperimentStatus.RUNNING);
        assertThat(e.getVariantsList())
                .extracting(Variant::getKey, Variant::getVersion, Variant::getWeight)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple("control", "1", 0.4),
                        org.assertj.core.groups.Tuple.tuple("treatment", "2", 0.6));
        assertThat(e.getCoverage()).as("clamped as GrowthBook does").isEqualTo(1.0);
        assertThat(e.getHashVersion()).as("GrowthBook's default, written out").isEqualTo(1);
        assertThat(e.getSeed()).isEqualTo("checkout-button");
        assertThat(e.getHashAttribute()).isEqualTo("company");
        assertThat(e.getFallbackAttribute()).isEqualTo("device");
        assertThat(e.getCondition().getFieldsMap()).containsKey("country");
        assertThat(e.getDescription()).isEqualTo("Imported from GrowthBook: Checkout button");
        assertThatCode(() -> new DefinitionValidator().validateExperiment(e, Optional.empty(), List.of(), Set.of()))
                .doesNotThrowAnyException();

        RoutingDecider decider = new RoutingDecider();
        ModelRoutingState state = new ModelRoutingState("leads", Optional.empty(), List.of(e), Optional.empty());
        for (int i = 0; i < 200; i++) {
            String company = "c-" + i;
            double n = GrowthBookHash.hashV1("checkout-button", company);
            String version = decider.decide(
                            new RoutingRequest("leads", "u", Map.of("company", company, "country", "CA"), null), state)
                    .version();
            assertThat(version).isEqualTo(n < 0.4 ? "1" : "2");
        }
    }

    @Test
    void convert_keyOverrideKeepsTheSeedAndVersionsMapByIndex() {
        Experiment e = GrowthBookImport.convert(
                "{\"key\": \"my test\", \"variations\": [0, 1, 2], \"hashVersion\": 2}",
                new GrowthBookImport.Options(
                        "leads",
                        Map.of("0", "1", "1", "2", "2", "3"),
                        "my-test",
                        null,
                        null,
                        ExperimentStatus.DRAFT,
                        false));
        assertThat(e.getKey()).isEqualTo("my-test");
        assertThat(e.getSeed()).isEqualTo("my test");
        assertThat(e.getHashVersion()).isEqualTo(2);
        assertThat(e.getStatus()).isEqualTo(ExperimentStatus.DRAFT);
        assertThat(e.getVariantsList()).extracting(Variant::getKey).containsExactly("0", "1", "2");
        assertThat(e.getVariantsList()).extracting(Variant::getWeight).containsExactly(1 / 3.0, 1 / 3.0, 1 / 3.0);
    }

    @Test
    void convert_filtersReplaceTheNamespaceAndRangesBecomeWeightsAndCoverage() {
        Experiment e = GrowthBookImport.convert("""
                {"key": "k", "variations": [0, 1], "namespace": ["old", 0, 0.5],
                 "filters": [{"seed": "ns", "attribute": "id", "ranges": [[0, 0.3], [0.6, 1]]},
                             {"seed": "ns2", "attribute": "anon", "hashVersion": 1, "ranges": [[0.5, 1]]}],
                 "ranges": [[0, 0.15], [0.25, 0.7]], "active": false}
                """, options(Map.of("0", "a", "1", "b")));
        assertThat(e.hasNamespace()).isFalse();
        assertThat(e.getFiltersCount()).isEqualTo(2);
        assertThat(e.getFilters(0).getAttribute()).as("id is the unit id").isEmpty();
        assertThat(e.getFilters(0).getRangesCount()).isEqualTo(2);
        assertThat(e.getFilters(1).getAttribute()).isEqualTo("anon");
        assertThat(e.getFilters(1).getHashVersion()).isEqualTo(1);
        assertThat(e.getVariantsList()).extracting(Variant::getWeight).containsExactly(0.25, 0.75);
        assertThat(e.getCoverage()).isEqualTo(0.6, org.assertj.core.api.Assertions.within(1e-12));
        assertThat(e.getStatus()).as("active: false").isEqualTo(ExperimentStatus.DRAFT);
        var ranges = RoutingDecider.bucketRanges(e);
        assertThat(ranges.get(0).end()).isCloseTo(0.15, org.assertj.core.api.Assertions.within(1e-9));
        assertThat(ranges.get(1).start()).isCloseTo(0.25, org.assertj.core.api.Assertions.within(1e-9));
        assertThat(ranges.get(1).end()).isCloseTo(0.7, org.assertj.core.api.Assertions.within(1e-9));
        assertThat(refused(
                                "{\"key\": \"k\", \"variations\": [0, 1], \"ranges\": [[0, 0.15], [0.25, 0.4]]}",
                                options(Map.of("0", "a", "1", "b")))
                        .violations()
                        .get(0)
                        .field())
                .isEqualTo("ranges");
    }

    @Test
    void convert_refusesEverythingItCannotRepresentAtOnce() {
        ExperimentsException e = refused("""
                {"key": "k", "variations": [0, 1], "weights": [0.5, 0.2], "force": 1, "url": "/checkout",
                 "surprise": true, "minBucketVersion": 2, "hashVersion": 3,
                 "meta": [{"key": "a"}, {"key": "b", "passthrough": true}],
                 "condition": {"tags": {"$elemMatch": {"$eq": "x"}}, "id": {"$inGroup": "beta"}}}
                """, options(Map.of("a", "1", "c", "3")));
        assertThat(fields(e))
                .containsExactly(
                        "force",
                        "url",
                        "surprise",
                        "meta[1].passthrough",
                        "weights",
                        "--version",
                        "--version",
                        "hashVersion",
                        "minBucketVersion",
                        "condition",
                        "condition.tags.$elemMatch");
        assertThat(e.getMessage())
                .startsWith("cannot import the GrowthBook experiment: force: force forces a variation")
                .contains("GrowthBook would silently use equal weights")
                .contains("no model version for variation(s) [b (index 1)]")
                .contains("no variation with key or index [c]")
                .contains("uses saved groups [beta] but the document has no \"savedGroups\"");
    }

    private static final String PAYLOAD = """
            {"features": {
               "new-ranker": {"defaultValue": false, "rules": [
                 {"id": "fr_internal", "condition": {"email": {"$regex": "@example\\\\.com$"}}, "force": true},
                 {"id": "fr_exp", "key": "ranker-exp", "variations": [false, true], "coverage": 0.5,
                  "hashVersion": 2, "seed": "ranker-seed", "condition": {"id": {"$inGroup": "beta"}},
                  "meta": [{"key": "0"}, {"key": "1"}], "filters": [{"seed": "ns", "ranges": [[0, 0.5]]}]}]},
               "banner": {"defaultValue": "a", "rules": [{"force": "b"}]}},
             "savedGroups": {"beta": ["u1", "u2"]}}
            """;

    @Test
    void convert_sdkPayloadTakesTheExperimentRuleAndInlinesSavedGroups() {
        ExperimentsException earlier = refused(PAYLOAD, options(Map.of("0", "1", "1", "2")));
        assertThat(fields(earlier)).containsExactly("features.new-ranker.rules[1]");
        assertThat(earlier.violations().get(0).description()).contains("--ignore-earlier-rules");

        Experiment e = GrowthBookImport.convert(
                PAYLOAD,
                new GrowthBookImport.Options("leads", Map.of("0", "1", "1", "2"), null, null, "fr_exp", null, true));
        assertThat(e.getKey()).isEqualTo("ranker-exp");
        assertThat(e.getSeed()).isEqualTo("ranker-seed");
        assertThat(e.getHashVersion()).isEqualTo(2);
        assertThat(e.getCoverage()).isEqualTo(0.5);
        assertThat(e.getFiltersCount()).isEqualTo(1);
        assertThat(e.getDescription()).contains("rule fr_exp");
        assertThat(e.getCondition().getFieldsOrThrow("id").getStructValue().getFieldsMap())
                .containsOnlyKeys("$in");
        assertThatCode(() -> new DefinitionValidator().validateExperiment(e, Optional.empty(), List.of(), Set.of()))
                .doesNotThrowAnyException();

        ExperimentsException noRule =
                refused(PAYLOAD, new GrowthBookImport.Options("leads", Map.of(), null, "banner", null, null, true));
        assertThat(noRule.violations().get(0).description()).contains("no experiment rule");
        ExperimentsException unknownFeature =
                refused(PAYLOAD, new GrowthBookImport.Options("leads", Map.of(), null, "nope", null, null, true));
        assertThat(unknownFeature.violations().get(0).description()).contains("[banner, new-ranker]");
    }

    @Test
    void convert_ruleWithoutKeyTakesTheFeatureId() {
        Experiment e = GrowthBookImport.convert(
                "{\"defaultValue\": 1, \"rules\": [{\"variations\": [1, 2]}]}",
                new GrowthBookImport.Options(
                        "leads", Map.of("0", "1", "1", "2"), null, "price-test", null, null, false));
        assertThat(e.getKey()).isEqualTo("price-test");
        assertThat(e.getSeed()).isEqualTo("price-test");
        assertThat(refused("{\"rules\": [{\"variations\": [1, 2]}]}", options(Map.of("0", "1", "1", "2")))
                        .violations()
                        .get(0)
                        .field())
                .isEqualTo("rules[0].key");
    }

    @Test
    void convert_badDocumentsAreNamed() {
        assertThat(refused("[1, 2]", options(VERSIONS))).hasMessageContaining("not a JSON object");
        assertThat(refused("{\"key\": ", options(VERSIONS))).hasMessageContaining("not valid JSON");
        assertThat(fields(refused("{\"hello\": 1}", options(VERSIONS)))).containsExactly("document");
        assertThat(fields(refused("{\"encryptedFeatures\": \"abc\"}", options(VERSIONS))))
                .containsExactly("encryptedFeatures");
        assertThat(fields(refused(
                        "{\"key\": \"k\", \"variations\": [0, 1], \"status\": \"stopped\"}",
                        options(Map.of("0", "1", "1", "2")))))
                .containsExactly("status");
    }
}
