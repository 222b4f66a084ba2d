package dev.trellis.experiments.definition;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExplainAssignmentResponse;
import dev.trellis.api.v1.RoutingReason;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.FieldViolation;
import dev.trellis.experiments.assignment.ModelRoutingState;
import dev.trellis.experiments.assignment.RoutingDecider;
import dev.trellis.experiments.assignment.RoutingDecision;
import dev.trellis.experiments.assignment.RoutingRequest;
import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The {@code run} section of GrowthBook's SDK test cases (spec 0.8.0) through Trellis: each row's
 * experiment is converted by {@link GrowthBookImport} (what {@code trellis experiments import}
 * does), variation i mapped to version i + 1, and the unit routed by {@link RoutingDecider#explain}
 * (the code behind ExplainAssignment) and {@link RoutingDecider#decide}. A row is
 * {@code [name, context, experiment, expectedValue, inExperiment, hashUsed]}; the value is the
 * chosen variation's (variation 0's when not in the experiment).
 *
 * <p>Rows are skipped, each for a stated reason that the test checks, when they use what Trellis
 * deliberately lacks: client switches in the SDK context (a disabled client, URL query-string
 * overrides, forced variations, QA mode) or experiment fields the import refuses (forced variations,
 * prerequisite flags, explicit ranges that no weights and coverage produce, a single variation).
 */
class GrowthBookRunConformanceTest {
    /** Row name → why it is skipped: a context key Trellis has no counterpart for, or the refused field. */
    private static final Map<String, String> SKIPPED = new LinkedHashMap<>();

    static {
        SKIPPED.put("single variation", "refused: variations");
        SKIPPED.put("negative forced variation", "refused: force");
        SKIPPED.put("high forced variation", "refused: force");
        SKIPPED.put("globally disabled", "context: enabled");
        SKIPPED.put("querystring force", "context: url");
        SKIPPED.put("querystring force with inactive", "context: url");
        SKIPPED.put("coverage take precendence over forced", "refused: force");
        SKIPPED.put("Force variation from context", "context: forcedVariations");
        SKIPPED.put("Skips experiments in QA mode", "context: qaMode");
        SKIPPED.put("Works in QA mode if forced in context", "context: forcedVariations");
        SKIPPED.put("Works in QA mode if forced in experiment", "context: qaMode");
        SKIPPED.put("Ranges, ignore coverage and weights", "refused: ranges");
        SKIPPED.put("Ranges, partial coverage", "refused: ranges");
        SKIPPED.put("Prerequisite condition passes", "refused: parentConditions");
        SKIPPED.put("Prerequisite condition fails", "refused: parentConditions");
    }

    /** SDK context keys that are client switches Trellis has no counterpart for. */
    private static final List<String> CLIENT_SWITCHES = List.of("enabled", "url", "forcedVariations", "qaMode");

    private static final ObjectMapper JSON = new ObjectMapper();
    private static JsonNode cases;

    @BeforeAll
    static void load() throws IOException {
        try (InputStream in = GrowthBookRunConformanceTest.class.getResourceAsStream("/growthbook_cases.json")) {
            cases = JSON.readTree(in);
        }
    }

    @Test
    void run_everyCoveredRowAssignsAsGrowthBook() {
        RoutingDecider decider = new RoutingDecider(() -> 0.5);
        Map<String, String> skipped = new LinkedHashMap<>();
        int passed = 0;
        for (JsonNode row : cases.get("run")) {
            String name = row.get(0).asText();
            JsonNode context = row.get(1);
            JsonNode gbExperiment = row.get(2);

            String clientSwitch =
                    CLIENT_SWITCHES.stream().filter(context::has).findFirst().orElse(null);
            if (clientSwitch != null) {
                skipped.put(name, "context: " + clientSwitch);
                continue;
            }
            ObjectNode document = gbExperiment.deepCopy();
            if (context.has("savedGroups")) {
                document.set("savedGroups", context.get("savedGroups"));
            }
            Map<String, String> versions = new HashMap<>();
            for (int i = 0; i < gbExperiment.get("variations").size(); i++) {
                versions.put(Integer.toString(i), Integer.toString(i + 1));
            }
            Experiment experiment;
            try {
                experiment = GrowthBookImport.convert(
                        document.toString(),
                        new GrowthBookImport.Options("m", versions, null, null, null, null, false));
            } catch (ExperimentsException e) {
                skipped.put(name, "refused: " + e.violations().get(0).field());
                continue;
            }

            RoutingRequest request = request(context.path("attributes"));
            ModelRoutingState state =
                    new ModelRoutingState("m", Optional.empty(), List.of(experiment), Optional.empty());
            ExplainAssignmentResponse explained = decider.explain(request, state);
            RoutingDecision decided = decider.decide(request, state);
            assertThat(explained.getVersion()).as(name).isEqualTo(decided.version());
            boolean in = explained.getReason() == RoutingReason.EXPERIMENT;
            int index = in ? Integer.parseInt(explained.getVersion()) - 1 : 0;

            assertThat(gbExperiment.get("variations").get(index))
                    .as(name + ": value")
                    .isEqualTo(row.get(3));
            assertThat(in).as(name + ": inExperiment").isEqualTo(row.get(4).asBoolean());
            assertThat(in).as(name + ": hashUsed").isEqualTo(row.get(5).asBoolean());
            passed++;
        }
        assertThat(skipped).isEqualTo(SKIPPED);
        assertThat(passed).isEqualTo(cases.get("run").size() - SKIPPED.size()).isEqualTo(58);
    }

    @Test
    void run_refusalsNameWhatTrellisLacks() {
        Map<String, String> reasons = new LinkedHashMap<>();
        for (JsonNode row : cases.get("run")) {
            String name = row.get(0).asText();
            if (!SKIPPED.getOrDefault(name, "").startsWith("refused")) {
                continue;
            }
            Map<String, String> versions = Map.of("0", "1");
            ExperimentsException e = catchThrowableOfType(
                    ExperimentsException.class,
                    () -> GrowthBookImport.convert(
                            row.get(2).toString(),
                            new GrowthBookImport.Options("m", versions, null, null, null, null, false)));
            reasons.put(
                    name,
                    e.violations().stream()
                            .map(FieldViolation::toString)
                            .toList()
                            .toString());
        }
        assertThat(reasons.get("negative forced variation")).contains("force forces a variation");
        assertThat(reasons.get("Ranges, partial coverage")).contains("not the bucket ranges of any weights");
        assertThat(reasons.get("Prerequisite condition passes")).contains("prerequisite feature flags");
        assertThat(reasons.get("single variation")).contains("Trellis needs at least 2");
    }

    /** The SDK context's attributes as a Trellis request: {@code id} is the unit id, the rest text. */
    private static RoutingRequest request(JsonNode attributes) {
        String unitId = null;
        Map<String, String> text = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = attributes.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> a = it.next();
            if (a.getValue().isNull()) {
                continue;
            }
            if (a.getKey().equals("id")) {
                unitId = a.getValue().asText();
            } else {
                text.put(a.getKey(), a.getValue().asText());
            }
        }
        return new RoutingRequest("m", unitId, text, null);
    }
}
