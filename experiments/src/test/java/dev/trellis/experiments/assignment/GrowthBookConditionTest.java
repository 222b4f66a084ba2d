package dev.trellis.experiments.assignment;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.util.JsonFormat;
import dev.trellis.experiments.FieldViolation;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** GrowthBook conditions over a Trellis request's text attributes, and what definitions refuse. */
class GrowthBookConditionTest {
    static Struct condition(String json) {
        Struct.Builder b = Struct.newBuilder();
        try {
            JsonFormat.parser().merge(json, b);
        } catch (InvalidProtocolBufferException e) {
            throw new AssertionError(json, e);
        }
        return b.build();
    }

    private static boolean holds(String json, Map<String, String> attributes) {
        return GrowthBookCondition.evaluate(condition(json), GrowthBookCondition.text(attributes, "unit-1"));
    }

    private static boolean holds(String json, String attribute, String value) {
        Map<String, String> attributes = new HashMap<>();
        if (value != null) {
            attributes.put(attribute, value);
        }
        return holds(json, attributes);
    }

    @Test
    void text_numberLiteralsReadTheTextAsANumber() {
        assertThat(holds("{\"age\": {\"$gt\": 18}}", "age", "20")).isTrue();
        assertThat(holds("{\"age\": {\"$gt\": 18}}", "age", "abc")).isFalse();
        assertThat(holds("{\"age\": {\"$lte\": 18}}", "age", "abc")).isFalse();
        assertThat(holds("{\"age\": 20}", "age", "20")).isTrue();
        assertThat(holds("{\"age\": 20}", "age", "2e1")).isTrue();
        assertThat(holds("{\"age\": 20}", "age", "020")).isFalse();
        assertThat(holds("{\"age\": {\"$eq\": 20}}", "age", "20")).isTrue();
        assertThat(holds("{\"age\": {\"$ne\": 20}}", "age", "20")).isFalse();
        assertThat(holds("{\"age\": {\"$ne\": 20}}", "age", "twenty")).isTrue();
        assertThat(holds("{\"age\": {\"$in\": [20, 30]}}", "age", "30")).isTrue();
        assertThat(holds("{\"age\": {\"$nin\": [20, 30]}}", "age", "30")).isFalse();
        assertThat(holds("{\"age\": {\"$in\": [\"20\", 30]}}", "age", "20")).isTrue();
        assertThat(holds("{\"age\": {\"$type\": \"number\"}}", "age", "-1.5")).isTrue();
        assertThat(holds("{\"age\": {\"$type\": \"number\"}}", "age", "x")).isFalse();
        // the GrowthBook quirk stays: a missing attribute compares like 0
        assertThat(holds("{\"age\": {\"$lt\": 5}}", "age", null)).isTrue();
    }

    @Test
    void text_booleanLiteralsReadTrueAndFalse() {
        assertThat(holds("{\"premium\": true}", "premium", "true")).isTrue();
        assertThat(holds("{\"premium\": true}", "premium", "false")).isFalse();
        assertThat(holds("{\"premium\": false}", "premium", "false")).isTrue();
        assertThat(holds("{\"premium\": true}", "premium", "yes")).isFalse();
        assertThat(holds("{\"premium\": false}", "premium", null)).isFalse();
        assertThat(holds("{\"premium\": {\"$eq\": true}}", "premium", "true")).isTrue();
        assertThat(holds("{\"premium\": {\"$type\": \"boolean\"}}", "premium", "false"))
                .isTrue();
        assertThat(holds("{\"premium\": {\"$type\": \"string\"}}", "premium", "yes"))
                .isTrue();
    }

    @Test
    void text_stringsVersionsRegexesAndTheUnitId() {
        assertThat(holds("{\"country\": {\"$ini\": [\"us\", \"ca\"]}}", "country", "US"))
                .isTrue();
        assertThat(holds("{\"country\": \"US\"}", "country", "US")).isTrue();
        assertThat(holds("{\"app\": {\"$vgte\": \"1.2.0\", \"$vlt\": \"2.0.0\"}}", "app", "1.10.3"))
                .isTrue();
        assertThat(holds("{\"app\": {\"$vgte\": \"1.2.0\"}}", "app", "1.2.0-rc.1"))
                .isFalse();
        assertThat(holds("{\"ua\": {\"$regex\": \"Mobile|Tablet\"}}", "ua", "Android Mobile"))
                .isTrue();
        assertThat(holds("{\"ua\": {\"$regexi\": \"^android\"}}", "ua", "Android Mobile"))
                .isTrue();
        assertThat(holds("{\"user.country\": \"US\"}", "user.country", "US"))
                .as("a dotted name reads the flat attribute of that name")
                .isTrue();
        assertThat(holds("{\"id\": \"unit-1\"}", Map.of())).isTrue();
        assertThat(holds("{\"id\": \"unit-1\"}", Map.of("id", "other")))
                .as("the unit id wins")
                .isTrue();
        assertThat(holds(
                        "{\"$or\": [{\"a\": \"x\"}, {\"b\": {\"$exists\": true}}], \"$not\": {\"c\": \"y\"}}", "b", ""))
                .isTrue();
    }

