package dev.trellis.experiments.definition;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.trellis.api.v1.Condition;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.Filter;
import dev.trellis.api.v1.Guardrails;
import dev.trellis.api.v1.HashRange;
import dev.trellis.api.v1.Namespace;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutState;
import dev.trellis.api.v1.Variant;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.FieldViolation;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class DefinitionValidatorTest {
    private final DefinitionValidator validator = new DefinitionValidator();

    static Experiment.Builder valid() {
        return Experiment.newBuilder()
                .setKey("leads-v2-vs-v1")
                .setModel("leads")
                .setStatus(ExperimentStatus.RUNNING)
                .addVariants(
                        Variant.newBuilder().setKey("control").setVersion("1").setWeight(0.5))
                .addVariants(
                        Variant.newBuilder().setKey("treatment").setVersion("2").setWeight(0.5));
    }

    private ValidationException validate(Experiment e) {
        return validate(e, Optional.empty(), List.of(), Set.of());
    }

    private ValidationException validate(
            Experiment e, Optional<Experiment> current, List<Experiment> others, Set<String> versions) {
        return catchThrowableOfType(
                ValidationException.class, () -> validator.validateExperiment(e, current, others, versions));
    }

    private static List<String> fields(ValidationException e) {
        assertThat(e).as("expected a ValidationException").isNotNull();
        return e.violations().stream().map(FieldViolation::field).toList();
    }

    @Test
    void validateExperiment_validPasses() {
        assertThatCode(() ->
                        validator.validateExperiment(valid().build(), Optional.empty(), List.of(), Set.of("1", "2")))
                .doesNotThrowAnyException();
    }

    @Test
    void validateExperiment_badKey() {
        assertThat(fields(validate(valid().setKey("").build()))).containsExactly("experiment.key");
        assertThat(fields(validate(valid().setKey("has space").build()))).containsExactly("experiment.key");
        assertThat(fields(validate(valid().setKey("x".repeat(129)).build()))).containsExactly("experiment.key");
    }

    @Test
    void validateExperiment_missingModelAndStatus() {
        assertThat(fields(validate(valid().setModel("")
                        .setStatus(ExperimentStatus.EXPERIMENT_STATUS_UNSPECIFIED)
                        .build())))
                .containsExactly("experiment.model", "experiment.status");
    }

    @Test
    void validateExperiment_variantRules() {
        assertThat(fields(validate(valid().clearVariants()
                        .addVariants(
                                Variant.newBuilder().setKey("a").setVersion("1").setWeight(1))
                        .build())))
                .containsExactly("experiment.variants");
        Experiment dup = valid().setVariants(
                        1, Variant.newBuilder().setKey("control").setVersion("").setWeight(0.5))
                .build();
        assertThat(fields(validate(dup)))
                .containsExactly("experiment.variants[1].key", "experiment.variants[1].version");
        Experiment badWeight = valid().setVariants(
                        1, Variant.newBuilder().setKey("t").setVersion("2").setWeight(1.5))
                .build();
        assertThat(fields(validate(badWeight))).containsExactly("experiment.variants[1].weight");
        Experiment badSum = valid().setVariants(
                        1, Variant.newBuilder().setKey("t").setVersion("2").setWeight(0.3))
                .build();
        ValidationException e = validate(badSum);
        assertThat(fields(e)).containsExactly("experiment.variants");
        assertThat(e.violations().get(0).description()).contains("sum to 0.8");
        assertThat(e.code()).isEqualTo(ErrorCode.INVALID_DEFINITION);
    }

    @Test
    void validateExperiment_weightsWithinToleranceAccepted() {
        Experiment almost = valid().setVariants(
                        1, Variant.newBuilder().setKey("t").setVersion("2").setWeight(0.4999))
                .build();
        assertThatCode(() -> validator.validateExperiment(almost, Optional.empty(), List.of(), Set.of()))
                .doesNotThrowAnyException();
    }

    @Test
    void validateExperiment_unknownVersion() {
        assertThat(fields(validate(valid().build(), Optional.empty(), List.of(), Set.of("1"))))
                .containsExactly("experiment.variants[1].version");
    }

    @Test
    void validateExperiment_coverageAndNamespace() {
        assertThat(fields(validate(valid().setCoverage(1.2).build()))).containsExactly("experiment.coverage");
        assertThat(fields(validate(valid().setNamespace(
                                Namespace.newBuilder().setId("ns").setStart(0.6).setEnd(0.4))
                        .build())))
                .containsExactly("experiment.namespace.end");
        assertThat(fields(validate(valid().setNamespace(
                                Namespace.newBuilder().setId("").setStart(-0.1).setEnd(0.4))
                        .build())))
                .containsExactly("experiment.namespace.id", "experiment.namespace.start");
    }

    @Test
    void validateExperiment_conditions() {
        Experiment e = valid().addConditions(Condition.newBuilder()
                        .setAttribute("vertical")
                        .setOperator(Condition.Operator.EQ)
                        .addValues("a")
                        .addValues("b"))
                .addConditions(Condition.newBuilder()
                        .setAttribute("")
                        .setOperator(Condition.Operator.IN)
                        .addValues("a"))
                .addConditions(Condition.newBuilder().setAttribute("x").addValues("a"))
                .addConditions(Condition.newBuilder().setAttribute("y").setOperator(Condition.Operator.NOT_IN))
                .build();
        assertThat(fields(validate(e)))
                .containsExactly(
                        "experiment.conditions[0].values",
                        "experiment.conditions[1].attribute",
                        "experiment.conditions[2].operator",
                        "experiment.conditions[3].values");
    }

    @Test
    void validateExperiment_overlappingRunningExperimentRejected() {
        Experiment other = valid().setKey("other").build();
        assertThat(fields(validate(valid().build(), Optional.empty(), List.of(other), Set.of())))
                .containsExactly("experiment.namespace");

        Namespace left =
                Namespace.newBuilder().setId("ns").setStart(0).setEnd(0.5).build();
        Namespace right =
                Namespace.newBuilder().setId("ns").setStart(0.5).setEnd(1).build();
        Namespace overlapping =
                Namespace.newBuilder().setId("ns").setStart(0.4).setEnd(1).build();
        Namespace otherId =
                Namespace.newBuilder().setId("other-ns").setStart(0.5).setEnd(1).build();
        Experiment otherLeft = valid().setKey("other").setNamespace(left).build();
        assertThatCode(() -> validator.validateExperiment(
                        valid().setNamespace(right).build(), Optional.empty(), List.of(otherLeft), Set.of()))
                .doesNotThrowAnyException();
        assertThat(fields(validate(
                        valid().setNamespace(overlapping).build(), Optional.empty(), List.of(otherLeft), Set.of())))
                .containsExactly("experiment.namespace");
        assertThat(fields(validate(
                        valid().setNamespace(otherId).build(), Optional.empty(), List.of(otherLeft), Set.of())))
                .containsExactly("experiment.namespace");
        // A draft or stopped experiment takes no traffic and overlaps nothing.
        Experiment draft =
                valid().setKey("other").setStatus(ExperimentStatus.DRAFT).build();
        assertThatCode(() -> validator.validateExperiment(valid().build(), Optional.empty(), List.of(draft), Set.of()))
                .doesNotThrowAnyException();
    }

    @Test
    void validateExperiment_statusTransitions() {
        Experiment draft = valid().setStatus(ExperimentStatus.DRAFT).build();
        Experiment running = valid().build();
        Experiment stopped = valid().setStatus(ExperimentStatus.STOPPED).build();
        assertThatCode(() -> validator.validateExperiment(running, Optional.of(draft), List.of(), Set.of()))
                .doesNotThrowAnyException();
        assertThatCode(() -> validator.validateExperiment(stopped, Optional.of(running), List.of(), Set.of()))
                .doesNotThrowAnyException();

        ValidationException back = validate(draft, Optional.of(running), List.of(), Set.of());
        assertThat(fields(back)).containsExactly("experiment.status");
        assertThat(back.code()).isEqualTo(ErrorCode.ILLEGAL_TRANSITION);
        assertThat(fields(validate(running, Optional.of(stopped), List.of(), Set.of())))
                .containsExactly("experiment.status");
        assertThat(fields(validate(stopped, Optional.of(draft), List.of(), Set.of())))
                .containsExactly("experiment.status");
        assertThat(fields(validate(stopped))).containsExactly("experiment.status");
    }

    @Test
    void validateExperiment_runningWeightChangeNeedsNewPhase() {
        Experiment running = valid().build();
        Experiment reweighted = valid().setVariants(
                        0,
                        Variant.newBuilder().setKey("control").setVersion("1").setWeight(0.2))
                .setVariants(
                        1,
                        Variant.newBuilder().setKey("treatment").setVersion("2").setWeight(0.8))
                .build();
        ValidationException e = validate(reweighted, Optional.of(running), List.of(), Set.of());
        assertThat(fields(e)).containsExactly("experiment.variants");
        assertThat(e.code()).isEqualTo(ErrorCode.ILLEGAL_TRANSITION);
        assertThat(fields(validate(valid().setSeed("new-seed").build(), Optional.of(running), List.of(), Set.of())))
                .containsExactly("experiment.seed");
        Executable nextPhase = () -> validator.validateExperiment(
                reweighted.toBuilder().setPhase(1).build(), Optional.of(running), List.of(), Set.of());
        assertThatCode(nextPhase::execute).doesNotThrowAnyException();
        // Raising coverage moves nobody between arms: allowed within the phase.
        assertThatCode(() -> validator.validateExperiment(
                        valid().setCoverage(1).build(),
                        Optional.of(valid().setCoverage(0.5).build()),
                        List.of(),
                        Set.of()))
                .doesNotThrowAnyException();
        assertThat(fields(validate(
                        valid().setPhase(0).build(),
                        Optional.of(valid().setPhase(2).build()),
                        List.of(),
                        Set.of())))
                .containsExactly("experiment.phase");
    }

    private static Filter filter(String seed, double start, double end) {
        return Filter.newBuilder()
                .setSeed(seed)
                .addRanges(HashRange.newBuilder().setStart(start).setEnd(end))
                .build();
    }

    @Test
    void validateExperiment_hashVersionAndFilterRules() {
        assertThatCode(() -> validator.validateExperiment(
                        valid().setHashVersion(1)
                                .addFilters(filter("ns", 0, 0.5))
                                .build(),
                        Optional.empty(),
                        List.of(),
                        Set.of()))
                .doesNotThrowAnyException();
        assertThat(fields(validate(valid().setHashVersion(3).build()))).containsExactly("experiment.hash_version");
        assertThat(fields(validate(valid().addFilters(Filter.newBuilder()
                                .setHashVersion(-1)
                                .addRanges(HashRange.newBuilder().setStart(0.5).setEnd(0.5))
                                .addRanges(HashRange.newBuilder().setStart(-0.1).setEnd(1.5)))
                        .addFilters(Filter.newBuilder().setSeed("s"))
                        .build())))
                .containsExactly(
                        "experiment.filters[0].seed",
                        "experiment.filters[0].hash_version",
                        "experiment.filters[0].ranges[0].end",
                        "experiment.filters[0].ranges[1].start",
                        "experiment.filters[0].ranges[1].end",
                        "experiment.filters[1].ranges");
        assertThat(fields(validate(valid().addFilters(filter("ns", 0, 1))
                        .setNamespace(
                                Namespace.newBuilder().setId("ns").setStart(0).setEnd(1))
                        .build())))
                .containsExactly("experiment.filters");
    }

    @Test
    void validateExperiment_filtersWithTheSameHashAndDisjointRangesDoNotOverlap() {
        Experiment left =
                valid().setKey("left").addFilters(filter("ns", 0, 0.5)).build();
        assertThatCode(() -> validator.validateExperiment(
                        valid().addFilters(filter("ns", 0.5, 1)).build(), Optional.empty(), List.of(left), Set.of()))
                .doesNotThrowAnyException();
        // an extra filter only narrows the traffic further
        assertThatCode(() -> validator.validateExperiment(
                        valid().addFilters(filter("other", 0, 1))
                                .addFilters(filter("ns", 0.6, 0.9))
                                .build(),
                        Optional.empty(),
                        List.of(left),
                        Set.of()))
                .doesNotThrowAnyException();
        assertThat(fields(validate(
                        valid().addFilters(filter("ns", 0.4, 1)).build(), Optional.empty(), List.of(left), Set.of())))
                .containsExactly("experiment.namespace");
        assertThat(fields(validate(
                        valid().addFilters(filter("ns", 0.5, 1).toBuilder().setHashVersion(1))
                                .build(),
                        Optional.empty(),
                        List.of(left),
                        Set.of())))
                .as("another hash version hashes independently")
                .containsExactly("experiment.namespace");
        assertThat(fields(validate(
                        valid().addFilters(filter("ns", 0.5, 1).toBuilder().setAttribute("anon"))
                                .build(),
                        Optional.empty(),
                        List.of(left),
                        Set.of())))
                .as("another attribute hashes other values")
                .containsExactly("experiment.namespace");
        // a legacy namespace with the same id but another hash attribute hashes other values
        Namespace l = Namespace.newBuilder().setId("n").setStart(0).setEnd(0.5).build();
        Namespace r = Namespace.newBuilder().setId("n").setStart(0.5).setEnd(1).build();
        assertThat(fields(validate(
                        valid().setNamespace(r).setHashAttribute("company").build(),
                        Optional.empty(),
                        List.of(valid().setKey("l").setNamespace(l).build()),
                        Set.of())))
                .containsExactly("experiment.namespace");
        assertThatCode(() -> validator.validateExperiment(
                        valid().setNamespace(r).setHashAttribute("id").build(),
                        Optional.empty(),
                        List.of(valid().setKey("l").setNamespace(l).build()),
                        Set.of()))
                .as("id is the unit id, the default")
                .doesNotThrowAnyException();
    }

    @Test
    void validateExperiment_runningHashChangesNeedNewPhase() {
        Experiment running = valid().build();
        assertThat(fields(validate(valid().setHashVersion(1).build(), Optional.of(running), List.of(), Set.of())))
                .containsExactly("experiment.hash_version");
        assertThatCode(() -> validator.validateExperiment(
                        valid().setHashVersion(2).setHashAttribute("id").build(),
                        Optional.of(running),
                        List.of(),
                        Set.of()))
                .as("2 and id are the defaults")
                .doesNotThrowAnyException();
        assertThat(fields(validate(
                        valid().setHashAttribute("company").build(), Optional.of(running), List.of(), Set.of())))
                .containsExactly("experiment.hash_attribute");
        assertThat(fields(validate(
                        valid().setFallbackAttribute("device").build(), Optional.of(running), List.of(), Set.of())))
                .containsExactly("experiment.hash_attribute");
        assertThatCode(() -> validator.validateExperiment(
                        valid().setHashVersion(1)
                                .setHashAttribute("company")
                                .setPhase(1)
                                .build(),
                        Optional.of(running),
                        List.of(),
                        Set.of()))
                .doesNotThrowAnyException();
    }

    @Test
    void validateExperiment_growthBookConditionChecked() {
        Experiment ok = Definitions.parseExperimentJson(
                "{\"key\":\"k\",\"model\":\"leads\",\"status\":\"RUNNING\",\"condition\":{\"country\":{\"$in\":[\"US\"]}},"
                        + "\"variants\":[{\"key\":\"a\",\"version\":\"1\",\"weight\":0.5},{\"key\":\"b\",\"version\":\"2\",\"weight\":0.5}]}");
        assertThat(ok.getCondition().getFieldsMap()).containsKey("country");
        assertThatCode(() -> validator.validateExperiment(ok, Optional.empty(), List.of(), Set.of()))
                .doesNotThrowAnyException();
        Experiment bad = ok.toBuilder()
                .setCondition(Definitions.parseExperimentJson(
                                "{\"condition\":{\"tags\":{\"$all\":[\"a\"]},\"id\":{\"$inGroup\":\"g\"}}}")
                        .getCondition())
                .build();
        assertThat(fields(validate(bad)))
                .containsExactly("experiment.condition.tags.$all", "experiment.condition.id.$inGroup");
    }

    @Test
    void parseExperimentJson_unknownFieldNamed() {
        ValidationException e = catchThrowableOfType(
                ValidationException.class, () -> Definitions.parseExperimentJson("{\"key\": \"k\", \"coverge\": 0.5}"));
        assertThat(fields(e)).containsExactly("experiment.coverge");
        ValidationException nested = catchThrowableOfType(
                ValidationException.class,
                () -> Definitions.parseExperimentJson(
                        "{\"key\": \"k\", \"variants\": [{\"key\": \"a\", \"wieght\": 1}]}"));
        assertThat(fields(nested)).containsExactly("Variant.wieght");
    }

    @Test
    void parseExperimentJson_roundTrips() {
        Experiment e = valid().setCoverage(0.5)
                .addConditions(Condition.newBuilder()
                        .setAttribute("vertical")
                        .setOperator(Condition.Operator.IN)
                        .addValues("insurance"))
                .build();
        assertThat(Definitions.parseExperimentJson(Definitions.toJson(e))).isEqualTo(e);
        ValidationException malformed =
                catchThrowableOfType(ValidationException.class, () -> Definitions.parseExperimentJson("{\"key\": "));
        assertThat(fields(malformed)).containsExactly("experiment");
    }

    @Test
    void parseRolloutJson_unknownFieldNamedAndDurationParsed() {
        Rollout r = Definitions.parseRolloutJson(
                "{\"model\": \"leads\", \"stableVersion\": \"1\", \"candidate_version\": \"2\", \"stepInterval\": \"60s\"}");
        assertThat(r.getStepInterval().getSeconds()).isEqualTo(60);
        ValidationException e = catchThrowableOfType(
                ValidationException.class,
                () -> Definitions.parseRolloutJson("{\"model\": \"leads\", \"guardrails\": {\"max_psi\": 0.1}}"));
        assertThat(fields(e)).containsExactly("Guardrails.max_psi");
    }

    @Test
    void validateRollout_rules() {
        Rollout ok = Rollout.newBuilder()
                .setModel("leads")
                .setStableVersion("1")
                .setCandidateVersion("2")
                .build();
        assertThatCode(() -> validator.validateRollout(ok, Optional.empty(), Set.of("1", "2")))
                .doesNotThrowAnyException();

        Rollout bad = Rollout.newBuilder()
                .setModel("")
                .setStableVersion("1")
                .setCandidateVersion("1")
                .addSteps(10)
                .addSteps(5)
                .addSteps(50)
                .setMinCandidateRequests(-1)
                .setGuardrails(Guardrails.newBuilder().setMaxScorePsi(-1))
                .build();
        ValidationException e = catchThrowableOfType(
                ValidationException.class, () -> validator.validateRollout(bad, Optional.empty(), Set.of()));
        assertThat(fields(e))
                .containsExactly(
                        "rollout.model",
                        "rollout.candidate_version",
                        "rollout.steps[1]",
                        "rollout.steps",
                        "rollout.min_candidate_requests",
                        "rollout.guardrails.max_score_psi");

        ValidationException unknown = catchThrowableOfType(
                ValidationException.class, () -> validator.validateRollout(ok, Optional.empty(), Set.of("1")));
        assertThat(fields(unknown)).containsExactly("rollout.candidate_version");

        Rollout active = ok.toBuilder().setState(RolloutState.PROGRESSING).build();
        ValidationException busy = catchThrowableOfType(
                ValidationException.class, () -> validator.validateRollout(ok, Optional.of(active), Set.of()));
        assertThat(busy.code()).isEqualTo(ErrorCode.ILLEGAL_TRANSITION);
        Rollout finished = ok.toBuilder().setState(RolloutState.ABORTED).build();
        assertThatCode(() -> validator.validateRollout(ok, Optional.of(finished), Set.of()))
                .doesNotThrowAnyException();
    }
}
