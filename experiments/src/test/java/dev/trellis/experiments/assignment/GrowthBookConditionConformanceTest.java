package dev.trellis.experiments.assignment;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.ListValue;
import com.google.protobuf.Message;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import java.io.IOException;
import java.io.InputStream;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every row of the {@code evalCondition} section of GrowthBook's SDK test cases (spec 0.8.0): a row
 * is {@code [name, condition, attributes, expected]} plus, in 8 rows, a fifth element mapping
 * saved-group ids to their values. Those groups are inlined with {@link
 * GrowthBookCondition#inlineSavedGroups}, the step {@code trellis experiments import} performs,
 * since Trellis definitions hold no saved groups. No row is skipped: the evaluator runs on the
 * typed attributes of each row, exactly as a GrowthBook SDK would.
 */
class GrowthBookConditionConformanceTest {
    private static JsonNode cases;

    @BeforeAll
    static void load() throws IOException {
        try (InputStream in = GrowthBookConditionConformanceTest.class.getResourceAsStream("/growthbook_cases.json")) {
            cases = new ObjectMapper().readTree(in);
        }
    }

    static Struct struct(JsonNode node) {
        return parse(node, Struct.newBuilder()).build();
    }

    static Value value(JsonNode node) {
        return parse(node, Value.newBuilder()).build();
    }

    private static <B extends Message.Builder> B parse(JsonNode node, B builder) {
        try {
            JsonFormat.parser().merge(node.toString(), builder);
        } catch (InvalidProtocolBufferException e) {
            throw new AssertionError(node.toString(), e);
        }
        return builder;
    }

    @Test
    void evalCondition_everyRowMatchesGrowthBook() {
        JsonNode rows = cases.get("evalCondition");
        int withSavedGroups = 0;
        for (JsonNode row : rows) {
            String name = row.get(0).asText();
            Struct condition = struct(row.get(1));
            if (row.size() > 4) {
                Map<String, ListValue> groups = new LinkedHashMap<>();
                row.get(4)
                        .fields()
                        .forEachRemaining(
                                g -> groups.put(g.getKey(), value(g.getValue()).getListValue()));
                condition = GrowthBookCondition.inlineSavedGroups(condition, groups, new HashSet<>());
                withSavedGroups++;
            }
            boolean actual = GrowthBookCondition.evaluate(condition, GrowthBookCondition.json(struct(row.get(2))));
            assertThat(actual).as(name).isEqualTo(row.get(3).asBoolean());
        }
        assertThat(rows).hasSize(248);
        assertThat(withSavedGroups).isEqualTo(8);
    }

    @Test
    void inlineSavedGroups_reportsTheGroupsItReplaced() {
        Struct condition = struct(json(
                "{\"$or\": [{\"id\": {\"$inGroup\": \"a\"}}," + " {\"tags\": {\"$not\": {\"$notInGroup\": \"b\"}}}]}"));
        HashSet<String> used = new HashSet<>();
        Struct inlined = GrowthBookCondition.inlineSavedGroups(
                condition,
                Map.of("a", ListValue.newBuilder().addValues(text("x")).build()),
                used);
        assertThat(used).containsExactlyInAnyOrder("a", "b");
        assertThat(GrowthBookCondition.stringify(
                        Value.newBuilder().setStructValue(inlined).build()))
                .isEqualTo("{\"$or\":[{\"id\":{\"$in\":[\"x\"]}},{\"tags\":{\"$not\":{\"$nin\":[]}}}]}");
    }

    private static Value text(String s) {
        return Value.newBuilder().setStringValue(s).build();
    }

    private static JsonNode json(String text) {
        try {
            return new ObjectMapper().readTree(text);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
