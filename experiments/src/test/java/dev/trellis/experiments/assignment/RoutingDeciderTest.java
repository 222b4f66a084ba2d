package dev.trellis.experiments.assignment;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.api.v1.Condition;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.ExplainAssignmentResponse;
import dev.trellis.api.v1.Filter;
import dev.trellis.api.v1.HashRange;
import dev.trellis.api.v1.Namespace;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutState;
import dev.trellis.api.v1.RoutingReason;
import dev.trellis.api.v1.Variant;
import dev.trellis.experiments.hashing.GrowthBookHash;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class RoutingDeciderTest {
    private final RoutingDecider decider = new RoutingDecider(() -> 0.01);

    private static Experiment.Builder experiment() {
        return Experiment.newBuilder()
                .setKey("leads-exp")
                .setModel("leads")
                .setStatus(ExperimentStatus.RUNNING)
                .addVariants(
                        Variant.newBuilder().setKey("control").setVersion("1").setWeight(0.5))
                .addVariants(
                        Variant.newBuilder().setKey("treatment").setVersion("2").setWeight(0.5));
    }

    private static Rollout rollout(double weight) {
        return Rollout.newBuilder()
                .setModel("leads")
                .setStableVersion("1")
                .setCandidateVersion("3")
                .setState(RolloutState.PROGRESSING)
                .setCurrentWeight(weight)
                .build();
    }

    private static ModelRoutingState state(List<Experiment> experiments, Optional<Rollout> rollout) {
        return new ModelRoutingState("leads", Optional.of("1"), experiments, rollout);
    }

    private static RoutingRequest request(String unit, Map<String, String> attributes) {
        return new RoutingRequest("leads", unit, attributes, null);
    }

    @Test
    void decide_pinnedVersionWins() {
        RoutingDecision d = decider.decide(
                new RoutingRequest("leads", "u1", Map.of(), "7"),
                state(List.of(experiment().build()), Optional.of(rollout(50))));
        assertThat(d).isEqualTo(new RoutingDecision("7", RoutingReason.PINNED, Optional.empty(), Optional.empty()));
    }

    @Test
    void decide_experimentAssignsByHash() {
        Experiment e = experiment().build();
        for (int i = 0; i < 200; i++) {
            String unit = "unit-" + i;
            RoutingDecision d = decider.decide(request(unit, Map.of()), state(List.of(e), Optional.empty()));
            double n = GrowthBookHash.hashV2("leads-exp", unit);
            assertThat(d.reason()).isEqualTo(RoutingReason.EXPERIMENT);
            assertThat(d.variant()).contains(n < 0.5 ? "control" : "treatment");
            assertThat(d.version()).isEqualTo(n < 0.5 ? "1" : "2");
            assertThat(d.experiment()).contains("leads-exp");
        }
    }

    @Test
    void effectiveSeed_phaseAppended() {
        assertThat(RoutingDecider.effectiveSeed(experiment().build())).isEqualTo("leads-exp");
        assertThat(RoutingDecider.effectiveSeed(
                        experiment().setSeed("s").setPhase(2).build()))
                .isEqualTo("s:2");
        Experiment phased = experiment().setPhase(1).build();
        ExplainAssignmentResponse r =
                decider.explain(request("u-1", Map.of()), state(List.of(phased), Optional.empty()));
        assertThat(r.getEvaluations(0).getSeed()).isEqualTo("leads-exp:1");
        assertThat(r.getEvaluations(0).getHash()).isEqualTo(GrowthBookHash.hashV2("leads-exp:1", "u-1"));
    }

    @Test
    void decide_noUnitIdNeverInExperiment() {
        RoutingDecision d = decider.decide(
                request(null, Map.of()), state(List.of(experiment().build()), Optional.empty()));
        assertThat(d).isEqualTo(new RoutingDecision("1", RoutingReason.DEFAULT, Optional.empty(), Optional.empty()));
    }

    @Test
    void decide_conditions() {
        Experiment e = experiment()
                .addConditions(Condition.newBuilder()
                        .setAttribute("vertical")
                        .setOperator(Condition.Operator.IN)
                        .addValues("insurance")
                        .addValues("auto"))
                .addConditions(Condition.newBuilder()
                        .setAttribute("country")
                        .setOperator(Condition.Operator.NE)
                        .addValues("FR"))
                .build();
        ModelRoutingState s = state(List.of(e), Optional.empty());
        assertThat(decider.decide(request("u", Map.of("vertical", "auto")), s).reason())
                .isEqualTo(RoutingReason.EXPERIMENT);
        assertThat(decider.decide(request("u", Map.of("vertical", "retail")), s).reason())
                .isEqualTo(RoutingReason.DEFAULT);
        assertThat(decider.decide(request("u", Map.of("vertical", "auto", "country", "FR")), s)
                        .reason())
                .isEqualTo(RoutingReason.DEFAULT);
        assertThat(decider.decide(request("u", Map.of()), s).reason()).isEqualTo(RoutingReason.DEFAULT);

        ExplainAssignmentResponse r = decider.explain(request("u", Map.of("vertical", "retail", "country", "FR")), s);
        assertThat(r.getEvaluations(0).getConditionsMet()).isFalse();
        assertThat(r.getEvaluations(0).getFailedConditionsList())
                .containsExactly("vertical IN [insurance, auto]: was 'retail'", "country NE [FR]: was 'FR'");
    }

    @Test
    void holds_operatorsOnAbsentAttribute() {
        Condition eq = Condition.newBuilder()
                .setAttribute("a")
                .setOperator(Condition.Operator.EQ)
                .addValues("x")
                .build();
        Condition ne = eq.toBuilder().setOperator(Condition.Operator.NE).build();
        Condition in = eq.toBuilder().setOperator(Condition.Operator.IN).build();
        Condition notIn = eq.toBuilder().setOperator(Condition.Operator.NOT_IN).build();
        assertThat(RoutingDecider.holds(eq, Map.of())).isFalse();
        assertThat(RoutingDecider.holds(ne, Map.of())).isTrue();
        assertThat(RoutingDecider.holds(in, Map.of())).isFalse();
        assertThat(RoutingDecider.holds(notIn, Map.of())).isTrue();
        assertThat(RoutingDecider.holds(notIn, Map.of("a", "x"))).isFalse();
        assertThat(RoutingDecider.holds(
                        Condition.newBuilder().setAttribute("a").addValues("x").build(), Map.of("a", "x")))
                .isFalse();
    }

    @Test
    void decide_namespaceAndCoverageFallThroughToRollout() {
        Experiment e = experiment()
                .setNamespace(Namespace.newBuilder().setId("ns").setStart(0).setEnd(0.3))
                .build();
        ModelRoutingState s = state(List.of(e), Optional.of(rollout(100)));
        for (int i = 0; i < 200; i++) {
            String unit = "unit-" + i;
            RoutingDecision d = decider.decide(request(unit, Map.of()), s);
            boolean inNs = GrowthBookHash.inNamespace(unit, "ns", 0, 0.3);
            assertThat(d.reason()).isEqualTo(inNs ? RoutingReason.EXPERIMENT : RoutingReason.ROLLOUT);
            if (!inNs) {
                assertThat(d.version()).isEqualTo("3");
            }
        }
    }

    @Test
    void decide_rolloutIsStickyAndMonotonic() {
        for (int i = 0; i < 500; i++) {
            String unit = "unit-" + i;
            double h = GrowthBookHash.hashV2("rollout:leads:3", unit);
            RoutingDecision at25 = decider.decide(request(unit, Map.of()), state(List.of(), Optional.of(rollout(25))));
            RoutingDecision at50 = decider.decide(request(unit, Map.of()), state(List.of(), Optional.of(rollout(50))));
            assertThat(at25.version()).isEqualTo(h * 100 < 25 ? "3" : "1");
            if (at25.version().equals("3")) {
                assertThat(at50.version()).isEqualTo("3");
            }
            assertThat(at25.reason()).isEqualTo(RoutingReason.ROLLOUT);
        }
    }

    @Test
    void decide_rolloutWithoutUnitUsesRandomDraw() {
        ModelRoutingState s = state(List.of(), Optional.of(rollout(5)));
        assertThat(new RoutingDecider(() -> 0.04)
                        .decide(request(null, Map.of()), s)
                        .version())
                .isEqualTo("3");
        assertThat(new RoutingDecider(() -> 0.06)
                        .decide(request(null, Map.of()), s)
                        .version())
                .isEqualTo("1");
    }

    @Test
    void decide_noDefaultGivesEmptyVersion() {
        RoutingDecision d = decider.decide(request("u", Map.of()), ModelRoutingState.empty("leads"));
        assertThat(d).isEqualTo(new RoutingDecision("", RoutingReason.DEFAULT, Optional.empty(), Optional.empty()));
    }

    @Test
    void explain_agreesWithDecide() {
        Experiment first = experiment()
                .setKey("a")
                .setCoverage(0.4)
                .setNamespace(Namespace.newBuilder().setId("ns").setStart(0).setEnd(0.6))
                .build();
        Experiment second = experiment()
                .setKey("b")
                .setNamespace(Namespace.newBuilder().setId("ns").setStart(0.6).setEnd(1))
                .build();
        ModelRoutingState s = state(List.of(first, second), Optional.of(rollout(30)));
        for (int i = 0; i < 1000; i++) {
            RoutingRequest r = request("unit-" + i, Map.of());
            RoutingDecision d = decider.decide(r, s);
            ExplainAssignmentResponse x = decider.explain(r, s);
            assertThat(x.getVersion()).isEqualTo(d.version());
            assertThat(x.getReason()).isEqualTo(d.reason());
            assertThat(x.getExperiment()).isEqualTo(d.experiment().orElse(""));
            assertThat(x.getVariant()).isEqualTo(d.variant().orElse(""));
            assertThat(x.getSummary()).isNotEmpty();
        }
        ExplainAssignmentResponse x = decider.explain(request("unit-1", Map.of()), s);
        assertThat(x.getEvaluations(0).getRangesCount()).isIn(0, 2);
    }

    @Test
    void decide_hashVersionUnsetIsTwoAndOneIsGrowthBooksV1() {
        Experiment v1 = experiment().setHashVersion(1).build();
        Experiment v2 = experiment().setHashVersion(2).build();
        Experiment unset = experiment().build();
        int differ = 0;
        for (int i = 0; i < 300; i++) {
            String unit = "unit-" + i;
            String byV1 = decider.decide(request(unit, Map.of()), state(List.of(v1), Optional.empty()))
                    .version();
            String byV2 = decider.decide(request(unit, Map.of()), state(List.of(v2), Optional.empty()))
                    .version();
            String byUnset = decider.decide(request(unit, Map.of()), state(List.of(unset), Optional.empty()))
                    .version();
            assertThat(byV1).isEqualTo(GrowthBookHash.hashV1("leads-exp", unit) < 0.5 ? "1" : "2");
            assertThat(byUnset).isEqualTo(byV2).isEqualTo(GrowthBookHash.hashV2("leads-exp", unit) < 0.5 ? "1" : "2");
            if (!byV1.equals(byV2)) {
                differ++;
            }
        }
        assertThat(differ).as("v1 and v2 are different hashes").isGreaterThan(50);
        ExplainAssignmentResponse x = decider.explain(request("u-1", Map.of()), state(List.of(v1), Optional.empty()));
        assertThat(x.getEvaluations(0).getHashVersion()).isEqualTo(1);
        assertThat(x.getEvaluations(0).getHash()).isEqualTo(GrowthBookHash.hashV1("leads-exp", "u-1"));
    }

    @Test
    void decide_hashAttributeHashesThatAttributeAndLogsItAsTheUnit() {
        Experiment e = experiment().setHashAttribute("company").build();
        ModelRoutingState s = state(List.of(e), Optional.empty());
        for (int i = 0; i < 100; i++) {
            String company = "company-" + i;
            RoutingDecision a = decider.decide(request("user-a", Map.of("company", company)), s);
            RoutingDecision b = decider.decide(request("user-b", Map.of("company", company)), s);
            RoutingDecision noUnitId = decider.decide(request(null, Map.of("company", company)), s);
            assertThat(a.version())
                    .isEqualTo(b.version())
                    .isEqualTo(noUnitId.version())
                    .isEqualTo(GrowthBookHash.hashV2("leads-exp", company) < 0.5 ? "1" : "2");
            assertThat(a.unit()).contains(company);
        }
        RoutingDecision missing = decider.decide(request("user-a", Map.of()), s);
        assertThat(missing.reason()).isEqualTo(RoutingReason.DEFAULT);
        ExplainAssignmentResponse x = decider.explain(request("user-a", Map.of()), s);
        assertThat(x.getEvaluations(0).getDecision())
                .isEqualTo("no value to hash: the request has no attribute 'company'");
        assertThat(x.getEvaluations(0).getHashAttribute()).isEqualTo("company");
        assertThat(x.getEvaluations(0).getHashValue()).isEmpty();
    }

    @Test
    void decide_unitIdIsGrowthBooksIdAttributeAndTheDefaultUnit() {
        Experiment e = experiment().build();
        RoutingDecision d = decider.decide(request("u-7", Map.of()), state(List.of(e), Optional.empty()));
        assertThat(d.unit()).contains("u-7");
        Experiment byId = experiment().setHashAttribute("id").build();
        for (int i = 0; i < 50; i++) {
            RoutingRequest r = request("unit-" + i, Map.of("id", "ignored"));
            assertThat(decider.decide(r, state(List.of(byId), Optional.empty())))
                    .isEqualTo(decider.decide(r, state(List.of(e), Optional.empty())));
        }
        assertThat(RoutingDecider.attributeValue(request(null, Map.of("id", "x")), "id"))
                .isEqualTo("x");
    }

    @Test
    void decide_fallbackAttributeHashedWhenTheHashAttributeIsMissing() {
        Experiment e = experiment()
                .setHashAttribute("account")
                .setFallbackAttribute("device")
                .build();
        ModelRoutingState s = state(List.of(e), Optional.empty());
        RoutingDecision byDevice = decider.decide(request("u", Map.of("device", "d-42")), s);
        assertThat(byDevice.unit()).contains("d-42");
        assertThat(byDevice.version()).isEqualTo(GrowthBookHash.hashV2("leads-exp", "d-42") < 0.5 ? "1" : "2");
        RoutingDecision byAccount = decider.decide(request("u", Map.of("device", "d-42", "account", "a-1")), s);
        assertThat(byAccount.unit()).contains("a-1");
        ExplainAssignmentResponse x = decider.explain(request("u", Map.of("device", "d-42")), s);
        assertThat(x.getEvaluations(0).getHashAttribute()).isEqualTo("device");
        assertThat(decider.decide(request("u", Map.of()), s).reason()).isEqualTo(RoutingReason.DEFAULT);
        assertThat(decider.explain(request("u", Map.of()), s).getEvaluations(0).getDecision())
                .isEqualTo("no value to hash: the request has neither attribute 'account' nor attribute 'device'");
    }

    @Test
    void decide_filtersNeedEveryFilterAndReportEachOne() {
        Filter byUnit = Filter.newBuilder()
                .setSeed("ns-1")
                .addRanges(HashRange.newBuilder().setStart(0).setEnd(0.5))
                .build();
        Filter byAnon = Filter.newBuilder()
                .setSeed("ns-2")
                .setAttribute("anon")
                .setHashVersion(1)
                .addRanges(HashRange.newBuilder().setStart(0.2).setEnd(0.3))
                .addRanges(HashRange.newBuilder().setStart(0.6).setEnd(1))
                .build();
        Experiment e = experiment().addFilters(byUnit).addFilters(byAnon).build();
        ModelRoutingState s = state(List.of(e), Optional.empty());
        int in = 0;
        for (int i = 0; i < 400; i++) {
            String unit = "unit-" + i;
            String anon = "anon-" + i;
            double h1 = GrowthBookHash.hashV2("ns-1", unit);
            double h2 = GrowthBookHash.hashV1("ns-2", anon);
            boolean expected = h1 < 0.5 && ((h2 >= 0.2 && h2 < 0.3) || h2 >= 0.6);
            RoutingDecision d = decider.decide(request(unit, Map.of("anon", anon)), s);
            assertThat(d.reason()).as(unit).isEqualTo(expected ? RoutingReason.EXPERIMENT : RoutingReason.DEFAULT);
            in += expected ? 1 : 0;
            ExplainAssignmentResponse x = decider.explain(request(unit, Map.of("anon", anon)), s);
            assertThat(x.getEvaluations(0).getFiltersList())
                    .extracting(f -> f.getHash())
                    .containsExactly(h1, h2);
            assertThat(x.getEvaluations(0).getInFilters()).isEqualTo(expected);
            assertThat(x.getEvaluations(0).getHash()).isEqualTo(GrowthBookHash.hashV2("leads-exp", unit));
            assertThat(x.getEvaluations(0).getRangesCount()).isEqualTo(2);
        }
        assertThat(in).isBetween(60, 140); // about 0.5 * 0.5 of 400
        assertThat(decider.decide(request("unit-1", Map.of()), s).reason()).isEqualTo(RoutingReason.DEFAULT);
    }

    @Test
    void explain_outsideTheNamespaceReportsTheRealHashCoverageAndRanges() {
        Experiment e = experiment()
                .setCoverage(0.8)
                .setNamespace(Namespace.newBuilder().setId("ns").setStart(0).setEnd(0.3))
                .build();
        ModelRoutingState s = state(List.of(e), Optional.empty());
        String outside = null;
        for (int i = 0; outside == null; i++) {
            if (!GrowthBookHash.inNamespace("unit-" + i, "ns", 0, 0.3)) {
                outside = "unit-" + i;
            }
        }
        ExplainAssignmentResponse x = decider.explain(request(outside, Map.of()), s);
        var evaluation = x.getEvaluations(0);
        assertThat(evaluation.getInNamespace()).isFalse();
        assertThat(evaluation.getNamespaceHash()).isEqualTo(GrowthBookHash.namespaceHash(outside, "ns"));
        assertThat(evaluation.getHash()).isEqualTo(GrowthBookHash.hashV2("leads-exp", outside));
        assertThat(evaluation.getCoverage()).isEqualTo(0.8);
        assertThat(evaluation.getRangesList())
                .extracting(r -> r.getStart(), r -> r.getEnd())
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple(0.0, 0.4), org.assertj.core.groups.Tuple.tuple(0.5, 0.9));
        assertThat(evaluation.getDecision()).startsWith("namespace hash");
        assertThat(evaluation.getVariant()).isEmpty();
        assertThat(x.getReason()).isEqualTo(RoutingReason.DEFAULT);
    }

    @Test
    void decide_growthBookConditionOnTextAttributesAndTheUnitId() {
        Experiment e = experiment()
                .setCondition(
                        GrowthBookConditionTest.condition(
                                "{\"country\": {\"$in\": [\"US\", \"CA\"]}, \"age\": {\"$gte\": 18}, \"id\": {\"$ne\": \"blocked\"}}"))
                .addConditions(Condition.newBuilder()
                        .setAttribute("vertical")
                        .setOperator(Condition.Operator.NE)
                        .addValues("retail"))
                .build();
        ModelRoutingState s = state(List.of(e), Optional.empty());
        assertThat(decider.decide(request("u", Map.of("country", "US", "age", "30")), s)
                        .reason())
                .isEqualTo(RoutingReason.EXPERIMENT);
        assertThat(decider.decide(request("u", Map.of("country", "US", "age", "17")), s)
                        .reason())
                .isEqualTo(RoutingReason.DEFAULT);
        assertThat(decider.decide(request("blocked", Map.of("country", "US", "age", "30")), s)
                        .reason())
                .isEqualTo(RoutingReason.DEFAULT);
        assertThat(decider.decide(request("u", Map.of("country", "US", "age", "30", "vertical", "retail")), s)
                        .reason())
                .isEqualTo(RoutingReason.DEFAULT);

        ExplainAssignmentResponse x = decider.explain(request("u", Map.of("country", "DE", "age", "30")), s);
        assertThat(x.getEvaluations(0).getConditionsMet()).isFalse();
        assertThat(x.getEvaluations(0).getFailedConditionsList())
                .containsExactly("condition country {\"$in\":[\"US\",\"CA\"]}: was 'DE'");
        assertThat(x.getEvaluations(0).getDecision()).isEqualTo("targeting conditions not met");
        assertThat(x.getEvaluations(0).getHash()).isEqualTo(GrowthBookHash.hashV2("leads-exp", "u"));
    }
}