    @Test
    void failures_namesEachFailingEntryWithWhatItSaw() {
        List<String> failures = GrowthBookCondition.failures(
                condition("{\"country\": {\"$in\": [\"US\"]}, \"plan\": \"pro\", \"$or\": [{\"a\": 1}], \"ok\": null}"),
                GrowthBookCondition.text(Map.of("country", "DE"), "u"));
        assertThat(failures)
                .containsExactly(
                        "country {\"$in\":[\"US\"]}: was 'DE'", "plan \"pro\": absent", "$or [{\"a\":1}]: not met");
    }

    @Test
    void check_refusesWhatTextAttributesCannotMeanAndMalformedOperands() {
        assertThat(GrowthBookCondition.check(
                        condition("{\"a\": {\"$in\": [1, \"x\"]}, \"b\": {\"$vgt\": \"1.0\"}, \"$or\": [{\"c\": null}],"
                                + " \"d\": {\"$not\": {\"$regex\": \"^x\"}}, \"e\": {\"$exists\": false}}"),
                        "experiment.condition"))
                .isEmpty();
        List<FieldViolation> v = GrowthBookCondition.check(
                condition("{\"tags\": {\"$elemMatch\": {\"$eq\": \"a\"}}, \"id\": {\"$inGroup\": \"beta\"},"
                        + " \"name\": {\"$regx\": \"x\"}, \"list\": [1, 2], \"obj\": {\"k\": 1},"
                        + " \"re\": {\"$regex\": \"[\"}, \"t\": {\"$type\": \"array\"}, \"in\": {\"$in\": 1},"
                        + " \"$and\": {\"x\": 1}, \"$where\": \"1\", \"user.age\": {\"$size\": 2}}"),
                "experiment.condition");
        assertThat(v)
                .extracting(FieldViolation::field)
                .containsExactly(
                        "experiment.condition.tags.$elemMatch",
                        "experiment.condition.id.$inGroup",
                        "experiment.condition.name.$regx",
                        "experiment.condition.list",
                        "experiment.condition.obj",
                        "experiment.condition.re.$regex",
                        "experiment.condition.t.$type",
                        "experiment.condition.in.$in",
                        "experiment.condition.$and",
                        "experiment.condition.$where",
                        "experiment.condition[\"user.age\"].$size");
        assertThat(v.get(0).description()).contains("array attribute");
        assertThat(v.get(1).description()).contains("saved group").contains("$in");
        assertThat(v.get(2).description()).isEqualTo("unknown operator $regx");
    }

    @Test
    void check_refusesDeepNesting() {
        String deep = "{\"a\": 1}";
        for (int i = 0; i < GrowthBookCondition.MAX_DEPTH + 2; i++) {
            deep = "{\"$not\": " + deep + "}";
        }
        assertThat(GrowthBookCondition.check(condition(deep), "experiment.condition"))
                .extracting(FieldViolation::description)
                .containsExactly("nested deeper than " + GrowthBookCondition.MAX_DEPTH + " levels");
    }

    @Test
    void jsNumber_formatsAsJavaScript() {
        assertThat(GrowthBookCondition.jsNumber(10)).isEqualTo("10");
        assertThat(GrowthBookCondition.jsNumber(-1.5)).isEqualTo("-1.5");
        assertThat(GrowthBookCondition.jsNumber(1e21)).isEqualTo("1e+21");
        assertThat(GrowthBookCondition.jsNumber(1e-7)).isEqualTo("1e-7");
        assertThat(GrowthBookCondition.jsNumber(0.000001)).isEqualTo("0.000001");
        assertThat(GrowthBookCondition.jsNumber(123456789012.5)).isEqualTo("123456789012.5");
        assertThat(GrowthBookCondition.stringToNumber(" 0x1A ")).isEqualTo(26);
        assertThat(GrowthBookCondition.stringToNumber("")).isZero();
        assertThat(GrowthBookCondition.stringToNumber("1e3x")).isNaN();
    }
}
